import CAllocationCounter
import Testing
import VLAFormat
@testable import VLARuntime

/// `run` allocates nothing: counted with an interposed malloc family (Sources/CAllocationCounter) on the calling
/// thread and on every worker thread of the interpreter.
@Suite struct AllocationTests {
    /// Sums per-thread allocation counts over the caller and every worker of an interpreter, without allocating.
    final class Counter {
        let interpreter: Interpreter
        let counts: UnsafeMutableBufferPointer<Int>

        init(_ interpreter: Interpreter) {
            self.interpreter = interpreter
            counts = .allocate(capacity: interpreter.pool.threadCount)
            counts.initialize(repeating: 0)
        }

        deinit { counts.deallocate() }

        func total() -> Int {
            let counts = self.counts
            interpreter.pool.onEachThread { thread in counts[thread] = vla_test_allocations_on_this_thread() }
            var sum = 0
            for i in counts.indices { sum += counts[i] }
            return sum
        }
    }

    @Test func counterIsActive() {
        #expect(vla_test_allocation_counter_active() == 1, "the interposed malloc is not in use; the allocation tests would prove nothing")
    }

    @Test(arguments: [1, 2])
    func runAllocatesNothing(threads: Int) throws {
        let fixtures = try OpFixtures.loaded.get()
        for c in fixtures.cases {
            let built = try OpDocument(c, fixtures, inputsInArena: true)
            let interpreter = try Interpreter(document: built.document, options: RuntimeOptions(threads: threads))
            for (id, bytes) in built.arenaInputs { try interpreter.setRaw(id, bytes) }
            try interpreter.run(0)  // warm-up: OpenBLAS sets up its buffers on first use
            let counter = Counter(interpreter)
            _ = counter.total()
            let a = counter.total()
            let b = counter.total()
            for _ in 0..<3 { try interpreter.run(0) }
            let after = counter.total()
            // Reading the counters costs the same number of allocations (b - a) every time; subtract it.
            let runs = (after - b) - (b - a)
            #expect(runs == 0, "\(c.name): \(runs) allocations in three runs with \(threads) threads")
        }
    }
}
