#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("VLARuntime's worker pool needs POSIX threads")
#endif
import Synchronization

/// A fixed set of kernel threads that run `parallelFor` loops together with the caller.
///
/// Workers are started once (at prepare time) and sleep on a condition variable between loops; a loop
/// hands out indices through an atomic counter, so a slowed core simply takes fewer of them. A loop does not
/// allocate: the body is a non-escaping closure whose address the workers read while the caller waits.
///
/// `@unchecked Sendable`: every mutable field is read and written under `mutex`, except `body`, `count`
/// and `next`, which the caller writes under `mutex` before bumping `generation` and which workers read
/// only after observing the new generation under the same mutex (and the caller waits under it for all
/// workers to finish before it clears them).
@safe final class WorkerPool: @unchecked Sendable {
    /// Threads including the caller's.
    let threadCount: Int
    private var mutex = unsafe pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var generation = 0
    private var running = 0
    private var stopping = false
    private var body: ((Int, Int) -> Void)?
    private var count = 0
    private let next = Atomic<Int>(0)
    private let barrier = Atomic<Int>(0)
    private var threads: [pthread_t] = []

    /// Starts `threadCount − 1` workers.
    init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        unsafe pthread_mutex_init(&mutex, nil)
        unsafe pthread_cond_init(&wake, nil)
        unsafe pthread_cond_init(&done, nil)
        for worker in 1..<self.threadCount {
            let context = UnsafeMutablePointer<(WorkerPool, Int)>.allocate(capacity: 1)
            unsafe context.initialize(to: (self, worker))
            var thread = pthread_t()
            let status = unsafe pthread_create(&thread, nil, { raw in
                let context = unsafe raw!.assumingMemoryBound(to: (WorkerPool, Int).self)
                let (pool, index) = unsafe context.move()
                unsafe context.deallocate()
                pool.workerLoop(index: index)
                return nil
            }, context)
            if status == 0 { threads.append(thread) } else { unsafe context.deinitialize(count: 1); unsafe context.deallocate() }
        }
    }

    deinit {
        unsafe pthread_mutex_lock(&mutex)
        stopping = true
        unsafe pthread_cond_broadcast(&wake)
        unsafe pthread_mutex_unlock(&mutex)
        for thread in threads { pthread_join(thread, nil) }
        unsafe pthread_cond_destroy(&done)
        unsafe pthread_cond_destroy(&wake)
        unsafe pthread_mutex_destroy(&mutex)
    }

    /// Workers actually running (thread creation can fail; the caller then does more of the work).
    var liveWorkers: Int { threads.count }

    /// Runs `body(i, thread)` for every `i` in `0..<n` on the caller and the workers; returns when all are done.
    ///
    /// `thread` is in `0..<threadCount` (0 = the caller) and identifies per-thread scratch memory.
    /// - Complexity: one wake-up of the workers; indices are claimed one at a time.
    func parallelFor(_ n: Int, _ body: (Int, Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || threads.isEmpty {
            for i in 0..<n { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            unsafe pthread_mutex_lock(&mutex)
            self.body = escaping
            self.count = n
            next.store(0, ordering: .relaxed)
            running = threads.count
            generation &+= 1
            unsafe pthread_cond_broadcast(&wake)
            unsafe pthread_mutex_unlock(&mutex)
            drain(escaping, n: n, thread: 0)
            unsafe pthread_mutex_lock(&mutex)
            while running > 0 { unsafe pthread_cond_wait(&done, &mutex) }
            self.body = nil
            unsafe pthread_mutex_unlock(&mutex)
        }
    }

    private func drain(_ body: (Int, Int) -> Void, n: Int, thread: Int) {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= n { return }
            body(i, thread)
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        unsafe pthread_mutex_lock(&mutex)
        while true {
            while generation == seen && !stopping { unsafe pthread_cond_wait(&wake, &mutex) }
            if stopping { break }
            seen = generation
            let body = self.body
            let n = count
            unsafe pthread_mutex_unlock(&mutex)
            if let body { drain(body, n: n, thread: index) }
            unsafe pthread_mutex_lock(&mutex)
            running -= 1
            if running == 0 { unsafe pthread_cond_signal(&done) }
        }
        unsafe pthread_mutex_unlock(&mutex)
    }

    /// Runs `body(thread)` once on each thread of the pool, the caller as thread 0 (tests use it to read
    /// per-thread counters).
    func onEachThread(_ body: (Int) -> Void) {
        body(0)
        if threads.isEmpty { return }
        barrier.store(0, ordering: .relaxed)
        let total = threads.count + 1
        parallelFor(total) { _, thread in
            // Each thread waits in its item until all have claimed one, so every thread runs exactly one.
            barrier.add(1, ordering: .relaxed)
            while barrier.load(ordering: .relaxed) < total { sched_yield() }
            if thread != 0 { body(thread) }
        }
    }
}
