import Glibc
import Testing
import VLAFormat
import VLATestSupport

@Suite struct RoundTripTests {
    /// The writer's identity (from its one hashing pass) is the SHA-256 of all the bytes, hashed independently
    /// by the portable implementation, and what the verifier reports; the trailing digest covers bytes 0..<n-32.
    @Test func writerIdentityIsTheWholeFileHash() throws {
        for document in [SampleDocuments.blob(), SampleDocuments.callBlob()] {
            let (bytes, identity) = try VLAWriter.serializeWithIdentity(document)
            #expect(bytes == (try VLAWriter.serialize(document)))
            var portable = SHA256(implementation: .portable)
            portable.update(bytes)
            #expect(identity == portable.finalize())
            #expect(Array(bytes.suffix(32)) == SHA256.hash(bytes.dropLast(32)))
            #expect(try VLAFile(bytes: bytes).contentHash() == identity)
        }
    }

    @Test func policyRoundTripsThroughWriterAndReader() throws {
        let (policyBytes, blobBytes) = try SampleDocuments.policyAndBlob()
        let original = SampleDocuments.policy(blobHash: SHA256.hash(blobBytes), blobSize: UInt64(blobBytes.count))
        let file = try VLAFile(bytes: policyBytes)
        #expect(file.document() == original)
        #expect(try VLAWriter.serialize(file.document()) == policyBytes)
        // Every dtype and every storage kind is present in the sample.
        #expect(Set(file.tensors.map(\.type.dtype)) == Set(DType.allCases))
        let kinds = Set(file.tensors.map { t -> Int in
            switch t.storage { case .inline: 0; case .external: 1; case .arena: 2 }
        })
        #expect(kinds == [0, 1, 2])
        // Every section kind is present.
        #expect(Set(file.sections.map(\.kind)) == Set(SectionKind.known))
        #expect(file.programs.map(\.name) == ["reset", "step"])
    }

    @Test func blobRoundTrips() throws {
        let original = SampleDocuments.blob()
        let bytes = try VLAWriter.serialize(original)
        let file = try VLAFile(bytes: bytes)
        #expect(file.header.isSharedBlob)
        #expect(file.document() == original)
        #expect(file.contentHash() == SHA256.hash(bytes))
    }

    @Test func inlinePayloadsAreAlignedViewsOfTheFile() throws {
        let (policyBytes, _) = try SampleDocuments.policyAndBlob()
        let file = try VLAFile(bytes: policyBytes)
        for (id, t) in file.tensors.enumerated() {
            guard case .inline(let offset) = t.storage else { continue }
            #expect(offset % 64 == 0, "tensor \(id)")
            let address = try #require(file.withPayload(ofTensor: id) { UInt(bitPattern: $0.baseAddress) })
            #expect(address % 64 == 0, "tensor \(id) payload address")
            let viaView = file.payload(ofTensor: id)
            #expect(viaView == Array(policyBytes[Int(offset)..<Int(offset + t.byteCount)]))
        }
    }

    @Test func writesAreByteIdentical() throws {
        let a = try SampleDocuments.policyAndBlob()
        let b = try SampleDocuments.policyAndBlob()
        #expect(a.policy == b.policy)
        #expect(a.blob == b.blob)
        let dir = try TemporaryDirectory()
        try VLAWriter.write(SampleDocuments.blob(), to: dir.path + "/one.vla")
        try VLAWriter.write(SampleDocuments.blob(), to: dir.path + "/two.vla")
        let one = try VLAFile(path: dir.path + "/one.vla"), two = try VLAFile(path: dir.path + "/two.vla")
        #expect(one.contentHash() == two.contentHash())
        #expect(one.contentHash() == SHA256.hash(a.blob))
    }

    @Test func failedWriteLeavesNothingBehind() throws {
        let dir = try TemporaryDirectory()
        // An inconsistent document is refused before any file is created.
        var doc = SampleDocuments.blob()
        doc.tensors[0].type = TensorType(.f32, [7, 4])
        #expect(throws: FormatError.self) { try VLAWriter.write(doc, to: dir.path + "/bad.vla") }
        #expect(dir.entries().isEmpty)
        // A folder that does not exist: an io error, nothing written.
        let error = try #require(throws: FormatError.self) {
            try VLAWriter.write(SampleDocuments.blob(), to: dir.path + "/missing/x.vla")
        }
        #expect(error.code == .io)
        // An existing file is replaced whole or not at all.
        try VLAWriter.write(SampleDocuments.blob(), to: dir.path + "/keep.vla")
        #expect(throws: FormatError.self) { try VLAWriter.write(doc, to: dir.path + "/keep.vla") }
        #expect(try VLAFile(path: dir.path + "/keep.vla").document() == SampleDocuments.blob())
        #expect(dir.entries() == ["keep.vla"])
    }
}

/// A fresh folder under /tmp, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/vlac-test-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FormatError(.io, "mkdtemp failed")
        }
        path = String(cString: p)
    }

    func entries() -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    deinit {
        for name in entries() { unlink(path + "/" + name) }
        rmdir(path)
    }
}
