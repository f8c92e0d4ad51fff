/// Vectorized elementary functions the kernels use, on 16 f32 lanes.
///
/// Each is written for the accuracy documented in `Schemas/vla-format.md` §8.1–8.2 and measured against numpy's float64
/// functions by the op tests; none depends on the platform's libm (beyond a correctly rounded `fmaf` where the
/// target has no FMA instruction, see `fma`), so results are the same on every machine that runs the same build.
enum VectorMath {
    typealias V = SIMD16<Float>

    /// `a·b + c` with one rounding (IEEE fusedMultiplyAdd), lane by lane.
    ///
    /// LLVM lowers it to `llvm.fma`: one fused instruction where the target has FMA (aarch64, x86 with FMA
    /// enabled), a call of libm's correctly rounded `fmaf` per lane in a baseline x86-64 build (correct, slow: on
    /// x86 this Swift code runs only where the C kernels have no path, i.e. CPUs without AVX2 + FMA, and in tests).
    @inline(__always)
    static func fma(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }

    /// `e^x`, relative error ≤ 2 ulp for x in [−87.3, 88.7]; 0 below −87.336545, +∞ above 88.72284.
    ///
    /// Range reduction `x = n·ln2 + r` with a two-part ln2 (both steps fused), |r| ≤ ln2/2, then a degree-6
    /// polynomial `1 + r + r²·(c₂ + c₃r + … + c₆r⁴)` fitted to e^r (relative error < 1e-8 before rounding),
    /// evaluated as 6 fused Horner steps, and a scale by 2^n built from the exponent bits. The clamps are
    /// `x < lo ? lo : x` and `x > 89 ? 89 : x` (a NaN passes through both); above 88.72284, `p·2^128` overflows to +∞.
    @inline(__always)
    static func exp(_ x: V) -> V {
        let log2e = Float(bitPattern: 0x3FB8_AA3B)  // 1.442695
        let ln2Hi = Float(bitPattern: 0x3F31_7200)  // ln 2 with its low 12 mantissa bits cleared: n·ln2Hi is exact
        let ln2Lo = Float(bitPattern: 0x35BF_BE8E)  // ln 2 − ln2Hi
        let lo = Float(bitPattern: 0xC2AE_AC50)  // −87.336545: e^lo ≈ 2⁻¹²⁶, the smallest normal
        let hi = Float(bitPattern: 0x42B2_0000)  // 89: n ≤ 128 after the clamp
        var xc = x.replacing(with: lo, where: x .< lo)
        xc.replace(with: hi, where: xc .> hi)
        // Round x·log2(e) to the nearest integer with the 1.5·2²³ trick: after the add, the low mantissa bits
        // hold n (two's complement in the low 22 bits) and the subtraction gives n as a float.
        let magic: Float = 12_582_912  // 1.5 · 2²³
        let shifted = fma(xc, V(repeating: log2e), V(repeating: magic))
        let n = shifted - magic
        var r = fma(n, V(repeating: -ln2Hi), xc)
        r = fma(n, V(repeating: -ln2Lo), r)
        var p = V(repeating: Float(bitPattern: 0x3AB4_28C4))  // c₆ …
        p = fma(p, r, V(repeating: Float(bitPattern: 0x3C09_1DEF)))
        p = fma(p, r, V(repeating: Float(bitPattern: 0x3D2A_ADCC)))
        p = fma(p, r, V(repeating: Float(bitPattern: 0x3E2A_AA47)))
        p = fma(p, r, V(repeating: Float(bitPattern: 0x3EFF_FFFC)))  // … c₂
        p = fma(p, r, V(repeating: 1))
        p = fma(p, r, V(repeating: 1))
        // 2^n for n in [−126, 128]: two factors 2^⌊n/2⌋ · 2^(n−⌊n/2⌋), each a normal float.
        let ni = (unsafe unsafeBitCast(shifted, to: SIMD16<Int32>.self) &<< 10) &>> 10
        let half = ni &>> 1
        let f1 = unsafe unsafeBitCast((half &+ 127) &<< 23, to: V.self)
        let f2 = unsafe unsafeBitCast((ni &- half &+ 127) &<< 23, to: V.self)
        var y = p * f1 * f2
        y.replace(with: 0, where: x .< lo)
        return y
    }

