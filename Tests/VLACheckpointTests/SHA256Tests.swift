import Testing
import VLACheckpoint

/// SHA-256 against digests computed with Python's hashlib (see Tests/Fixtures/README.md).
@Suite struct SHA256Tests {
    static let vectors: [([UInt8], String)] = [
        ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ([UInt8](repeating: 0x61, count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        ([UInt8](repeating: 0x61, count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        ([UInt8](repeating: 0x61, count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ((0 ..< 1280).map { UInt8($0 % 256) }, "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed"),
    ]

    @Test(arguments: vectors.indices)
    func hashlibVectors(_ i: Int) {
        let (input, want) = Self.vectors[i]
        #expect(SHA256.hash(input).hex == want)
    }

    @Test func incrementalUpdatesInOddPiecesMatchOneShot() {
        let (input, want) = Self.vectors[6]
        for piece in [1, 3, 63, 64, 65, 200] {
            var h = SHA256()
            var i = 0
            while i < input.count { h.update(Array(input[i ..< min(i + piece, input.count)])); i += piece }
            #expect(h.finalize().hex == want, "piece \(piece)")
        }
    }

    @Test func oneMillionA() {
        #expect(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
