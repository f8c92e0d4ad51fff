import Foundation
import VLAFormat
import VLAModels
import VLARuntime

/// One policy emitted and written by a worker.
struct EmittedPolicy {
    var file: String
    var sha256: String
    var size: Int
    var deviation: PolicyDeviation?
}

extension Compiler {
    /// Evaluates and emits `batches` on `options.jobs` threads and reports each result through `finish`, which
    /// is called under a lock (one call at a time, from any of the threads).
    ///
    /// Each thread emits, serializes, hashes and writes policies of batches already evaluated and, when none
    /// is pending, evaluates the next batch (T5 and the instruction part of the HN). Each thread has its own
    /// evaluators and emission context; the weights are shared through `constants`. A policy's bytes depend
    /// only on its instruction (batches are padded, kernels run on one thread each), so which thread handles
    /// it and the order in which threads finish change nothing written.
    ///
    /// - Parameters:
    ///   - shouldStop: Checked before each task (under the lock): true stops taking new work (`--strict`).
    ///   - finish: Receives each instruction's outcome.
    func run(
        batches: [(length: Int, items: [Prepared])], out: String, journal: OutputLock, ctx: EmitContext, stats: inout PhaseTimes,
        shouldStop: () -> Bool,
        finish: (Prepared, Result<EmittedPolicy, CompileError>) -> Void
    ) throws(CompileError) {
        let workers = max(1, min(options.jobs, 64))
        var contexts = [ctx]
        for _ in 1..<workers { contexts.append(try workerContext(like: ctx)) }
        let queue = WorkQueue(batches: batches)
        // The closures run only while this call lasts (concurrentPerform returns after every thread ends).
        withoutActuallyEscaping(finish) { finish in
            withoutActuallyEscaping(shouldStop) { shouldStop in
                runWorkers(workers, queue: queue, contexts: UncheckedBox(contexts), out: out, journal: journal,
                           finish: UncheckedBox(finish), stop: UncheckedBox(shouldStop))
            }
        }
        stats.evaluate += queue.times.evaluate
        stats.emit += queue.times.emit
        stats.write += queue.times.write
    }

    private func runWorkers(
        _ workers: Int, queue: WorkQueue, contexts sendableContexts: UncheckedBox<[EmitContext]>, out: String, journal: OutputLock,
        finish finishBox: UncheckedBox<(Prepared, Result<EmittedPolicy, CompileError>) -> Void>,
        stop stopBox: UncheckedBox<() -> Bool>
    ) {
        // Per thread: its T5 and HN evaluators by length (the weights are shared through `constants`).
        let caches = UncheckedBox((0..<workers).map { _ in EvaluatorCache() })
        let work: @Sendable (Int) -> Void = { w in
            let ctx = sendableContexts.value[w]
            let cache = caches.value[w]
            while let task = queue.next(stop: stopBox.value) {
                switch task {
                case .evaluate(let batch):
                    let start = threadCPUSeconds()
                    let result: Result<[Evaluated], CompileError>
                    do throws(CompileError) { result = .success(try self.evaluate(batch.items, length: batch.length, cache: &cache.byLength)) } catch {
                        result = .failure(error)
                    }
                    queue.evaluated(result, batch: batch.items, seconds: threadCPUSeconds() - start) { p, error in
                        finishBox.value(p, .failure(error))
                    }
                case .emit(let ev):
                    let start = threadCPUSeconds()
                    let result: Result<EmittedPolicy, CompileError>
                    do throws(CompileError) {
                        let policy = try self.emit(ev, ctx: ctx)
                        let bytes = policy.bytes, identity = policy.identity
                        let emitted = threadCPUSeconds()
                        let sha = hexString(identity)
                        let name = "policies/\(ev.prepared.task.text.slug)-\(sha.prefix(8)).vla"
                        try journal.record(name, sha256: sha, size: bytes.count)
                        try self.writeIfChanged(bytes, to: out + "/" + name)
                        queue.add(emit: emitted - start, write: threadCPUSeconds() - emitted)
                        result = .success(EmittedPolicy(file: name, sha256: sha, size: bytes.count, deviation: policy.deviation))
                    } catch {
                        result = .failure(error)
                    }
                    queue.locked { finishBox.value(ev.prepared, result) }
                }
            }
        }
        if workers == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: work)
        }
    }

    /// An emission context for another thread: the same shared blobs, its own evaluators.
    func workerContext(like ctx: EmitContext) throws(CompileError) -> EmitContext {
        let copy = EmitContext()
        copy.blobs = ctx.blobs
        copy.stepTailInputs = ctx.stepTailInputs
        // Interpreters own their arenas: every evaluator the emission uses is prepared again for this thread
        // (the weights are shared through the constant pool).
        do {
            if let tail = ctx.stepTailInputs {
                copy.stepTailEval = try Interpreter(document: tail.document, options: runtime, constants: constants)
            }
            if let (model, _) = ctx.flatTail {
                copy.flatTail = (model, try Interpreter(document: model.document, options: runtime, constants: constants))
            }
            if let hn = ctx.hnTail {
                copy.hnTail = (hn.length, hn.model, try Interpreter(document: hn.model.document, options: runtime, constants: constants))
            }
        } catch {
            throw CompileError(.internalError, "preparing the test-vector evaluators of a worker", cause: error)
        }
        return copy
    }
}

