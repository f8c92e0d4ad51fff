import Foundation

/// One test at a time among those that change the kernels' process-wide path (`vla_kernels_force_isa`) and those
/// that count a step's heap allocations. Swift Testing runs the suites of all test targets in one process and in
/// parallel; a forced level (the Swift element-wise fallbacks, another product route) may allocate where the
/// default does not, so a counting test that ran beside a forcing one counted allocations of a path the session
/// would not take.
public enum KernelPaths {
    private static let lock = NSRecursiveLock()  // a counting helper inside an exclusive test takes it again

    /// Runs `body` while no other `exclusive` body runs.
    public static func exclusive<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
