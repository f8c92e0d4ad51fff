import Foundation

#if canImport(Glibc)
import Glibc
#else
#error("the output lock is built and tested on Linux (Glibc) only")
#endif

/// A compile's hold on its output folder, and its journal: `OUT/.vlac-compile.lock`.
///
/// Taking it `flock`s that file (exclusive, non-blocking): a second compile into the same folder fails at once
/// with an error naming the process that holds it, instead of interleaving its files and manifest with the
/// first. The kernel drops the lock when the holder exits, however it exits (`SIGKILL` included), so a
/// killed run never blocks the next one.
///
/// The file also holds the journal: the holder's process id, then one line per output file (`file <sha256>
/// <size> <path>`) appended before that file is written. A run that finishes deletes the file (one that throws
/// first removes what it journaled, see `Compiler.abandon`); a killed run leaves it, and the next run reads
/// the journal of every interrupted run before it (``interrupted``) so that it can remove the files they
/// wrote that no manifest names. A run carries those records into its own journal, so repeated
/// interruptions lose none.
///
/// `@unchecked Sendable`: `fd` is written only under `lock` (workers append records from several threads).
///
/// > Note: <Docs/Compile.md#outputs>
final class OutputLock: @unchecked Sendable {
    /// The lock file's name inside the output folder.
    static let fileName = ".vlac-compile.lock"

    /// The lock file's path.
    let path: String
    /// Files that interrupted runs were about to write, from the journal they left.
    let interrupted: [ManifestFile.FileRecord]
    private let lock = NSLock()
    private var fd: Int32
    private var journaled: [ManifestFile.FileRecord] = []

    /// Takes the lock on `folder` (which must exist) and reads the journal that interrupted runs left there.
    ///
    /// - Throws: `CompileError` `.output` when another process holds the lock (naming its process id when it
    ///   has written one) or the lock file cannot be created.
    init(folder: String) throws(CompileError) {
        let path = folder + "/" + Self.fileName
        self.path = path
        var attempts = 0
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CompileError(.output, "\(path): cannot open the output folder's lock file (\(String(cString: strerror(errno))))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let err = errno
                let holder = Self.holder(Self.contents(fd))
                close(fd)
                if err == EWOULDBLOCK {
                    throw CompileError(
                        .output,
                        "\(folder): another vlac compile\(holder.map { " (process \($0))" } ?? "") is writing to this output folder; wait for it to end, or choose another folder with -o")
                }
                throw CompileError(.output, "\(path): cannot lock (\(String(cString: strerror(err))))")
            }
            // A run that finishes deletes the file while holding the lock: if the name now leads to another
            // file (or none), this lock guards nothing; take the lock again on what the name leads to.
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev {
                self.fd = fd
                break
            }
            close(fd)
            attempts += 1
            if attempts >= 100 { throw CompileError(.output, "\(path): the lock file keeps being replaced; is another program removing it?") }
        }
        interrupted = Self.records(Self.contents(fd))
        journaled = interrupted
        var journal = "pid \(getpid())\n"
        for r in interrupted { journal += Self.line(r) }
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0, appendAll(Array(journal.utf8)) else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CompileError(.output, "\(path): cannot write the journal (\(reason))")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends `file` to the journal (before the file is written).
    ///
    /// - Throws: `CompileError` `.output` when the journal cannot be written (then the file must not be).
    func record(_ file: String, sha256: String, size: Int) throws(CompileError) {
        let record = ManifestFile.FileRecord(file: file, sha256: sha256, size: size, instruction: nil)
        let ok = lock.withLock {
            journaled.append(record)
            return appendAll(Array(Self.line(record).utf8))
        }
        if !ok { throw CompileError(.output, "\(path): cannot write the journal (\(String(cString: strerror(errno))))") }
    }

    /// Everything the journal holds: the interrupted runs' records, then this run's.
    var records: [ManifestFile.FileRecord] { lock.withLock { journaled } }

    /// The run finished: deletes the lock file (and its journal) while still holding the lock, then releases it.
    func finish() {
        lock.withLock {
            guard fd >= 0 else { return }
            unlink(path)
            close(fd)
            fd = -1
        }
    }

    /// The run stopped early: releases the lock and leaves the journal for the next run.
    func release() {
        lock.withLock {
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
        }
    }

    private func appendAll(_ bytes: [UInt8]) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, raw.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += n
        }
        return true
    }

    private static func line(_ r: ManifestFile.FileRecord) -> String { "file \(r.sha256) \(r.size) \(r.file)\n" }

    /// The whole lock file (at most 64 MiB; a journal is a line per output file).
    private static func contents(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while out.count < 64 << 20 {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            out += chunk[..<n]
            offset += off_t(n)
        }
        return out
    }

    /// The process id on the first line (`pid N`), if any.
    private static func holder(_ bytes: [UInt8]) -> Int? {
        let first = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
        guard first.hasPrefix("pid ") else { return nil }
        return Int(first.dropFirst(4))
    }

    /// The well-formed `file` lines: a plain name under policies/ or shared/ ending in .vla, a 64-digit hex
    /// SHA-256 and a size. Anything else (a line cut by a kill, a hand edit) is ignored.
    private static func records(_ bytes: [UInt8]) -> [ManifestFile.FileRecord] {
        var out: [ManifestFile.FileRecord] = []
        var seen: Set<String> = []
        for line in bytes.split(separator: 0x0A) {
            let parts = String(decoding: line, as: UTF8.self).split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == "file", parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit),
                let size = Int(parts[2]), size >= 0, ManifestFile.isOutputName(String(parts[3])),
                seen.insert(String(parts[3])).inserted
            else { continue }
            out.append(.init(file: String(parts[3]), sha256: String(parts[1]), size: size, instruction: nil))
        }
        return out
    }
}
