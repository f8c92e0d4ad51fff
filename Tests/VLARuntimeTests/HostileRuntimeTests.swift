import Foundation
import Synchronization
import Testing
import VLAFormat
@testable import VLARuntime
import VLATestSupport

/// Issue 16, runtime side: files that verify but ask the runtime for too much memory or produce NaN actions,
/// FIFOs and huge sparse files where a policy or blob is expected, and constants rewritten under the runtime.
@Suite struct HostileRuntimeTests {
    /// The demo policy (with reset) rebuilt after `edit`, written with its blob into a fresh folder (the caller
    /// removes it).
    static func editedDemo(_ edit: (inout VLADocument) throws -> Void) throws -> (folder: String, policy: String) {
        let (folder, files) = try RuntimeFixtures.demoFolder(withReset: true)
        var doc = try VLAFile(bytes: files.policy).document()
        try edit(&doc)
        let path = folder + "/policies/policy.vla"
        try Data(try VLAWriter.serialize(doc)).write(to: URL(fileURLWithPath: path))
        return (folder, path)
    }

    static func replaceInline(_ doc: inout VLADocument, _ name: String, with value: Float) throws {
        let id = try #require(doc.tensors.firstIndex { $0.name == name })
        doc.tensors[id].location = .inline(SampleDocuments.f32Bytes(Array(repeating: value, count: doc.tensors[id].type.elementCount)))
    }

    // MARK: Arena limit and failable allocation

    /// arena16g.vla's kind: a policy that verifies and declares a 16 GiB arena. The session refuses it against
    /// the default limit before allocating, and a caller's higher limit is honoured (the check moves, the arena
    /// is still the file's).
    @Test func arenaOverTheLimitIsRefusedBeforeAllocating() throws {
        let (folder, path) = try Self.editedDemo { $0.arenaSize = 1 << 34 }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let policy = try Policy(path: path, sharedSearchPaths: [folder + "/shared"])
        #expect(policy.sessionArenaBytes == 1 << 34)
        #expect(RuntimeLimits().maxArenaBytes == 1 << 30)
        let error = try #require(throws: RuntimeError.self) { try PolicySession(policy: policy) }
        #expect(error.code == .limitExceeded)
        #expect(error.message.contains("17179869184"), "\(error)")
        var limits = RuntimeLimits()
        limits.maxArenaBytes = 4096
        let (small, smallPath) = try Self.editedDemo { _ in }
        defer { try? FileManager.default.removeItem(atPath: small) }
        let demo = try Policy(path: smallPath, sharedSearchPaths: [small + "/shared"])
        #expect(throws: RuntimeError.self) { try PolicySession(policy: demo, options: RuntimeOptions(limits: limits)) }
        limits.maxArenaBytes = Int(demo.sessionArenaBytes)
        _ = try PolicySession(policy: demo, options: RuntimeOptions(limits: limits))
    }

