#if canImport(Glibc)
import Glibc
#else
// Only the Linux (Glibc) arm is built and tested; other platforms need a port of this file, not a guess.
#error("VLARuntime's worker pool is written for Linux pthreads (Glibc)")
#endif
import CVLAKernels
import Synchronization

/// A fixed set of kernel threads that run `parallelFor` loops together with the caller.
///
/// Workers are started once (at prepare time). Between loops a worker first spins for a while (checks of an
/// atomic generation number with a pause hint each, for up to ``spinNanoseconds`` by the monotonic clock, 1 ms)
/// and then sleeps on a condition variable; the caller likewise spins for the workers to finish before it
/// sleeps. The spin outlasts the gap between two loops even when one thread finishes its share of a loop well
/// before the other (an int8 DINOv2 step measured about 6 % faster with 2 threads than with a spin of 2,000 pause
/// hints, about 40 µs, after which a worker was often asleep when the next loop began); after the last loop of
/// a step each worker spins at most 1 ms more before it sleeps. A step runs tens of loops in
/// quick succession, and a wake-up through the condition variable costs more than most of them. A loop
/// hands out indices through an atomic counter, so a slowed core simply takes fewer of them. A loop does not
/// allocate: the body is a C function pointer and the address of a context the caller keeps alive.
///
/// `@unchecked Sendable`: every mutable field is read and written under `mutex` (the caller writes `task`,
/// `context` and `count` together with `generation`, and a worker reads the four together); `state`,
/// `finished`, `published` and `barrier` are atomics. The caller returns when all tasks of its loop have
/// finished, without waiting for workers that claimed none (on a loaded machine a worker may not run for
/// milliseconds); such a late worker finds its generation gone from `state` and goes back to waiting.
@safe final class WorkerPool: @unchecked Sendable {
    /// Threads including the caller's.
    let threadCount: Int
    private var mutex = unsafe pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var generation = 0
    private var stopping = false
    /// The current (after it, the last) loop's body and its context.
    private var task: Task?
    private var context: UnsafeRawPointer?
    private var count = 0
    /// The loop's generation (low 31 bits) in the high half and the next unclaimed index in the low half:
    /// an index is claimed by compare-and-exchange only while the generation matches, so a worker that wakes
    /// after its loop ended can never claim an index of a later loop (or touch its ended context).
    private let state = Atomic<Int>(0)
    /// Tasks of the current loop that have finished; the caller returns when all have.
    private let finished = Atomic<Int>(0)
    private let barrier = Atomic<Int>(0)
    /// `generation` as published to spinning workers (stored under `mutex`, read without it).
    private let published = Atomic<Int>(0)
    private var threads: [pthread_t] = []
    /// The longest spin (by the monotonic clock) before sleeping on a condition variable.
    static let spinNanoseconds: UInt64 = 1_000_000

    /// The end of a spin: ``spinNanoseconds`` after it starts by the monotonic clock, which `expired()` reads
    /// every 64 calls. (A plain value, not a closure over the pool: a worker may spin while the pool is being
    /// deinitialized, and a closure capturing `self` would retain it then.)
    struct SpinDeadline {
        private var start = timespec()
        private var checks = 0

        init() { unsafe clock_gettime(CLOCK_MONOTONIC, &start) }

        /// Gives a pause hint; true once the spin has lasted ``spinNanoseconds``.
        mutating func expired() -> Bool {
            vla_cpu_relax()
            checks &+= 1
            if checks & 63 != 0 { return false }
            var now = timespec()
            unsafe clock_gettime(CLOCK_MONOTONIC, &now)
            return (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec) >= Int(WorkerPool.spinNanoseconds)
        }
    }

