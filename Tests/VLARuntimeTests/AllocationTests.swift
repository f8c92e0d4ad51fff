import CAllocationCounter
import Testing
import VLATestSupport
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

        /// Allocations made by `body`, net of the counting itself (reading the counters costs the same number of
        /// allocations every time).
        func during(_ body: () throws -> Void) rethrows -> Int {
            try NetAllocations.during(body, total: total)
        }
    }

    @Test func counterIsActive() {
        #expect(vla_test_allocation_counter_active() == 1, "the interposed malloc is not in use; the allocation tests would prove nothing")
    }

    @Test(arguments: [1, 2])
    func runAllocatesNothing(threads: Int) throws {
        try KernelPaths.exclusive {
            let fixtures = try OpFixtures.loaded.get()
            for c in fixtures.cases {
                let built = try OpDocument(c, fixtures, inputsInArena: true)
                let interpreter = try Interpreter(document: built.document, options: RuntimeOptions(threads: threads))
                for (id, bytes) in built.arenaInputs { try interpreter.setRaw(id, bytes) }
                try interpreter.run(0)  // warm-up: OpenBLAS sets up its buffers on first use
                let runs = try Counter(interpreter).during { for _ in 0..<3 { try interpreter.run(0) } }
                #expect(runs == 0, "\(c.name): \(runs) allocations in three runs with \(threads) threads")
            }
        }
    }

    /// The image contract allocates nothing per frame after the first frame of a size, on the caller and on the
    /// worker threads, for every resize method and crop (the frame layouts included).
    @Test(arguments: [1, 2])
    func imagePreprocessingAllocatesNothing(threads: Int) throws {
        try KernelPaths.exclusive {
            let fixtures = try OpFixtures.loaded.get()
            let built = try OpDocument(fixtures.cases[0], fixtures, inputsInArena: true)
            let interpreter = try Interpreter(document: built.document, options: RuntimeOptions(threads: threads))
            let frame = [UInt8](repeating: 0, count: 480 * 640 * 4).enumerated().map { UInt8(truncatingIfNeeded: $0.offset &* 7919 >> 3) }
            var out = [Float](repeating: 0, count: 224 * 224 * 3)
            for resize in [ResizeMethod.lanczos3Antialias, .padLanczos3Antialias] {
                for crop in [false, true] {
                    let p = ImagePreprocessor(
                        contract: ImageContract(height: 224, width: 224, resize: resize, crop: crop ? .central : .none, cropArea: crop ? 0.9 : 0),
                        pool: interpreter.pool)
                    // Two lets, not an array: iterating an array of FrameLayout allocates in debug builds (the
                    // unspecialized iterator), which would count against the preprocessor.
                    let packed = try FrameLayout(height: 480, width: 640), bgra = try FrameLayout(height: 480, width: 640, pixel: .bgra)
                    try p.prepare(frame: frame.span, layout: packed)
                    try p.prepare(frame: frame.span, layout: bgra)
                    let counter = Counter(interpreter)
                    let frames = try counter.during {
                        for _ in 0..<3 {
                            try p.prepare(frame: frame.span, layout: packed)
                            try p.prepare(frame: frame.span, layout: bgra)
                        }
                    }
                    #expect(frames == 0, "\(resize) crop \(crop): \(frames) allocations in six frames with \(threads) threads")
                    let normalizations = counter.during {
                        for _ in 0..<3 { out.withUnsafeMutableBufferPointer { p.normalize(into: $0.baseAddress!, count: $0.count) } }
                    }
                    #expect(normalizations == 0, "\(resize) crop \(crop): \(normalizations) allocations in three normalizations")
                }
            }
        }
    }
}