    /// `tanh(x)`, absolute error ≤ 2e-7 (and relative ≤ 4 ulp).
    ///
    /// |x| < 0.4: the odd Taylor series to x¹⁵; otherwise `(1 − t)/(1 + t)` with `t = e^(−2|x|)`, sign restored.
    @inline(__always)
    static func tanh(_ x: V) -> V {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = exp(-2 * a)
        var big = (1 - t) / (1 + t)
        big.replace(with: 1, where: a .> 9.1)
        let s = x * x
        var p = V(repeating: Float(-929_569.0 / 638_512_875.0 as Double))
        p = p * s + 21_844.0 / 6_081_075
        p = p * s + -1_382.0 / 155_925
        p = p * s + 62.0 / 2_835
        p = p * s + -17.0 / 315
        p = p * s + 2.0 / 15
        p = p * s + -1.0 / 3
        let small = x + x * s * p
        var y = big
        y.replace(with: -big, where: x .< 0)
        y.replace(with: small, where: a .< 0.4)
        // NaN propagates through `small`'s arithmetic only when selected; keep NaN explicit.
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// Coefficient c_j of erf's eight polynomials (`erf`), by bit pattern: lane k is interval k's.
    @inline(__always)
    static func erfCoefficients(_ j: Int) -> SIMD8<UInt32> {
        switch j {
        case 0: SIMD8(0x0000_0000, 0x3F05_3F7B, 0x3F57_BB3D, 0x3F77_52AB, 0x3F7E_CD71, 0x3F7F_E554, 0x3F7F_FE8D, 0x3F7F_FFF4)
        case 1: SIMD8(0x3F90_6EBB, 0x3F60_F7E8, 0x3ED4_8906, 0x3DF3_91A8, 0x3CA9_4D9C, 0x3B0E_C1C9, 0x3912_0768, 0x36B3_8EA8)
        case 2: SIMD8(0xB6B1_889E, 0xBEE0_F7F4, 0xBED4_88C7, 0xBE36_ADDF, 0xBD29_50A5, 0xBBB2_53B5, 0xB9D9_8597, 0xB7A9_D0CA)
        case 3: SIMD8(0xBEC0_8169, 0xBE15_FFBA, 0x3E0D_A2F2, 0x3E0E_193D, 0x3D45_9200, 0x3C08_C732, 0x3A4E_7ECF, 0x3841_C792)
        case 4: SIMD8(0xBAD0_7C88, 0x3E3B_7511, 0x3D8D_9FD6, 0xBD36_5CE9, 0xBD0C_C1DE, 0xBC0F_2439, 0xBA94_AEB9, 0xB872_B397)
        case 5: SIMD8(0x3DF9_749A, 0x3C01_BFDE, 0xBD8A_497C, 0xBC7B_F708, 0x3C50_496F, 0x3BCA_5A82, 0x3A8A_F22A, 0x37FE_9C3B)
        default: SIMD8(0xBCCA_01CF, 0xBD49_0F95, 0x3B94_0519, 0x3C97_15D1, 0xB90E_5F2B, 0xBAE5_287E, 0x387D_E412, 0xB5C6_A22B)
        }
    }

    /// `erf(x)`: one of eight degree-6 polynomials in `t = min(|x|, 4) − k/2`, chosen by `k = min(round(2·min(|x|, 4)), 7)`
    /// (no division, no exp, no branch select), sign restored; absolute error ≤ 1e-7, relative ≤ 4 ulp near 0
    /// (Schemas/vla-format.md §8.2).
    ///
    /// Interval 0 (|x| ≤ 0.25, t = |x|) has c₀ = 0 and is fitted for relative error, so tiny |x| keep their
    /// precision; interval 7 covers [3.25, 4], where erf rounds to 1 at the clamp. The C kernels look the
    /// coefficients up with a lane permute (vpermps, vqtbl2q); here a lane loop does.
    @inline(__always)
    static func erf(_ x: V) -> V {
        let bits = unsafe unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let sign = bits & 0x8000_0000
        let a = unsafe unsafeBitCast(bits & 0x7FFF_FFFF, to: V.self)
        let ac = a.replacing(with: 4, where: a .> 4)  // a NaN passes through
        // k = round(2·ac) (exact product; ties to even) in the low mantissa bits of 1.5·2²³ + 2·ac, at most 7.
        let magic: Float = 12_582_912, last: Float = 12_582_919  // 1.5 · 2²³ and 1.5 · 2²³ + 7
        var shifted = ac * 2 + magic
        shifted.replace(with: last, where: shifted .> last)
        let t = ac - (shifted - magic) * 0.5  // exact: |t| ≤ 0.75 and a multiple of ac's ulp
        let k = unsafe unsafeBitCast(shifted, to: SIMD16<UInt32>.self) & 7
        func coefficient(_ j: Int) -> V {
            let table = erfCoefficients(j)
            var c = V()
            for l in 0..<16 { c[l] = Float(bitPattern: table[Int(k[l])]) }
            return c
        }
        var p = coefficient(6)
        for j in (0..<6).reversed() { p = fma(p, t, coefficient(j)) }
        return unsafe unsafeBitCast(unsafe unsafeBitCast(p, to: SIMD16<UInt32>.self) | sign, to: V.self)
    }
}

