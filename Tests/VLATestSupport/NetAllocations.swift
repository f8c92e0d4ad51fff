/// Heap allocations a body makes, net of counting them: the tests' counters cost the same number of allocations
/// on every read (waking the worker threads to read their per-thread counts), so the two reads before the body
/// measure that cost, which is then taken off.
public enum NetAllocations {
    /// What `body` allocated according to `total` (the sum of the counters now), without the reads' own cost.
    public static func during(_ body: () throws -> Void, total: () -> Int) rethrows -> Int {
        _ = total()
        let a = total()
        let b = total()
        try body()
        let after = total()
        return (after - b) - (b - a)
    }
}
