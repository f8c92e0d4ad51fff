import Synchronization
import Testing
@testable import VLARuntime

/// The worker pool runs every index of every loop exactly once, loop after loop, with 2 and 3 threads: many
/// short loops in a row (where workers spin, wake late, or find their loop already finished by the caller).
@Suite struct WorkerPoolTests {
    @Test(arguments: [2, 3])
    func everyIndexRunsOncePerLoop(threads: Int) {
        let pool = WorkerPool(threadCount: threads)
        let hits = UnsafeMutableBufferPointer<Atomic<Int>>.allocate(capacity: 64)
        for i in 0..<64 { (hits.baseAddress! + i).initialize(to: Atomic<Int>(0)) }
        defer { hits.deallocate() }
        var bad = 0
        for loop in 0..<3000 {
            let n = 2 + loop % 40
            for i in 0..<n { hits[i].store(0, ordering: .relaxed) }
            pool.parallelFor(n) { i, thread in
                precondition(thread >= 0 && thread < threads)
                hits[i].add(1, ordering: .relaxed)
                if i % 7 == 0 { for _ in 0..<(i * 50) { _ = hits[i].load(ordering: .relaxed) } }  // uneven tasks
            }
            for i in 0..<n where hits[i].load(ordering: .relaxed) != 1 { bad += 1 }
        }
        #expect(bad == 0, "\(bad) indices did not run exactly once")
    }
}
