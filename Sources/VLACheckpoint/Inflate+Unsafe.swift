import CZlib

/// Raw deflate decoding with zlib into a buffer that grows as bytes arrive.
///
/// The buffer starts at ``ReaderLimits/inflateInitialCapacity`` (or the declared size, if smaller) and
/// doubles, never past the declared size: an entry that declares 800 MB but inflates to 1 MB costs about
/// 2 MB before it is refused, not 800 MB.
enum Inflate {
    /// What one inflation allocated (for tests and budgets).
    struct Stats {
        /// The largest output buffer allocated, in bytes.
        var peakCapacity = 0
        /// The bytes inflated.
        var produced = 0
    }

    private enum Outcome { case end, full, over, inputEnded, corrupt(Int32) }

    /// Inflates `compressed` (raw deflate, no zlib header) and checks it gives exactly `size` bytes
    /// with CRC-32 `crc`.
    /// - Throws: `.decompression` naming `what` and `offset` if the stream is corrupt, ends early,
    ///   produces more than `size` bytes, or has the wrong CRC.
    static func inflate(_ compressed: ByteView, size: Int, crc: UInt32, what: String, offset: Int, initialCapacity: Int) throws -> ByteStorage {
        var stats = Stats()
        return try inflate(compressed, size: size, crc: crc, what: what, offset: offset, initialCapacity: initialCapacity, stats: &stats)
    }

    /// ``inflate(_:size:crc:what:offset:initialCapacity:)``, reporting what it allocated in `stats`.
    static func inflate(_ compressed: ByteView, size: Int, crc: UInt32, what: String, offset: Int, initialCapacity: Int, stats: inout Stats) throws -> ByteStorage {
        let buffer = GrowingBuffer(initial: min(size, max(initialCapacity, 1)))
        let outcome = run(compressed, into: buffer, limit: size, detectOverrun: true, stats: &stats)
        switch outcome {
        case .end where buffer.count == size: break
        case .end, .full:
            throw CheckpointError(.decompression, "\(what): inflates to \(buffer.count) bytes, fewer than its declared \(size) bytes", offset: offset)
        case .over:
            throw CheckpointError(.decompression, "\(what): inflates to more than its declared \(size) bytes", offset: offset)
        case .inputEnded:
            throw CheckpointError(.truncated, "\(what): compressed data ends before the deflate stream does (after \(buffer.count) inflated bytes)", offset: offset)
        case .corrupt(let status):
            throw CheckpointError(.decompression, "\(what): corrupt deflate data (zlib status \(status)) after \(buffer.count) inflated bytes", offset: offset)
        }
        let got = buffer.withBytes { Inflate.crc32(of: $0) }
        guard got == crc else {
            throw CheckpointError(.decompression, "\(what): CRC-32 of the inflated bytes is \(hex(got)), the directory says \(hex(crc))", offset: offset)
        }
        return buffer.finish()
    }

    /// Inflates at most the first `count` bytes of `compressed` (fewer if the stream ends first), for
    /// reading a header without inflating the whole entry. Nothing after them is decoded.
    /// - Throws: `.decompression` or `.truncated` if the stream is corrupt before `count` bytes.
    static func inflatePrefix(_ compressed: ByteView, count: Int, what: String, offset: Int) throws -> ByteStorage {
        var stats = Stats()
        let buffer = GrowingBuffer(initial: max(count, 1))
        switch run(compressed, into: buffer, limit: count, detectOverrun: false, stats: &stats) {
        case .end, .full, .over: return buffer.finish()
        case .inputEnded:
            throw CheckpointError(.truncated, "\(what): compressed data ends before the deflate stream does (after \(buffer.count) inflated bytes)", offset: offset)
        case .corrupt(let status):
            throw CheckpointError(.decompression, "\(what): corrupt deflate data (zlib status \(status)) after \(buffer.count) inflated bytes", offset: offset)
        }
    }

