import Testing
import VLAFormat
import VLATestSupport

/// Format 1.2: `linear_i8` and `linear_bf16`, their verifier rules and the scale-tensor rules, on hostile files.
@Suite struct ReducedPrecisionFormatTests {
    static let bytes: [UInt8] = {
        do { return try VLAWriter.serialize(SampleDocuments.reducedPrecisionBlob()) } catch { fatalError("sample must serialize: \(error)") }
    }()

    @Test func roundTripIsFormat12() throws {
        let file = try VLAFile(bytes: Self.bytes)
        #expect(file.header.minor == 2)
        let ops = file.programs[0].operations.map(\.opcode)
        #expect(ops == [.linearI8, .mul, .add, .linearBF16, .geluErf])
        #expect(OpCode.linearI8.name == "linear_i8" && OpCode.linearBF16.name == "linear_bf16")
        #expect(try VLAWriter.serialize(file.document()) == Self.bytes)
    }

    @Test func filesWithoutTheNewOpsStayBelow12() {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.programs[0].operations[0].opcode = .linear
        doc.programs[0].operations[3].opcode = .linear
        #expect(doc.minimumMinorVersion == 1)
    }

    @Test func everyPrefixIsTruncated() {
        HostileInputTests.expectEveryPrefixTruncated(Self.bytes)
    }

