import CVLAKernels
import VLAFormat

/// The kernels. Every function here trusts its sizes: the planner derived them from checked shapes.
enum Kernels {
    typealias V = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { unsafe UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { unsafe UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// Loads `n < 16` floats, padding with `fill`.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float) -> V {
        var v = V(repeating: fill)
        for i in 0..<n { v[i] = unsafe p[i] }
        return v
    }

    @inline(__always)
    static func storePartial(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { unsafe p[i] = v[i] }
    }

    // MARK: element-wise

    @inline(__always)
    static func apply(_ f: Unary, _ x: V) -> V {
        switch f {
        case .relu:
            var y = x
            y.replace(with: 0, where: x .< 0)
            return y
        case .geluErf:
            return 0.5 * x * (1 + VectorMath.erf(x * 0.707_106_781_186_547_524_4))
        case .geluTanh:
            let inner = 0.797_884_560_802_865_355_9 * (x + 0.044_715 * (x * x * x))
            return 0.5 * x * (1 + VectorMath.tanh(inner))
        case .tanh:
            return VectorMath.tanh(x)
        case .scaledTanh(let bound):
            return bound * VectorMath.tanh(x / bound)
        case .threshold(let t):
            var y = V(repeating: 0)
            y.replace(with: 1, where: x .>= t)
            return y
        }
    }

    /// `f` as vla_unary's function and parameter, or kind 0 for the functions only Swift runs (relu, threshold).
    static func unaryKind(_ f: Unary) -> (Int32, Float) {
        switch f {
        case .geluTanh: (Int32(VLA_GELU_TANH), 0)
        case .geluErf: (Int32(VLA_GELU_ERF), 0)
        case .tanh: (Int32(VLA_TANH), 0)
        case .scaledTanh(let bound): (Int32(VLA_SCALED_TANH), bound)
        case .relu, .threshold: (0, 0)
        }
    }

    /// `y[i] = f(x[i])` for i in `from..<to` (x may equal y).
    static func unary(_ f: Unary, _ x: ConstFloatPointer, _ y: FloatPointer, from: Int, to: Int) {
        // The transcendental ones run in C with AVX-512 or AVX2 + FMA (x86) or Advanced SIMD (aarch64) where available
        // (Sources/CVLAKernels/elementwise.c: the same operations in the same order, so the same bits); the Swift
        // loops below are the fallback.
        if to > from {
            let (kind, param) = unaryKind(f)
            if kind != 0, unsafe vla_unary(kind, param, x + from, y + from, to - from) != 0 { return }
        }
        var i = from
        switch f {
        case .relu:
            while i + 16 <= to { unsafe store(apply(.relu, load(x + i)), y + i); i += 16 }
        case .geluErf:
            while i + 16 <= to { unsafe store(apply(.geluErf, load(x + i)), y + i); i += 16 }
        case .geluTanh:
            while i + 16 <= to { unsafe store(apply(.geluTanh, load(x + i)), y + i); i += 16 }
        default:
            while i + 16 <= to { unsafe store(apply(f, load(x + i)), y + i); i += 16 }
        }
        if i < to { unsafe storePartial(apply(f, loadPartial(x + i, to - i, fill: 0)), y + i, to - i) }
    }

    /// `y = a ± b` with b repeating every `bCount` elements, for i in `from..<to`.
    static func binary(multiply: Bool, _ a: ConstFloatPointer, _ b: ConstFloatPointer, _ y: FloatPointer, bCount: Int, from: Int, to: Int) {
        var i = from
        while i < to {
            let j = i % bCount
            let run = min(to - i, bCount - j)
            var e = 0
            if multiply {
                while e + 16 <= run { unsafe store(load(a + i + e) * load(b + j + e), y + i + e); e += 16 }
                while e < run { unsafe y[i + e] = a[i + e] * b[j + e]; e += 1 }
            } else {
                while e + 16 <= run { unsafe store(load(a + i + e) + load(b + j + e), y + i + e); e += 16 }
                while e < run { unsafe y[i + e] = a[i + e] + b[j + e]; e += 1 }
            }
            i += run
        }
    }

    // MARK: row-wise

    /// Sum of `n` floats: 16 lane partial sums in index order, then the lanes added in order.
    @inline(__always)
    static func sum(_ x: ConstFloatPointer, _ n: Int) -> Float {
        var acc = V()
        var i = 0
        while i + 16 <= n { acc += unsafe load(x + i); i += 16 }
        if i < n { acc += unsafe loadPartial(x + i, n - i, fill: 0) }
        return acc.sum()
    }

    /// LayerNorm (`center`) or RMS norm of one row (the reference of `vla_norm_rows`, which runs instead where the
    /// CPU has a fast path: `Interpreter.rowLoop`).
    static func normRow(_ x: ConstFloatPointer, _ gamma: ConstFloatPointer, _ beta: ConstFloatPointer?, _ y: FloatPointer, d: Int, eps: Float, center: Bool) {
        let mean: Float = center ? unsafe sum(x, d) / Float(d) : 0
        let m = V(repeating: mean)
        var acc = V()
        var i = 0
        while i + 16 <= d { let c = unsafe load(x + i) - m; acc += c * c; i += 16 }
        if i < d { let c = unsafe loadPartial(x + i, d - i, fill: mean) - m; acc += c * c }
        let variance = acc.sum() / Float(d)
        let inv = 1 / (variance + eps).squareRoot()
        i = 0
        if let beta = unsafe beta {
            while i + 16 <= d { unsafe store((load(x + i) - m) * inv * load(gamma + i) + load(beta + i), y + i); i += 16 }
            while i < d { unsafe y[i] = (x[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
        } else {
            while i + 16 <= d { unsafe store((load(x + i) - m) * inv * load(gamma + i), y + i); i += 16 }
            while i < d { unsafe y[i] = (x[i] - mean) * inv * gamma[i]; i += 1 }
        }
    }

    /// Softmax of one row in place or out of place: max-subtracted, `e^(x − max) · (1/Σ)`.
    static func softmaxRow(_ x: ConstFloatPointer, _ y: FloatPointer, n: Int) {
        if unsafe vla_softmax_row(x, y, n) != 0 { return }  // AVX-512, AVX2 or Advanced SIMD: the same bits (elementwise.c)
        var mx = V(repeating: -.infinity)
        var i = 0
        while i + 16 <= n { let v = unsafe load(x + i); mx.replace(with: v, where: v .> mx); i += 16 }
        if i < n { let v = unsafe loadPartial(x + i, n - i, fill: -.infinity); mx.replace(with: v, where: v .> mx) }
        var top = mx[0]
        for l in 1..<16 where mx[l] > top { top = mx[l] }
        let m = V(repeating: top)
        var acc = V()
        i = 0
        while i + 16 <= n { let e = VectorMath.exp(unsafe load(x + i) - m); unsafe store(e, y + i); acc += e; i += 16 }
        if i < n {
            var e = VectorMath.exp(unsafe loadPartial(x + i, n - i, fill: 0) - m)
            for l in (n - i)..<16 { e[l] = 0 }
            unsafe storePartial(e, y + i, n - i)
            acc += e
        }
        let inv = V(repeating: 1 / acc.sum())
        i = 0
        while i + 16 <= n { unsafe store(load(y + i) * inv, y + i); i += 16 }
        while i < n { unsafe y[i] *= inv[0]; i += 1 }
    }

    static func l2Row(_ x: ConstFloatPointer, _ y: FloatPointer, d: Int, eps: Float) {
        var acc = V()
        var i = 0
        while i + 16 <= d { let v = unsafe load(x + i); acc += v * v; i += 16 }
        if i < d { let v = unsafe loadPartial(x + i, d - i, fill: 0); acc += v * v }
        let norm = acc.sum().squareRoot()
        let inv = 1 / max(norm, eps)
        for j in 0..<d { unsafe y[j] = x[j] * inv }
    }

    // MARK: conversion

    /// Converts elements `from..<to` of `c` to f32 into `y` (same indices).
    static func convert(_ c: Conversion, into y: FloatPointer, from: Int, to: Int) {
        let s = unsafe c.source
        switch unsafe c.dtype {
        case .f32:
            for i in from..<to { unsafe y[i] = Float(bitPattern: UInt32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .f16:
            for i in from..<to {
                let bits = UInt16(littleEndian: unsafe s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                unsafe y[i] = halfToFloat(bits)
            }
        case .bf16:
            for i in from..<to {
                let bits = UInt16(littleEndian: unsafe s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                unsafe y[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .i8:
            let scale = unsafe c.scale
            for i in from..<to {
                let q = Int8(bitPattern: unsafe s.loadUnaligned(fromByteOffset: i, as: UInt8.self))
                unsafe y[i] = Float(q) * (scale?[i % c.lastAxis] ?? 1)
            }
        case .u8:
            for i in from..<to { unsafe y[i] = Float(s.loadUnaligned(fromByteOffset: i, as: UInt8.self)) }
        case .i32:
            for i in from..<to { unsafe y[i] = Float(Int32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
        }
    }

    /// IEEE binary16 bits to f32, exactly (subnormals, infinities and NaN included).
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^−24, exact in f32.
            let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }
}
