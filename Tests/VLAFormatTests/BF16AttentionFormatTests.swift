import Testing
import VLAFormat
import VLATestSupport

/// Format 1.4: attention flag bit 2 (bf16 products), the minor version it needs, and the verifier's refusals.
@Suite struct BF16AttentionFormatTests {
    /// The sample policy with its attention op's flags replaced (mask kept).
    static func policy(flags: UInt32) -> VLADocument {
        var doc = SampleDocuments.policy(blobHash: [UInt8](repeating: 7, count: 32), blobSize: 4096)
        let p = doc.programs.firstIndex { $0.name == "step" }!
        let o = doc.programs[p].operations.firstIndex { $0.opcode == .attention }!
        doc.programs[p].operations[o].attributes[1] = flags
        return doc
    }

    static let bytes: [UInt8] = {
        do { return try VLAWriter.serialize(policy(flags: AttentionFlags.hasMask | AttentionFlags.bf16Products)) } catch {
            fatalError("sample must serialize: \(error)")
        }
    }()

    @Test func roundTripIsFormat14() throws {
        let file = try VLAFile(bytes: Self.bytes)
        #expect(file.header.minor == 4)
        let op = try #require(file.programs.flatMap(\.operations).first { $0.opcode == .attention })
        #expect(op.attributes[1] == 5)
        #expect(op.hasBF16Attention)
        #expect(try VLAWriter.serialize(file.document()) == Self.bytes)
    }

    @Test func withoutTheBitTheFileStaysBelow14() throws {
        let doc = Self.policy(flags: AttentionFlags.hasMask)
        #expect(doc.minimumMinorVersion < 4)
        let file = try VLAFile(bytes: try VLAWriter.serialize(doc))
        #expect(file.header.minor < 4)
    }

    /// A file that declares 1.3 (or older) but sets bit 2: refused, at the flags word.
    @Test(arguments: [UInt16(0), 1, 2, 3])
    func theBitNeedsMinor4(_ minor: UInt16) {
        let bytes = HostileInputTests.patched(Self.bytes) { $0.setU16(10, minor) }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["attention", "bit 2", "1.4", "declares 1.\(minor)"])
    }

    /// Bits this version does not know are refused (a 1.3 reader refuses bit 2 the same way): the flags word
    /// patched in a valid file (the writer refuses to write them), found after the scale's bits.
    @Test(arguments: [UInt32(1) << 3, 1 << 31, 0xF8])
    func unknownBitsAreRefused(_ extra: UInt32) throws {
        let le = { (v: UInt32) in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let pattern = le(Float(0.7071).bitPattern) + le(AttentionFlags.hasMask | AttentionFlags.bf16Products)
        let at = try #require((0...(Self.bytes.count - 8)).first { Array(Self.bytes[$0..<($0 + 8)]) == pattern })
        let bytes = HostileInputTests.patched(Self.bytes) { $0.setU32(at + 4, 5 | extra) }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["unknown attention flags \(5 | extra)"])
    }

    @Test func theSignatureCheckKnowsBit2() {
        let f = { (s: [Int]) in TensorType(.f32, s) }
        let ok = OpCode.attention.signatureProblem(
            inputs: [f([5, 2, 4]), f([7, 2, 4]), f([7, 2, 3])], outputs: [f([5, 2, 3])],
            attributes: [Float(0.5).bitPattern, AttentionFlags.bf16Products])
        #expect(ok == nil)
        let bad = OpCode.attention.signatureProblem(
            inputs: [f([5, 2, 4]), f([7, 2, 4]), f([7, 2, 3])], outputs: [f([5, 2, 3])], attributes: [Float(0.5).bitPattern, 8])
        #expect(bad == "unknown attention flags 8")
    }

    @Test func everyPrefixIsTruncated() {
        HostileInputTests.expectEveryPrefixTruncated(Self.bytes)
    }
}
