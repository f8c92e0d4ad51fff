extension FloatConversion {
    /// Decodes `count` elements of `dtype` from `raw` into `out`.
    /// - Warning: Do not escape either pointer. `raw` must hold `count × dtype.byteWidth` bytes.
    static func convert(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
        guard count > 0, let base = raw.baseAddress, raw.count >= count * dtype.byteWidth else { return }
        let w = dtype.byteWidth
        switch dtype {
        case .f32:
            for i in 0 ..< count { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt32.self))) }
        case .f64:
            for i in 0 ..< count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt64.self)))) }
        case .f16:
            for i in 0 ..< count { out[i] = half(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt16.self))) }
        case .bf16:
            for i in 0 ..< count { out[i] = bfloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt16.self))) }
        case .f8e4m3:
            for i in 0 ..< count { out[i] = e4m3(raw[i]) }
        case .f8e5m2:
            for i in 0 ..< count { out[i] = e5m2(raw[i]) }
        case .f8e4m3fnuz:
            for i in 0 ..< count { out[i] = fnuz(raw[i], mantissaBits: 3, bias: 8) }
        case .f8e5m2fnuz:
            for i in 0 ..< count { out[i] = fnuz(raw[i], mantissaBits: 2, bias: 16) }
        case .f8e8m0:
            for i in 0 ..< count { out[i] = e8m0(raw[i]) }
        case .c64:
            guard out.count >= 2 * count else { return }
            for i in 0 ..< 2 * count { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .i64:
            for i in 0 ..< count { out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: Int64.self))) }
        case .i32:
            for i in 0 ..< count { out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: Int32.self))) }
        case .i16:
            for i in 0 ..< count { out[i] = Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: Int16.self))) }
        case .i8:
            for i in 0 ..< count { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .u64:
            for i in 0 ..< count { out[i] = Float(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt64.self))) }
        case .u32:
            for i in 0 ..< count { out[i] = Float(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt32.self))) }
        case .u16:
            for i in 0 ..< count { out[i] = Float(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * w, as: UInt16.self))) }
        case .u8:
            for i in 0 ..< count { out[i] = Float(raw[i]) }
        case .bool:
            for i in 0 ..< count { out[i] = raw[i] != 0 ? 1 : 0 }
        default:
            for i in 0 ..< count { out[i] = .nan }
        }
    }

    /// One element of `dtype` (or, for ``DType/c64``, pass `.f32` for one part) from the start of `raw`.
    static func single(_ raw: UnsafeRawBufferPointer, dtype: DType) -> Float {
        var out: Float = .nan
        withUnsafeMutablePointer(to: &out) { convert(raw, dtype: dtype, count: 1, into: UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return out
    }

    /// Reverses the byte order of each `width`-byte element of `buffer` in place (big-endian npy).
    static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, width: Int) {
        guard width > 1 else { return }
        var i = 0
        while i + width <= buffer.count {
            var a = i, b = i + width - 1
            while a < b { buffer.swapAt(a, b); a += 1; b -= 1 }
            i += width
        }
    }
}
