import CVLAKernels
import Foundation
import Testing
import VLATestSupport
@testable import VLARuntime

/// The reduced-precision products of Sources/CVLAKernels (vla_kernels.h, "MARK: reduced precision"): every
/// instruction-set path this CPU has, forced in turn, against a Swift model of the contract written here
/// independently (bit for bit), the paths against each other on shapes too large for that model, and the
/// float64 references of Tests/Reference/gen_quant_reference.py (Tests/Fixtures/VLARuntime/quant.json).
/// Forcing a path is process-wide, so the suite is serialized and every test restores the default paths.
@Suite(.serialized) struct QuantKernelTests {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        /// Uniform in [−4, 4] on a grid of 2⁻¹⁸.
        mutating func float() -> Float { Float(Int64(next() % 2_000_001) - 1_000_000) / 250_000 }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Runs body with every path of one kernel family forced in turn, then restores the default.
    static func forEachPath(best force: (Int32) -> Int32, _ body: (Int) -> Void) {
        KernelPaths.exclusive {  // the paths are process-wide: no other suite forcing them meanwhile
            let best = Int(force(99))
            for isa in 0...best {
                #expect(Int(force(Int32(isa))) == isa)
                body(isa)
            }
        }
    }

    /// Every int8 path; path 1 twice where the CPU has AVX-VNNI: with it (vpdpbusd on ymm), then without (what
    /// AVX2-only CPUs run). The AVX-VNNI state is put back after.
    static func forEachQ8Path(_ body: (Int) -> Void) {
        KernelPaths.exclusive {
            let vnni = vla_q8_avx_vnni()
            defer { _ = vla_q8_force_avx_vnni(vnni) }
            forEachPath(best: vla_q8_force_isa) { isa in
                if isa == 1 && vla_q8_force_avx_vnni(1) == 1 { body(isa) }
                _ = vla_q8_force_avx_vnni(0)
                body(isa)
                _ = vla_q8_force_avx_vnni(vnni)
            }
        }
    }

    /// Forces a bf16 path for the tests that compare paths with the models here. On aarch64 only paths 0 and 1
    /// (the fma chain): BFDOT and BFMMLA (2, 3) follow the architecture's own rule (vla_kernels.h), which
    /// Tests/aarch64/driver.c checks bit for bit against its transcription (`make test` runs it natively on an
    /// Arm machine).
    static func forceBF16(_ isa: Int32) -> Int32 {
        #if arch(arm64)
        return vla_bf16_force_isa(min(isa, 1))
        #else
        return vla_bf16_force_isa(isa)
        #endif
    }

    /// The default paths, captured before forcing and put back after.
    struct Defaults {
        let q8 = vla_q8_isa(), bf16 = vla_bf16_isa(), avxVNNI = vla_q8_avx_vnni()
        func restore() {
            _ = vla_q8_force_isa(q8)
            _ = vla_bf16_force_isa(bf16)
            _ = vla_q8_force_avx_vnni(avxVNNI)
        }
    }

    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    static func firstDifference(_ got: [Float], _ want: [Float]) -> String? {
        guard let i = got.indices.first(where: { !same(got[$0], want[$0]) }) else { return nil }
        return "element \(i): \(got[i]) (\(String(got[i].bitPattern, radix: 16))) vs \(want[i]) (\(String(want[i].bitPattern, radix: 16)))"
    }

