import Testing
import VLAFormat
import VLATestSupport

/// Format 1.3's action-contract additions (Schemas/vla-format.md §3, §7): the squash scale behind the
/// SQUASH_SCALE header flag and `bounds` normalization. Round trips, the version a writer picks, and hostile bytes.
@Suite struct ActionContractFormatTests {
    /// The sample policy with a contract of `max_action 1 · tanh(x / 2)` and bounds normalization (p01, p99).
    static func document(scale: Float = 2, normalization: Normalization = .bounds) throws -> VLADocument {
        let blob = try VLAWriter.serialize(SampleDocuments.blob())
        var doc = SampleDocuments.policy(blobHash: SHA256.hash(blob), blobSize: UInt64(blob.count))
        doc.metadata.action.squashBound = 1
        doc.metadata.action.squashScale = scale
        doc.metadata.action.normalization = normalization
        doc.metadata.action.mean = [-0.2, -0.1, -0.3, -0.25, -0.2, -0.15, 0]
        doc.metadata.action.std = [0.2, 0.1, 0.3, 0.25, 0.2, 0.15, 1.2]
        doc.metadata.action.mask = [Bool](repeating: true, count: 7)
        return doc
    }

    static func metadataOffset(_ bytes: [UInt8]) -> Int { RawFile(bytes).section(.metadata)!.offset }

    @Test func roundTripWrites13WithTheFlag() throws {
        let bytes = try VLAWriter.serialize(try Self.document())
        let file = try VLAFile(bytes: bytes)
        #expect(file.header.minor == 3)
        #expect(file.header.flags & Layout.flagSquashScale != 0)
        #expect(file.metadata.action.squashScale == 2 && file.metadata.action.effectiveSquashScale == 2)
        #expect(file.metadata.action.normalization == .bounds && file.metadata.action.std[6] == 1.2)
        #expect(RawFile(bytes).u32(Self.metadataOffset(bytes) + 4) == Float(2).bitPattern)
        #expect(try VLAWriter.serialize(file.document()) == bytes)
    }

    /// A scale equal to the bound (or zero) is the 1.0–1.2 squash: no flag, offset 4 zero, the old minor version.
    @Test func scaleEqualToTheBoundNeedsNo13() throws {
        for scale: Float in [0, 1] {
            let bytes = try VLAWriter.serialize(try Self.document(scale: scale, normalization: .meanStd))
            let file = try VLAFile(bytes: bytes)
            #expect(file.header.minor < 3 && file.header.flags & Layout.flagSquashScale == 0)
            #expect(RawFile(bytes).u32(Self.metadataOffset(bytes) + 4) == 0)
            #expect(file.metadata.action.effectiveSquashScale == 1)
        }
        // bounds alone is 1.3 without the flag.
        let b = try VLAFile(bytes: try VLAWriter.serialize(try Self.document(scale: 0)))
        #expect(b.header.minor == 3 && b.header.flags & Layout.flagSquashScale == 0)
    }

    @Test func everyPrefixIsRejectedAsTruncated() throws {
        HostileInputTests.expectEveryPrefixTruncated(try VLAWriter.serialize(try Self.document()))
    }

    @Test func seededByteFlipsNeverCrash() throws {
        let original = try VLAWriter.serialize(try Self.document())
        var rng = SplitMix64(seed: 0x5eed_0013)
        let metadata = Self.metadataOffset(original)
        for round in 0..<300 {
            var raw = RawFile(original)
            // Half the flips land in the metadata's fixed part and the header, where the new fields are.
            let at = round % 2 == 0 ? metadata + Int(rng.next() % 160) : Int(rng.next() % 64)
            raw.bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            if round % 3 != 0 { raw.reseal() }
            _ = try? VLAFile(bytes: raw.bytes)
        }
    }

    static func expectRejected(_ change: (inout RawFile, Int) -> Void, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var raw = RawFile(try VLAWriter.serialize(try Self.document()))
        change(&raw, Self.metadataOffset(raw.bytes))
        raw.reseal()
        HostileInputTests.expectRejected(raw.bytes, .invalidValue, mentioning: words, sourceLocation: sourceLocation)
    }

    @Test func hostileSquashScales() throws {
        for bad: Float in [0, -2, .nan, .infinity, 1] {
            try Self.expectRejected({ raw, m in raw.setU32(m + 4, bad.bitPattern) }, ["squash scale"])
        }
        // The flag on a contract that squashes nothing.
        try Self.expectRejected({ raw, m in raw.setU32(m + 64 + 8, 0); raw.setU32(m + 64 + 12, 0) }, ["squash scale"])
        // Without the flag the word must be zero.
        try Self.expectRejected({ raw, _ in raw.setU32(12, raw.u32(12) & ~Layout.flagSquashScale) }, ["offset 4"])
    }

    @Test func hostileBounds() throws {
        // high below low on an unnormalized dim (std slot 0 = high, mean slot 0 = low).
        try Self.expectRejected({ raw, m in
            let arrays = m + Int(raw.u32(m))
            raw.setU32(arrays + 4 * 7, Float(-0.5).bitPattern)
        }, ["bounds of dim 0"])
        try Self.expectRejected({ raw, m in
            let arrays = m + Int(raw.u32(m))
            raw.setU32(arrays, Float(-2e6).bitPattern)
        }, ["bounds of dim 0"])
        // An unknown normalization value is refused (how a 1.2 reader refuses bounds).
        try Self.expectRejected({ raw, m in raw.setU32(m + 64 + 24, 3) }, ["3"])
    }
}
