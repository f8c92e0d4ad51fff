import CZlib

/// zlib calls for the PNG decoder. Pointers stay inside the `withUnsafe…` closures.
enum PNGInflate {
    /// CRC-32 of `count` bytes of `b` from `from` (the caller checked the range).
    static func crc32(_ b: [UInt8], from: Int, count: Int) -> UInt32 {
        b.withUnsafeBufferPointer { p in
            UInt32(CZlib.crc32(0, p.baseAddress.map { $0 + from }, uInt(count)))
        }
    }

    /// Inflates a zlib stream that must produce exactly `expected` bytes.
    static func inflate(_ input: [UInt8], expected: Int, offset: Int) throws(ImageError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected + 1)  // one spare byte detects excess data
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImageError(.malformed, "png: zlib could not start", offset: offset)
        }
        defer { inflateEnd(&stream) }
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { outp in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = outp.baseAddress
                stream.avail_out = uInt(outp.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        let produced = Int(stream.total_out)
        if produced > expected { throw ImageError(.malformed, "png: image data inflates to more than \(expected) bytes", offset: offset) }
        if status == Z_STREAM_END, produced == expected { out.removeLast(); return out }
        if status == Z_DATA_ERROR || status == Z_NEED_DICT {
            throw ImageError(.malformed, "png: corrupt compressed image data", offset: offset + Int(stream.total_in))
        }
        throw ImageError(.truncated, "png: image data inflates to \(produced) of \(expected) bytes", offset: offset + Int(stream.total_in))
    }
}
