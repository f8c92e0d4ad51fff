import Testing
import VLAFormat
@testable import VLARuntime

/// A small ViT-style program (patch embedding, CLS concat, position add, pre-norm attention block with mask,
/// layer scale, GELU MLP, final norm, mean pool, L2 normalize) run under every configuration: fusion and thread
/// count must not change a single bit, and run must be repeatable. The per-op values are checked against numpy
/// in OpTests; this checks that chaining, views, in-place ops and fusion keep them.
@Suite struct ProgramTests {
    struct Built {
        var document: VLADocument
        var image: Int, mask: Int, output: Int, pooled: Int
    }

    static func build() -> Built {
        var state: UInt64 = 12345
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) - (1 << 52)) / Float(1 << 52)
        }
        var tensors: [TensorEntry] = []
        var arena: UInt64 = 0
        func constant(_ shape: [Int], _ scale: Float, _ offset: Float = 0) -> Int {
            let n = shape.reduce(1, *)
            var bytes: [UInt8] = []
            for _ in 0..<n {
                let b = (offset + scale * next()).bitPattern
                bytes += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
            }
            tensors.append(TensorEntry(name: "c\(tensors.count)", type: TensorType(.f32, shape), location: .inline(bytes)))
            return tensors.count - 1
        }
        func buffer(_ shape: [Int], _ dtype: DType = .f32) -> Int {
            tensors.append(TensorEntry(name: "a\(tensors.count)", type: TensorType(dtype, shape), location: .arena(offset: arena)))
            arena += UInt64((shape.reduce(1, *) * dtype.byteWidth + 63) / 64 * 64)
            return tensors.count - 1
        }
        func view(_ of: Int, _ shape: [Int]) -> Int {
            tensors.append(TensorEntry(name: "v\(tensors.count)", type: TensorType(.f32, shape), location: tensors[of].location))
            return tensors.count - 1
        }
        let p = 4, side = 12, c = 3, d = 32, heads = 4, t = (side / p) * (side / p) + 1, mlp = 80
        let image = buffer([side, side, c])
        let patches = buffer([t - 1, d])
        var ops = [Operation(.patchEmbed, inputs: [image, constant([p, p, c, d], 0.2), constant([d], 0.1)], outputs: [patches], attributes: [UInt32(p)])]
        let tokens = buffer([t, d])
        ops.append(Operation(.concat, inputs: [constant([1, d], 0.1), patches], outputs: [tokens], attributes: [0]))
        let x = buffer([t, d])
        ops.append(Operation(.add, inputs: [tokens, constant([t, d], 0.1)], outputs: [x]))
        let mask = buffer([t], .u8)
        let h = buffer([t, d]), q = buffer([t, d]), k = buffer([t, d]), v = buffer([t, d]), a = buffer([t, d]), o = buffer([t, d])
        let f = buffer([t, mlp]), g = buffer([t, mlp])
        for _ in 0..<2 {
            ops.append(Operation(.layerNorm, inputs: [x, constant([d], 0.1, 1), constant([d], 0.1)], outputs: [h], attributes: [Float(1e-6).bitPattern]))
            for target in [q, k, v] { ops.append(Operation(.linear, inputs: [h, constant([d, d], 0.3), constant([d], 0.1)], outputs: [target])) }
            ops.append(Operation(
                .attention, inputs: [view(q, [t, heads, d / heads]), view(k, [t, heads, d / heads]), view(v, [t, heads, d / heads]), mask, constant([heads, t, t], 0.5)],
                outputs: [view(a, [t, heads, d / heads])], attributes: [Float(0.5).bitPattern, 3]))
            ops.append(Operation(.linear, inputs: [a, constant([d, d], 0.3), constant([d], 0.1)], outputs: [o]))
            ops.append(Operation(.mul, inputs: [o, constant([d], 0.2, 0.5)], outputs: [o]))
            ops.append(Operation(.add, inputs: [x, o], outputs: [x]))
            ops.append(Operation(.rmsNorm, inputs: [x, constant([d], 0.1, 1)], outputs: [h], attributes: [Float(1e-6).bitPattern]))
            ops.append(Operation(.linear, inputs: [h, constant([d, mlp], 0.3), constant([mlp], 0.1)], outputs: [f]))
            ops.append(Operation(.geluErf, inputs: [f], outputs: [g]))  // out of place: fusable (g only read below)
            ops.append(Operation(.linear, inputs: [g, constant([mlp, d], 0.2), constant([d], 0.1)], outputs: [o]))
            ops.append(Operation(.geluTanh, inputs: [o], outputs: [o]))  // in place: fusable
            ops.append(Operation(.add, inputs: [x, o], outputs: [x]))
        }
        let out = buffer([t, d])
        ops.append(Operation(.layerNorm, inputs: [x, constant([d], 0.1, 1), constant([d], 0.1)], outputs: [out], attributes: [Float(1e-6).bitPattern]))
        let pooled = buffer([d]), normalized = buffer([d])
        ops.append(Operation(.meanPool, inputs: [out, mask], outputs: [pooled]))
        ops.append(Operation(.l2Normalize, inputs: [pooled], outputs: [normalized], attributes: [Float(1e-12).bitPattern]))
        let doc = VLADocument(
            tensors: tensors, programs: [Program(name: "main", inputs: [image, mask], outputs: [out, normalized], operations: ops)],
            arenaSize: arena)
        return Built(document: doc, image: image, mask: mask, output: out, pooled: normalized)
    }

    static func run(_ b: Built, threads: Int, fuse: Bool, smallProductRows: Int, openBLASThreads: Bool = false) throws -> [UInt32] {
        var options = RuntimeOptions(threads: threads, smallProductRows: smallProductRows, fuse: fuse)
        options.openBLASThreads = openBLASThreads
        let interpreter = try Interpreter(document: b.document, options: options)
        if fuse {
            // Both GELUs are fused into their linear: 2 per block.
            var fused = 0
            for step in interpreter.steps[0] { if case .nothing = step.kernel { fused += 1 } }
            #expect(fused == 4)
        }
        try interpreter.setFloats(b.image, (0..<(12 * 12 * 3)).map { Float($0 % 17) / 8 - 1 })
        try interpreter.setBytes(b.mask, (0..<10).map { $0 == 7 ? 0 : 1 })
        try interpreter.run(0)
        let first = try interpreter.floats(b.output) + interpreter.floats(b.pooled)
        try interpreter.run(0)
        let second = try interpreter.floats(b.output) + interpreter.floats(b.pooled)
        #expect(first.map(\.bitPattern) == second.map(\.bitPattern), "run is not repeatable")
        #expect(first.allSatisfy { $0.isFinite })
        return first.map(\.bitPattern)
    }

    /// The default route (constant weights: the packed kernel where it exists) gives the bits of the own
    /// unpacked kernel everywhere (Int.max), with 1 and 2 threads.
    @Test func packedRouteChangesNoBit() throws {
        let b = Self.build()
        let unpacked = try Self.run(b, threads: 1, fuse: true, smallProductRows: Int.max)
        for threads in [1, 2] {
            #expect(try Self.run(b, threads: threads, fuse: true, smallProductRows: 4) == unpacked, "\(threads) thread(s)")
        }
    }

    /// Own kernel everywhere (Int.max), the default rule (4: these products are small, so own kernel), and
    /// OpenBLAS everywhere (0), also with OpenBLAS's own threads.
    @Test(arguments: [Int.max, 4, 0])
    func fusionAndThreadsChangeNoBit(smallProductRows: Int) throws {
        let b = Self.build()
        let reference = try Self.run(b, threads: 1, fuse: false, smallProductRows: smallProductRows)
        for (threads, fuse) in [(1, true), (2, false), (2, true), (3, true)] {
            let got = try Self.run(b, threads: threads, fuse: fuse, smallProductRows: smallProductRows)
            #expect(got == reference, "threads \(threads), fuse \(fuse) differ from threads 1 without fusion")
        }
        if smallProductRows == 0 {
            let got = try Self.run(b, threads: 2, fuse: true, smallProductRows: 0, openBLASThreads: true)
            #expect(got == reference, "OpenBLAS threads differ from threads 1 without fusion")
        }
    }
}

