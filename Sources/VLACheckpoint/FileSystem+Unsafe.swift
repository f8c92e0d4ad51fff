#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file-system queries the readers need, without Foundation.
enum FileSystem {
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    static func isDirectory(_ path: String) -> Bool { mode(path) == S_IFDIR }
    static func isRegularFile(_ path: String) -> Bool { mode(path) == S_IFREG }

    /// The canonical absolute path (symbolic links resolved), or nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
