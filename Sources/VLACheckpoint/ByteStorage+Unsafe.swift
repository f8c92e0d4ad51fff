#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VLAFormat

#if _endian(big)
#error("VLACheckpoint reads little-endian files with little-endian loads; big-endian hosts are not supported")
#endif

/// Owns one immutable region of bytes: a read-only private file mapping, a heap buffer, or memory
/// owned by a C decoder. Tensors and views keep their storage alive.
///
/// `@unchecked Sendable`: the bytes are never written after `init` (mappings are `PROT_READ`,
/// heap buffers are filled before the storage is made), so sharing across threads is safe.
public final class ByteStorage: @unchecked Sendable {
    let base: UnsafeRawPointer?
    /// Whether the bytes are a file mapping (see ``ByteView/releasePages()``).
    let isMapped: Bool
    /// The number of bytes.
    public let count: Int
    private let release: @Sendable (UnsafeMutableRawPointer?, Int) -> Void

    init(base: UnsafeRawPointer?, count: Int, isMapped: Bool = false, release: @escaping @Sendable (UnsafeMutableRawPointer?, Int) -> Void) {
        self.base = base
        self.isMapped = isMapped
        self.count = count
        self.release = release
    }

    deinit { release(UnsafeMutableRawPointer(mutating: base), count) }

    /// Maps the file at `path` read-only. An empty file gives an empty storage.
    ///
    /// The file is opened non-blocking and must be a regular file: a FIFO, socket or device where a
    /// checkpoint is expected is refused at once instead of blocking in `open` until a writer appears.
    /// - Throws: ``CheckpointError`` with code `.io` if the file cannot be opened, is not a regular file,
    ///   or cannot be mapped.
    public static func map(path: String) throws -> ByteStorage {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            throw CheckpointError(.io, "cannot open: \(String(cString: strerror(errno)))", file: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CheckpointError(.io, "cannot stat: \(String(cString: strerror(errno)))", file: path)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(.io, "not a regular file (\(RegularFile.kind(ofMode: st.st_mode))); give the path of a checkpoint file", file: path)
        }
        let size = Int(st.st_size)
        if size == 0 { return ByteStorage(base: nil, count: 0, release: { _, _ in }) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError(.io, "cannot map \(size) bytes: \(String(cString: strerror(errno)))", file: path)
        }
        return ByteStorage(base: UnsafeRawPointer(p), count: size, isMapped: true, release: { p, n in _ = munmap(p, n) })
    }

    /// Copies `bytes` into a new heap storage.
    public convenience init(copying bytes: some Collection<UInt8>) {
        let n = bytes.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 64)
        let copied: Void? = bytes.withContiguousStorageIfAvailable { b in
            if let src = b.baseAddress { p.copyMemory(from: src, byteCount: b.count) }
        }
        if copied == nil {
            var i = 0
            for b in bytes { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self); i += 1 }
        }
        self.init(base: UnsafeRawPointer(p), count: n, release: { p, _ in p?.deallocate() })
    }

    /// Makes a zero-filled heap storage of `count` bytes and lets `fill` write it once.
    /// - Warning: Do not escape the pointer passed to `fill`.
    static func filling(count: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> ByteStorage {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        do { try fill(UnsafeMutableRawBufferPointer(start: p, count: count)) } catch {
            p.deallocate()
            throw error
        }
        return ByteStorage(base: UnsafeRawPointer(p), count: count, release: { p, _ in p?.deallocate() })
    }

    /// Wraps memory owned elsewhere (for example a protobuf-c message); `free` runs when the storage dies.
    static func borrowing(_ base: UnsafeRawPointer?, count: Int, free: @escaping @Sendable () -> Void) -> ByteStorage {
        ByteStorage(base: base, count: count, release: { _, _ in free() })
    }

    /// The whole storage as a view.
    public var view: ByteView { ByteView(storage: self, start: 0, count: count) }
}

/// A zero-copy view of `count` bytes inside a ``ByteStorage``, which it keeps alive.
///
/// All reads are bounds-checked against the view; scalars are read unaligned and little-endian.
public struct ByteView: Sendable {
    /// The storage the bytes live in.
    public let storage: ByteStorage
    let start: Int
    /// The number of bytes in the view.
    public let count: Int

    init(storage: ByteStorage, start: Int, count: Int) {
        self.storage = storage
        self.start = start
        self.count = count
    }

