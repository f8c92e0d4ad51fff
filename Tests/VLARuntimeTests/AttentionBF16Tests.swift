import CAllocationCounter
import CVLAKernels
import Foundation
import Testing
import VLATestSupport
import VLAFormat
@testable import VLARuntime

/// Attention with bf16 products (flag bit 2, format 1.4; Schemas/vla-format.md §8.2, vla_kernels.h): the float64
/// references of Tests/Reference/gen_attention_bf16_reference.py (Tests/Fixtures/VLARuntime/attention_bf16.json).
struct AttentionBF16Fixture: Decodable {
    struct Case: Decodable {
        var name: String
        var kind: String
        var batch: Int?
        var tq: Int, tk: Int, h: Int, d: Int, dv: Int
        var scale: Float?
        var q: [Float], k: [Float], v: [Float]
        var p: [Float]?
        var mask: [UInt8]?
        var maskShape: [Int]?
        var bias: [Float]?
        var s: [Double]?
        var sTol: [Double]?
        var y: [Double]
        var yTol: [Double]
    }
    var command: String
    var cases: [Case]

    static let loaded: Result<AttentionBF16Fixture, any Error> = Result {
        let url = OpFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/VLARuntime/attention_bf16.json")
        return try JSONDecoder().decode(AttentionBF16Fixture.self, from: Data(contentsOf: url))
    }

    /// The nearest bf16 value (round half to even, NaN kept quiet), held in f32: written here from the spec.
    static func bf16(_ x: Float) -> Float {
        let u = x.bitPattern
        if x.isNaN { return Float(bitPattern: (u | 0x0040_0000) & 0xFFFF_0000) }
        return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
    }
}