    /// zlib's CRC-32 of `bytes`, in pieces of at most 1 GiB (zlib takes a 32-bit length).
    static func crc32(of bytes: UnsafeRawBufferPointer) -> UInt32 {
        var sum: uLong = CZlib.crc32(0, nil, 0)
        guard let base = bytes.baseAddress else { return UInt32(truncatingIfNeeded: sum) }
        // zlib takes byte pointers; raw file bytes are bytes.
        let p = base.assumingMemoryBound(to: UInt8.self)
        var done = 0
        while done < bytes.count {
            let n = min(bytes.count - done, 1 << 30)
            sum = CZlib.crc32(sum, p + done, UInt32(n))
            done += n
        }
        return UInt32(truncatingIfNeeded: sum)
    }

    /// Inflates into `buffer` until the stream ends, `limit` bytes are out, or an error.
    /// With `detectOverrun`, a full buffer is probed with one spare byte to tell `.end` from `.over`.
    private static func run(_ compressed: ByteView, into buffer: GrowingBuffer, limit: Int, detectOverrun: Bool, stats: inout Stats) -> Outcome {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return .corrupt(Z_MEM_ERROR) }
        defer {
            inflateEnd(&stream)
            stats.peakCapacity = max(stats.peakCapacity, buffer.capacity)
            stats.produced = buffer.count
        }
        return compressed.withUnsafeBytes { input -> Outcome in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            var remainingIn = input.count
            var spare: UInt8 = 0
            while true {
                let chunkIn = min(remainingIn, Int(UInt32.max >> 1))
                stream.avail_in = UInt32(chunkIn)
                let result: Int32
                if buffer.count < limit {
                    if buffer.count == buffer.capacity {
                        let (doubled, o) = buffer.capacity.multipliedReportingOverflow(by: 2)
                        buffer.grow(to: o ? limit : min(limit, doubled))
                    }
                    let chunkOut = min(buffer.capacity - buffer.count, Int(UInt32.max >> 1))
                    stream.next_out = buffer.end
                    stream.avail_out = UInt32(chunkOut)
                    result = CZlib.inflate(&stream, Z_NO_FLUSH)
                    buffer.count += chunkOut - Int(stream.avail_out)
                } else {
                    guard detectOverrun else { return .full }
                    withUnsafeMutablePointer(to: &spare) { stream.next_out = $0 }
                    stream.avail_out = 1
                    result = CZlib.inflate(&stream, Z_NO_FLUSH)
                    if stream.avail_out == 0 { return .over }
                }
                remainingIn -= chunkIn - Int(stream.avail_in)
                if result == Z_STREAM_END { return .end }
                // A prefix is done once its bytes are out, whatever follows them in the stream.
                if !detectOverrun && buffer.count >= limit { return .full }
                if result != Z_OK && result != Z_BUF_ERROR { return .corrupt(result) }
                if remainingIn == 0 && stream.avail_in == 0 && (buffer.count < buffer.capacity || result == Z_BUF_ERROR) {
                    return .inputEnded
                }
            }
        }
    }

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// A heap buffer, 64-byte aligned, that grows by copying; handed to a ``ByteStorage`` when done.
private final class GrowingBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    var count = 0

    init(initial: Int) {
        capacity = max(initial, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    /// Where the next byte goes (zlib takes byte pointers).
    var end: UnsafeMutablePointer<UInt8> { (base + count).assumingMemoryBound(to: UInt8.self) }

    func grow(to newCapacity: Int) {
        guard newCapacity > capacity else { return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
        p.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = p
        capacity = newCapacity
    }

    /// Calls `body` with the bytes written so far.
    /// - Warning: Do not escape the pointer.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(UnsafeRawBufferPointer(start: base, count: count)) }

    /// Moves the bytes into a storage (this buffer is empty afterwards).
    func finish() -> ByteStorage {
        let p = base, n = count
        base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
        capacity = 1
        count = 0
        return ByteStorage(base: UnsafeRawPointer(p), count: n, release: { p, _ in p?.deallocate() })
    }
}