    /// Starts `threadCount − 1` workers.
    init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        unsafe pthread_mutex_init(&mutex, nil)
        unsafe pthread_cond_init(&wake, nil)
        unsafe pthread_cond_init(&done, nil)
        for worker in 1..<self.threadCount {
            // Workers hold the pool unretained: a strong reference would keep it (and its threads) alive forever.
            // deinit joins every worker before the memory goes, so the unretained reference stays valid.
            let context = UnsafeMutablePointer<(Unmanaged<WorkerPool>, Int)>.allocate(capacity: 1)
            unsafe context.initialize(to: (Unmanaged.passUnretained(self), worker))
            var thread = pthread_t()
            let status = unsafe pthread_create(&thread, nil, { raw in
                let context = unsafe raw!.assumingMemoryBound(to: (Unmanaged<WorkerPool>, Int).self)
                let (pool, index) = unsafe context.move()
                unsafe context.deallocate()
                unsafe pool._withUnsafeGuaranteedRef { $0.workerLoop(index: index) }
                return nil
            }, context)
            if status == 0 { threads.append(thread) } else { unsafe context.deinitialize(count: 1); unsafe context.deallocate() }
        }
    }

    deinit {
        unsafe pthread_mutex_lock(&mutex)
        stopping = true
        published.store(-1, ordering: .releasing)  // no generation: a spinning worker stops spinning now
        unsafe pthread_cond_broadcast(&wake)
        unsafe pthread_mutex_unlock(&mutex)
        for thread in threads { pthread_join(thread, nil) }
        unsafe pthread_cond_destroy(&done)
        unsafe pthread_cond_destroy(&wake)
        unsafe pthread_mutex_destroy(&mutex)
    }

    /// Workers actually running (thread creation can fail; the caller then does more of the work).
    var liveWorkers: Int { threads.count }

    /// A loop body: `task(context, index, thread)`. A C function pointer and a context address, so that
    /// starting a loop allocates nothing, even in unoptimized builds.
    typealias Task = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

    /// Runs `task(context, i, thread)` for every `i` in `0..<n` on the caller and the workers; returns when all
    /// are done. `thread` is in `0..<threadCount` (0 = the caller) and identifies per-thread scratch memory.
    /// - Warning: `context` must stay valid until this returns (pass the address of a local).
    /// - Complexity: one wake-up of the workers; indices are claimed one at a time.
    func parallelFor(_ n: Int, _ context: UnsafeRawPointer, _ task: Task) {
        if n <= 0 { return }
        if n == 1 || threads.isEmpty || n >= 1 << 31 {
            for i in 0..<n { unsafe task(context, i, 0) }
            return
        }
        unsafe pthread_mutex_lock(&mutex)
        unsafe self.task = task
        unsafe self.context = context
        self.count = n
        generation &+= 1
        let g = generation
        finished.store(0, ordering: .relaxed)
        state.store(WorkerPool.tag(g), ordering: .relaxed)
        published.store(g, ordering: .releasing)
        unsafe pthread_cond_broadcast(&wake)
        unsafe pthread_mutex_unlock(&mutex)
        unsafe drain(task, context, n: n, thread: 0, generation: g)
        // Wait for the tasks, not for the workers: a worker that a busy core has not yet scheduled has claimed
        // nothing, and the caller has already run what it left.
        var deadline = WorkerPool.SpinDeadline()
        while finished.load(ordering: .acquiring) < n && !deadline.expired() {}
        if finished.load(ordering: .acquiring) < n {
            unsafe pthread_mutex_lock(&mutex)
            while finished.load(ordering: .acquiring) < n { unsafe pthread_cond_wait(&done, &mutex) }
            unsafe pthread_mutex_unlock(&mutex)
        }
    }

    /// The high half of `state` for generation `g`.
    private static func tag(_ g: Int) -> Int { (g & 0x7FFF_FFFF) << 32 }

    /// Runs `body(i, thread)` for every `i` in `0..<n` (a convenience for code off the hot path: the closure
    /// conversion may allocate in unoptimized builds).
    func parallelFor(_ n: Int, _ body: (Int, Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            var local = escaping
            unsafe withUnsafePointer(to: &local) { address in
                unsafe parallelFor(n, UnsafeRawPointer(address)) { raw, i, thread in
                    unsafe raw.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(i, thread)
                }
            }
        }
    }

    /// Claims and runs indices of generation `g`'s loop until none is left (or a later loop has started).
    private func drain(_ task: Task, _ context: UnsafeRawPointer, n: Int, thread: Int, generation g: Int) {
        let tag = WorkerPool.tag(g)
        while true {
            var s = state.load(ordering: .relaxed)
            var claimed = -1
            while claimed < 0 {
                if s & ~0xFFFF_FFFF != tag || s & 0xFFFF_FFFF >= n { return }
                let (exchanged, original) = state.compareExchange(expected: s, desired: s + 1, ordering: .relaxed)
                if exchanged { claimed = s & 0xFFFF_FFFF } else { s = original }
            }
            unsafe task(context, claimed, thread)
            if finished.add(1, ordering: .acquiringAndReleasing).newValue == n {
                // The caller may be asleep on `done` (it checks `finished` under the mutex before waiting).
                unsafe pthread_mutex_lock(&mutex)
                unsafe pthread_cond_signal(&done)
                unsafe pthread_mutex_unlock(&mutex)
            }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        unsafe pthread_mutex_lock(&mutex)
        while true {
            if generation == seen && !stopping {
                // Spin a little before sleeping: the next loop of a step usually starts within microseconds.
                unsafe pthread_mutex_unlock(&mutex)
                var deadline = WorkerPool.SpinDeadline()
                while published.load(ordering: .acquiring) == seen && !deadline.expired() {}
                unsafe pthread_mutex_lock(&mutex)
            }
            while generation == seen && !stopping { unsafe pthread_cond_wait(&wake, &mutex) }
            if stopping { break }
            seen = generation
            let task = unsafe self.task
            let context = unsafe self.context
            let n = count
            unsafe pthread_mutex_unlock(&mutex)
            if let task = unsafe task, let context = unsafe context { unsafe drain(task, context, n: n, thread: index, generation: seen) }
            unsafe pthread_mutex_lock(&mutex)
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