/// CPU seconds of the calling thread (load-independent, unlike wall time on a shared machine).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU seconds spent per phase of a run (each thread's own CPU time, summed over threads; kernel threads of
/// an evaluator started with `threads` > 1 are not counted).
public struct PhaseTimes: Sendable {
    /// Building the shared blobs and their evaluators.
    public var context = 0.0
    /// T5 and the HN's instruction part (batched).
    public var evaluate = 0.0
    /// Per policy: test-vector evaluation, assembly, serialization with self-verification.
    public var emit = 0.0
    /// Per policy: hashing and writing.
    public var write = 0.0
    /// Removing stale files.
    public var stale = 0.0
}

/// One thread's evaluators, by sequence length.
final class EvaluatorCache {
    var byLength: [Int: (Interpreter, BuiltModel, Interpreter, BuiltModel)] = [:]
}

/// A value handed to the worker threads: the compiler's run is structured so that each value is either
/// read-only while the threads run or used by one thread only (see ``Compiler/run(batches:out:journal:ctx:stats:shouldStop:finish:)``).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The tasks of a run: evaluate a batch (one at a time), or emit an evaluated instruction.
final class WorkQueue: @unchecked Sendable {
    // @unchecked: every stored property is read and written only while holding `condition`.
    enum Task {
        case evaluate((length: Int, items: [Compiler.Prepared]))
        case emit(Evaluated)
    }
    private let condition = NSCondition()
    private var batches: [(length: Int, items: [Compiler.Prepared])]
    private var nextBatch = 0
    private var evaluating = 0
    private var pending: [Evaluated] = []
    private var pendingHead = 0
    private(set) var times = PhaseTimes()

    init(batches: [(length: Int, items: [Compiler.Prepared])]) { self.batches = batches }

    /// The next task, waiting while other threads evaluate and nothing is ready; nil when all is done.
    ///
    /// Emission goes first (it frees memory and reports progress), then the next batch's evaluation.
    func next(stop: () -> Bool) -> Task? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stop() { return nil }
            if pendingHead < pending.count {
                let ev = pending[pendingHead]
                pendingHead += 1
                if pendingHead == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    pendingHead = 0
                }
                return .emit(ev)
            }
            if nextBatch < batches.count {
                evaluating += 1
                let b = batches[nextBatch]
                batches[nextBatch].items = []
                nextBatch += 1
                return .evaluate(b)
            }
            if evaluating == 0 { return nil }
            condition.wait()
        }
    }

    /// Records an evaluated batch (or its failure, reported per instruction through `failed` under the lock).
    func evaluated(
        _ result: Result<[Evaluated], CompileError>, batch: [Compiler.Prepared], seconds: Double,
        failed: (Compiler.Prepared, CompileError) -> Void
    ) {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        evaluating -= 1
        times.evaluate += seconds
        switch result {
        case .success(let list): pending += list
        case .failure(let error): for p in batch { failed(p, error) }
        }
    }

    /// Adds per-policy times.
    func add(emit: Double, write: Double) {
        locked {
            times.emit += emit
            times.write += write
        }
    }

    /// Runs `body` holding the lock.
    func locked(_ body: () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        body()
    }
}

// MARK: stale files

extension Compiler {
    /// Removes the files the previous manifest named and the new one does not, after the new manifest is
    /// in place. Only files vlac wrote are touched: each is named by the previous manifest, lies under
    /// `policies/` or `shared/`, and still has the size and SHA-256 recorded there (a file changed since is
    /// left alone and reported).
    ///
    /// - Returns: The files removed, and the ones left alone with the reason.
    static func removeStale(_ files: [ManifestFile.FileRecord], in out: String) -> (removed: [String], kept: [String]) {
        var removed: [String] = [], kept: [String] = []
        let fm = FileManager.default
        for f in files {
            let path = out + "/" + f.file
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            var h = VLAFormat.SHA256()
            let data = isDir.boolValue ? nil : try? RegularFile.read(path)
            data?.withUnsafeBytes { h.update($0) }
            guard let data, data.count == f.size, hexString(h.finalize()) == f.sha256 else {
                kept.append("\(f.file): changed since vlac wrote it; left in place")
                continue
            }
            do {
                try fm.removeItem(atPath: path)
                removed.append(f.file)
            } catch {
                kept.append("\(f.file): cannot remove (\(error.localizedDescription))")
            }
        }
        return (removed, kept)
    }
}

/// Results filled by several threads: each claims the next index, then sets its slot.
final class ResultSlots<T>: @unchecked Sendable {
    // @unchecked: `slots` and `claimed` are read and written only under `lock`.
    private let lock = NSLock()
    private var slots: [T?]
    private var claimed = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The next unclaimed index, or nil when all are claimed.
    func claim() -> Int? {
        lock.withLock {
            guard claimed < slots.count else { return nil }
            claimed += 1
            return claimed - 1
        }
    }

    func set(_ index: Int, _ value: T) { lock.withLock { slots[index] = value } }

    var values: [T?] { lock.withLock { slots } }
}
