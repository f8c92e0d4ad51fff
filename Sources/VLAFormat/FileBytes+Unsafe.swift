#if canImport(Glibc)
import Glibc
#else
#error("VLAFormat is built and tested on Linux (Glibc) only; other C libraries need their own tested arm")
#endif

/// Read-only bytes that stay valid and unchanged for the owner's lifetime: a private mapping of a file or
/// a 64-byte aligned heap copy.
///
/// `@unchecked Sendable`: the bytes are never written after `init` (the mapping is `PROT_READ`, the copy is
/// private), so sharing them across threads is safe.
@safe final class FileBytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    private let isMapped: Bool

    /// Maps `path` read-only.
    ///
    /// Opened with `O_NONBLOCK`, so that a FIFO or a device in the file's place is refused by the regular-file
    /// check instead of blocking the caller forever in `open` (the flag changes nothing for a regular file,
    /// which is only mapped). With `expectedSize`, a file of any other size is refused from its `fstat`, before
    /// a byte of it is mapped or read.
    init(mapping path: String, expectedSize: UInt64? = nil) throws(FormatError) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw FormatError(.io, "cannot open \(path): \(FileBytes.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard unsafe fstat(fd, &st) == 0 else { throw FormatError(.io, "cannot stat \(path): \(FileBytes.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(.io, "\(path) is not a regular file (\(FileBytes.kind(st.st_mode))); give the path of a .vla file")
        }
        if let expectedSize, UInt64(st.st_size) != expectedSize {
            throw FormatError(.io, "\(path) is \(st.st_size) bytes, expected \(expectedSize); not read")
        }
        let size = Int(st.st_size)
        if size == 0 {
            unsafe buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        let p = unsafe mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p = unsafe p, unsafe p != MAP_FAILED else {
            throw FormatError(.io, "cannot map \(path) (\(size) bytes): \(FileBytes.errnoText())")
        }
        unsafe buffer = UnsafeRawBufferPointer(start: p, count: size)
        isMapped = true
    }

    /// Copies `bytes` into a 64-byte aligned allocation.
    init(copying bytes: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: Layout.payloadAlignment)
        unsafe bytes.withUnsafeBytes { src in
            if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) }
        }
        unsafe buffer = UnsafeRawBufferPointer(start: p, count: bytes.count)
        isMapped = false
    }

    deinit {
        guard let p = unsafe buffer.baseAddress else { return }
        if isMapped {
            unsafe munmap(UnsafeMutableRawPointer(mutating: p), buffer.count)
        } else {
            unsafe UnsafeMutableRawPointer(mutating: p).deallocate()
        }
    }

    /// A file type's name for messages ("a FIFO", "a directory", ...).
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    static func errnoText() -> String {
        guard let s = unsafe strerror(errno) else { return "errno \(errno)" }
        return unsafe String(cString: s)
    }
}

/// Whole files that a folder is expected to hold (a model's `config.json`, a tokenizer, a manifest, a
/// policy in an output folder), read without blocking: a FIFO, socket or device in such a file's place is an
/// error at once, not a `read` that waits forever for a writer.
public enum RegularFile {
    /// A file type's name for messages ("a FIFO", "a directory", "a regular file", ...), from `st_mode`.
    public static func kind(ofMode mode: mode_t) -> String { FileBytes.kind(mode) }

    /// The bytes of the regular file at `path` (symbolic links followed), or nil if nothing is there.
    /// - Throws: ``FormatError`` with code `.io` when something other than a regular file is there, or the
    ///   file cannot be opened or mapped.
    public static func read(_ path: String) throws(FormatError) -> [UInt8]? {
        var st = stat()
        guard unsafe stat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FormatError(.io, "cannot stat \(path): \(FileBytes.errnoText())")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(.io, "\(path) is \(FileBytes.kind(st.st_mode)), where a regular file is expected")
        }
        let file = try FileBytes(mapping: path)
        return unsafe Array(file.buffer)
    }
}
