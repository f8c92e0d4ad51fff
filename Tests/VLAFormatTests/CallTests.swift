import Foundation
import Testing
import VLAFormat
import VLATestSupport

/// Format 1.1: `call` ops, shared blobs with programs, external test-vector values. Every new rule gets a hostile
/// file; the truncation and mutation tests of ``HostileInputTests`` also run on these samples.
@Suite struct CallTests {
    static let files: (policy: [UInt8], blob: [UInt8]) = {
        do { return try SampleDocuments.callPolicyAndBlob() } catch { fatalError("call samples must serialize: \(error)") }
    }()

    // MARK: Versions and round trip

    @Test func versionOnePointZeroFilesStayOnePointZero() throws {
        let (policy, blob) = try SampleDocuments.policyAndBlob()
        #expect(try VLAFile(bytes: policy).header.minor == 0)
        #expect(try VLAFile(bytes: blob).header.minor == 0)
        #expect(SampleDocuments.blob().minimumMinorVersion == 0)
    }

    @Test func callSamplesAreOnePointOneAndRoundTrip() throws {
        let policy = try VLAFile(bytes: Self.files.policy), blob = try VLAFile(bytes: Self.files.blob)
        #expect(policy.header.minor == 1)
        #expect(blob.header.minor == 1)
        #expect(try VLAWriter.serialize(policy.document()) == Self.files.policy)
        #expect(try VLAWriter.serialize(blob.document()) == Self.files.blob)
        #expect(policy.document() == SampleDocuments.callPolicy(blobHash: SHA256.hash(Self.files.blob), blobSize: UInt64(Self.files.blob.count)))
        #expect(blob.programs.map(\.name) == ["features"])
        #expect(policy.programs[0].operations[0].opcode == .call)
        #expect(policy.programs[0].operations[0].attributes == [0, 0])
        #expect(try SharedBlobResolver.checkCalls(of: policy, blobs: [blob]) == ())
    }

    @Test func eachFeatureAloneMakesTheFileOnePointOne() throws {
        var vectorOnly = SampleDocuments.callPolicy(blobHash: SHA256.hash(Self.files.blob), blobSize: UInt64(Self.files.blob.count))
        vectorOnly.programs[0].operations[0] = Operation(.linear, inputs: [0, 6], outputs: [1])
        vectorOnly.tensors.append(TensorEntry(name: "w", type: TensorType(.f32, [6, 4]), location: .inline(SampleDocuments.f32Bytes(SampleDocuments.floats(24, seed: 1)))))
        #expect(vectorOnly.minimumMinorVersion == 1)
        vectorOnly.testVectors = []
        #expect(vectorOnly.minimumMinorVersion == 0)
        #expect(try VLAFile(bytes: VLAWriter.serialize(vectorOnly)).header.minor == 0)
    }

    // MARK: Prefixes and mutations

    @Test(arguments: ["policy", "blob"])
    func everyPrefixIsRejectedAsTruncated(which: String) {
        HostileInputTests.expectEveryPrefixTruncated(which == "policy" ? Self.files.policy : Self.files.blob)
    }

