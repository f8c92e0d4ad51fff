import CAllocationCounter
import Foundation
import Testing
import VLATestSupport
import VLAFormat
@testable import VLARuntime
@testable import VLARuntimeC
@testable import VLACompiler

/// After `reset`, `step` allocates nothing on any thread of the session (the caller and every kernel worker):
/// on the hypervla-tiny policies `vlac compile` makes in both configurations, with 1 and 2 threads, through
/// PolicySession and through the C ABI. Counted with the interposed malloc family (Sources/CAllocationCounter).
@Suite(.serialized) struct StepAllocationTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// Compiles the first demo instruction once per configuration; returns the policy path. The folder serves
    /// every test of the process and is removed when the process exits.
    static func compiled(_ setting: String) throws -> (policy: String, folder: String) {
        let out = NSTemporaryDirectory() + "vlart-alloc-\(setting)-\(getpid())"
        if let files = try? FileManager.default.contentsOfDirectory(atPath: out + "/policies"), let f = files.first {
            return (out + "/policies/" + f, out)
        }
        ProcessTemporaries.removeAtExit(out)
        // "image", "no-image", optionally with a precision suffix ("image-int8", "no-image-bf16").
        var options = CompileOptions()
        for p in Precision.allCases where setting.hasSuffix("-\(p)") { options.precision = p }
        let model = setting.hasPrefix("image") ? "model" : "model-no-image"
        let c = try Compiler(model: root + "/Examples/hypervla-tiny/" + model, options: options)
        _ = try c.compile(tasks: TaskList(bytes: Array("pick up the red block and place it in the bowl\n".utf8), name: "tasks.txt"), listName: "tasks.txt", to: out)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/policies")
        return (out + "/policies/" + (try #require(files.first)), out)
    }

    /// Allocation calls so far on every thread of an interpreter's pool (reading them costs the same each time).
    final class Counter {
        let pool: WorkerPool
        let counts: UnsafeMutableBufferPointer<Int>
        init(_ interpreter: Interpreter) {
            pool = interpreter.pool
            counts = .allocate(capacity: interpreter.pool.threadCount)
            counts.initialize(repeating: 0)
        }
        deinit { counts.deallocate() }
        func total() -> Int {
            let counts = self.counts
            pool.onEachThread { thread in counts[thread] = vla_test_allocations_on_this_thread() }
            var sum = 0
            for i in counts.indices { sum += counts[i] }
            return sum
        }
        /// Allocations made by `body`, net of the counting itself.
        func during(_ body: () throws -> Void) rethrows -> Int {
            try KernelPaths.exclusive { try NetAllocations.during(body, total: total) }
        }
    }

    /// The settings: both use_initial_image configurations in fp32, and each reduced precision (format 1.2).
    static let settings = ["image", "no-image", "image-int8", "no-image-bf16"]

    @Test(arguments: settings, [1, 2])
    func stepAllocatesNothing(setting: String, threads: Int) throws {
        try KernelPaths.exclusive {
            #expect(vla_test_allocation_counter_active() == 1, "the allocation counter is not interposed")
            let (path, folder) = try Self.compiled(setting)
            let policy = try Policy(path: path, sharedSearchPaths: [folder + "/shared"])
            #expect((policy.resetProgram != nil) == setting.hasPrefix("image"))
            var frame = [UInt8](repeating: 0, count: 480 * 640 * 3)
            for i in frame.indices { frame[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i / 1920) }
            // One episode on another session first, so that what a process sets up once (Swift runtime metadata,
            // the kernels' CPU dispatch) is done; then counting starts at the first step after the first reset of a
            // new session (its buffers must all exist by then).
            do {
                let warm = try PolicySession(policy: policy, options: RuntimeOptions(threads: threads))
                try warm.reset(frame: frame.span, height: 480, width: 640)
                _ = try warm.step(frame: frame.span, height: 480, width: 640)
            }
            let session = try PolicySession(policy: policy, options: RuntimeOptions(threads: threads))
            #expect(session.interpreter.threadCount == threads)
            try session.reset(frame: frame.span, height: 480, width: 640)
            let counter = Counter(session.interpreter)
            var sum: Float = 0
            let n = try counter.during {
                for _ in 0..<4 { sum += try session.step(frame: frame.span, height: 480, width: 640)[0] }
            }
            #expect(n == 0, "\(setting), \(threads) threads: \(n) allocations in 4 steps")
            #expect(sum.isFinite)
        }
    }

    @Test(arguments: settings, [1, 2])
    func cABIStepAllocatesNothing(setting: String, threads: Int) throws {
        try KernelPaths.exclusive {
            let (path, folder) = try Self.compiled(setting)
            var policyHandle: OpaquePointer?
            let status = path.withCString { p in
                (folder + "/shared").withCString { d in
                    var dirs: [UnsafePointer<CChar>?] = [d]
                    return dirs.withUnsafeMutableBufferPointer { vla_policy_open(p, $0.baseAddress, 1, &policyHandle) }
                }
            }
            #expect(status == vlaOK)
            defer { vla_policy_close(policyHandle) }
            var sessionHandle: OpaquePointer?
            #expect(vla_session_create(policyHandle, Int32(threads), &sessionHandle) == vlaOK)
            defer { vla_session_destroy(sessionHandle) }
            let live = try #require(session(sessionHandle))
            var frame = [UInt8](repeating: 0, count: 480 * 640 * 3)
            for i in frame.indices { frame[i] = UInt8(truncatingIfNeeded: i &* 5 &+ i / 1920) }
            var action = [Float](repeating: 0, count: 16)
            frame.withUnsafeBufferPointer { f in
                #expect(vla_session_reset(sessionHandle, f.baseAddress, 480, 640, UInt(f.count)) == vlaOK)
                #expect(vla_session_step(sessionHandle, f.baseAddress, 480, 640, UInt(f.count), &action, UInt(action.count)) == vlaOK)
                #expect(vla_session_reset(sessionHandle, f.baseAddress, 480, 640, UInt(f.count)) == vlaOK)
            }
            let counter = Counter(live.interpreter)
            let n = frame.withUnsafeBufferPointer { f in
                action.withUnsafeMutableBufferPointer { out in
                    counter.during {
                        for _ in 0..<4 { _ = vla_session_step(sessionHandle, f.baseAddress, 480, 640, UInt(f.count), out.baseAddress, UInt(out.count)) }
                    }
                }
            }
            #expect(n == 0, "C ABI, \(setting), \(threads) threads: \(n) allocations in 4 steps")
            #expect(action[0].isFinite)
        }
    }
}
