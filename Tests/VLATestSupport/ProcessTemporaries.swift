import Foundation
import Synchronization

/// Temporary files and folders made once per test process and shared by many tests (a policy compiled once per
/// configuration, a suite's inputs built on first use). No single test can remove them, so they are removed
/// when the process exits; a test that makes a folder for itself removes it with `defer` instead.
public enum ProcessTemporaries {
    private static let paths = Mutex<[String]>([])
    private static let handler: Void = { atexit { ProcessTemporaries.removeAll() } }()

    /// Removes `path` (a file or a folder, made or not yet made) when the process exits normally.
    public static func removeAtExit(_ path: String) {
        _ = handler
        paths.withLock { $0.append(path) }
    }

    static func removeAll() {
        for path in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