    /// An arena the limit allows but the system refuses is `.outOfMemory`, not an abort: 2⁶² bytes through
    /// the interpreter's real arena allocation, and the allocator itself.
    @Test func refusedAllocationIsAnError() throws {
        var limits = RuntimeLimits()
        limits.maxArenaBytes = Int.max
        let error = try #require(throws: RuntimeError.self) {
            try Interpreter(tensors: [], programs: [], arenaSize: 1 << 62, keepAlive: nil, options: RuntimeOptions(limits: limits))
        }
        #expect(error.code == .outOfMemory)
        #expect(error.message.contains("4611686018427387904 bytes for the arena"), "\(error)")
        let owned = OwnedBuffers()
        #expect(throws: RuntimeError.self) { try owned.allocate(bytes: -1) }
        let p = try owned.allocate(bytes: 100)
        #expect(Int(bitPattern: p) % 64 == 0)
    }

    // MARK: Non-finite actions

    /// nan-passes-selftest.vla's kind: the step program yields NaN (or ∞) and the embedded expected chunk is the
    /// same NaN. The self-test fails, and `step` refuses the chunk instead of returning it.
    @Test(arguments: [Float.nan, Float.infinity])
    func nonFiniteChunkFailsSelfTestAndStep(value: Float) throws {
        let (folder, path) = try Self.editedDemo { doc in
            try Self.replaceInline(&doc, "policy/head_b", with: value)
            try Self.replaceInline(&doc, "test/step_chunk", with: value)
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let policy = try Policy(path: path, sharedSearchPaths: [folder + "/shared"])
        let results = try policy.selfTest()
        let step = try #require(results.last)
        #expect(!step.passed)
        #expect(step.nonFiniteOutputs == 28)
        #expect(step.failure == "28 output values are NaN or infinite")
        let session = try PolicySession(policy: policy)
        let frame = RuntimeFixtures.frame(height: 48, width: 64)
        try session.reset(frame: frame.span, height: 48, width: 64)
        let error = try #require(throws: RuntimeError.self) { try session.step(frame: frame.span, height: 48, width: 64) }
        #expect(error.code == .nonFiniteAction)
        #expect(error.message.contains("raw chunk holds \(value) at [0][0]"), "\(error)")
        #expect(session.action == [Float](repeating: 0, count: 7), "no action was produced")
    }

    /// meta_mean_huge / meta_std_denorm's kind at the runtime: a contract whose unnormalization overflows. The
    /// chunk is refused before it enters the ensembling history: later chunks give what they would have
    /// given without it.
    @Test func overflowingContractIsRefusedWithoutTouchingHistory() throws {
        var contract = DemoPolicy.actionContract()
        contract.std[0] = Float.greatestFiniteMagnitude
        let p = try ActionProcessor(contract: contract)
        let zeros = [Float](repeating: 0, count: 28)
        var big = zeros
        big[0] = 3
        let first = try p.process(zeros.span)
        #expect(first.allSatisfy { $0.isFinite })
        let error = try #require(throws: RuntimeError.self) { try p.process(big.span) }
        #expect(error.code == .nonFiniteAction)
        #expect(error.message.contains("after squash, gripper rule and unnormalization (check") && error.message.contains("holds inf at [0][0]"), "\(error)")
        let second = try p.process(zeros.span)
        let fresh = try ActionProcessor(contract: contract)
        _ = try fresh.process(zeros.span)
        let want = try fresh.process(zeros.span)
        #expect(second == want)
    }

    // MARK: FIFOs and sparse files

    /// Runs `body` under ``FIFOWatchdog``: a reader stuck opening `fifo` is unblocked after 20 s and the test fails.
    static func withoutHanging<R>(on fifo: String, _ body: () throws -> R) rethrows -> R {
        let (result, blocked) = try FIFOWatchdog.run(on: fifo, body)
        #expect(!blocked, "opening \(fifo) blocked until a writer came")
        return result
    }

    @Test func fifoAsPolicyIsRefusedWithoutBlocking() throws {
        let (folder, _) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/policies/fifo.vla"
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = try Self.withoutHanging(on: fifo) {
            try #require(throws: RuntimeError.self) { try Policy(path: fifo) }
        }
        #expect(error.code == .invalidFile)
        #expect(error.message.contains("is not a regular file (a FIFO)"), "\(error)")
    }

    @Test func fifoNamedLikeTheBlobIsRejected() throws {
        let (folder, files) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let decoy = folder + "/decoy"
        try FileManager.default.createDirectory(atPath: decoy, withIntermediateDirectories: true)
        let fifo = decoy + "/" + files.blobName
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = try Self.withoutHanging(on: fifo) {
            try #require(throws: RuntimeError.self) { try Policy(path: folder + "/policies/policy.vla", sharedSearchPaths: [decoy]) }
        }
        #expect(error.code == .sharedBlob)
        #expect(error.message.contains("is not a regular file (a FIFO)"), "\(error)")
        // The real blob in a later folder is still found.
        let policy = try Self.withoutHanging(on: fifo) {
            try Policy(path: folder + "/policies/policy.vla", sharedSearchPaths: [decoy, folder + "/shared"])
        }
        #expect(policy.blobs.count == 1)
    }

    /// An 8 GiB sparse file named like the blob is refused from its size, before a byte of it is hashed.
    @Test func hugeSparseBlobIsRefusedBeforeHashing() throws {
        let (folder, files) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let decoy = folder + "/decoy"
        try FileManager.default.createDirectory(atPath: decoy, withIntermediateDirectories: true)
        let path = decoy + "/" + files.blobName
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        #expect(fd >= 0)
        #expect(ftruncate(fd, 1 << 33) == 0)
        close(fd)
        defer { unlink(path) }
        let error = try #require(throws: RuntimeError.self) {
            try Policy(path: folder + "/policies/policy.vla", sharedSearchPaths: [decoy])
        }
        #expect(error.code == .sharedBlob)
        #expect(error.message.contains("is 8589934592 bytes, expected \(files.blob.count); not read"), "\(error)")
    }

    // MARK: Constants read once and trusted

    /// Gather ids that are constants are checked once at prepare time; the interpreter reads its private copy,
    /// so ids rewritten afterwards (a mapped file changed in place) cannot make it read outside the table.
    @Test func constantGatherIdsAreCopiedWhenChecked() throws {
        let table: [Float] = [10, 11, 20, 21, 30, 31]
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
        defer { ids.deallocate() }
        ids.initialize(repeating: 0, count: 16)
        ids[0] = 2
        ids[1] = 0
        try table.withUnsafeBytes { t in
            let tensors = [
                TensorBinding(name: "table", type: TensorType(.f32, [3, 2]), storage: .constant(t.baseAddress!)),
                TensorBinding(name: "ids", type: TensorType(.i32, [2]), storage: .constant(UnsafeRawPointer(ids))),
                TensorBinding(name: "out", type: TensorType(.f32, [2, 2]), storage: .arena(offset: 0)),
            ]
            let program = Program(name: "p", inputs: [], outputs: [2], operations: [Operation(.gather, inputs: [0, 1], outputs: [2])])
            let interpreter = try Interpreter(tensors: tensors, programs: [program], arenaSize: 64, keepAlive: nil)
            ids[0] = 1_000_000
            try interpreter.run(0)
            #expect(try interpreter.floats(2) == [30, 31, 10, 11])
        }
    }
}