    @Test(arguments: [("policy", UInt64(0x5eed_0011)), ("blob", UInt64(0x5eed_0012))])
    func seededMutationsNeverCrash(which: String, seed: UInt64) throws {
        let original = which == "policy" ? Self.files.policy : Self.files.blob
        let blob = try VLAFile(bytes: Self.files.blob)
        var rng = SplitMix64(seed: seed)
        var outcomes: [String: Int] = [:]
        for round in 0..<5_000 {
            var raw = RawFile(original)
            let flips = 1 + Int(rng.next() % 8)
            let limit = round % 2 == 0 ? raw.bytes.count : raw.bytes.count - 32
            for _ in 0..<flips { raw.bytes[Int(rng.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: rng.next()) }
            let resealed = round % 2 == 1
            if resealed { raw.reseal() }
            do {
                let file = try VLAFile(bytes: raw.bytes)
                outcomes["read", default: 0] += 1
                _ = try VLAFile(bytes: VLAWriter.serialize(file.document()))
                // Resolution-time checks on a mutated policy: an error or a pass, never a crash.
                if !file.header.isSharedBlob { _ = try? SharedBlobResolver.checkCalls(of: file, blobs: [blob]) }
            } catch {
                outcomes[error.code.description, default: 0] += 1
            }
        }
        #expect(outcomes.keys.count > 4, "outcomes: \(outcomes)")
    }

    // MARK: Hostile files, at open

    /// The pool index of the first attribute word of the policy's op 0 (the call).
    static func callAttributeOffset(_ raw: RawFile) -> Int {
        let programs = raw.section(.programs)!
        let nPrograms = Int(raw.u32(programs.offset)), nOps = Int(raw.u32(programs.offset + 8))
        let record = programs.offset + 32 + 32 * nPrograms
        let pool = record + 16 * nOps
        let start = Int(raw.u32(record + 4))
        let words = Int(raw.u32(record + 8) & 0xFFFF) + Int(raw.u32(record + 8) >> 16)
        return pool + 4 * (start + words)
    }

    @Test func callNamingAMissingSharedReference() {
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in raw.setU32(Self.callAttributeOffset(raw), 1) }
        HostileInputTests.expectRejected(bytes, .badReference, mentioning: ["call", "shared reference 1"])
    }