    /// Resealed random mutations: an error or a file that reads and re-serializes, never a crash.
    @Test func seededMutationsNeverCrash() {
        var rng = SplitMix64(seed: 0x5eed_1002)
        var codes: Set<String> = []
        for _ in 0..<5_000 {
            var raw = RawFile(Self.bytes)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                raw.bytes[Int(rng.next() % UInt64(raw.bytes.count - 32))] = UInt8(truncatingIfNeeded: rng.next())
            }
            raw.reseal()
            do {
                let file = try VLAFile(bytes: raw.bytes)
                _ = try VLAFile(bytes: VLAWriter.serialize(file.document()))
            } catch {
                codes.insert(error.code.description)
            }
        }
        #expect(codes.count > 4, "\(codes)")
    }

    /// The absolute offset of tensor `id`'s inline payload.
    static func payload(_ raw: RawFile, _ id: Int) -> Int { raw.section(.data)!.offset + Int(raw.u64(raw.tensorEntry(id) + 40)) }

    @Test(arguments: [Float.nan, .infinity, -.infinity, 0, -0.5, -Float.leastNonzeroMagnitude])
    func scalesMustBeFinitePositive(_ bad: Float) {
        let bytes = HostileInputTests.patched(Self.bytes) { raw in raw.setU32(Self.payload(raw, 1) + 8, bad.bitPattern) }
        HostileInputTests.expectRejected(bytes, .invalidValue, mentioning: ["scale 2 of scale tensor 1", "finite and positive"])
    }

    @Test func scaleOfTheWrongShapeOrTypeIsRefused() {
        // The i8 tensor names the bias [6] f32 (right shape) → accepted; the i8 tensor itself (i8) → refused.
        let wrongType = HostileInputTests.patched(Self.bytes) { raw in raw.setU32(raw.tensorEntry(2) + 12, 2) }
        HostileInputTests.expectRejected(wrongType, .badReference, mentioning: ["needs f32[6]"])
        let arena = HostileInputTests.patched(Self.bytes) { raw in raw.setU32(raw.tensorEntry(2) + 12, 4) }
        HostileInputTests.expectRejected(arena, .badReference, mentioning: ["needs f32[6]"])
        let missing = HostileInputTests.patched(Self.bytes) { raw in raw.setU32(raw.tensorEntry(2) + 12, 0xFFFF_FFFF) }
        HostileInputTests.expectRejected(missing, .badReference, mentioning: ["no scale tensor"])
        let outside = HostileInputTests.patched(Self.bytes) { raw in raw.setU32(raw.tensorEntry(2) + 12, 999) }
        HostileInputTests.expectRejected(outside, .badReference, mentioning: ["does not exist"])
    }

    @Test func int8WeightsHoldNoMinus128() {
        let bytes = HostileInputTests.patched(Self.bytes) { raw in raw.bytes[Self.payload(raw, 2) + 13] = 0x80 }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["linear_i8", "−128 at element 13"])
    }

    @Test func weightsMustBeInline() {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.tensors[9].location = .arena(offset: 960)
        doc.arenaSize = 1024
        do {
            _ = try VLAFile(bytes: VLAWriter.serialize(doc))
            Issue.record("accepted bf16 weights in the arena")
        } catch {
            #expect(error.code == .badOperation && error.message.contains("must be an inline constant"), "\(error)")
        }
    }

    @Test func weightDTypesAreChecked() {
        // linear_bf16 given the i8 weights, linear_i8 given the bf16 weights.
        let bytes = HostileInputTests.patched(Self.bytes) { raw in
            let programs = raw.section(.programs)!
            let ops = programs.offset + 32 + 32 * Int(raw.u32(programs.offset))
            raw.setU16(ops, 24)
        }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["w must be bf16, is i8"])
    }

    // MARK: format 1.4: linear_i8's flags word (bit 0: zero-point activations)

    /// The sample with its linear_i8 (op 0) carrying the zero-point flag, serialized (format 1.4).
    static let flaggedBytes: [UInt8] = {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.programs[0].operations[0].attributes = [Layout.linearI8ZeroPoint]
        do { return try VLAWriter.serialize(doc) } catch { fatalError("sample must serialize: \(error)") }
    }()

    /// The absolute offsets of op `op`'s record and of its first attribute word (in the operand pool).
    static func opRecord(_ raw: RawFile, _ op: Int) -> (record: Int, attribute: Int) {
        let base = raw.section(.programs)!.offset
        let ops = base + 32 + 32 * Int(raw.u32(base))
        let pool = ops + Int(raw.u32(base + 8)) * Int(raw.u32(base + 12))
        let record = ops + Int(raw.u32(base + 12)) * op
        let counts = raw.u32(record + 8)  // u16 inputs, u16 outputs
        let operands = Int(raw.u32(record + 4)) + Int(counts & 0xFFFF) + Int(counts >> 16)
        return (record, pool + 4 * operands)
    }

    @Test func zeroPointFlagIsFormat14AndRoundTrips() throws {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.programs[0].operations[0].attributes = [Layout.linearI8ZeroPoint]
        #expect(doc.minimumMinorVersion == 4 && Layout.minorVersion >= 4)
        let bytes = try VLAWriter.serialize(doc)
        let file = try VLAFile(bytes: bytes)
        #expect(file.header.minor == 4)
        #expect(file.programs[0].operations[0].attributes == [1])
        #expect(try VLAWriter.serialize(file.document()) == bytes)
        // Without the flag the file stays 1.2 and byte-identical (roundTripIsFormat12).
        #expect(SampleDocuments.reducedPrecisionBlob().minimumMinorVersion == 2)
    }

    @Test func zeroPointFlagIsRefusedInOlderMinors() throws {
        #expect(try VLAFile(bytes: Self.flaggedBytes).header.minor == 4)
        for minor: UInt16 in [2, 3] {
            let older = HostileInputTests.patched(Self.flaggedBytes) { raw in raw.setU16(10, minor) }
            HostileInputTests.expectRejected(older, .badOperation, mentioning: ["linear_i8", "needs format 1.4", "declares 1.\(minor)"])
        }
    }

    @Test(arguments: [UInt32(2), 3, 0x8000_0000, 0xFFFF_FFFF])
    func unknownFlagBitsAreRefused(_ flags: UInt32) throws {
        let bytes = HostileInputTests.patched(Self.flaggedBytes) { raw in raw.setU32(Self.opRecord(raw, 0).attribute, flags) }
        HostileInputTests.expectRejected(bytes, .badOperation, mentioning: ["linear_i8", "unknown bits"])
    }

    @Test func flagsWordCountsAreChecked() throws {
        // Two attribute words on linear_i8 (the second: the next op's first operand).
        let two = HostileInputTests.patched(Self.flaggedBytes) { raw in raw.setU16(Self.opRecord(raw, 0).record + 12, 2) }
        HostileInputTests.expectRejected(two, .badOperation, mentioning: ["linear_i8", "takes 0 attribute words, has 2"])
        // linear_bf16 (op 3) has no flags word.
        let bf16 = HostileInputTests.patched(Self.flaggedBytes) { raw in raw.setU16(Self.opRecord(raw, 3).record + 12, 1) }
        HostileInputTests.expectRejected(bf16, .badOperation, mentioning: ["linear_bf16", "takes 0 attribute words, has 1"])
    }

    /// A [1, k] × [k, 1] int8 blob, with or without the zero-point flag.
    static func depthDocument(k: Int, flags: [UInt32]) -> VLADocument {
        let t = [
            TensorEntry(name: "x", type: TensorType(.f32, [1, k]), location: .arena(offset: 0)),
            TensorEntry(name: "s", type: TensorType(.f32, [1]), location: .inline(SampleDocuments.f32Bytes([1]))),
            TensorEntry(name: "w", type: TensorType(.i8, [k, 1]), location: .inline([UInt8](repeating: 1, count: k)), scaleTensor: 1),
            TensorEntry(name: "y", type: TensorType(.f32, [1, 1]), location: .arena(offset: UInt64((4 * k + 63) / 64 * 64))),
        ]
        return VLADocument(
            isSharedBlob: true, tensors: t, metadata: Metadata(role: "backbone"),
            programs: [Program(name: "p", inputs: [0], outputs: [3], operations: [Operation(.linearI8, inputs: [0, 2], outputs: [3], attributes: flags)])],
            arenaSize: UInt64((4 * k + 63) / 64 * 64 + 64), provenance: Provenance(compiler: "t"))
    }

    /// Zero points widen the summed values to [−255, 255]: K ≤ 65,536 keeps 255·127·K below 2³¹.
    @Test func zeroPointDepthLimit() throws {
        let k = Layout.maxZeroPointDepth + 1
        _ = try VLAFile(bytes: VLAWriter.serialize(Self.depthDocument(k: k, flags: [])))  // symmetric: within 131,072
        _ = try VLAFile(bytes: VLAWriter.serialize(Self.depthDocument(k: k - 1, flags: [1])))
        // (The writer verifies what it writes, so the file over the limit is refused there, by the same rule.)
        do {
            _ = try VLAFile(bytes: VLAWriter.serialize(Self.depthDocument(k: k, flags: [1])))
            Issue.record("accepted k = \(k) with zero points")
        } catch {
            #expect(error.code == .badOperation && error.offset != nil, "\(error)")
            #expect(error.message.contains("over the limit of 65536") && error.message.contains("zero-point"), "\(error)")
        }
    }

    @Test func summedAxisOverTheInt32Limit() {
        let k = Layout.maxReducedPrecisionDepth + 1
        let t = [
            TensorEntry(name: "x", type: TensorType(.f32, [1, k]), location: .arena(offset: 0)),
            TensorEntry(name: "s", type: TensorType(.f32, [1]), location: .inline(SampleDocuments.f32Bytes([1]))),
            TensorEntry(name: "w", type: TensorType(.i8, [k, 1]), location: .inline([UInt8](repeating: 1, count: k)), scaleTensor: 1),
            TensorEntry(name: "y", type: TensorType(.f32, [1, 1]), location: .arena(offset: UInt64((4 * k + 63) / 64 * 64))),
        ]
        let doc = VLADocument(
            isSharedBlob: true, tensors: t, metadata: Metadata(role: "backbone"),
            programs: [Program(name: "p", inputs: [0], outputs: [3], operations: [Operation(.linearI8, inputs: [0, 2], outputs: [3])])],
            arenaSize: UInt64((4 * k + 63) / 64 * 64 + 64), provenance: Provenance(compiler: "t"))
        do {
            _ = try VLAFile(bytes: VLAWriter.serialize(doc))
            Issue.record("accepted k = \(k)")
        } catch {
            #expect(error.message.contains("over the limit of 131072"), "\(error)")
        }
    }
}
