import CZlib

/// Raw deflate decoding with zlib into a buffer of exactly the declared size.
enum Inflate {
    /// Inflates `compressed` (raw deflate, no zlib header) and checks it gives exactly `size` bytes
    /// with CRC-32 `crc`.
    /// - Throws: `.decompression` naming `what` and `offset` if the stream is corrupt, ends early,
    ///   produces more than `size` bytes, or has the wrong CRC.
    static func inflate(_ compressed: ByteView, size: Int, crc: UInt32, what: String, offset: Int) throws -> ByteStorage {
        try ByteStorage.filling(count: size) { out in
            // zlib takes byte pointers; binding the bytes to UInt8 is what raw bytes already are.
            guard let outBase = out.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw CheckpointError(.decompression, "\(what): no output buffer", offset: offset)
            }
            var stream = z_stream()
            guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw CheckpointError(.decompression, "\(what): cannot initialise zlib", offset: offset)
            }
            defer { inflateEnd(&stream) }
            var spare: UInt8 = 0
            let status: Int32 = compressed.withUnsafeBytes { input in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
                var remainingIn = input.count
                var produced = 0
                var result: Int32 = Z_OK
                while true {
                    let chunkIn = min(remainingIn, Int(UInt32.max >> 1))
                    stream.avail_in = UInt32(chunkIn)
                    if produced < size {
                        let chunkOut = min(size - produced, Int(UInt32.max >> 1))
                        stream.next_out = outBase + produced
                        stream.avail_out = UInt32(chunkOut)
                        result = CZlib.inflate(&stream, Z_NO_FLUSH)
                        produced += chunkOut - Int(stream.avail_out)
                    } else {
                        // Output is full: one spare byte detects a stream that would produce more.
                        withUnsafeMutablePointer(to: &spare) { stream.next_out = $0 }
                        stream.avail_out = 1
                        result = CZlib.inflate(&stream, Z_NO_FLUSH)
                        if stream.avail_out == 0 { return Z_BUF_ERROR - 100 }
                    }
                    remainingIn -= chunkIn - Int(stream.avail_in)
                    if result == Z_STREAM_END { return produced == size ? Z_STREAM_END : Z_DATA_ERROR - 100 }
                    if result != Z_OK { return result }
                    if remainingIn == 0 && stream.avail_in == 0 && produced < size { return Z_BUF_ERROR }
                }
            }
            switch status {
            case Z_STREAM_END: break
            case Z_BUF_ERROR - 100:
                throw CheckpointError(.decompression, "\(what): inflates to more than its declared \(size) bytes", offset: offset)
            case Z_DATA_ERROR - 100:
                throw CheckpointError(.decompression, "\(what): inflates to fewer than its declared \(size) bytes", offset: offset)
            case Z_BUF_ERROR:
                throw CheckpointError(.truncated, "\(what): compressed data ends before the deflate stream does", offset: offset)
            default:
                throw CheckpointError(.decompression, "\(what): corrupt deflate data (zlib status \(status))", offset: offset)
            }
            var sum: uLong = crc32(0, nil, 0)
            var done = 0
            while done < size {
                let n = min(size - done, 1 << 30)
                sum = crc32(sum, outBase + done, UInt32(n))
                done += n
            }
            let got = UInt32(truncatingIfNeeded: sum)
            guard got == crc else {
                throw CheckpointError(.decompression, "\(what): CRC-32 \(hex(got)) does not match the directory's \(hex(crc))", offset: offset)
            }
        }
    }

    static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}