/// The packed product that constant weights take by default (AVX2 + FMA or AVX-512) gives the bits of the own
/// unpacked kernel (`smallProductRows: Int.max`), with 1, 2 and 3 threads: f32, f16 and i8 weights (converted
/// at prepare time, then packed), with and without bias, a fused GELU, a patch embedding, and row counts from
/// 1 to 257 (so the tasks split by rows and by columns, in whole 48-column blocks and in 16s).
@Suite struct PackedProductTests {
    struct Built {
        var document: VLADocument
        var x: Int, image: Int, outputs: [Int]
    }

    static func build(m: Int) -> Built {
        var state: UInt64 = 99 &+ UInt64(m)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) - (1 << 52)) / Float(1 << 52)
        }
        var tensors: [TensorEntry] = []
        var arena: UInt64 = 0
        func le(_ bits: UInt32, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) } }
        func constant(_ shape: [Int], _ dtype: DType = .f32, scale: Int? = nil) -> Int {
            var bytes: [UInt8] = []
            for _ in 0..<shape.reduce(1, *) {
                switch dtype {
                case .f16: bytes += le(UInt32(Float16(next()).bitPattern), 2)
                case .i8: bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: Int(next() * 127))))
                default: bytes += le(next().bitPattern, 4)
                }
            }
            tensors.append(TensorEntry(name: "c\(tensors.count)", type: TensorType(dtype, shape), location: .inline(bytes), scaleTensor: scale))
            return tensors.count - 1
        }
        func buffer(_ shape: [Int]) -> Int {
            tensors.append(TensorEntry(name: "a\(tensors.count)", type: TensorType(.f32, shape), location: .arena(offset: arena)))
            let bytes: Int = shape.reduce(1, *) * 4
            arena += UInt64((bytes + 63) / 64 * 64)
            return tensors.count - 1
        }
        let k = 70, n1 = 200, n2 = 49, n3 = 100
        let x = buffer([m, k]), h1 = buffer([m, n1]), g1 = buffer([m, n1]), h2 = buffer([m, n2]), h3 = buffer([m, n3])
        var ops = [Operation(.linear, inputs: [x, constant([k, n1]), constant([n1])], outputs: [h1])]
        ops.append(Operation(.geluErf, inputs: [h1], outputs: [g1]))  // fused into the product
        ops.append(Operation(.linear, inputs: [g1, constant([n1, n2], .f16)], outputs: [h2]))
        let scale = constant([n3])
        ops.append(Operation(.linear, inputs: [h2, constant([n2, n3], .i8, scale: scale), constant([n3])], outputs: [h3]))
        let image = buffer([28, 28, 3]), patches = buffer([49, 40])
        ops.append(Operation(.patchEmbed, inputs: [image, constant([4, 4, 3, 40]), constant([40])], outputs: [patches], attributes: [4]))
        let outputs = [h1, g1, h2, h3, patches]
        let doc = VLADocument(
            tensors: tensors, programs: [Program(name: "main", inputs: [x, image], outputs: outputs, operations: ops)],
            arenaSize: arena)
        return Built(document: doc, x: x, image: image, outputs: outputs)
    }

    /// The outputs' bits, and how many steps use the packed kernel.
    static func run(_ b: Built, m: Int, threads: Int, smallProductRows: Int) throws -> ([UInt32], Int) {
        let interpreter = try Interpreter(document: b.document, options: RuntimeOptions(threads: threads, smallProductRows: smallProductRows))
        var packed = 0
        for step in interpreter.steps[0] { if case .linear(let s) = step.kernel, s.packed != nil { packed += 1 } }
        try interpreter.setFloats(b.x, (0..<(m * 70)).map { Float(($0 * 37) % 101) / 50 - 1 })
        try interpreter.setFloats(b.image, (0..<(28 * 28 * 3)).map { Float($0 % 13) / 6 - 1 })
        try interpreter.run(0)
        var bits: [UInt32] = []
        for id in b.outputs { bits += try interpreter.floats(id).map(\.bitPattern) }
        return (bits, packed)
    }

    @Test(arguments: [1, 3, 8, 9, 37, 257])
    func packedRouteMatchesUnpackedKernel(m: Int) throws {
        let b = Self.build(m: m)
        let (reference, none) = try Self.run(b, m: m, threads: 1, smallProductRows: Int.max)
        #expect(none == 0)
        for threads in [1, 2, 3] {
            let (got, packed) = try Self.run(b, m: m, threads: threads, smallProductRows: 4)
            #expect(packed == (Planner.packedProducts ? 4 : 0))
            #expect(got == reference, "\(threads) thread(s), \(m) rows: the packed product differs from the unpacked kernel")
        }
    }
}