/// The kernels, in the serialized suite that forces paths (vla_bf16_force_isa chooses AMX or the fallback).
extension QuantKernelTests {
    /// Runs both kernels: s = q̃·k̃ᵀ, then y = p̃·ṽ (p copied: the kernel may overwrite it).
    static func attentionBF16(
        tq: Int, tk: Int, d: Int, dv: Int, q: [Float], ldq: Int, k: [Float], ldk: Int, p: [Float], v: [Float], ldv: Int
    ) -> (s: [Float], y: [Float]) {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(64, vla_attn_bf16_scratch_bytes(tq, tk, d, dv)), alignment: 64)
        defer { scratch.deallocate() }
        var s = [Float](repeating: .nan, count: tq * tk), y = [Float](repeating: .nan, count: tq * dv)
        vla_attn_bf16_scores(tq, tk, d, q, ldq, k, ldk, scratch, &s, tk)
        var pc = p
        vla_attn_bf16_values(tq, tk, dv, &pc, tk, 0, v, ldv, scratch, &y, dv)
        // Rounded first (vla_attn_bf16_round_rows) and promised: the same y.
        var pr = p, y2 = [Float](repeating: .nan, count: tq * dv)
        vla_attn_bf16_round_rows(tq, tk, &pr, tk)
        vla_attn_bf16_values(tq, tk, dv, &pr, tk, 1, v, ldv, scratch, &y2, dv)
        #expect(y2.map { $0.bitPattern } == y.map { $0.bitPattern }, "p rounded beforehand gives other values")
        #expect(pr.map { $0.bitPattern } == p.map { AttentionBF16Fixture.bf16($0).bitPattern }, "vla_attn_bf16_round_rows")
        return (s, y)
    }

    /// The reference order of §8.2, written here: one fma chain from +0 in increasing index on bf16-rounded values.
    static func attentionBF16Model(
        tq: Int, tk: Int, d: Int, dv: Int, q: [Float], ldq: Int, k: [Float], ldk: Int, p: [Float], v: [Float], ldv: Int
    ) -> (s: [Float], y: [Float]) {
        let r = AttentionBF16Fixture.bf16
        var s = [Float](repeating: 0, count: tq * tk), y = [Float](repeating: 0, count: tq * dv)
        for i in 0..<tq {
            for j in 0..<tk {
                var acc: Float = 0
                for c in 0..<d { acc = acc.addingProduct(r(q[i * ldq + c]), r(k[j * ldk + c])) }
                s[i * tk + j] = acc
            }
            for n in 0..<dv {
                var acc: Float = 0
                for j in 0..<tk { acc = acc.addingProduct(r(p[i * tk + j]), r(v[j * ldv + n])) }
                y[i * dv + n] = acc
            }
        }
        return (s, y)
    }

    /// The paths to test: 0 (the fallback: bf16 paths below 4) and 4 (AMX) where this CPU has it.
    static func attentionPaths() -> [Int32] {
        let best = vla_bf16_force_isa(99)
        _ = vla_bf16_force_isa(0)
        return best == 4 ? [0, 4] : [0]
    }

    @Test func attentionBF16MatchesFloat64References() throws {
        let fixture = try AttentionBF16Fixture.loaded.get()
        #expect(fixture.command.hasSuffix("Tests/Reference/gen_attention_bf16_reference.py"))
        let cases = fixture.cases.filter { $0.kind == "kernel" }
        #expect(cases.count >= 5)
        try KernelPaths.exclusive {  // the paths are process-wide: no other suite running on them meanwhile
            let defaults = Defaults()
            defer { defaults.restore() }
            for path in Self.attentionPaths() {
                _ = vla_bf16_force_isa(path)
                #expect(Int32(vla_attn_bf16_path()) == path)
                for c in cases {
                    let p = try #require(c.p), sRef = try #require(c.s), sTol = try #require(c.sTol)
                    let out = Self.attentionBF16(tq: c.tq, tk: c.tk, d: c.d, dv: c.dv, q: c.q, ldq: c.d, k: c.k, ldk: c.d, p: p, v: c.v, ldv: c.dv)
                    let badS = out.s.indices.filter { !(abs(Double(out.s[$0]) - sRef[$0]) <= sTol[$0]) }
                    #expect(badS.isEmpty, "\(c.name) path \(path): scores \(badS.prefix(3).map { (out.s[$0], sRef[$0]) })")
                    let badY = out.y.indices.filter { !(abs(Double(out.y[$0]) - c.y[$0]) <= c.yTol[$0]) }
                    #expect(badY.isEmpty, "\(c.name) path \(path): y \(badY.prefix(3).map { (out.y[$0], c.y[$0]) })")
                }
            }
        }
    }

    /// The op through the interpreter on each path, forced (the fallback rounds each row of p after its softmax):
    /// within the float64 references' tolerances.
    @Test func attentionBF16OpOnEveryPath() throws {
        try KernelPaths.exclusive {
            let defaults = Defaults()
            defer { defaults.restore() }
            let fixture = try AttentionBF16Fixture.loaded.get()
            for path in Self.attentionPaths() {
                _ = vla_bf16_force_isa(path)
                for c in fixture.cases where c.kind == "op" {
                    let (doc, inputs, y) = try AttentionBF16OpTests.document(c)
                    let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 2))
                    for (id, bytes) in inputs { try interpreter.setRaw(id, bytes) }
                    try interpreter.run(0)
                    let out = try interpreter.floats(y)
                    let bad = out.indices.filter { !(abs(Double(out[$0]) - c.y[$0]) <= c.yTol[$0]) }
                    #expect(bad.isEmpty, "\(c.name) path \(path): \(bad.count) outside")
                }
            }
        }
    }

    /// The fallback is the reference order bit for bit on every level of the f32 kernel (portable C included), with
    /// row strides as the runtime passes them; AMX is within twice the f32 dot-product bound of it.
    @Test(arguments: [(1, 1, 1, 1), (3, 5, 7, 2), (17, 31, 64, 64), (40, 257, 64, 64), (33, 20, 65, 17)])
    func attentionBF16Paths(_ shape: (Int, Int, Int, Int)) {
        KernelPaths.exclusive {
            let defaults = Defaults()
            let f32Level = vla_kernels_isa()
            defer {
                defaults.restore()
                _ = vla_kernels_force_isa(f32Level)
            }
            let (tq, tk, d, dv) = shape
            let ldq = d + 3, ldk = d + 5, ldv = dv + 2
            var rng = Random(state: UInt64(tq * 1_000_003 + tk * 1009 + d * 31 + dv))
            let q = (0..<(tq * ldq)).map { _ in rng.float() }, k = (0..<(tk * ldk)).map { _ in rng.float() }
            let v = (0..<(tk * ldv)).map { _ in rng.float() }
            // Softmax-like weights: positive, one row's sum about 1, some tiny.
            let p = (0..<(tq * tk)).map { i -> Float in abs(rng.float()) / Float(tk * 2) * (i % 7 == 0 ? 1e-6 : 1) }
            let model = Self.attentionBF16Model(tq: tq, tk: tk, d: d, dv: dv, q: q, ldq: ldq, k: k, ldk: ldk, p: p, v: v, ldv: ldv)
            _ = vla_bf16_force_isa(0)
            for level in 0...vla_kernels_supported_isa() {
                _ = vla_kernels_force_isa(level)
                let out = Self.attentionBF16(tq: tq, tk: tk, d: d, dv: dv, q: q, ldq: ldq, k: k, ldk: ldk, p: p, v: v, ldv: ldv)
                #expect(Self.firstDifference(out.s, model.s) == nil, "\(shape) f32 level \(level): scores")
                #expect(Self.firstDifference(out.y, model.y) == nil, "\(shape) f32 level \(level): y")
            }
            guard vla_bf16_force_isa(4) == 4 else { return }
            let amx = Self.attentionBF16(tq: tq, tk: tk, d: d, dv: dv, q: q, ldq: ldq, k: k, ldk: ldk, p: p, v: v, ldv: ldv)
            let r = AttentionBF16Fixture.bf16, u = 0x1p-24
            for i in 0..<tq {
                for j in 0..<tk {
                    let mag = (0..<d).reduce(0.0) { $0 + abs(Double(r(q[i * ldq + $1])) * Double(r(k[j * ldk + $1]))) }
                    let bound = 2 * Double(d + 2) * u * mag
                    #expect(abs(Double(amx.s[i * tk + j]) - Double(model.s[i * tk + j])) <= bound, "\(shape) AMX scores \(i), \(j)")
                }
                for n in 0..<dv {
                    let mag = (0..<tk).reduce(0.0) { $0 + abs(Double(r(p[i * tk + $1])) * Double(r(v[$1 * ldv + n]))) }
                    let bound = 2 * Double(tk + 2) * u * mag
                    #expect(abs(Double(amx.y[i * dv + n]) - Double(model.y[i * dv + n])) <= bound, "\(shape) AMX y \(i), \(n)")
                }
            }
        }
    }

    /// The AMX key packing (each key row read once, 16 × 16 bf16 pairs transposed into the tiles' lines) checked
    /// exactly: with small integers as q and k every product and sum is exact in f32, so the scores of every path
    /// equal the integer dot products bit for bit, whatever their order. Odd d, d past one block of 32 values, key
    /// counts that are not multiples of 16, and row strides past d: a value in the wrong line or column changes a
    /// score.
    @Test(arguments: [(1, 1, 1), (3, 17, 65), (33, 20, 80), (17, 257, 64), (5, 33, 31), (2, 48, 2)])
    func attentionBF16ScoresAreExactOnIntegers(_ shape: (Int, Int, Int)) {
        KernelPaths.exclusive {
            let defaults = Defaults()
            defer { defaults.restore() }
            let (tq, tk, d) = shape
            let ldq = d + 3, ldk = d + 5
            var rng = Random(state: UInt64(tq * 7919 + tk * 104_729 + d))
            let q = (0..<(tq * ldq)).map { _ in Float(Int(rng.float() * 4.5)) }
            let k = (0..<(tk * ldk)).map { _ in Float(Int(rng.float() * 4.5)) }
            var want = [Float](repeating: 0, count: tq * tk)
            for i in 0..<tq {
                for j in 0..<tk { want[i * tk + j] = Float((0..<d).reduce(0.0) { $0 + Double(q[i * ldq + $1]) * Double(k[j * ldk + $1]) }) }
            }
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(64, vla_attn_bf16_scratch_bytes(tq, tk, d, 1)), alignment: 64)
            defer { scratch.deallocate() }
            for path in Self.attentionPaths() {
                _ = vla_bf16_force_isa(path)
                var got = [Float](repeating: .nan, count: tq * tk)
                vla_attn_bf16_scores(tq, tk, d, q, ldq, k, ldk, scratch, &got, tk)
                #expect(Self.firstDifference(got, want) == nil, "\(shape) path \(path)")
            }
        }
    }

    /// The fused head (vla_attn_bf16_head, what the op runs on path 4) against the three steps it replaces on path
    /// 4, bit for bit: scores, each row's scale, bias, mask and softmax (vla_attention_row), values; with the
    /// runtime's row strides, a broadcast mask row (stride 0) or one per row. Elsewhere it declines (returns 0) and
    /// writes nothing.
    @Test(arguments: [
        (1, 1, 1, 1, false, 0), (3, 5, 7, 2, true, 1), (17, 31, 64, 64, false, 1), (40, 257, 64, 64, true, 0),
        (33, 20, 65, 17, true, 1), (257, 257, 64, 64, false, 0), (50, 33, 80, 48, true, 2),
    ])
    func attentionBF16FusedHead(_ shape: (Int, Int, Int, Int, Bool, Int)) {
        KernelPaths.exclusive {
            let defaults = Defaults()
            defer { defaults.restore() }
            let (tq, tk, d, dv, withBias, maskKind) = shape
            let ldq = d + 3, ldk = d + 5, ldv = dv + 2, ldy = dv + 1
            var rng = Random(state: UInt64(tq * 7919 + tk * 131 + d * 17 + dv))
            let q = (0..<(tq * ldq)).map { _ in rng.float() * 3 }, k = (0..<(tk * ldk)).map { _ in rng.float() * 3 }
            let v = (0..<(tk * ldv)).map { _ in rng.float() }
            let bias = (0..<(tq * tk)).map { _ in rng.float() }
            // maskKind 0: none; 1: one row for all (stride 0); 2: a row each. Key 0 is never masked.
            let maskRows = maskKind == 2 ? tq : 1, maskStride = maskKind == 2 ? tk : 0
            let mask = (0..<(maskRows * tk)).map { i -> UInt8 in i % tk == 0 || (i * 7) % 5 != 0 ? 1 : 0 }
            let scale: Float = 0.125
            let scratchBytes = max(64, vla_attn_bf16_scratch_bytes(tq, tk, d, dv))
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
            defer { scratch.deallocate() }
            func fused() -> (Int32, [Float]) {
                var y = [Float](repeating: -7, count: tq * ldy)
                let done = bias.withUnsafeBufferPointer { b in
                    mask.withUnsafeBufferPointer { m in
                        vla_attn_bf16_head(
                            tq, tk, d, dv, q, ldq, k, ldk, v, ldv, scale, withBias ? b.baseAddress : nil, tk,
                            maskKind == 0 ? nil : m.baseAddress, maskStride, scratch, &y, ldy)
                    }
                }
                return (done, y)
            }
            _ = vla_bf16_force_isa(0)
            let declined = fused()
            #expect(declined.0 == 0 && declined.1.allSatisfy { $0 == -7 }, "\(shape): path 0 must decline and write nothing")
            guard vla_bf16_force_isa(4) == 4 else { return }
            var s = [Float](repeating: .nan, count: tq * tk), y = [Float](repeating: -7, count: tq * ldy)
            vla_attn_bf16_scores(tq, tk, d, q, ldq, k, ldk, scratch, &s, tk)
            for i in 0..<tq {
                s.withUnsafeMutableBufferPointer { sp in
                    bias.withUnsafeBufferPointer { b in
                        mask.withUnsafeBufferPointer { m in
                            _ = vla_attention_row(
                                sp.baseAddress! + i * tk, tk, scale, withBias ? b.baseAddress! + i * tk : nil,
                                maskKind == 0 ? nil : m.baseAddress! + i * maskStride)
                        }
                    }
                }
            }
            vla_attn_bf16_values(tq, tk, dv, &s, tk, 0, v, ldv, scratch, &y, ldy)
            let (done, out) = fused()
            #expect(done == 1)
            #expect(Self.firstDifference(out, y) == nil, "\(shape): fused head against the three steps")
            #expect(out.indices.filter { $0 % ldy >= dv }.allSatisfy { out[$0] == -7 }, "\(shape): wrote past dv")
        }
    }

    /// The fused head with scale 1, NaN, ±∞ and −0 among q, k and v, and a fully masked row: the three steps'
    /// bits still (NaN for NaN), and a k row stride past 2²⁶ floats declines.
    @Test func attentionBF16FusedHeadSpecialValues() {
        KernelPaths.exclusive {
            let defaults = Defaults()
            defer { defaults.restore() }
            guard vla_bf16_force_isa(4) == 4 else { return }
            let tq = 20, tk = 33, d = 64, dv = 48
            var rng = Random(state: 77)
            var q = (0..<(tq * d)).map { _ in rng.float() * 2 }, k = (0..<(tk * d)).map { _ in rng.float() * 2 }
            var v = (0..<(tk * dv)).map { _ in rng.float() }
            q[3] = .nan
            q[d + 5] = .infinity
            k[2 * d + 1] = -.infinity
            k[7] = -0.0
            v[4 * dv + 2] = .nan
            v[9] = -0.0
            let mask = (0..<(tq * tk)).map { i -> UInt8 in i / tk == 6 ? 0 : (i % 3 == 0 ? 0 : 1) }  // row 6 fully masked
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: vla_attn_bf16_scratch_bytes(tq, tk, d, dv), alignment: 64)
            defer { scratch.deallocate() }
            var s = [Float](repeating: 0, count: tq * tk), want = [Float](repeating: 0, count: tq * dv)
            vla_attn_bf16_scores(tq, tk, d, q, d, k, d, scratch, &s, tk)
            s.withUnsafeMutableBufferPointer { sp in
                mask.withUnsafeBufferPointer { m in
                    for i in 0..<tq { _ = vla_attention_row(sp.baseAddress! + i * tk, tk, 1, nil, m.baseAddress! + i * tk) }
                }
            }
            vla_attn_bf16_values(tq, tk, dv, &s, tk, 0, v, dv, scratch, &want, dv)
            var got = [Float](repeating: 7, count: tq * dv)
            #expect(vla_attn_bf16_head(tq, tk, d, dv, q, d, k, d, v, dv, 1, nil, 0, mask, tk, scratch, &got, dv) == 1)
            #expect(Self.firstDifference(got, want) == nil)
            #expect(got.contains { $0.isNaN } && got.contains { !$0.isNaN }, "the specials should reach some outputs, not all")
            // A row stride past 2²⁶ floats: declined, nothing written (no memory is read either).
            var untouched = [Float](repeating: 7, count: tq * dv)
            #expect(vla_attn_bf16_head(tq, tk, d, dv, q, d, k, (1 << 26) + 1, v, dv, 1, nil, 0, nil, 0, scratch, &untouched, dv) == 0)
            #expect(untouched.allSatisfy { $0 == 7 })
        }
    }
}