    /// Calls `body` with the bytes of the view.
    /// - Warning: Do not escape the pointer; it is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        guard let base = storage.base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + start, count: count))
    }

    /// Tells the kernel the mapped pages of this view may be dropped from memory (they are re-read
    /// from the file if touched again). Used after hashing or decoding a whole file so the process's
    /// resident size does not keep the file. No effect on heap storage.
    func releasePages() {
        guard storage.isMapped, let base = storage.base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let startAddress = Int(bitPattern: base + start)
        let alignedStart = (startAddress + page - 1) / page * page
        let end = startAddress + count
        guard end > alignedStart, let p = UnsafeMutableRawPointer(bitPattern: alignedStart) else { return }
        _ = madvise(p, (end - alignedStart) / page * page, MADV_DONTNEED)
    }

    /// The first `n` bytes (all of them if `n` is larger), sharing the storage.
    public func prefix(_ n: Int) -> ByteView {
        ByteView(storage: storage, start: start, count: min(max(n, 0), count))
    }

    /// The bytes as an array (a copy).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// A checked range `offset ..< offset + length` inside the view.
    /// - Throws: `.truncated` if it ends past the view, `.outOfBounds` if it is negative or overflows.
    func checkedRange(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> Range<Int> {
        guard offset >= 0, length >= 0 else {
            throw CheckpointError(.outOfBounds, "\(what()): negative offset \(offset) or length \(length)", offset: offset)
        }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow else {
            throw CheckpointError(.outOfBounds, "\(what()): offset \(offset) + length \(length) overflows", offset: offset)
        }
        guard end <= count else {
            throw CheckpointError(.truncated, "\(what()): needs bytes \(offset)..<\(end) but only \(count) are there", offset: offset)
        }
        return offset ..< end
    }

    /// A sub-view of `length` bytes at `offset`, checked.
    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> ByteView {
        let r = try checkedRange(offset, length, what())
        return ByteView(storage: storage, start: start + r.lowerBound, count: r.count)
    }

    /// The whole storage (callers index it at `start + offset` after a range check).
    private var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage.base, count: storage.count) }

    /// The byte at `offset`, checked.
    func u8(_ offset: Int, _ what: @autoclosure () -> String = "byte") throws -> UInt8 {
        _ = try checkedRange(offset, 1, what())
        return raw.loadUnaligned(fromByteOffset: start + offset, as: UInt8.self)
    }

    /// A little-endian integer of type `T` at `offset`, checked.
    func le<T: FixedWidthInteger>(_ offset: Int, as: T.Type, _ what: @autoclosure () -> String = "integer") throws -> T {
        _ = try checkedRange(offset, MemoryLayout<T>.size, what())
        return T(littleEndian: raw.loadUnaligned(fromByteOffset: start + offset, as: T.self))
    }

    /// A big-endian integer of type `T` at `offset`, checked (msgpack).
    func be<T: FixedWidthInteger>(_ offset: Int, as: T.Type, _ what: @autoclosure () -> String = "integer") throws -> T {
        _ = try checkedRange(offset, MemoryLayout<T>.size, what())
        return T(bigEndian: raw.loadUnaligned(fromByteOffset: start + offset, as: T.self))
    }

    /// The bytes at `offset ..< offset + length` as an array, checked.
    func copyBytes(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        let r = try checkedRange(offset, length, what())
        guard !r.isEmpty else { return [] }
        return Array(raw[(start + r.lowerBound) ..< (start + r.upperBound)])
    }

    /// Whether the bytes at `offset` equal `prefix`.
    func hasPrefix(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
        guard offset >= 0, offset <= count, prefix.count <= count - offset else { return false }
        return withUnsafeBytes { raw in
            for (i, b) in prefix.enumerated() where raw[offset + i] != b { return false }
            return true
        }
    }
}

extension ByteView {
    /// The largest offset `o` in `range` where the 4 bytes at `o` equal `signature` (little-endian) and
    /// `accept(o)` holds, scanning downwards; nil if none.
    func lastOffset(of signature: UInt32, in range: ClosedRange<Int>, where accept: (Int) -> Bool) -> Int? {
        guard range.lowerBound >= 0, range.upperBound + 4 <= count else { return nil }
        let b0 = UInt8(truncatingIfNeeded: signature)
        return withUnsafeBytes { raw -> Int? in
            var o = range.upperBound
            while o >= range.lowerBound {
                if raw[o] == b0, UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) == signature, accept(o) { return o }
                o -= 1
            }
            return nil
        }
    }
}
