import Foundation
import Synchronization

/// Runs code that must not block on a FIFO, so that a regression fails a test instead of hanging it.
public enum FIFOWatchdog {
    /// Runs `body` while a watchdog thread waits; if `body` has not returned after `seconds`, the watchdog opens
    /// `fifo` for writing, which unblocks a reader stuck opening or reading it.
    /// - Returns: `body`'s result, and whether the watchdog had to unblock it (a test expects `false`).
    public static func run<R>(on fifo: String, seconds: Int = 20, _ body: () throws -> R) rethrows -> (result: R, blocked: Bool) {
        let state = Atomic<Int>(0)  // 0 running, 1 returned, 2 unblocked by the watchdog
        let watchdog = Thread {
            for _ in 0..<(seconds * 100) {
                if state.load(ordering: .acquiring) == 1 { return }
                usleep(10_000)
            }
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { state.store(2, ordering: .releasing); close(fd) }
        }
        watchdog.start()
        defer { _ = state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing) }
        let result = try body()
        return (result, state.load(ordering: .acquiring) == 2)
    }
}
