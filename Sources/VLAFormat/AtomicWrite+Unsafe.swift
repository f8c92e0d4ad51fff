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
