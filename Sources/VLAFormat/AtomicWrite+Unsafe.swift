#if canImport(Glibc)
import Glibc
#else
#error("VLAFormat is built and tested on Linux (Glibc) only; other C libraries need their own tested arm")
#endif

/// Writes files so that a failure never leaves a partial file under the final name.
public enum AtomicFile {
    /// Writes `bytes` to a temporary file in the destination's folder, flushes it to disk, and renames it
    /// over `path`. On any failure the temporary file is removed and `path` is untouched.
    ///
    /// - Throws: `FormatError` with code `.io`, naming the path and the system's reason.
    public static func write(_ bytes: [UInt8], to path: String) throws(FormatError) {
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        let fd = unsafe template.withUnsafeMutableBufferPointer { unsafe mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw FormatError(.io, "cannot create a temporary file beside \(path): \(FileBytes.errnoText())")
        }
        let tempPath = unsafe template.withUnsafeBufferPointer { unsafe String(cString: $0.baseAddress!) }
        var ok = false
        defer {
            if !ok {
                close(fd)
                unsafe unlink(tempPath)
            }
        }
        _ = fchmod(fd, 0o644)
        var written = 0
        while written < bytes.count {
            let n = unsafe bytes.withUnsafeBytes { raw in
                unsafe Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(.io, "cannot write \(tempPath): \(FileBytes.errnoText())")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw FormatError(.io, "cannot flush \(tempPath): \(FileBytes.errnoText())") }
        guard close(fd) == 0 else {
            ok = true
            unsafe unlink(tempPath)
            throw FormatError(.io, "cannot close \(tempPath): \(FileBytes.errnoText())")
        }
        guard unsafe rename(tempPath, path) == 0 else {
            ok = true
            let reason = FileBytes.errnoText()
            unsafe unlink(tempPath)
            throw FormatError(.io, "cannot rename \(tempPath) to \(path): \(reason)")
        }
        ok = true
    }

    /// The final name that `name` is a temporary file for, or nil: `write` creates `<final>.tmp-XXXXXX` beside
    /// the destination (six ASCII letters or digits, chosen by `mkstemp`). A process killed between creating
    /// and renaming it leaves that file behind; only the writer's own pattern is recognized.
    ///
    /// - Parameter name: A file name without its folder.
    public static func finalName(ofTemporary name: String) -> String? {
        let bytes = Array(name.utf8)
        let marker = Array(".tmp-".utf8)
        guard bytes.count > marker.count + 6 else { return nil }
        let cut = bytes.count - 6 - marker.count
        guard Array(bytes[cut..<(cut + marker.count)]) == marker else { return nil }
        for b in bytes[(cut + marker.count)...] {
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            if !alnum { return nil }
        }
        return String(decoding: bytes[..<cut], as: UTF8.self)
    }

    /// Flushes a folder's entries to disk (`fsync` on the folder), so that files renamed into it survive a
    /// power loss, not only a killed process.
    ///
    /// - Throws: `FormatError` with code `.io`, naming the folder and the system's reason.
    public static func syncDirectory(_ path: String) throws(FormatError) {
        let fd = unsafe open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(.io, "cannot open the folder \(path): \(FileBytes.errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FormatError(.io, "cannot flush the folder \(path): \(FileBytes.errnoText())") }
    }
}

extension VLAWriter {
    /// Serializes `document` and writes it atomically to `path`.
    ///
    /// - Throws: `FormatError` from serialization (nothing is written) or from the file system (the
    ///   destination is untouched).
    public static func write(_ document: VLADocument, to path: String, limits: FormatLimits = .default) throws(FormatError) {
        try AtomicFile.write(serialize(document, limits: limits), to: path)
    }
}
