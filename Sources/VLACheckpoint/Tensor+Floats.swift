extension Tensor {
    /// The elements converted to `Float`, in C order.
    ///
    /// Every ``DType`` converts: floats exactly or rounded to nearest (`F64`), integers rounded to the
    /// nearest `Float`, `BOOL` as 0 or 1, `C64` as (real, imaginary) pairs (`2 × elementCount` floats).
    /// - Complexity: O(elementCount); allocates the result.
    public func floats() -> [Float] {
        let n = elementCount * dtype.floatsPerElement
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            data.withUnsafeBytes { raw in FloatConversion.convert(raw, dtype: dtype, count: elementCount, into: out) }
            initialized = n
        }
    }
}

/// Element decoding from little-endian bytes.
enum FloatConversion {
    /// IEEE half to float.
    static func half(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            let v = Float(mant) * 0x1p-24
            return sign == 0 ? v : -v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }

    /// bfloat16 to float.
    static func bfloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// float8 e4m3fn to float (no infinities; S.1111.111 is NaN).
    static func e4m3(_ b: UInt8) -> Float {
        let neg = b & 0x80 != 0
        let exp = Int((b >> 3) & 0xF)
        let mant = Float(b & 0x7)
        let v: Float
        if exp == 15 && b & 0x7 == 7 { v = .nan }
        else if exp == 0 { v = mant * 0x1p-9 }
        else { v = (1 + mant / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1) }
        return neg ? -v : v
    }

    /// float8 e5m2 to float (IEEE-like: infinities and NaNs).
    static func e5m2(_ b: UInt8) -> Float { half(UInt16(b) << 8) }

    /// float8 e4m3fnuz (bias 8) and e5m2fnuz (bias 16): no infinities, no negative zero, 0x80 is NaN.
    static func fnuz(_ b: UInt8, mantissaBits: Int, bias: Int) -> Float {
        if b == 0x80 { return .nan }
        let neg = b & 0x80 != 0
        let exp = Int(b & 0x7F) >> mantissaBits
        let mant = Float(Int(b) & ((1 << mantissaBits) - 1))
        let scale = Float(1 << mantissaBits)
        let v = exp == 0 ? mant / scale * Float(sign: .plus, exponent: 1 - bias, significand: 1)
                         : (1 + mant / scale) * Float(sign: .plus, exponent: exp - bias, significand: 1)
        return neg ? -v : v
    }

    /// float8 e8m0fnu: 2^(b − 127); 0xFF is NaN.
    static func e8m0(_ b: UInt8) -> Float {
        b == 0xFF ? .nan : Float(sign: .plus, exponent: Int(b) - 127, significand: 1)
    }
}

extension Tensor {
    /// Float `index` of ``floats()`` (the element in C order; for `C64`, the real or imaginary part),
    /// or nil if `index` is out of range.
    public func float(at index: Int) -> Float? {
        let per = dtype.floatsPerElement
        guard index >= 0, index < elementCount * per else { return nil }
        if per == 2 {
            guard let part = try? data.slice(index * 4, 4, "element") else { return nil }
            return part.withUnsafeBytes { raw in FloatConversion.single(raw, dtype: .f32) }
        }
        guard let one = try? data.slice(index * dtype.byteWidth, dtype.byteWidth, "element") else { return nil }
        return one.withUnsafeBytes { raw in FloatConversion.single(raw, dtype: dtype) }
    }
}