/// The op through the interpreter: against the float64 references, on one and two threads, and without heap
/// allocations per run.
@Suite struct AttentionBF16OpTests {
    /// One attention op with bf16 products over arena inputs q, k, v (mask, bias), output y.
    static func document(_ c: AttentionBF16Fixture.Case) throws -> (doc: VLADocument, inputs: [(Int, [UInt8])], y: Int) {
        let lead = c.batch.flatMap { $0 > 0 ? [$0] : nil } ?? []
        var tensors: [TensorEntry] = [], offset: UInt64 = 0, inputs: [(Int, [UInt8])] = []
        func add(_ name: String, _ type: TensorType, _ bytes: [UInt8]?) -> Int {
            tensors.append(TensorEntry(name: name, type: type, location: .arena(offset: offset)))
            offset += (UInt64(type.elementCount * type.dtype.byteWidth) + 63) / 64 * 64
            if let bytes { inputs.append((tensors.count - 1, bytes)) }
            return tensors.count - 1
        }
        func f32(_ v: [Float]) -> [UInt8] { v.flatMap { x in (0..<4).map { UInt8(truncatingIfNeeded: x.bitPattern >> (8 * $0)) } } }
        var ids = [
            add("q", TensorType(.f32, lead + [c.tq, c.h, c.d]), f32(c.q)), add("k", TensorType(.f32, lead + [c.tk, c.h, c.d]), f32(c.k)),
            add("v", TensorType(.f32, lead + [c.tk, c.h, c.dv]), f32(c.v)),
        ]
        var flags = AttentionFlags.bf16Products
        if let mask = c.mask {
            ids.append(add("mask", TensorType(.u8, try #require(c.maskShape)), mask))
            flags |= AttentionFlags.hasMask
        }
        if let bias = c.bias {
            ids.append(add("bias", TensorType(.f32, [c.h, c.tq, c.tk]), f32(bias)))
            flags |= AttentionFlags.hasBias
        }
        let y = add("y", TensorType(.f32, lead + [c.tq, c.h, c.dv]), nil)
        let op = Operation(.attention, inputs: ids, outputs: [y], attributes: [try #require(c.scale).bitPattern, flags])
        let doc = VLADocument(
            isSharedBlob: true, tensors: tensors, programs: [Program(name: "attend", inputs: ids, outputs: [y], operations: [op])],
            arenaSize: offset)
        return (doc, inputs, y)
    }

    @Test(arguments: [1, 2])
    func matchesFloat64References(threads: Int) throws {
        let fixture = try AttentionBF16Fixture.loaded.get()
        let cases = fixture.cases.filter { $0.kind == "op" }
        #expect(cases.count >= 3)
        for c in cases {
            let (doc, inputs, y) = try Self.document(c)
            // Through the file format too: the writer marks it 1.4, the verifier accepts it.
            let file = try VLAFile(bytes: try VLAWriter.serialize(doc))
            #expect(file.header.minor == 4)
            let interpreter = try Interpreter(document: file.document(), options: RuntimeOptions(threads: threads))
            for (id, bytes) in inputs { try interpreter.setRaw(id, bytes) }
            try interpreter.run(0)
            let out = try interpreter.floats(y)
            let bad = out.indices.filter { !(abs(Double(out[$0]) - c.y[$0]) <= c.yTol[$0]) }
            #expect(bad.isEmpty, "\(c.name), \(threads) threads: \(bad.count) outside, e.g. \(bad.prefix(3).map { (out[$0], c.y[$0], c.yTol[$0]) })")
            // The flag matters: the f32 products give other values.
            var plain = doc
            plain.programs[0].operations[0].attributes[1] &= ~AttentionFlags.bf16Products
            let f = try Interpreter(document: plain, options: RuntimeOptions(threads: threads))
            for (id, bytes) in inputs { try f.setRaw(id, bytes) }
            try f.run(0)
            #expect(try f.floats(y) != out, "\(c.name): the bf16 flag changed nothing")
        }
    }

    /// The bf16 products' scratch counts against the scratch limit: a limit that holds the scores but not the
    /// products' blocks refuses the op when the interpreter is prepared.
    @Test func scratchOverTheLimitIsRefused() throws {
        let fixture = try AttentionBF16Fixture.loaded.get()
        let c = try #require(fixture.cases.first { $0.kind == "op" && $0.name == "plain" })
        let (doc, _, _) = try Self.document(c)
        var options = RuntimeOptions(threads: 1)
        options.limits.maxScratchBytes = 4 * (c.tq * c.tk + 600)
        let error = try #require(throws: RuntimeError.self) { try Interpreter(document: doc, options: options) }
        #expect(error.code == .limitExceeded && error.message.contains("scratch limit"), "\(error)")
        options.limits.maxScratchBytes = 1 << 24
        _ = try Interpreter(document: doc, options: options)
    }

    @Test(arguments: [1, 2])
    func runAllocatesNothing(threads: Int) throws {
        try KernelPaths.exclusive {
            let fixture = try AttentionBF16Fixture.loaded.get()
            for c in fixture.cases where c.kind == "op" {
                let (doc, inputs, _) = try Self.document(c)
                let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: threads))
                for (id, bytes) in inputs { try interpreter.setRaw(id, bytes) }
                try interpreter.run(0)
                let runs = try AllocationTests.Counter(interpreter).during { for _ in 0..<3 { try interpreter.run(0) } }
                #expect(runs == 0, "\(c.name): \(runs) allocations in three runs with \(threads) threads")
            }
        }
    }
}