    @Test func callProgramIndexBeyondTheProgramLimit() {
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in raw.setU32(Self.callAttributeOffset(raw) + 4, 16) }
        HostileInputTests.expectRejected(bytes, .badReference, mentioning: ["call", "program 16"])
    }

    @Test func callWithTheWrongAttributeCount() {
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in
            let programs = raw.section(.programs)!
            let record = programs.offset + 32 + 32 * Int(raw.u32(programs.offset))
            raw.setU16(record + 12, 1)
        }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["call", "2 attribute words"])
    }

    @Test func callOutputThatIsNotInTheArena() {
        // Operand 1 of the call is its output; point it at the inline tensor policy/v (id 2).
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in raw.setU32(Self.callAttributeOffset(raw) - 4, 2) }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["call", "not an arena tensor"])
    }

    @Test func callOutputOverlappingItsInput() {
        // Move step/features (tensor 1) onto step/x's arena bytes.
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in raw.setU64(raw.tensorEntry(1) + 40, 64) }
        HostileInputTests.expectRejected(bytes, .overlap, mentioning: ["call"])
    }

    @Test func callInsideASharedBlob() {
        var blob = SampleDocuments.callBlob()
        blob.programs[0].operations.append(Operation(.call, inputs: [2], outputs: [4], attributes: [0, 0]))
        do {
            _ = try VLAWriter.serialize(blob)
            Issue.record("a blob with a call op was written")
        } catch {
            #expect(error.code == .badOperation, "\(error)")
            #expect(error.message.contains("shared blob cannot contain call"), "\(error)")
        }
    }

    @Test func testVectorValueInTheArenaIsRejected() {
        // Binding 0's value: point it at step/features (an arena tensor of another type) → rejected; at step/x → arena.
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in
            let tv = raw.section(.testVectors)!
            let bindings = tv.offset + 16 + 16 * Int(raw.u32(tv.offset))
            raw.setU32(bindings + 4, 0)
        }
        HostileInputTests.expectRejected(bytes, .badReference, mentioning: ["inline or external"])
    }

    // MARK: Hostile files, at resolution

    @Test func callOfAProgramTheBlobDoesNotHave() throws {
        let bytes = HostileInputTests.patched(Self.files.policy) { raw in raw.setU32(Self.callAttributeOffset(raw) + 4, 3) }
        let policy = try VLAFile(bytes: bytes), blob = try VLAFile(bytes: Self.files.blob)
        Self.expectResolutionError(try SharedBlobResolver.checkCalls(of: policy, blobs: [blob]),
                                   mentioning: ["sha256:" + hexString(SHA256.hash(Self.files.blob)), "calls program 3"])
    }

    @Test func callWhoseOperandsDoNotMatchTheBlobProgram() throws {
        // A blob whose program takes 2 rows; the policy passes 3.
        let blobBytes = try VLAWriter.serialize(SampleDocuments.callBlob(rows: 2))
        let policyBytes = try VLAWriter.serialize(SampleDocuments.callPolicy(blobHash: SHA256.hash(blobBytes), blobSize: UInt64(blobBytes.count)))
        let policy = try VLAFile(bytes: policyBytes), blob = try VLAFile(bytes: blobBytes)
        Self.expectResolutionError(try SharedBlobResolver.checkCalls(of: policy, blobs: [blob]),
                                   mentioning: ["sha256:" + hexString(SHA256.hash(blobBytes)), "\"features\"", "input 0", "f32[2, 6]", "f32[3, 6]"])
        // The resolver runs the same check.
        let dir = try Self.folder(["backbone-\(hexString(SHA256.hash(blobBytes))).vla": blobBytes])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        Self.expectResolutionError(try SharedBlobResolver(searchPaths: [dir]).resolve(for: policy), mentioning: ["input 0"])
    }

    @Test func externalTestVectorValueWhoseBlobTensorDiffers() throws {
        // The blob's test frame has 2 rows; the policy's external value says 3.
        let blobBytes = try VLAWriter.serialize(SampleDocuments.callBlob(frameRows: 2))
        let policyBytes = try VLAWriter.serialize(SampleDocuments.callPolicy(blobHash: SHA256.hash(blobBytes), blobSize: UInt64(blobBytes.count)))
        let policy = try VLAFile(bytes: policyBytes)
        let dir = try Self.folder(["backbone-\(hexString(SHA256.hash(blobBytes))).vla": blobBytes])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        Self.expectResolutionError(try SharedBlobResolver(searchPaths: [dir]).resolve(for: policy), mentioning: ["test/frame", "f32[2, 6]"])
    }

    @Test func externalTensorNamingABlobArenaTensor() throws {
        var policy = SampleDocuments.callPolicy(blobHash: SHA256.hash(Self.files.blob), blobSize: UInt64(Self.files.blob.count))
        // backbone/x is blob tensor 2, an arena tensor: it has no stored bytes.
        policy.tensors[4] = TensorEntry(name: "backbone/x", type: TensorType(.f32, [3, 6]), location: .external(ref: 0, index: 2))
        let file = try VLAFile(bytes: VLAWriter.serialize(policy))
        let dir = try Self.folder(["backbone-\(hexString(SHA256.hash(Self.files.blob))).vla": Self.files.blob])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        Self.expectResolutionError(try SharedBlobResolver(searchPaths: [dir]).resolve(for: file), mentioning: ["arena tensor"])
    }

    @Test func theSampleResolves() throws {
        let policy = try VLAFile(bytes: Self.files.policy)
        let dir = try Self.folder(["backbone-\(hexString(SHA256.hash(Self.files.blob))).vla": Self.files.blob])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let blobs = try SharedBlobResolver(searchPaths: [dir]).resolve(for: policy)
        #expect(blobs.count == 1)
        #expect(blobs[0].programs.count == 1)
    }

    static func expectResolutionError<T>(_ body: @autoclosure () throws(FormatError) -> T, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try body()
            Issue.record("resolution accepted a mismatched blob", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == .sharedBlob, "\(error)", sourceLocation: sourceLocation)
            for word in words {
                #expect(error.message.contains(word), "\"\(word)\" missing from \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    /// A fresh temporary folder holding `files`; the caller removes it.
    static func folder(_ files: [String: [UInt8]]) throws -> String {
        let dir = NSTemporaryDirectory() + "vlac-call-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        return dir
    }
}
