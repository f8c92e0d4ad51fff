/// Vectorized elementary functions the kernels use, on 16 f32 lanes.
///
/// Each is written for the accuracy documented in `Schemas/vla-format.md` §8.1–8.2 and measured against numpy's float64
/// functions by the op tests; none depends on the platform's libm, so results are the same on every machine
/// that runs the same build.
enum VectorMath {
    typealias V = SIMD16<Float>

    /// `e^x`, relative error ≤ 2 ulp for x in [−87.3, 88.7]; 0 below −87.3, +∞ above 88.72.
    ///
    /// Range reduction `x = n·ln2 + r` with a two-part ln2, |r| ≤ ln2/2, then the degree-7 Taylor
    /// polynomial of e^r (truncation error < 5e-9 relative) and a scale by 2^n built from the exponent bits.
    @inline(__always)
    static func exp(_ x: V) -> V {
        let log2e: Float = 1.442_695_04
        let ln2Hi: Float = 0.693_145_751_953_125  // ln 2 with its low 12 mantissa bits cleared
        let ln2Lo: Float = 1.428_606_765_330_187e-6  // ln 2 − ln2Hi
        let lo: Float = -87.336_544_75, hi: Float = 88.722_839
        var xc = x.replacing(with: lo, where: x .< lo)
        xc.replace(with: hi, where: xc .> hi)
        // Round x·log2(e) to the nearest integer with the 1.5·2²³ trick: after the add, the low mantissa bits
        // hold n (two's complement in the low 22 bits) and the subtraction gives n as a float.
        let magic: Float = 12_582_912  // 1.5 · 2²³
        let shifted = xc * log2e + magic
        let n = shifted - magic
        var r = xc - n * ln2Hi
        r = r - n * ln2Lo
        // Horner on 1 + r + r²/2! + … + r⁷/7!
        var p = V(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n for n in [−126, 128]: two factors 2^⌊n/2⌋ · 2^(n−⌊n/2⌋), each a normal float.
        let ni = (unsafe unsafeBitCast(shifted, to: SIMD16<Int32>.self) &<< 10) &>> 10
        let half = ni &>> 1
        let f1 = unsafe unsafeBitCast((half &+ 127) &<< 23, to: V.self)
        let f2 = unsafe unsafeBitCast((ni &- half &+ 127) &<< 23, to: V.self)
        var y = p * f1 * f2
        y.replace(with: 0, where: x .< lo)
        y.replace(with: .infinity, where: x .> hi)
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

    /// `erf(x)`: |x| < 0.6 a Maclaurin series, otherwise Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7 plus
    /// f32 rounding; the bound the tests check is in Schemas/vla-format.md §8.2).
    ///
    /// `erf(|x|) = 1 − (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−x²)`, `t = 1/(1 + p|x|)`, odd extension.
    @inline(__always)
    static func erf(_ x: V) -> V {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * a)
        var p = V(repeating: 1.061_405_429)
        p = p * t + -1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t + -0.284_496_736
        p = p * t + 0.254_829_592
        p = p * t
        var y = 1 - p * exp(-(a * a))
        y.replace(with: -y, where: x .< 0)
        // |x| < 0.6: the Maclaurin series (2/√π)·Σ (−1)ᵏ x²ᵏ⁺¹/(k!(2k+1)) through x¹⁵ avoids the cancellation
        // in 1 − p·e^(−x²) (truncation < 3e-10).
        let s = x * x
        var q = V(repeating: -1.0 / 75_600)
        q = q * s + 1.0 / 9_360
        q = q * s + -1.0 / 1_320
        q = q * s + 1.0 / 216
        q = q * s + -1.0 / 42
        q = q * s + 1.0 / 10
        q = q * s + -1.0 / 3
        q = q * s + 1
        y.replace(with: 1.128_379_167_095_512_6 * x * q, where: a .< 0.6)
        y.replace(with: x, where: x .!= x)
        return y
    }
}

