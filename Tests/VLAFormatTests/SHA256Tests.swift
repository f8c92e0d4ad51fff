import Testing
import VLAFormat

/// SHA-256 against the FIPS 180-4 example vectors (also what Python's hashlib prints).
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        ("The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func knownVectors(input: String, hex: String) {
        #expect(hexString(SHA256.hash(Array(input.utf8))) == hex)
    }

    @Test func millionAs() {
        var h = SHA256()
        let chunk = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 { h.update(chunk) }
        #expect(hexString(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Feeding the same bytes in pieces of every size from 1 to 130 gives the one-shot digest.
    @Test func incrementalSplits() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hash(data)
        for piece in 1...130 {
            var h = SHA256()
            var i = 0
            while i < data.count {
                h.update(Array(data[i..<min(i + piece, data.count)]))
                i += piece
            }
            #expect(h.finalize() == whole, "piece size \(piece)")
        }
    }
}

/// The SHA-extension compression function against the portable one, and the dispatch choice.
@Suite struct SHA256DispatchTests {
    /// Which implementation this machine uses (printed, so test logs show it).
    @Test func dispatchChoice() {
        print("SHA256 dispatch: \(SHA256.fastest.rawValue)")
        #expect(SHA256().implementation == SHA256.fastest)
        #expect(SHA256(implementation: .portable).implementation == .portable)
    }

    /// FIPS 180-4 example vectors ("abc", the 448-bit message, one million 'a') on each implementation.
    @Test(arguments: SHA256.Implementation.allCases)
    func fipsVectors(implementation: SHA256.Implementation) {
        func digest(_ chunks: [[UInt8]]) -> String {
            var h = SHA256(implementation: implementation)
            for c in chunks { h.update(c) }
            return hexString(h.finalize())
        }
        #expect(digest([Array("abc".utf8)]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            digest([Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)])
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            digest([[UInt8](repeating: 0x61, count: 1_000_000)])
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length 0...300, in one update and in chunks of 1, 7, 63, 64 and 65 bytes: the fastest
    /// implementation gives the portable digest.
    @Test func everyLengthAgainstPortable() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 167 &+ 13) }
        for length in 0...300 {
            let message = Array(data[0..<length])
            var portable = SHA256(implementation: .portable)
            portable.update(message)
            let expected = portable.finalize()
            for chunk in [length + 1, 1, 7, 63, 64, 65] {
                var h = SHA256()
                var i = 0
                while i < length {
                    h.update(Array(message[i..<min(i + chunk, length)]))
                    i += chunk
                }
                #expect(h.finalize() == expected, "length \(length), chunks of \(chunk)")
            }
        }
    }
}
