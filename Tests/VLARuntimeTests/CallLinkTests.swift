import Testing
import VLAFormat
import VLARuntime
import VLATestSupport

/// Linking of `call` ops (format 1.1): the blob program runs in the blob's part of the session arena, against the
/// blob's mapped tensors, and its test-vector value comes from the blob.
@Suite struct CallLinkTests {
    static func files() throws -> (policy: VLAFile, blob: VLAFile) {
        let (p, b) = try SampleDocuments.callPolicyAndBlob()
        return (try VLAFile(bytes: p), try VLAFile(bytes: b))
    }

    @Test func embeddedTestVectorWithAnExternalFrameHolds() throws {
        let (policy, blob) = try Self.files()
        let results = try TestVectors.run(file: policy, blobs: [blob])
        #expect(results.count == 1)
        #expect(results.allSatisfy { $0.passed }, "\(results)")
    }

    @Test func callComputesTheBlobProgramThenThePolicyTail() throws {
        let (policy, blob) = try Self.files()
        let interpreter = try Interpreter(file: policy, blobs: [blob])
        // The session arena: the policy's 320 bytes, then the blob's 256.
        #expect(interpreter.arenaSize == 320 + 256)
        // The file's programs and op indices are kept.
        #expect(interpreter.programs == policy.programs)
        try interpreter.setFloats(0, SampleDocuments.floats(18, seed: 13))
        try interpreter.run(0)
        let got = try interpreter.floats(3)
        let want = SampleDocuments.callPolicyExpected()
        for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-5 * max(1, abs(w)), "\(g) vs \(w)") }
        // Another input gives another answer (the call really reads its input).
        try interpreter.setFloats(0, [Float](repeating: 0, count: 18))
        try interpreter.run(0)
        let zeroInput = try interpreter.floats(3)
        // relu(b)·v, computed in float64.
        let b = SampleDocuments.floats(4, seed: 12), v = SampleDocuments.floats(28, seed: 14)
        for r in 0..<3 {
            for n in 0..<7 {
                let w = (0..<4).reduce(0.0) { $0 + Double(max(b[$1], 0)) * Double(v[$1 * 7 + n]) }
                #expect(abs(Double(zeroInput[r * 7 + n]) - w) <= 1e-5)
            }
        }
    }

    /// The copies in that a link leaves (`inputsByReference`), per planned program.
    static func copiesIn(_ interpreter: Interpreter) -> Int {
        interpreter.origins.joined().filter {
            if case .copyIn = $0.callee?.part { return true }
            return false
        }.count
    }

    /// A one-program shared blob for the tests below, serialized.
    static func blobBytes(_ tensors: [TensorEntry], _ program: Program, arenaSize: UInt64) throws -> [UInt8] {
        try VLAWriter.serialize(VLADocument(
            isSharedBlob: true, tensors: tensors,
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "tail"),
            programs: [program], arenaSize: arenaSize, provenance: Provenance(compiler: "vlac-tests", sources: [], options: [])))
    }

    /// An interpreter of a one-program policy whose calls go to `blob` (its role `role`).
    static func linked(
        _ tensors: [TensorEntry], _ program: Program, arenaSize: UInt64, blob: [UInt8], role: String = "tail"
    ) throws -> Interpreter {
        let policy = VLADocument(
            tensors: tensors,
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "policy"),
            programs: [program], arenaSize: arenaSize, provenance: Provenance(compiler: "vlac-tests", sources: [], options: []),
            sharedRefs: [SharedReference(sha256: SHA256.hash(blob), role: role, size: UInt64(blob.count))])
        return try Interpreter(file: VLAFile(bytes: VLAWriter.serialize(policy)), blobs: [VLAFile(bytes: blob)])
    }

    /// A caller input that only one call feeds is read in place (no copy in is planned), and the call still
    /// reads what the caller wrote: the float64 values of `callComputesTheBlobProgramThenThePolicyTail`, twice.
    @Test func anInputOnlyOneCallFeedsIsReadInPlace() throws {
        let (policy, blob) = try Self.files()
        let interpreter = try Interpreter(file: policy, blobs: [blob])
        #expect(Self.copiesIn(interpreter) == 0)
        for seed in [UInt64(13), 31] {
            let x = SampleDocuments.floats(18, seed: seed)
            try interpreter.setFloats(0, x)
            try interpreter.run(0)
            let got = try interpreter.floats(3)
            let w = SampleDocuments.floats(24, seed: 11), b = SampleDocuments.floats(4, seed: 12), v = SampleDocuments.floats(28, seed: 14)
            for r in 0..<3 {
                let h = (0..<4).map { n in max((0..<6).reduce(Double(b[n])) { $0 + Double(x[r * 6 + $1]) * Double(w[$1 * 4 + n]) }, 0) }
                for n in 0..<7 {
                    let want = (0..<4).reduce(0.0) { $0 + h[$1] * Double(v[$1 * 7 + n]) }
                    #expect(abs(Double(got[r * 7 + n]) - want) <= 1e-5 * max(1, abs(want)), "seed \(seed) [\(r), \(n)]")
                }
            }
        }
    }

    /// Two calls of one blob program with different inputs: its input is fed twice, so both calls copy theirs
    /// in, and each call computes from its own input (float64 reference: relu(x1·w + b) + relu(x2·w + b)).
    @Test func anInputTwoCallsFeedIsCopiedIn() throws {
        let blob = try VLAWriter.serialize(SampleDocuments.callBlob())
        let interpreter = try Self.linked(
            [
                TensorEntry(name: "x1", type: TensorType(.f32, [3, 6]), location: .arena(offset: 0)),
                TensorEntry(name: "x2", type: TensorType(.f32, [3, 6]), location: .arena(offset: 128)),
                TensorEntry(name: "f1", type: TensorType(.f32, [3, 4]), location: .arena(offset: 256)),
                TensorEntry(name: "f2", type: TensorType(.f32, [3, 4]), location: .arena(offset: 320)),
                TensorEntry(name: "out", type: TensorType(.f32, [3, 4]), location: .arena(offset: 384)),
            ],
            Program(name: "step", inputs: [0, 1], outputs: [4], operations: [
                Operation(.call, inputs: [0], outputs: [2], attributes: [0, 0]),
                Operation(.call, inputs: [1], outputs: [3], attributes: [0, 0]),
                Operation(.add, inputs: [2, 3], outputs: [4]),
            ]),
            arenaSize: 448, blob: blob, role: "backbone")
        #expect(Self.copiesIn(interpreter) == 2)
        let x1 = SampleDocuments.floats(18, seed: 41), x2 = SampleDocuments.floats(18, seed: 42)
        try interpreter.setFloats(0, x1)
        try interpreter.setFloats(1, x2)
        try interpreter.run(0)
        let got = try interpreter.floats(4)
        let w = SampleDocuments.floats(24, seed: 11), b = SampleDocuments.floats(4, seed: 12)
        func feature(_ x: [Float], _ r: Int, _ n: Int) -> Double {
            max((0..<6).reduce(Double(b[n])) { $0 + Double(x[r * 6 + $1]) * Double(w[$1 * 4 + n]) }, 0)
        }
        for r in 0..<3 {
            for n in 0..<4 {
                let want = feature(x1, r, n) + feature(x2, r, n)
                #expect(abs(Double(got[r * 4 + n]) - want) <= 1e-5 * max(1, abs(want)), "[\(r), \(n)]")
            }
        }
    }

    /// An input whose bytes a view shares (a tensor the program reads that no op writes, placed by the compiler
    /// over the input, as the reduced-precision backbone's `pixel_values.patch_rows`) keeps its copy: the view
    /// reads the call region. relu of the input seen as [4, 2] gives the input's own values where positive.
    @Test func anInputAViewSharesIsCopiedIn() throws {
        let x = SampleDocuments.floats(8, seed: 61)
        let blob = try Self.blobBytes(
            [
                TensorEntry(name: "x", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0)),
                TensorEntry(name: "x.view", type: TensorType(.f32, [4, 2]), location: .arena(offset: 0)),
                TensorEntry(name: "y", type: TensorType(.f32, [4, 2]), location: .arena(offset: 64)),
            ],
            Program(name: "tail", inputs: [0], outputs: [2], operations: [Operation(.relu, inputs: [1], outputs: [2])]),
            arenaSize: 128)
        let interpreter = try Self.linked(
            [
                TensorEntry(name: "x", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0)),
                TensorEntry(name: "y", type: TensorType(.f32, [4, 2]), location: .arena(offset: 64)),
            ],
            Program(name: "step", inputs: [0], outputs: [1], operations: [Operation(.call, inputs: [0], outputs: [1], attributes: [0, 0])]),
            arenaSize: 128, blob: blob)
        #expect(Self.copiesIn(interpreter) == 1)
        try interpreter.setFloats(0, x)
        try interpreter.run(0)
        #expect(try interpreter.floats(1) == x.map { $0 > 0 ? $0 : 0 })
    }

    /// A blob program returning its input (an output that is the input, or a view over its bytes), next to
    /// relu of it: the input keeps its copy, and the call's outputs are the input's values and their relu.
    @Test(arguments: [false, true])
    func anInputTheCalleeReturnsIsCopiedIn(asView: Bool) throws {
        let x = SampleDocuments.floats(8, seed: 71)
        var tensors = [
            TensorEntry(name: "x", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0)),
            TensorEntry(name: "y", type: TensorType(.f32, [2, 4]), location: .arena(offset: 64)),
        ]
        if asView { tensors.append(TensorEntry(name: "x.view", type: TensorType(.f32, [8]), location: .arena(offset: 0))) }
        let blob = try Self.blobBytes(
            tensors,
            Program(name: "tail", inputs: [0], outputs: [asView ? 2 : 0, 1], operations: [Operation(.relu, inputs: [0], outputs: [1])]),
            arenaSize: 128)
        let interpreter = try Self.linked(
            [
                TensorEntry(name: "x", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0)),
                TensorEntry(name: "same", type: TensorType(.f32, asView ? [8] : [2, 4]), location: .arena(offset: 64)),
                TensorEntry(name: "relu", type: TensorType(.f32, [2, 4]), location: .arena(offset: 128)),
            ],
            Program(name: "step", inputs: [0], outputs: [1, 2], operations: [Operation(.call, inputs: [0], outputs: [1, 2], attributes: [0, 0])]),
            arenaSize: 192, blob: blob)
        #expect(Self.copiesIn(interpreter) == 1)
        try interpreter.setFloats(0, x)
        try interpreter.run(0)
        #expect(try interpreter.floats(1) == x)
        #expect(try interpreter.floats(2) == x.map { $0 > 0 ? $0 : 0 })
    }

    /// A constant caller input is read in place only where the callee just copies it (`slice`): read by a
    /// product directly it is copied in, so the product plans as it did (arena weights). Both give the float64
    /// values of x·W (W the constant's 8 values as [2, 4]).
    @Test func aConstantInputIsReadInPlaceOnlyWhereTheCalleeCopiesIt() throws {
        let g = SampleDocuments.floats(8, seed: 51), x = SampleDocuments.floats(6, seed: 52)
        for sliced in [true, false] {
            // Blob: program(gen [2, 4], x [3, 2]) -> y [3, 4]; gen sliced (all 4 columns) first, or used as is.
            let blob = try Self.blobBytes(
                [
                    TensorEntry(name: "gen", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0)),
                    TensorEntry(name: "x", type: TensorType(.f32, [3, 2]), location: .arena(offset: 64)),
                    TensorEntry(name: "w", type: TensorType(.f32, [2, 4]), location: .arena(offset: 128)),
                    TensorEntry(name: "y", type: TensorType(.f32, [3, 4]), location: .arena(offset: 192)),
                ],
                Program(name: "tail", inputs: [0, 1], outputs: [3], operations: sliced
                    ? [Operation(.slice, inputs: [0], outputs: [2], attributes: [1, 0, 4]), Operation(.linear, inputs: [1, 2], outputs: [3])]
                    : [Operation(.linear, inputs: [1, 0], outputs: [3])]),
                arenaSize: 256)
            let interpreter = try Self.linked(
                [
                    TensorEntry(name: "generated", type: TensorType(.f32, [2, 4]), location: .inline(SampleDocuments.f32Bytes(g))),
                    TensorEntry(name: "x", type: TensorType(.f32, [3, 2]), location: .arena(offset: 0)),
                    TensorEntry(name: "y", type: TensorType(.f32, [3, 4]), location: .arena(offset: 64)),
                ],
                Program(name: "step", inputs: [1], outputs: [2], operations: [Operation(.call, inputs: [0, 1], outputs: [2], attributes: [0, 0])]),
                arenaSize: 128, blob: blob)
            #expect(Self.copiesIn(interpreter) == (sliced ? 0 : 1), "sliced \(sliced)")
            try interpreter.setFloats(1, x)
            try interpreter.run(0)
            let got = try interpreter.floats(2)
            for r in 0..<3 {
                for n in 0..<4 {
                    let want = (0..<2).reduce(0.0) { $0 + Double(x[r * 2 + $1]) * Double(g[$1 * 4 + n]) }
                    #expect(abs(Double(got[r * 4 + n]) - want) <= 1e-6 * max(1, abs(want)), "sliced \(sliced) [\(r), \(n)]")
                }
            }
        }
    }

    @Test func profilesCountTheCallAsOneOp() throws {
        let (policy, blob) = try Self.files()
        let interpreter = try Interpreter(file: policy, blobs: [blob])
        let times = try interpreter.runProfiled(0)
        #expect(times.count == 2)
    }

    @Test func mismatchedBlobIsRefusedAtPrepare() throws {
        let (policy, _) = try Self.files()
        let other = try VLAFile(bytes: VLAWriter.serialize(SampleDocuments.callBlob(rows: 2)))
        #expect(throws: RuntimeError.self) { try Interpreter(file: policy, blobs: [other]) }
    }

    /// A policy whose program repeats one `call` 20,000 times (a legal file) would expand to 20,000 × (callee
    /// ops + copies) planned ops, over the default 65,536: refused before anything is built, with the limit named.
    @Test func callExpansionIsLimited() throws {
        let (policy, blob) = try Self.files()
        var small = RuntimeOptions()
        small.limits.maxPlannedOps = 3
        #expect {
            try Interpreter(file: policy, blobs: [blob], options: small)
        } throws: { error in
            (error as? RuntimeError)?.code == .limitExceeded && "\(error)".contains("maxPlannedOps")
        }
        #expect(RuntimeLimits().maxPlannedOps == 1 << 16)
        var doc = try policy.document()
        let call = try #require(doc.programs[0].operations.first { $0.opcode == .call })
        doc.programs[0].operations = [Operation](repeating: call, count: 20_000) + doc.programs[0].operations
        let amplified = try VLAFile(bytes: VLAWriter.serialize(doc))
        #expect {
            try Interpreter(file: amplified, blobs: [blob])
        } throws: { error in
            (error as? RuntimeError)?.code == .limitExceeded
        }
    }

    @Test func documentsWithCallsNeedTheFile() throws {
        let (policy, _) = try Self.files()
        #expect(throws: RuntimeError.self) { try Interpreter(document: policy.document()) }
    }
}
