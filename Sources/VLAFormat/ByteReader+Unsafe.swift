/// Bounds-checked little-endian reads from a byte buffer. The one range helper of the reader.
///
/// Every read checks `offset + size <= count` with overflow-reporting arithmetic and throws
/// `FormatError.truncated` (naming the field and offset) rather than reading past the end.
///
/// - Warning: Do not escape the buffer: a `ByteReader` is valid only while the memory it views is alive
///   (the ``VLAFile`` that owns it).
@safe struct ByteReader {
    let base: UnsafeRawBufferPointer

    var count: Int { unsafe base.count }

    @inline(__always)
    func check(_ offset: UInt64, _ size: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> Int {
        let (end, overflow) = offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(unsafe base.count) else {
            throw FormatError(.truncated, "\(field()) needs bytes \(offset)..<\(offset &+ size), file has \(unsafe base.count)", offset: offset)
        }
        return Int(offset)
    }

    func u8(_ offset: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UInt8 {
        let o = try check(offset, 1, field())
        return unsafe base[o]
    }

    func u16(_ offset: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UInt16 {
        let o = try check(offset, 2, field())
        return UInt16(littleEndian: unsafe base.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }

    func u32(_ offset: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UInt32 {
        let o = try check(offset, 4, field())
        return UInt32(littleEndian: unsafe base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }

    func u64(_ offset: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UInt64 {
        let o = try check(offset, 8, field())
        return UInt64(littleEndian: unsafe base.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }

    func f32(_ offset: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> Float {
        Float(bitPattern: try u32(offset, field()))
    }

    func bytes(_ offset: UInt64, _ size: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> [UInt8] {
        let o = try check(offset, size, field())
        return unsafe Array(base[o..<(o + Int(size))])
    }

    /// The offset of the first byte equal to `byte` in `offset ..< offset + size`, nil when there is none.
    func firstOffset(of byte: UInt8, _ offset: UInt64, _ size: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UInt64? {
        let o = try check(offset, size, field())
        for i in o..<(o + Int(size)) where unsafe base[i] == byte { return UInt64(i) }
        return nil
    }

    /// A sub-buffer; the range was checked.
    func slice(_ offset: UInt64, _ size: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> UnsafeRawBufferPointer {
        let o = try check(offset, size, field())
        return unsafe UnsafeRawBufferPointer(rebasing: base[o..<(o + Int(size))])
    }

    /// SHA-256 of bytes `0..<end` and of the whole buffer, from one pass over the bytes.
    func sha256(upTo end: Int) -> (prefix: [UInt8], whole: [UInt8]) {
        var h = SHA256()
        unsafe h.update(UnsafeRawBufferPointer(rebasing: base[0..<end]))
        var rest = h
        unsafe rest.update(UnsafeRawBufferPointer(rebasing: base[end..<base.count]))
        return (h.finalize(), rest.finalize())
    }
}