    static func withOptional<T, R>(_ a: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    // MARK: int8 model

    /// The quantization formula of vla_kernels.h, written in Swift.
    static func quantizeModel(_ x: [Float], m: Int, k: Int, ldx: Int) -> (q: [Int8], s: [Float]) {
        var q = [Int8](repeating: 0, count: m * k), s = [Float](repeating: 0, count: m)
        for i in 0..<m {
            var a: Float = 0
            for p in 0..<k {
                let v = abs(x[i * ldx + p])
                if v > a { a = v }  // NaN is skipped
            }
            let inv: Float = a > 0 ? 127 / a : 0
            s[i] = a / 127
            for p in 0..<k {
                let v = x[i * ldx + p] * inv
                var t: Float = v > -127 ? v : -127  // NaN -> −127
                t = t < 127 ? t : 127
                q[i * k + p] = Int8(t.rounded(.toNearestOrEven))
            }
        }
        return (q, s)
    }

    /// The zero-point quantization of vla_kernels.h (vla_q8_quantize_zp), written in Swift: u in [0, 255], the
    /// zero points z and the scales.
    static func quantizeZPModel(_ x: [Float], m: Int, k: Int, ldx: Int) -> (u: [Int], z: [Int], s: [Float]) {
        var u = [Int](repeating: 0, count: m * k), z = [Int](repeating: 0, count: m), s = [Float](repeating: 0, count: m)
        for i in 0..<m {
            var lo: Float = 0, hi: Float = 0
            for p in 0..<k {
                let v = x[i * ldx + p]
                if v < lo { lo = v }  // NaN is skipped
                if v > hi { hi = v }
            }
            let r = hi - lo
            let inv: Float = r > 0 ? 255 / r : 0
            s[i] = r / 255
            let zv = -lo * inv
            let zf = (zv > 0 ? min(zv, 255) : 0).rounded(.toNearestOrEven)  // NaN -> 0
            z[i] = Int(zf)
            for p in 0..<k {
                let v = x[i * ldx + p] * inv
                var t: Float = v > -zf ? v : -zf  // NaN -> −z
                t = t < 255 - zf ? t : 255 - zf
                u[i * k + p] = Int(t.rounded(.toNearestOrEven)) + z[i]
            }
        }
        return (u, z, s)
    }

    /// y after the int8 product with zero points: acc = Σ (u − z)·w exactly, then as q8Model.
    static func q8ZPModel(m: Int, n0: Int, n1: Int, k: Int, u: [Int], z: [Int], s: [Float], w: [Int8], ldw: Int,
                          wscale: [Float], e: Epilogue, y0: [Float], ldy: Int) -> [Float] {
        var y = y0
        for i in 0..<m {
            for j in n0..<n1 {
                var acc = 0
                for p in 0..<k { acc += (u[i * k + p] - z[i]) * Int(w[p * ldw + j]) }
                var v = (e.bias?[j] ?? 0).addingProduct(Float(acc), s[i] * wscale[j])  // one rounding
                if let mul = e.mul { v = v * mul[j] }
                if e.addIsY { v = v + y0[i * ldy + j] } else if let add = e.add { v = v + add[i * e.ldadd + j] }
                y[i * ldy + j] = v
            }
        }
        return y
    }

    struct Epilogue {
        var bias: [Float]?
        var mul: [Float]?
        /// add: a separate [m, ldadd] array, or y itself (aliasing).
        var add: [Float]?
        var addIsY = false
        var ldadd = 0
    }

    /// y after the int8 product, as the contract defines it (y0: y before the call).
    static func q8Model(m: Int, n0: Int, n1: Int, k: Int, q: [Int8], s: [Float], w: [Int8], ldw: Int, wscale: [Float],
                        e: Epilogue, y0: [Float], ldy: Int) -> [Float] {
        var y = y0
        for i in 0..<m {
            for j in n0..<n1 {
                var acc: Int32 = 0
                for p in 0..<k { acc += Int32(q[i * k + p]) * Int32(w[p * ldw + j]) }
                var v = (e.bias?[j] ?? 0).addingProduct(Float(acc), s[i] * wscale[j])  // one rounding
                if let mul = e.mul { v = v * mul[j] }
                if e.addIsY { v = v + y0[i * ldy + j] } else if let add = e.add { v = v + add[i * e.ldadd + j] }
                y[i * ldy + j] = v
            }
        }
        return y
    }

    /// Packs w, quantizes x and runs vla_q8_gemm on the current path; returns (y, q rows with ldq, s). padding:
    /// written over each q row's bytes from k to the row stride before the product (they must not matter).
    static func runQ8(m: Int, n0: Int, n1: Int, k: Int, n: Int, x: [Float], ldx: Int, w: [Int8], ldw: Int,
                      wscale: [Float], e: Epilogue, y0: [Float], ldy: Int, ldq: Int,
                      padding: Int8? = nil, zeroPoint: Bool = false) -> (y: [Float], q: [Int8], s: [Float], zc: [Int32]) {
        let bytes = vla_q8_packed_bytes(k, n)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        defer { packed.deallocate() }
        vla_q8_pack(k, n, w, ldw, packed)
        var q = [Int8](repeating: 0x55, count: m * ldq)
        var s = [Float](repeating: .nan, count: m)
        var zc = [Int32](repeating: 0x5555, count: m)
        if zeroPoint { vla_q8_quantize_zp(m, k, x, ldx, &q, ldq, &s, &zc) } else { vla_q8_quantize(m, k, x, ldx, &q, ldq, &s) }
        if let padding {
            for i in 0..<m { for p in k..<vla_q8_row_stride(k) { q[i * ldq + p] = padding } }
        }
        var y = y0
        withOptional(e.bias) { bias in
            withOptional(e.mul) { mul in
                withOptional(zeroPoint ? zc : nil) { zcp in
                    y.withUnsafeMutableBufferPointer { yb in
                        if e.addIsY {
                            vla_q8_gemm_zp(m, n0, n1, k, q, ldq, s, zcp, packed, n, wscale, bias, mul, yb.baseAddress, ldy, yb.baseAddress, ldy)
                        } else {
                            withOptional(e.add) { add in
                                vla_q8_gemm_zp(m, n0, n1, k, q, ldq, s, zcp, packed, n, wscale, bias, mul, add, e.ldadd, yb.baseAddress, ldy)
                            }
                        }
                    }
                }
            }
        }
        return (y, q, s, zc)
    }

    // MARK: bf16 model

    static func bf16Value(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// Round to nearest bf16, ties to even, by comparing the two neighbours in Double (2¹²⁸ stands for the
    /// neighbour past the largest finite value, so overflow rounds as IEEE says); NaN: quiet, same sign.
    static func bf16Round(_ f: Float) -> UInt16 {
        if f.isNaN { return UInt16(f.bitPattern >> 16) | 0x40 }
        if f.isInfinite { return UInt16(f.bitPattern >> 16) }
        let lo = UInt16(f.bitPattern >> 16), hi = lo + 1  // hi: the next bf16 away from zero
        func magnitude(_ h: UInt16) -> Double { h & 0x7f80 == 0x7f80 ? 0x1p128 : Double(abs(bf16Value(h))) }
        let a = Double(abs(f))
        let dlo = a - magnitude(lo), dhi = magnitude(hi) - a
        if dlo < dhi { return lo }
        if dhi < dlo { return hi }
        return lo & 1 == 0 ? lo : hi
    }

    static func ftz(_ v: Float) -> Float { v.isSubnormal ? (v.sign == .minus ? -0.0 : 0.0) : v }

    /// y after the bf16 product: pairs in increasing order, odd element first, one fma each; with flush, the
    /// rule measured for vdpbf16ps (denormal operands read as zero, denormal results flushed; see vla_kernels.h).
    static func bf16Model(m: Int, n0: Int, n1: Int, k: Int, xb: [UInt16], ldxb: Int, w: [UInt16], ldw: Int, e: Epilogue,
                          y0: [Float], ldy: Int, flush: Bool = false) -> [Float] {
        var y = y0
        for i in 0..<m {
            for j in n0..<n1 {
                var acc: Float = e.bias?[j] ?? 0
                func step(_ p: Int) {
                    let x = p < k ? bf16Value(xb[i * ldxb + p]) : 0, wv = p < k ? bf16Value(w[p * ldw + j]) : 0
                    acc = flush ? ftz(ftz(acc).addingProduct(ftz(x), ftz(wv))) : acc.addingProduct(x, wv)
                }
                for t in 0..<((k + 1) / 2) {
                    step(2 * t + 1)
                    step(2 * t)
                }
                var v = acc
                if let mul = e.mul { v = v * mul[j] }
                if e.addIsY { v = v + y0[i * ldy + j] } else if let add = e.add { v = v + add[i * e.ldadd + j] }
                y[i * ldy + j] = v
            }
        }
        return y
    }

    /// y after the bf16 product as path 4 (AMX tdpbf16ps) computes it, the rule measured and stated in vla_kernels.h:
    /// k in chunks of 16 pairs (the last padded with zero pairs); per chunk, the even elements' products and the odd
    /// elements' each summed with one fma per pair from +0, in increasing order; then acc = acc + (even + odd);
    /// acc starts at the bias; denormal operands read as zero and denormal results flushed, as vdpbf16ps.
    static func bf16AMXModel(m: Int, n0: Int, n1: Int, k: Int, xb: [UInt16], ldxb: Int, w: [UInt16], ldw: Int, e: Epilogue,
                             y0: [Float], ldy: Int) -> [Float] {
        var y = y0
        let chunks = ((k + 1) / 2 + 15) / 16
        for i in 0..<m {
            for j in n0..<n1 {
                var acc: Float = e.bias?[j] ?? 0
                for chunk in 0..<chunks {
                    var even: Float = 0, odd: Float = 0
                    for t in (16 * chunk)..<(16 * chunk + 16) {
                        func operands(_ p: Int) -> (Float, Float) {
                            p < k ? (ftz(bf16Value(xb[i * ldxb + p])), ftz(bf16Value(w[p * ldw + j]))) : (0, 0)
                        }
                        let (xe, we) = operands(2 * t), (xo, wo) = operands(2 * t + 1)
                        even = ftz(even.addingProduct(xe, we))
                        odd = ftz(odd.addingProduct(xo, wo))
                    }
                    acc = ftz(ftz(acc) + ftz(even + odd))
                }
                var v = acc
                if let mul = e.mul { v = v * mul[j] }
                if e.addIsY { v = v + y0[i * ldy + j] } else if let add = e.add { v = v + add[i * e.ldadd + j] }
                y[i * ldy + j] = v
            }
        }
        return y
    }

    /// Path 4 against another path's y on finite inputs without denormals: both are within (k + 2)·u·S of the
    /// exact sum, S = |bias| + Σ|x̃·w| (u = 2⁻²⁴), so |y₄ − y| ≤ 2·(k + 2)·u·S before the epilogue; ·mul scales
    /// that, and the two roundings of ·mul and + add add at most 4·u·(S·|mul| + |add|) more. absSums: S per
    /// element (from the product of |x̃| and |w| with |bias|, within a factor 1 + (k + 2)·u of S).
    static func withinTheBound(_ got: [Float], _ want: [Float], absSums: [Float], m: Int, n0: Int, n1: Int, k: Int, e: Epilogue,
                               y0: [Float], ldy: Int) -> String? {
        let u = 0x1p-24, slack = 1 + 2 * Double(k + 2) * u
        for i in 0..<m {
            for j in n0..<n1 {
                let s = Double(absSums[i * ldy + j]) * slack, mul = abs(Double(e.mul?[j] ?? 1))
                let add = e.addIsY ? abs(Double(y0[i * ldy + j])) : e.add.map { abs(Double($0[i * e.ldadd + j])) } ?? 0
                let bound = 2 * Double(k + 2) * u * s * mul + 4 * u * (s * mul + add) + 1e-37
                let g = got[i * ldy + j], v = want[i * ldy + j]
                if !(abs(Double(g) - Double(v)) <= bound) { return "element (\(i), \(j)): \(g) vs \(v), bound \(bound)" }
            }
        }
        return nil
    }

    static func runBF16(m: Int, n0: Int, n1: Int, k: Int, n: Int, x: [Float], ldx: Int, w: [UInt16], ldw: Int, e: Epilogue,
                        y0: [Float], ldy: Int, ldxb: Int) -> (y: [Float], xb: [UInt16]) {
        let bytes = vla_bf16_packed_bytes(k, n)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        defer { packed.deallocate() }
        vla_bf16_pack(k, n, w, ldw, packed)
        var xb = [UInt16](repeating: 0x5555, count: m * ldxb)
        vla_bf16_round(m, k, x, ldx, &xb, ldxb)
        var y = y0
        withOptional(e.bias) { bias in
            withOptional(e.mul) { mul in
                y.withUnsafeMutableBufferPointer { yb in
                    if e.addIsY {
                        vla_bf16_gemm(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, yb.baseAddress, ldy, yb.baseAddress, ldy)
                    } else {
                        withOptional(e.add) { add in
                            vla_bf16_gemm(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, e.ldadd, yb.baseAddress, ldy)
                        }
                    }
                }
            }
        }
        return (y, xb)
    }

    // MARK: layouts

    @Test func packedSizesAndRowStrides() {
        for (k, stride) in [(0, 0), (1, 64), (63, 64), (64, 64), (65, 128), (768, 768), (3072, 3072), (3073, 3136)] {
            #expect(vla_q8_row_stride(k) == stride, "q8 k \(k)")
        }
        for (k, stride) in [(0, 0), (1, 32), (31, 32), (32, 32), (33, 64), (768, 768), (3073, 3104)] {
            #expect(vla_bf16_row_stride(k) == stride, "bf16 k \(k)")
        }
        for (k, n) in [(1, 1), (3, 15), (4, 16), (5, 17), (64, 33), (100, 100), (768, 768), (768, 3072), (3072, 768)] {
            let panels = (n + 15) / 16
            #expect(vla_q8_packed_bytes(k, n) == panels * ((k + 3) / 4) * 64 + panels * 16 * 4, "q8 \(k)×\(n)")
            #expect(vla_bf16_packed_bytes(k, n) == panels * ((k + 1) / 2) * 64, "bf16 \(k)×\(n)")
        }
        #expect(vla_q8_packed_bytes(768, 3072) == 768 * 3072 + 3072 * 4)
        #expect(vla_bf16_packed_bytes(768, 3072) == 768 * 3072 * 2)
    }

    @Test func packedLayouts() {
        let k = 7, n = 19, ldw = 21
        var rng = Random(state: 5)
        let w8 = (0..<(k * ldw)).map { _ in Int8(rng.int(255) - 127) }
        let w16 = (0..<(k * ldw)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
        let q8Bytes = vla_q8_packed_bytes(k, n), bfBytes = vla_bf16_packed_bytes(k, n)
        let p8 = UnsafeMutableRawPointer.allocate(byteCount: q8Bytes, alignment: 64)
        let p16 = UnsafeMutableRawPointer.allocate(byteCount: bfBytes, alignment: 64)
        defer { p8.deallocate(); p16.deallocate() }
        vla_q8_pack(k, n, w8, ldw, p8)
        vla_bf16_pack(k, n, w16, ldw, p16)
        let groups = (k + 3) / 4, pairs = (k + 1) / 2, panels = (n + 15) / 16
        let b8 = UnsafeRawBufferPointer(start: p8, count: q8Bytes)
        let b16 = UnsafeRawBufferPointer(start: p16, count: bfBytes)
        for panel in 0..<panels {
            for p in 0..<(groups * 4) {
                for c in 0..<16 {
                    let j = panel * 16 + c
                    let want: Int8 = p < k && j < n ? w8[p * ldw + j] : 0
                    #expect(Int8(bitPattern: b8[panel * groups * 64 + (p / 4) * 64 + c * 4 + p % 4]) == want, "q8 p \(p) j \(j)")
                }
            }
            for p in 0..<(pairs * 2) {
                for c in 0..<16 {
                    let j = panel * 16 + c
                    let want: UInt16 = p < k && j < n ? w16[p * ldw + j] : 0
                    let o = panel * pairs * 64 + (p / 2) * 64 + c * 4 + (p % 2) * 2
                    #expect(UInt16(b16[o]) | UInt16(b16[o + 1]) << 8 == want, "bf16 p \(p) j \(j)")
                }
            }
        }
        for j in 0..<(panels * 16) {
            let o = panels * groups * 64 + j * 4
            let sum = Int32(bitPattern: UInt32(b8[o]) | UInt32(b8[o + 1]) << 8 | UInt32(b8[o + 2]) << 16 | UInt32(b8[o + 3]) << 24)
            let want = j < n ? (0..<k).reduce(Int32(0)) { $0 + Int32(w8[$1 * ldw + j]) } : 0
            #expect(sum == want, "column sum \(j)")
        }
    }

    // MARK: int8

    /// Rows that reach every branch of the quantization: zeros, −0, huge, tiny and denormal magnitudes, ±∞,
    /// NaN, ties of the rounding, values that clamp.
    static func extremeRows(k: Int, rng: inout Random) -> [[Float]] {
        var rows: [[Float]] = []
        rows.append([Float](repeating: 0, count: k))
        rows.append((0..<k).map { $0 % 2 == 0 ? -0.0 : 0.0 })
        rows.append((0..<k).map { _ in rng.float() * 8e37 })
        rows.append((0..<k).map { _ in rng.float() * 1e-30 })
        rows.append((0..<k).map { p in p % 3 == 0 ? 0 : rng.float() * (Float.leastNormalMagnitude / 1024) })  // denormal absmax: inv = ∞
        rows.append((0..<k).map { p in p == k / 2 ? .infinity : rng.float() })
        rows.append((0..<k).map { p in p == 0 ? -.infinity : rng.float() })
        rows.append((0..<k).map { p in p % 4 == 1 ? .nan : rng.float() })
        rows.append([Float](repeating: .nan, count: k))
        rows.append((0..<k).map { p in p == 0 ? 127 : Float(p % 255) - 127 + 0.5 })  // exact halves: ties to even
        rows.append((0..<k).map { p in p == 0 ? -4 : Float(p % 9) - 4 })
        return rows
    }

    @Test func q8QuantizeFollowsTheFormulaOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 11)
        for k in [1, 3, 4, 5, 15, 16, 17, 64, 100, 768] {
            var rows = Self.extremeRows(k: k, rng: &rng)
            for _ in 0..<3 { rows.append((0..<k).map { _ in rng.float() }) }
            let m = rows.count, ldx = k + 5
            var x = [Float](repeating: 7, count: m * ldx)
            for i in 0..<m { for p in 0..<k { x[i * ldx + p] = rows[i][p] } }
            let (wantQ, wantS) = Self.quantizeModel(x, m: m, k: k, ldx: ldx)
            let stride = vla_q8_row_stride(k), ldq = stride + 3
            Self.forEachQ8Path { isa in
                var q = [Int8](repeating: 0x55, count: m * ldq)
                var s = [Float](repeating: .nan, count: m)
                vla_q8_quantize(m, k, x, ldx, &q, ldq, &s)
                for i in 0..<m {
                    #expect(s[i].bitPattern == wantS[i].bitPattern, "isa \(isa) k \(k) row \(i): s \(s[i]) vs \(wantS[i])")
                    let row = Array(q[(i * ldq)..<(i * ldq + k)]), want = Array(wantQ[(i * k)..<(i * k + k)])
                    #expect(row == want, "isa \(isa) k \(k) row \(i)")
                    #expect(q[(i * ldq + k)..<(i * ldq + stride)].allSatisfy { $0 == 0 }, "isa \(isa) k \(k) row \(i): padding")
                    #expect(q[(i * ldq + stride)..<(i * ldq + ldq)].allSatisfy { $0 == 0x55 }, "isa \(isa) k \(k) row \(i): beyond the stride")
                }
            }
        }
    }

    /// The documented consequences of the formula for NaN and ±∞ (vla_kernels.h).
    @Test func q8NaNAndInfinityBehaveAsDocumented() {
        let defaults = Defaults()
        defer { defaults.restore() }
        let k = 5, n = 16, m = 3
        let x: [Float] = [1, .nan, -2, 0.5, 0, .nan, .nan, .nan, .nan, .nan, 3, .infinity, -1, 0, 2]
        let w = [Int8](repeating: 1, count: k * n)
        let wscale = [Float](repeating: 0.5, count: n), bias = (0..<n).map { Float($0) }
        Self.forEachQ8Path { isa in
            let r = Self.runQ8(m: m, n0: 0, n1: n, k: k, n: n, x: x, ldx: k, w: w, ldw: n, wscale: wscale, e: Epilogue(bias: bias),
                               y0: [Float](repeating: 0, count: m * n), ldy: n, ldq: vla_q8_row_stride(k))
            #expect(Array(r.q[0..<k]) == [64, -127, -127, 32, 0], "isa \(isa): a NaN becomes −127")
            #expect(r.s[0] == Float(2) / 127)
            #expect(r.s[1] == 0 && r.y[n..<(2 * n)].elementsEqual(bias), "isa \(isa): an all-NaN row gives s = 0, y = bias")
            let row2 = Array(r.q[(2 * vla_q8_row_stride(k))..<(2 * vla_q8_row_stride(k) + k)])
            #expect(row2 == [0, -127, 0, 0, 0] && r.s[2] == .infinity, "isa \(isa): ∞ row")
            #expect(r.y[(2 * n)..<(3 * n)].allSatisfy { $0 == -.infinity }, "isa \(isa): ∞ row gives −∞ here")
        }
    }

    static let ms = [1, 2, 4, 7, 9, 257], ks = [1, 3, 4, 5, 64, 100, 768], ns = [1, 15, 16, 17, 33, 100, 768]

    /// A column range, epilogue and strides for one shape, varied by the case number.
    static func variant(_ c: Int, m: Int, n: Int, rng: inout Random) -> (n0: Int, n1: Int, e: Epilogue, ldy: Int) {
        var n0 = 0, n1 = n
        if c % 3 == 1 && n > 16 { n0 = 16 * (1 + rng.int((n - 1) / 16)) - 16; n1 = n0 + 1 + rng.int(n - n0) }
        if c % 3 == 2 { n1 = 1 + rng.int(n) }
        let ldy = n + (c % 2 == 0 ? 0 : 7)
        var e = Epilogue()
        if (c / 2) % 2 == 1 { e.bias = (0..<n).map { _ in rng.float() } }
        if (c / 4) % 2 == 1 { e.mul = (0..<n).map { _ in rng.float() } }
        switch (c / 8) % 3 {
        case 1: e.addIsY = true
        case 2: e.ldadd = n + 3; e.add = (0..<(m * (n + 3))).map { _ in rng.float() }
        default: break
        }
        return (n0, n1, e, ldy)
    }

    @Test func q8ProductsAgreeBitForBitOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 21)
        var c = 0
        for m in Self.ms {
            for k in Self.ks {
                for n in Self.ns {
                    c += 1
                    let ldx = k + 1, ldw = n + 2
                    let x = (0..<(m * ldx)).map { _ in rng.float() }
                    let w = (0..<(k * ldw)).map { _ in Int8(rng.int(255) - 127) }
                    let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }
                    let (n0, n1, e, ldy) = Self.variant(c, m: m, n: n, rng: &rng)
                    let y0 = (0..<(m * ldy)).map { _ in rng.float() }
                    let ldq = vla_q8_row_stride(k) + (c % 2 == 0 ? 0 : 5)
                    // The Swift model where it is fast enough in a debug build, else the portable path.
                    let useModel = m * k * (n1 - n0) <= 300_000
                    var want: [Float]? = nil
                    if useModel {
                        let (q, s) = Self.quantizeModel(x, m: m, k: k, ldx: ldx)
                        want = Self.q8Model(m: m, n0: n0, n1: n1, k: k, q: q, s: s, w: w, ldw: ldw, wscale: wscale, e: e, y0: y0, ldy: ldy)
                    }
                    Self.forEachQ8Path { isa in
                        let got = Self.runQ8(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w, ldw: ldw, wscale: wscale, e: e,
                                             y0: y0, ldy: ldy, ldq: ldq).y
                        if want == nil { want = got }  // isa 0 runs first
                        let diff = Self.firstDifference(got, want!)
                        #expect(diff == nil, "isa \(isa), m \(m) k \(k) n \(n) [\(n0), \(n1)), case \(c): \(diff ?? "")")
                    }
                }
            }
        }
    }

    /// Rows on both sides of the AVX2 path's 4,096-byte |q| buffer (k 4,093: |q| computed once per 64 columns;
    /// k 4,097: per tile, as for any longer row), a column range across and inside its 64-column blocks, 5 rows
    /// (a 4-row tile and a 1-row one): every path against the model, plain and zero-point rows.
    @Test func q8RowsAroundTheAVX2BufferOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 23)
        for k in [4093, 4097] {
            let m = 5, n = 70, ldx = k
            let x = (0..<(m * ldx)).map { _ in rng.float() }
            let w = (0..<(k * n)).map { _ in Int8(rng.int(255) - 127) }
            let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }, bias = (0..<n).map { _ in rng.float() }
            for (n0, n1) in [(0, n), (16, 69), (48, 64)] {
                let y0 = (0..<(m * n)).map { _ in rng.float() }
                let (q, s) = Self.quantizeModel(x, m: m, k: k, ldx: ldx)
                let plain = Self.q8Model(m: m, n0: n0, n1: n1, k: k, q: q, s: s, w: w, ldw: n, wscale: wscale, e: Epilogue(bias: bias),
                                         y0: y0, ldy: n)
                for zeroPoint in [false, true] {
                    var want: [Float]? = zeroPoint ? nil : plain  // zero-point rows: path 0's bits
                    Self.forEachQ8Path { isa in
                        let got = Self.runQ8(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w, ldw: n, wscale: wscale,
                                             e: Epilogue(bias: bias), y0: y0, ldy: n, ldq: vla_q8_row_stride(k), padding: 77,
                                             zeroPoint: zeroPoint).y
                        if want == nil { want = got }  // isa 0 runs first
                        let diff = Self.firstDifference(got, want!)
                        #expect(diff == nil, "isa \(isa), k \(k), zero point \(zeroPoint), columns [\(n0), \(n1)): \(diff ?? "")")
                    }
                }
            }
        }
    }

    /// Worst cases for the AVX2 path (±127 everywhere: every vpmaddubsw pair at ±2·127·127) and the extreme rows.
    @Test func q8ExtremeInputsAgreeBitForBit() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 31)
        for k in [4, 5, 64, 100, 768] {
            let rows = Self.extremeRows(k: k, rng: &rng) + [[Float](repeating: 1, count: k), [Float](repeating: -1, count: k)]
            let m = rows.count, n = 33
            let x = rows.flatMap { $0 }
            let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }, bias = (0..<n).map { _ in rng.float() }
            for pattern in 0..<3 {
                let w = (0..<(k * n)).map { i -> Int8 in pattern == 0 ? 127 : pattern == 1 ? -127 : (i / n + i) % 2 == 0 ? 127 : -127 }
                let y0 = [Float](repeating: 0, count: m * n)
                let (q, s) = Self.quantizeModel(x, m: m, k: k, ldx: k)
                let want = Self.q8Model(m: m, n0: 0, n1: n, k: k, q: q, s: s, w: w, ldw: n, wscale: wscale, e: Epilogue(bias: bias), y0: y0, ldy: n)
                Self.forEachQ8Path { isa in
                    let got = Self.runQ8(m: m, n0: 0, n1: n, k: k, n: n, x: x, ldx: k, w: w, ldw: n, wscale: wscale, e: Epilogue(bias: bias),
                                         y0: y0, ldy: n, ldq: vla_q8_row_stride(k)).y
                    let diff = Self.firstDifference(got, want)
                    #expect(diff == nil, "isa \(isa), k \(k), weights pattern \(pattern): \(diff ?? "")")
                }
            }
        }
    }

    // MARK: int8 with zero points (vla_q8_quantize_zp, vla_q8_gemm_zp)

    /// The zero-point rule (q = u − 128, zc = 128 − z, s) on every path, with the extreme rows and all-negative,
    /// all-positive and GELU-shaped rows, every k tail.
    @Test func q8ZeroPointQuantizeFollowsTheFormulaOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 41)
        for k in [1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 100, 768] {
            var rows = Self.extremeRows(k: k, rng: &rng)
            rows.append((0..<k).map { _ in -abs(rng.float()) - 0.5 })  // all negative: z = 255
            rows.append((0..<k).map { _ in abs(rng.float()) })  // all positive: z = 0
            rows.append((0..<k).map { _ in max(rng.float(), -0.17) })  // GELU-like
            rows.append((0..<k).map { p in p == k - 1 ? -.infinity : rng.float() })
            for _ in 0..<3 { rows.append((0..<k).map { _ in rng.float() }) }
            let m = rows.count, ldx = k + 5
            var x = [Float](repeating: 7, count: m * ldx)
            for i in 0..<m { for p in 0..<k { x[i * ldx + p] = rows[i][p] } }
            let want = Self.quantizeZPModel(x, m: m, k: k, ldx: ldx)
            let stride = vla_q8_row_stride(k), ldq = stride + 3
            Self.forEachQ8Path { isa in
                var q = [Int8](repeating: 0x55, count: m * ldq)
                var s = [Float](repeating: .nan, count: m)
                var zc = [Int32](repeating: 0, count: m)
                vla_q8_quantize_zp(m, k, x, ldx, &q, ldq, &s, &zc)
                for i in 0..<m {
                    #expect(s[i].bitPattern == want.s[i].bitPattern, "isa \(isa) k \(k) row \(i): s \(s[i]) vs \(want.s[i])")
                    #expect(Int(zc[i]) == 128 - want.z[i], "isa \(isa) k \(k) row \(i): zc")
                    let row = q[(i * ldq)..<(i * ldq + k)].map { Int($0) + 128 }, u = Array(want.u[(i * k)..<(i * k + k)])
                    #expect(row == u, "isa \(isa) k \(k) row \(i)")
                    #expect(q[(i * ldq + k)..<(i * ldq + stride)].allSatisfy { $0 == 0 }, "isa \(isa) k \(k) row \(i): padding")
                    #expect(q[(i * ldq + stride)..<(i * ldq + ldq)].allSatisfy { $0 == 0x55 }, "isa \(isa) k \(k) row \(i): beyond the stride")
                }
            }
        }
    }

    /// The documented consequences for zero rows, all-negative rows, NaN and ±∞ (vla_kernels.h).
    @Test func q8ZeroPointEdgeCasesBehaveAsDocumented() {
        let defaults = Defaults()
        defer { defaults.restore() }
        let k = 5, n = 16, m = 5
        let x: [Float] = [0, 0, 0, 0, 0,  // all zero: s = 0, z = 0, y = bias
                          -1, -2, -0.5, -2, -1,  // all negative: z = 255
                          1, .nan, -1, 0.5, 0,  // NaN -> u = 0
                          3, .infinity, -1, 0, 2,  // ∞: inv = 0, s = ∞, z = 0, every u = 0, y = NaN
                          .nan, .nan, .nan, .nan, .nan]  // all NaN: s = 0, y = bias
        let w = [Int8](repeating: 1, count: k * n)
        let wscale = [Float](repeating: 0.5, count: n), bias = (0..<n).map { Float($0) }
        let ldq = vla_q8_row_stride(k)
        Self.forEachQ8Path { isa in
            let r = Self.runQ8(m: m, n0: 0, n1: n, k: k, n: n, x: x, ldx: k, w: w, ldw: n, wscale: wscale, e: Epilogue(bias: bias),
                               y0: [Float](repeating: 0, count: m * n), ldy: n, ldq: ldq, zeroPoint: true)
            func u(_ i: Int) -> [Int] { r.q[(i * ldq)..<(i * ldq + k)].map { Int($0) + 128 } }
            #expect(u(0) == [0, 0, 0, 0, 0] && r.zc[0] == 128 && r.s[0] == 0, "isa \(isa): zero row")
            #expect(r.y[0..<n].elementsEqual(bias), "isa \(isa): zero row gives y = bias")
            // lo = −2, r = 2, inv = 127.5, z = 255: u = 255 + round(x·127.5): −127.5 → −128 (tie to even), −255, −63.75 → −64.
            #expect(u(1) == [127, 0, 191, 0, 127] && r.zc[1] == 128 - 255 && r.s[1] == Float(2) / 255, "isa \(isa): negative row \(u(1))")
            // (127−255)+(0−255)+(191−255)+(0−255)+(127−255) = −830: y = fma(−830, 2/255·0.5, bias)
            let s1 = Float(2) / 255 * 0.5
            #expect(r.y[n..<(2 * n)].elementsEqual(bias.map { $0.addingProduct(-830, s1) }), "isa \(isa): negative row y")
            // lo = −1, hi = 1, r = 2, inv = 127.5, z = round(127.5) = 128 (tie to even): 1 → 127.5 → 128 + 128 = 256
            // clamped to 255 − z = 127 first: 255; −1 → −127.5 → −128 → 0; 0.5 → 63.75 → 64 → 192.
            #expect(u(2) == [255, 0, 0, 192, 128] && r.zc[2] == 0, "isa \(isa): NaN row \(u(2))")
            #expect(u(3) == [0, 0, 0, 0, 0] && r.zc[3] == 128 && r.s[3] == .infinity, "isa \(isa): ∞ row")
            #expect(r.y[(3 * n)..<(4 * n)].allSatisfy { $0.isNaN }, "isa \(isa): ∞ row gives NaN")
            #expect(u(4) == [0, 0, 0, 0, 0] && r.s[4] == 0 && r.y[(4 * n)..<(5 * n)].elementsEqual(bias), "isa \(isa): all-NaN row")
        }
    }

    /// Products on every path against the Swift model (Σ (u − z)·w, independent of the kernels' q − 128 and
    /// zc·colsum form), every epilogue variant, and the worst case for vpmaddubsw (u − 128 = −128 against ±127).
    @Test func q8ZeroPointProductsAgreeBitForBitOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 51)
        var c = 0
        for m in [1, 2, 7, 9, 40] {
            for k in [1, 3, 4, 5, 64, 100, 130] {
                for n in [1, 16, 17, 33, 100] {
                    c += 1
                    let ldx = k + 1, ldw = n + 2
                    var x = (0..<(m * ldx)).map { _ in c % 3 == 0 ? max(rng.float(), -0.17) : rng.float() }
                    if c % 4 == 0 { x = x.map { -abs($0) } }  // all negative: many u − 128 = −128
                    let w = (0..<(k * ldw)).map { i in c % 5 == 0 ? (i % 2 == 0 ? 127 : -127) : Int8(rng.int(255) - 127) }
                    let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }
                    let (n0, n1, e, ldy) = Self.variant(c, m: m, n: n, rng: &rng)
                    let y0 = (0..<(m * ldy)).map { _ in rng.float() }
                    let ldq = vla_q8_row_stride(k) + (c % 2 == 0 ? 0 : 5)
                    let (u, z, s) = Self.quantizeZPModel(x, m: m, k: k, ldx: ldx)
                    let want = Self.q8ZPModel(m: m, n0: n0, n1: n1, k: k, u: u, z: z, s: s, w: w, ldw: ldw, wscale: wscale, e: e, y0: y0, ldy: ldy)
                    Self.forEachQ8Path { isa in
                        let got = Self.runQ8(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w, ldw: ldw, wscale: wscale, e: e,
                                             y0: y0, ldy: ldy, ldq: ldq, padding: c % 2 == 0 ? -128 : 77, zeroPoint: true).y
                        let diff = Self.firstDifference(got, want)
                        #expect(diff == nil, "isa \(isa), m \(m) k \(k) n \(n) [\(n0), \(n1)), case \(c): \(diff ?? "")")
                    }
                }
            }
        }
    }

    // MARK: bf16

    @Test func bf16RoundingFollowsTheFormulaOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var values: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0xffc1_2345),
                               .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(bitPattern: 0x7f7f_7fff), Float(bitPattern: 0x7f7f_8000),
                               .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, Float(bitPattern: 0x007f_ffff),
                               Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x3f80_8001), Float(bitPattern: 0xbf81_8000)]
        var rng = Random(state: 41)
        for _ in 0..<3000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next() &* 0x9e37_79b9))) }
        for _ in 0..<500 { values.append(rng.float()) }
        let want = values.map(Self.bf16Round)
        for k in [1, 7, 16, 33, values.count] {
            let m = values.count / k, ldx = k, ldxb = vla_bf16_row_stride(k) + 1
            Self.forEachPath(best: Self.forceBF16) { isa in
                var xb = [UInt16](repeating: 0x5555, count: m * ldxb)
                vla_bf16_round(m, k, values, ldx, &xb, ldxb)
                for i in 0..<m {
                    for p in 0..<k where xb[i * ldxb + p] != want[i * k + p] {
                        Issue.record("isa \(isa), k \(k): \(values[i * k + p]) (\(String(values[i * k + p].bitPattern, radix: 16))) -> \(String(xb[i * ldxb + p], radix: 16)), want \(String(want[i * k + p], radix: 16))")
                    }
                    #expect(xb[(i * ldxb + k)..<(i * ldxb + vla_bf16_row_stride(k))].allSatisfy { $0 == 0 }, "isa \(isa) k \(k): padding")
                    #expect(xb[i * ldxb + vla_bf16_row_stride(k)] == 0x5555, "isa \(isa) k \(k): beyond the stride")
                }
            }
        }
    }

    static func randomBF16(_ rng: inout Random) -> UInt16 { Self.bf16Round(rng.float()) }

    /// Paths 0–2 give the model's bits for every input; path 3 (vdpbf16ps) too, as these inputs have no
    /// denormal values. Path 4 (AMX) sums in another order: it gives the bits of its own model, and stays within
    /// the dot-product bound of path 0 on every shape.
    @Test func bf16ProductsAgreeBitForBitOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 51)
        var c = 0
        for m in Self.ms {
            for k in Self.ks {
                for n in Self.ns {
                    c += 1
                    let ldx = k + 1, ldw = n + 2
                    let x = (0..<(m * ldx)).map { _ in rng.float() }
                    let w = (0..<(k * ldw)).map { _ in Self.randomBF16(&rng) }
                    let (n0, n1, e, ldy) = Self.variant(c, m: m, n: n, rng: &rng)
                    let y0 = (0..<(m * ldy)).map { _ in rng.float() }
                    let ldxb = vla_bf16_row_stride(k) + (c % 2 == 0 ? 0 : 1)
                    var want: [Float]? = nil, wantAMX: [Float]? = nil
                    if m * k * (n1 - n0) <= 300_000 {
                        let xb = x.map(Self.bf16Round)
                        want = Self.bf16Model(m: m, n0: n0, n1: n1, k: k, xb: xb, ldxb: ldx, w: w, ldw: ldw, e: e, y0: y0, ldy: ldy)
                        if vla_bf16_force_isa(99) == 4 {
                            wantAMX = Self.bf16AMXModel(m: m, n0: n0, n1: n1, k: k, xb: xb, ldxb: ldx, w: w, ldw: ldw, e: e, y0: y0, ldy: ldy)
                        }
                    }
                    // S = |bias| + Σ|x̃·w| per element, for path 4's bound (a product of the magnitudes).
                    let absSums = Self.runBF16(m: m, n0: n0, n1: n1, k: k, n: n, x: x.map(abs), ldx: ldx, w: w.map { $0 & 0x7fff }, ldw: ldw,
                                               e: Epilogue(bias: e.bias?.map(abs)), y0: y0, ldy: ldy, ldxb: ldxb).y
                    Self.forEachPath(best: Self.forceBF16) { isa in
                        let got = Self.runBF16(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w, ldw: ldw, e: e, y0: y0,
                                               ldy: ldy, ldxb: ldxb).y
                        if want == nil { want = got }  // isa 0 runs first
                        let context = "isa \(isa), m \(m) k \(k) n \(n) [\(n0), \(n1)), case \(c)"
                        if isa == 4 {
                            let bound = Self.withinTheBound(got, want!, absSums: absSums, m: m, n0: n0, n1: n1, k: k, e: e, y0: y0, ldy: ldy)
                            #expect(bound == nil, "\(context): \(bound ?? "")")
                            if let wantAMX {
                                let diff = Self.firstDifference(got, wantAMX)
                                #expect(diff == nil, "\(context), AMX model: \(diff ?? "")")
                            }
                        } else {
                            let diff = Self.firstDifference(got, want!)
                            #expect(diff == nil, "\(context): \(diff ?? "")")
                        }
                    }
                }
            }
        }
    }

    /// Inputs around the bottom of the exponent range (denormal x, w, bias and running sums) and at the top
    /// (products past the largest float, ±∞, NaN): paths 0–2 give the plain model's bits, path 3 the model with
    /// denormals flushed as vla_kernels.h states, path 4 the AMX model (its order, flushed the same way).
    @Test func bf16ExtremeInputs() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 61)
        func bits(low: Int, high: Int) -> UInt16 {  // a bf16 with a biased exponent in low...high, random sign
            UInt16((rng.next() & 1) << 15) | UInt16(low + rng.int(high - low + 1)) << 7 | UInt16(rng.next() & 0x7f)
        }
        var flushingMatters = false
        for (low, high) in [(0, 140), (0, 70), (0, 64), (110, 254), (60, 200)] {
            for (m, k, n) in [(3, 5, 17), (9, 64, 33), (2, 100, 16)] {
                let x = (0..<(m * k)).map { _ in Self.bf16Value(bits(low: low, high: high)) }
                var w = (0..<(k * n)).map { _ in bits(low: low, high: high) }
                if high > 200 { w[3] = 0x7f80; w[k * n - 1] = 0xffc0 }  // +∞ and a NaN among the weights
                let bias = (0..<n).map { _ in Self.bf16Value(bits(low: low, high: high)) }
                let e = Epilogue(bias: bias)
                let y0 = [Float](repeating: 0, count: m * n)
                let xb = x.map(Self.bf16Round)
                let plain = Self.bf16Model(m: m, n0: 0, n1: n, k: k, xb: xb, ldxb: k, w: w, ldw: n, e: e, y0: y0, ldy: n)
                let flushed = Self.bf16Model(m: m, n0: 0, n1: n, k: k, xb: xb, ldxb: k, w: w, ldw: n, e: e, y0: y0, ldy: n, flush: true)
                let amx = Self.bf16AMXModel(m: m, n0: 0, n1: n, k: k, xb: xb, ldxb: k, w: w, ldw: n, e: e, y0: y0, ldy: n)
                Self.forEachPath(best: Self.forceBF16) { isa in
                    let got = Self.runBF16(m: m, n0: 0, n1: n, k: k, n: n, x: x, ldx: k, w: w, ldw: n, e: e, y0: y0, ldy: n,
                                           ldxb: vla_bf16_row_stride(k)).y
                    let diff = Self.firstDifference(got, isa == 4 ? amx : isa == 3 ? flushed : plain)
                    #expect(diff == nil, "isa \(isa), exponents \(low)...\(high), \(m)×\(k)·\(k)×\(n): \(diff ?? "")")
                }
                if Self.firstDifference(plain, flushed) != nil { flushingMatters = true }
            }
        }
        #expect(flushingMatters, "the denormal cases should tell the two models apart")
    }

    // MARK: tails and threads

    /// Row counts around the 32-row blocks of path 4 (a second row tile of 1–16 rows, none, or a full one), k
    /// around its 64-byte chunks, column ranges ending inside a panel: every path against the models (int8 with
    /// nonzero bytes in the q rows' padding, which must not matter).
    @Test func rowAndDepthTailsOnEveryPath() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 71)
        var c = 0
        for m in [15, 16, 17, 31, 32, 33, 48, 63] {
            for k in [31, 32, 33, 64, 65, 130] {
                c += 1
                let n = 50, ldx = k, ldw = n
                let (n0, n1) = c % 2 == 0 ? (0, n) : (16, 16 + 1 + rng.int(n - 16))
                var e = Epilogue(bias: (0..<n).map { _ in rng.float() })
                if c % 3 == 0 { e.mul = (0..<n).map { _ in rng.float() } }
                if c % 4 == 1 { e.addIsY = true }
                let y0 = (0..<(m * n)).map { _ in rng.float() }
                let x = (0..<(m * ldx)).map { _ in rng.float() }
                let w8 = (0..<(k * ldw)).map { _ in Int8(rng.int(255) - 127) }
                let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }
                let (q, s) = Self.quantizeModel(x, m: m, k: k, ldx: ldx)
                let want8 = Self.q8Model(m: m, n0: n0, n1: n1, k: k, q: q, s: s, w: w8, ldw: ldw, wscale: wscale, e: e, y0: y0, ldy: n)
                Self.forEachQ8Path { isa in
                    let got = Self.runQ8(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w8, ldw: ldw, wscale: wscale, e: e, y0: y0,
                                         ldy: n, ldq: vla_q8_row_stride(k), padding: 99).y
                    let diff = Self.firstDifference(got, want8)
                    #expect(diff == nil, "int8 isa \(isa), m \(m) k \(k) [\(n0), \(n1)): \(diff ?? "")")
                }
                let w16 = (0..<(k * ldw)).map { _ in Self.randomBF16(&rng) }
                let xb = x.map(Self.bf16Round)
                let want16 = Self.bf16Model(m: m, n0: n0, n1: n1, k: k, xb: xb, ldxb: ldx, w: w16, ldw: ldw, e: e, y0: y0, ldy: n)
                let amx16 = Self.bf16AMXModel(m: m, n0: n0, n1: n1, k: k, xb: xb, ldxb: ldx, w: w16, ldw: ldw, e: e, y0: y0, ldy: n)
                Self.forEachPath(best: Self.forceBF16) { isa in
                    let got = Self.runBF16(m: m, n0: n0, n1: n1, k: k, n: n, x: x, ldx: ldx, w: w16, ldw: ldw, e: e, y0: y0, ldy: n,
                                           ldxb: vla_bf16_row_stride(k)).y
                    let diff = Self.firstDifference(got, isa == 4 ? amx16 : want16)
                    #expect(diff == nil, "bf16 isa \(isa), m \(m) k \(k) [\(n0), \(n1)): \(diff ?? "")")
                }
            }
        }
    }

    /// `bytes` bytes that end where an inaccessible page begins (so a read past them faults); 64-byte aligned when
    /// bytes is a multiple of 64.
    static func guarded(_ bytes: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (bytes + page - 1) / page * page
        guard let base = mmap(nil, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            Issue.record("mmap failed")
            return
        }
        defer { munmap(base, size + page) }
        #expect(mprotect(base + size, page, PROT_NONE) == 0)
        body(base + size - bytes)
    }

    /// Every path reads its operands only as far as vla_kernels.h says (q and xb rows up to the row stride, the
    /// packed weights up to their size): each operand ends at an inaccessible page, and the results equal the
    /// models'. (A read past an operand kills the test process.)
    @Test func pathsReadNothingPastTheirOperands() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 91)
        for (m, k, n) in [(1, 33, 17), (17, 100, 50), (33, 64, 16), (40, 130, 33)] {
            let x = (0..<(m * k)).map { _ in rng.float() }
            let w8 = (0..<(k * n)).map { _ in Int8(rng.int(255) - 127) }
            let w16 = (0..<(k * n)).map { _ in Self.randomBF16(&rng) }
            let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }
            let e = Epilogue(bias: (0..<n).map { _ in rng.float() })
            let y0 = [Float](repeating: 0, count: m * n)
            let (qm, sm) = Self.quantizeModel(x, m: m, k: k, ldx: k)
            let want8 = Self.q8Model(m: m, n0: 0, n1: n, k: k, q: qm, s: sm, w: w8, ldw: n, wscale: wscale, e: e, y0: y0, ldy: n)
            let xbm = x.map(Self.bf16Round)
            let want16 = Self.bf16Model(m: m, n0: 0, n1: n, k: k, xb: xbm, ldxb: k, w: w16, ldw: n, e: e, y0: y0, ldy: n)
            let amx16 = Self.bf16AMXModel(m: m, n0: 0, n1: n, k: k, xb: xbm, ldxb: k, w: w16, ldw: n, e: e, y0: y0, ldy: n)
            let ldq = vla_q8_row_stride(k), ldxb = vla_bf16_row_stride(k)
            var s = [Float](repeating: 0, count: m), y = y0
            Self.guarded(vla_q8_packed_bytes(k, n)) { packed in
                Self.guarded(m * ldq) { q in
                    vla_q8_pack(k, n, w8, n, packed)
                    Self.forEachQ8Path { isa in
                        let qp = q.assumingMemoryBound(to: Int8.self)
                        vla_q8_quantize(m, k, x, k, qp, ldq, &s)
                        vla_q8_gemm(m, 0, n, k, qp, ldq, s, packed, n, wscale, e.bias, nil, nil, 0, &y, n)
                        #expect(Self.firstDifference(y, want8) == nil, "int8 isa \(isa), m \(m) k \(k) n \(n)")
                    }
                }
            }
            Self.guarded(vla_bf16_packed_bytes(k, n)) { packed in
                Self.guarded(m * ldxb * 2) { xb in
                    vla_bf16_pack(k, n, w16, n, packed)
                    Self.forEachPath(best: Self.forceBF16) { isa in
                        let xp = xb.assumingMemoryBound(to: UInt16.self)
                        vla_bf16_round(m, k, x, k, xp, ldxb)
                        vla_bf16_gemm(m, 0, n, k, xp, ldxb, packed, n, e.bias, nil, nil, 0, &y, n)
                        #expect(Self.firstDifference(y, isa == 4 ? amx16 : want16) == nil, "bf16 isa \(isa), m \(m) k \(k) n \(n)")
                    }
                }
            }
        }
    }

    /// Several threads in one product at once (different column ranges, as the runtime's column tasks), on the
    /// default paths (path 4 where AMX is usable: every thread loads its own tile configuration): the same bits as
    /// one call.
    @Test func concurrentCallsGiveTheSameBits() {
        let m = 70, k = 200, n = 160, tasks = 5
        var rng = Random(state: 81)
        let x = (0..<(m * k)).map { _ in rng.float() }
        let w8 = (0..<(k * n)).map { _ in Int8(rng.int(255) - 127) }
        let w16 = (0..<(k * n)).map { _ in Self.randomBF16(&rng) }
        let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }, bias = (0..<n).map { _ in rng.float() }
        let p8 = UnsafeMutableRawPointer.allocate(byteCount: vla_q8_packed_bytes(k, n), alignment: 64)
        let p16 = UnsafeMutableRawPointer.allocate(byteCount: vla_bf16_packed_bytes(k, n), alignment: 64)
        defer { p8.deallocate(); p16.deallocate() }
        vla_q8_pack(k, n, w8, n, p8)
        vla_bf16_pack(k, n, w16, n, p16)
        let ldq = vla_q8_row_stride(k), ldxb = vla_bf16_row_stride(k)
        var q = [Int8](repeating: 0, count: m * ldq), s = [Float](repeating: 0, count: m)
        var xb = [UInt16](repeating: 0, count: m * ldxb)
        vla_q8_quantize(m, k, x, k, &q, ldq, &s)
        vla_bf16_round(m, k, x, k, &xb, ldxb)
        var one8 = [Float](repeating: 0, count: m * n), one16 = one8
        vla_q8_gemm(m, 0, n, k, q, ldq, s, p8, n, wscale, bias, nil, nil, 0, &one8, n)
        vla_bf16_gemm(m, 0, n, k, xb, ldxb, p16, n, bias, nil, nil, 0, &one16, n)
        let y8 = UnsafeMutablePointer<Float>.allocate(capacity: m * n), y16 = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { y8.deallocate(); y16.deallocate() }
        // The tasks write disjoint column ranges of y8 and y16 and only read the rest.
        nonisolated(unsafe) let shared = (p8: p8, p16: p16, y8: y8, y16: y16)
        let (qs, ss, xbs) = (q, s, xb)
        for _ in 0..<20 {
            y8.initialize(repeating: .nan, count: m * n)
            y16.initialize(repeating: .nan, count: m * n)
            DispatchQueue.concurrentPerform(iterations: tasks) { t in
                let c0 = t * 32, c1 = min(n, c0 + 32)
                vla_q8_gemm(m, c0, c1, k, qs, ldq, ss, shared.p8, n, wscale, bias, nil, nil, 0, shared.y8, n)
                vla_bf16_gemm(m, c0, c1, k, xbs, ldxb, shared.p16, n, bias, nil, nil, 0, shared.y16, n)
            }
            #expect(Self.firstDifference(Array(UnsafeBufferPointer(start: y8, count: m * n)), one8) == nil, "int8, isa \(vla_q8_isa())")
            #expect(Self.firstDifference(Array(UnsafeBufferPointer(start: y16, count: m * n)), one16) == nil, "bf16, isa \(vla_bf16_isa())")
        }
    }

    // MARK: defaults

    @Test func defaultPaths() {
        KernelPaths.exclusive { Self.checkDefaultPaths() }
    }

    static func checkDefaultPaths() {
        let defaults = Defaults()
        defer { defaults.restore() }
        let q8Best = vla_q8_force_isa(99), bf16Best = vla_bf16_force_isa(99)
        #expect(defaults.q8 == q8Best, "int8: the best path by default")
        #if arch(arm64)
        #expect(defaults.bf16 == bf16Best, "bf16: the best path by default, BFMMLA where FEAT_BF16 exists (see vla_kernels.h)")
        #else
        #expect(defaults.bf16 == (bf16Best == 4 ? 4 : min(bf16Best, 2)), "bf16: AMX, else AVX-512F before AVX-512 BF16 (see vla_kernels.h)")
        #endif
        #expect(vla_q8_force_isa(-5) == 0 && vla_bf16_force_isa(-5) == 0)
        // int8 path 1 uses AVX-VNNI by default exactly where the CPU has it (force(1) reports that).
        #expect(defaults.avxVNNI == vla_q8_force_avx_vnni(1), "AVX-VNNI: on by default where the CPU has it")
        #expect(vla_q8_force_avx_vnni(0) == 0)
    }

    // MARK: float64 references

    struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var kind: String
            var m: Int
            var k: Int
            var n: Int
            var x: [Float]
            var w: [Int]
            var wscale: [Float]?
            var bias: [Float]?
            var mul: [Float]?
            var add: [Float]?
            var q: [Int]
            var z: [Int]?
            var s: [Float]?
            var acc: [Int]?
            var y: [Double]
            var tol: [Double]
        }
        var command: String
        var cases: [Case]
    }

    @Test func matchesFloat64References() throws {
        let defaults = Defaults()
        defer { defaults.restore() }
        let url = OpFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/VLARuntime/quant.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.command.hasSuffix("Tests/Reference/gen_quant_reference.py"))
        #expect(fixture.cases.count >= 8 && fixture.cases.contains { $0.kind == "q8zp" })
        for c in fixture.cases {
            let (m, k, n) = (c.m, c.k, c.n)
            let e = Epilogue(bias: c.bias, mul: c.mul, add: c.add, ldadd: n)
            let y0 = [Float](repeating: .nan, count: m * n)
            if c.kind == "q8" || c.kind == "q8zp" {
                let zp = c.kind == "q8zp"
                let w = c.w.map { Int8($0) }
                let ldq = vla_q8_row_stride(k)
                Self.forEachQ8Path { isa in
                    let r = Self.runQ8(m: m, n0: 0, n1: n, k: k, n: n, x: c.x, ldx: k, w: w, ldw: n, wscale: c.wscale!, e: e, y0: y0, ldy: n, ldq: ldq,
                                       zeroPoint: zp)
                    for i in 0..<m {
                        // q8zp: the fixture's u in [0, 255] is stored as u − 128, its z as zc = 128 − z.
                        #expect(r.q[(i * ldq)..<(i * ldq + k)].map { Int($0) + (zp ? 128 : 0) } == Array(c.q[(i * k)..<(i * k + k)]), "\(c.name) isa \(isa) row \(i): q")
                        #expect(r.s[i].bitPattern == c.s![i].bitPattern, "\(c.name) isa \(isa) row \(i): s")
                        if zp { #expect(Int(r.zc[i]) == 128 - c.z![i], "\(c.name) isa \(isa) row \(i): z") }
                    }
                    // The exact sums: unit scales and no epilogue give y = f32(acc), exact below 2²⁴.
                    let ones = [Float](repeating: 1, count: max(m, n))
                    let packed = UnsafeMutableRawPointer.allocate(byteCount: vla_q8_packed_bytes(k, n), alignment: 64)
                    defer { packed.deallocate() }
                    vla_q8_pack(k, n, w, n, packed)
                    var acc = [Float](repeating: 0, count: m * n)
                    vla_q8_gemm_zp(m, 0, n, k, r.q, ldq, ones, zp ? r.zc : nil, packed, n, ones, nil, nil, nil, 0, &acc, n)
                    #expect(acc.map { Int($0) } == c.acc!, "\(c.name) isa \(isa): exact sums")
                    for i in 0..<(m * n) where !(abs(Double(r.y[i]) - c.y[i]) <= c.tol[i]) {
                        Issue.record("\(c.name) isa \(isa) element \(i): \(r.y[i]) vs \(c.y[i]) ± \(c.tol[i])")
                    }
                }
            } else {
                let w = c.w.map { UInt16($0) }
                Self.forEachPath(best: Self.forceBF16) { isa in
                    let r = Self.runBF16(m: m, n0: 0, n1: n, k: k, n: n, x: c.x, ldx: k, w: w, ldw: n, e: e, y0: y0, ldy: n,
                                         ldxb: vla_bf16_row_stride(k))
                    let ldxb = vla_bf16_row_stride(k)
                    for i in 0..<m {
                        #expect(r.xb[(i * ldxb)..<(i * ldxb + k)].map { Int($0) } == Array(c.q[(i * k)..<(i * k + k)]), "\(c.name) isa \(isa) row \(i): bf16 x")
                    }
                    for i in 0..<(m * n) where !(abs(Double(r.y[i]) - c.y[i]) <= c.tol[i]) {
                        Issue.record("\(c.name) isa \(isa) element \(i): \(r.y[i]) vs \(c.y[i]) ± \(c.tol[i])")
                    }
                }
            }
        }
    }

    /// vla_q8_gemm_act / vla_bf16_gemm_act: the product then vla_unary's function, the bits of the product
    /// followed by `Kernels.unary` on every path; 1 (applied inside the kernel) exactly where the product runs on
    /// AMX and the element-wise functions have their AVX-512 path, else 0 with only the product done.
    @Test func productsWithTheActivationFusedGiveTheBitsOfTheTwoSteps() {
        let defaults = Defaults()
        defer { defaults.restore() }
        var rng = Random(state: 77)
        let acts: [Unary] = [.geluErf, .geluTanh, .tanh, .scaledTanh(bound: 2.5)]
        var c = 0
        for (m, k, n) in [(1, 5, 17), (33, 64, 48), (70, 100, 70), (40, 768, 100)] {
            for (int8, zp) in [(true, false), (true, true), (false, false)] {
                c += 1
                let f = acts[c % acts.count]
                let (act, param) = Kernels.unaryKind(f)
                let x = (0..<(m * k)).map { _ in rng.float() }
                let wscale = (0..<n).map { _ in abs(rng.float()) / 64 }
                let bias = (0..<n).map { _ in rng.float() }
                let mul: [Float]? = c % 3 == 0 ? (0..<n).map { _ in rng.float() } : nil
                let add: [Float]? = c % 2 == 0 ? (0..<(m * n)).map { _ in rng.float() } : nil
                let n0 = n > 16 ? 16 : 0, n1 = n
                let ld = int8 ? vla_q8_row_stride(k) : vla_bf16_row_stride(k)
                let bytes = int8 ? vla_q8_packed_bytes(k, n) : vla_bf16_packed_bytes(k, n)
                let packed = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
                defer { packed.deallocate() }
                let w8 = (0..<(k * n)).map { _ in Int8(rng.int(255) - 127) }
                let wb = (0..<(k * n)).map { _ in Self.bf16Round(rng.float() / 8) }
                if int8 { vla_q8_pack(k, n, w8, n, packed) } else { vla_bf16_pack(k, n, wb, n, packed) }
                var q = [Int8](repeating: 0, count: m * ld), s = [Float](repeating: 0, count: m)
                var zc = [Int32](repeating: 0, count: m)
                var xb = [UInt16](repeating: 0, count: m * ld)
                if int8 && zp {
                    vla_q8_quantize_zp(m, k, x, k, &q, ld, &s, &zc)
                } else if int8 {
                    vla_q8_quantize(m, k, x, k, &q, ld, &s)
                } else {
                    vla_bf16_round(m, k, x, k, &xb, ld)
                }
                let y0 = (0..<(m * n)).map { _ in rng.float() }
                func product(_ act: Int32) -> (y: [Float], applied: Int32) {
                    var y = y0
                    let applied = Self.withOptional(mul) { mul in
                        Self.withOptional(add) { add in
                            int8 && zp
                                ? vla_q8_gemm_zp_act(m, n0, n1, k, q, ld, s, zc, packed, n, wscale, bias, mul, add, n, &y, n, act, param)
                                : int8
                                ? vla_q8_gemm_act(m, n0, n1, k, q, ld, s, packed, n, wscale, bias, mul, add, n, &y, n, act, param)
                                : vla_bf16_gemm_act(m, n0, n1, k, xb, ld, packed, n, bias, mul, add, n, &y, n, act, param)
                        }
                    }
                    return (y, applied)
                }
                func activate(_ y: inout [Float]) {
                    y.withUnsafeMutableBufferPointer { b in
                        for i in 0..<m {
                            let row = b.baseAddress! + i * n + n0
                            Kernels.unary(f, UnsafePointer(row), row, from: 0, to: n1 - n0)
                        }
                    }
                }
                let forEach: ((Int) -> Void) -> Void = int8 ? { Self.forEachQ8Path($0) } : { Self.forEachPath(best: vla_bf16_force_isa, $0) }
                forEach { isa in
                    var want = product(0)
                    #expect(want.applied == 0)
                    activate(&want.y)
                    var got = product(act)
                    #expect(got.applied == (isa == 4 && vla_kernels_isa() == 2 ? 1 : 0), "isa \(isa)")
                    if got.applied == 0 { activate(&got.y) }
                    let diff = Self.firstDifference(got.y, want.y)
                    #expect(diff == nil, "\(int8 ? zp ? "int8 zero point" : "int8" : "bf16") isa \(isa) \(f), m \(m) k \(k) n \(n): \(diff ?? "")")
                }
            }
        }
    }
}
