import Testing
import VLAFormat
@testable import VLARuntime
import VLATestSupport

/// `linear_i8` and `linear_bf16` (format 1.2) run by the interpreter: against an independent implementation of
/// the numerics of `Schemas/vla-format.md` §8.2 written here, and fused (layer scale, residual, GELU) against
/// unfused, on one and two threads.
@Suite struct ReducedPrecisionOpTests {
    static let doc = SampleDocuments.reducedPrecisionBlob()

    static func run(_ doc: VLADocument, x: [Float], r: [Float], options: RuntimeOptions) throws -> (h: [Float], y: [Float]) {
        let interpreter = try Interpreter(document: doc, options: options)
        // Fused: mul and add into linear_i8, gelu_erf into linear_bf16.
        var fused = 0
        for step in interpreter.steps[0] { if case .nothing = step.kernel { fused += 1 } }
        #expect(fused == (options.fuse ? 3 : 0))
        try interpreter.setFloats(0, x)
        try interpreter.setFloats(7, r)
        // With no test forcing another path meanwhile (bf16 paths 2 and 4 sum in different orders).
        try KernelPaths.exclusive { try interpreter.run(0) }
        return (try interpreter.floats(8), try interpreter.floats(11))
    }

    /// `linear_i8` as the spec states it: per-row absmax scale, round half to even, exact integer sums, one fma.
    static func referenceInt8(x: [Float], rows m: Int, k: Int, w: [Int8], scale: [Float], bias: [Float]) -> [Float] {
        let n = scale.count
        var y = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            let row = x[(i * k)..<((i + 1) * k)]
            let a = row.reduce(Float(0)) { max($0, abs($1)) }
            let inv: Float = a > 0 ? 127 / a : 0
            let s = a / 127
            let q = row.map { v -> Int in
                let t = min(max(v * inv, -127), 127)
                return Int(t.rounded(.toNearestOrEven))
            }
            for j in 0..<n {
                var acc = 0
                for p in 0..<k { acc += q[p] * Int(w[p * n + j]) }
                y[i * n + j] = bias[j].addingProduct(Float(acc), s * scale[j])
            }
        }
        return y
    }

    static func inputs(seed: UInt64) -> (x: [Float], r: [Float]) {
        var x = SampleDocuments.floats(40, seed: seed).map { $0 * 3 }
        x[8..<16] = [0, 0, 0, 0, 0, 0, 0, 0]  // an all-zero row: scale 0, output = bias
        x[17] = 1e-30  // a tiny value next to large ones
        return (x, SampleDocuments.floats(30, seed: seed + 1))
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func int8MatchesTheSpecBitForBit(seed: UInt64) throws {
        let (x, r) = Self.inputs(seed: seed)
        let doc = Self.doc
        guard case .inline(let wBytes) = doc.tensors[2].location, case .inline(let sBytes) = doc.tensors[1].location,
            case .inline(let bBytes) = doc.tensors[3].location, case .inline(let lBytes) = doc.tensors[5].location
        else { Issue.record("sample layout changed"); return }
        let w = wBytes.map { Int8(bitPattern: $0) }
        let h = Self.referenceInt8(x: x, rows: 5, k: 8, w: w, scale: floats(sBytes), bias: floats(bBytes))
        let lambda = floats(lBytes)
        let sum = (0..<30).map { h[$0] * lambda[$0 % 6] + r[$0] }
        for threads in [1, 2] {
            for fuse in [true, false] {
                let out = try Self.run(doc, x: x, r: r, options: RuntimeOptions(threads: threads, fuse: fuse))
                #expect(out.h.map(\.bitPattern) == sum.map(\.bitPattern), "threads \(threads) fuse \(fuse)")
            }
        }
    }

    /// `linear_i8` with its zero-point flag (format 1.4) as the spec states it: per-row range [min(0, min x),
    /// max(0, max x)], u = round(x·inv) + z in [0, 255], exact Σ (u − z)·w, one fma.
    static func referenceInt8ZeroPoint(x: [Float], rows m: Int, k: Int, w: [Int8], scale: [Float], bias: [Float]) -> [Float] {
        let n = scale.count
        var y = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            let row = x[(i * k)..<((i + 1) * k)]
            let lo = row.reduce(Float(0)) { min($0, $1) }, hi = row.reduce(Float(0)) { max($0, $1) }
            let inv: Float = hi - lo > 0 ? 255 / (hi - lo) : 0
            let s = (hi - lo) / 255
            let z = min(max(-lo * inv, 0), 255).rounded(.toNearestOrEven)
            let u = row.map { v -> Int in Int(min(max(v * inv, -z), 255 - z).rounded(.toNearestOrEven) + z) }
            for j in 0..<n {
                var acc = 0
                for p in 0..<k { acc += (u[p] - Int(z)) * Int(w[p * n + j]) }
                y[i * n + j] = bias[j].addingProduct(Float(acc), s * scale[j])
            }
        }
        return y
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func int8WithZeroPointsMatchesTheSpecBitForBit(seed: UInt64) throws {
        var (x, r) = Self.inputs(seed: seed)
        x[24..<32] = [-1, -0.5, -2, -0.25, -3, -1, -0.125, -2]  // an all-negative row: z = 255
        var doc = Self.doc
        doc.programs[0].operations[0].attributes = [Layout.linearI8ZeroPoint]
        guard case .inline(let wBytes) = doc.tensors[2].location, case .inline(let sBytes) = doc.tensors[1].location,
            case .inline(let bBytes) = doc.tensors[3].location, case .inline(let lBytes) = doc.tensors[5].location
        else { Issue.record("sample layout changed"); return }
        let w = wBytes.map { Int8(bitPattern: $0) }
        let h = Self.referenceInt8ZeroPoint(x: x, rows: 5, k: 8, w: w, scale: floats(sBytes), bias: floats(bBytes))
        let symmetric = Self.referenceInt8(x: x, rows: 5, k: 8, w: w, scale: floats(sBytes), bias: floats(bBytes))
        #expect(h != symmetric, "the two rules differ on these rows")
        let lambda = floats(lBytes)
        let sum = (0..<30).map { h[$0] * lambda[$0 % 6] + r[$0] }
        for threads in [1, 2] {
            for fuse in [true, false] {
                let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: threads, fuse: fuse))
                guard case .reducedLinear(let step) = interpreter.steps[0][0].kernel else { Issue.record("step 0 is not a product"); return }
                #expect(step.zeroPoint)
                let out = try Self.run(doc, x: x, r: r, options: RuntimeOptions(threads: threads, fuse: fuse))
                #expect(out.h.map(\.bitPattern) == sum.map(\.bitPattern), "threads \(threads) fuse \(fuse)")
            }
        }
    }

    /// Two products of one x: the second reuses the first one's quantized rows only when both quantize the same
    /// way (both symmetric or both with zero points), and gives the bits of its own rule either way.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func quantizedRowsAreReusedOnlyBetweenTheSameRule(first: Bool, second: Bool) throws {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.tensors.append(TensorEntry(name: "h2", type: TensorType(.f32, [5, 6]), location: .arena(offset: 960)))
        doc.arenaSize = 1088
        doc.programs[0].operations[0].attributes = first ? [Layout.linearI8ZeroPoint] : []
        doc.programs[0].operations.insert(
            Operation(.linearI8, inputs: [0, 2], outputs: [12], attributes: second ? [Layout.linearI8ZeroPoint] : []), at: 1)
        doc.programs[0].outputs.append(12)
        let (x, r) = Self.inputs(seed: 9)
        guard case .inline(let wBytes) = doc.tensors[2].location, case .inline(let sBytes) = doc.tensors[1].location
        else { Issue.record("sample layout changed"); return }
        let w = wBytes.map { Int8(bitPattern: $0) }
        let reference = second ? Self.referenceInt8ZeroPoint : Self.referenceInt8
        let want = reference(x, 5, 8, w, floats(sBytes), [Float](repeating: 0, count: 6))  // no bias: fma(acc, s·σ, +0)
        let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 1, fuse: true))
        guard case .reducedLinear(let step) = interpreter.steps[0][1].kernel else { Issue.record("step 1 is not a product"); return }
        #expect(step.reuseRows == (first == second))
        try interpreter.setFloats(0, x)
        try interpreter.setFloats(7, r)
        try interpreter.run(0)
        #expect(try interpreter.floats(12).map(\.bitPattern) == want.map(\.bitPattern))
    }

    @Test(arguments: [UInt64(4), 5])
    func bf16WithinTheDotProductBound(seed: UInt64) throws {
        let (x, r) = Self.inputs(seed: seed)
        let doc = Self.doc
        guard case .inline(let wb) = doc.tensors[9].location else { Issue.record("sample layout changed"); return }
        let w = (0..<24).map { Float(bitPattern: UInt32(wb[2 * $0]) << 16 | UInt32(wb[2 * $0 + 1]) << 24) }
        let base = try Self.run(doc, x: x, r: r, options: RuntimeOptions(threads: 1, fuse: false))
        // z = bf16(sum) · w in double, then GELU in double.
        for i in 0..<5 {
            for j in 0..<4 {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<6 {
                    let xb = Double(bf16Rounded(base.h[i * 6 + p]))
                    exact += xb * Double(w[p * 4 + j])
                    magnitude += abs(xb * Double(w[p * 4 + j]))
                }
                let gelu = { (v: Double) in 0.5 * v * (1 + erf(v / 2.0.squareRoot())) }
                let bound = 2 * 8 * 0x1p-24 * magnitude + 1e-6
                #expect(abs(Double(base.y[i * 4 + j]) - gelu(exact)) <= bound, "row \(i) col \(j)")
            }
        }
        for threads in [1, 2] {
            let fused = try Self.run(doc, x: x, r: r, options: RuntimeOptions(threads: threads, fuse: true))
            #expect(fused.y.map(\.bitPattern) == base.y.map(\.bitPattern), "threads \(threads)")
        }
    }

    /// Two products of one x in a row (like q, k and v): the second reuses the quantized rows, with the same bits.
    @Test func consecutiveProductsOfOneInputReuseItsQuantizedRows() throws {
        var doc = SampleDocuments.reducedPrecisionBlob()
        doc.tensors.append(TensorEntry(name: "h2", type: TensorType(.f32, [5, 6]), location: .arena(offset: 960)))
        doc.arenaSize = 1088
        doc.programs[0].operations.insert(Operation(.linearI8, inputs: [0, 2], outputs: [12]), at: 1)
        doc.programs[0].outputs.append(12)
        let (x, r) = Self.inputs(seed: 9)
        var results: [[UInt32]] = []
        for fuse in [true, false] {
            let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 2, fuse: fuse))
            guard case .reducedLinear(let second) = interpreter.steps[0][1].kernel else { Issue.record("step 1 is not a product"); return }
            #expect(second.reuseRows == fuse)
            try interpreter.setFloats(0, x)
            try interpreter.setFloats(7, r)
            try KernelPaths.exclusive { try interpreter.run(0) }  // y (11) comes from the bf16 product: see run(_:x:r:options:)
            results.append(try (interpreter.floats(12) + interpreter.floats(11)).map(\.bitPattern))
        }
        #expect(results[0] == results[1])
    }

    /// A product, its GELU, then a smaller product written into part of the first product's bytes (as the arena
    /// reuses a large intermediate) and read from there: the GELU is fused (the product's own output is never
    /// written), with the same bits as unfused. Reading bytes of the first product that nothing rewrote (here or
    /// first thing in another program) keeps it unfused.
    @Test func activationFusesWhenLaterReadsSeeOnlyRewrittenBytes() throws {
        enum Reader { case none, stale, otherProgramStale, otherProgramRewritten }
        func document(_ reader: Reader) -> VLADocument {
            var t: [TensorEntry] = []
            func add(_ name: String, _ dtype: DType, _ shape: [Int], _ location: TensorLocation, scale: Int? = nil) -> Int {
                t.append(TensorEntry(name: name, type: TensorType(dtype, shape), location: location, scaleTensor: scale))
                return t.count - 1
            }
            let x = add("x", .f32, [4, 8], .arena(offset: 0))
            let s1 = add("w1.scale", .f32, [16], .inline(SampleDocuments.f32Bytes((0..<16).map { 0.01 + Float($0) / 400 })))
            let w1 = add("w1", .i8, [8, 16], .inline((0..<128).map { UInt8(bitPattern: Int8(($0 * 29) % 255 - 127)) }), scale: s1)
            let h = add("h", .f32, [4, 16], .arena(offset: 128))  // bytes 128..<384
            let g = add("g", .f32, [4, 16], .arena(offset: 384))
            let s2 = add("w2.scale", .f32, [4], .inline(SampleDocuments.f32Bytes([0.02, 0.01, 0.03, 0.015])))
            let w2 = add("w2", .i8, [16, 4], .inline((0..<64).map { UInt8(bitPattern: Int8(($0 * 41) % 255 - 127)) }), scale: s2)
            let p = add("p", .f32, [4, 4], .arena(offset: 128))  // reuses h's first 64 bytes
            let stale = add("stale", .f32, [4, 4], .arena(offset: 192))  // h's next 64 bytes, never rewritten
            let out = add("out", .f32, [4, 4], .arena(offset: 640))
            let wide = add("wide", .f32, [4, 8], .arena(offset: 128))  // h's first 128 bytes
            let out2 = add("out2", .f32, [4, 8], .arena(offset: 704))
            var programs = [
                Program(name: "forward", inputs: [x], outputs: [out], operations: [
                    Operation(.linearI8, inputs: [x, w1], outputs: [h]),
                    Operation(.geluErf, inputs: [h], outputs: [g]),
                    Operation(.linearI8, inputs: [g, w2], outputs: [p]),
                    Operation(.add, inputs: [p, reader == .stale ? stale : p], outputs: [out]),
                ])
            ]
            if reader == .otherProgramStale || reader == .otherProgramRewritten {
                var ops = [Operation(.tanh, inputs: [wide], outputs: [out2])]
                if reader == .otherProgramRewritten { ops.insert(Operation(.tanh, inputs: [x], outputs: [wide]), at: 0) }
                programs.append(Program(name: "other", inputs: [x], outputs: [out2], operations: ops))
            }
            return VLADocument(
                isSharedBlob: true, tensors: t,
                metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "backbone"),
                programs: programs, arenaSize: 832, provenance: Provenance(compiler: "vlac-tests", sources: [], options: []))
        }
        let x = (0..<32).map { Float($0 % 7) - 3.2 + Float($0) / 50 }
        for (reader, fuses) in [(Reader.none, true), (.stale, false), (.otherProgramStale, false), (.otherProgramRewritten, true)] {
            var outs: [[UInt32]] = []
            for fuse in [true, false] {
                let interpreter = try Interpreter(document: document(reader), options: RuntimeOptions(threads: 1, fuse: fuse))
                guard case .reducedLinear(let first) = interpreter.steps[0][0].kernel else { Issue.record("step 0 is not a product"); return }
                #expect((first.epilogue == .geluErf) == (fuse && fuses), "\(reader) fuse \(fuse)")
                try interpreter.setFloats(0, x)
                try interpreter.run(0)
                outs.append(try interpreter.floats(9).map(\.bitPattern))
            }
            #expect(outs[0] == outs[1], "\(reader)")
        }
    }

    @Test func preparedWeightsWithMinus128AreRefused() {
        var w = (0..<48).map { Int8($0 % 100) }
        w[7] = -128
        let doc = SampleDocuments.reducedPrecisionBlob(int8Weights: w)
        #expect(throws: RuntimeError.self) { _ = try Interpreter(document: doc) }
    }

    func floats(_ b: [UInt8]) -> [Float] {
        (0..<(b.count / 4)).map { i in Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[4 * i + $1]) << (8 * $1) }) }
    }

    func bf16Rounded(_ v: Float) -> Float {
        let u = v.bitPattern
        return Float(bitPattern: ((u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16) << 16)
    }
}

#if canImport(Glibc)
import Glibc
#endif
