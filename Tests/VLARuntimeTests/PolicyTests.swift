import CAllocationCounter
import Foundation
import Testing
import VLAFormat
import VLARuntime
import VLATestSupport

/// Policy and PolicySession on demo policies that follow the §8.0 conventions.
@Suite struct PolicyTests {
    @Test(arguments: [true, false])
    func selfTestPasses(withReset: Bool) throws {
        let (folder, _) = try RuntimeFixtures.demoFolder(withReset: withReset)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let policy = try Policy(path: folder + "/policies/policy.vla")
        #expect(policy.blobs.count == 1)
        #expect((policy.resetProgram != nil) == withReset)
        let results = try policy.selfTest()
        #expect(results.count == (withReset ? 2 : 1))
        #expect(results.allSatisfy { $0.passed })
    }

    /// A session's raw chunk equals the interpreter run directly on the reference-preprocessed frame, and its
    /// action equals the action processor on that chunk: the session only wires checked parts together.
    @Test(arguments: [true, false])
    func sessionWiring(withReset: Bool) throws {
        let (folder, _) = try RuntimeFixtures.demoFolder(withReset: withReset)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let policy = try Policy(path: folder + "/policies/policy.vla", sharedSearchPaths: [folder + "/shared"])
        let session = try PolicySession(policy: policy)
        let reference = try Interpreter(file: policy.file, blobs: policy.blobs)
        let processor = try ActionProcessor(contract: policy.metadata.action)
        let sizes = [(480, 640), (480, 640), (96, 128), (480, 640), (224, 224), (480, 640), (300, 200), (480, 640), (480, 640), (256, 256), (480, 640)]
        for (t, (h, w)) in sizes.enumerated() {
            let frame = RuntimeFixtures.frame(height: h, width: w).map { $0 &+ UInt8(truncatingIfNeeded: t * 37) }
            // Reference input: the session's own resize is checked against jax in PreprocessTests; here the
            // normalized input is recomputed from its pixels by a separate formula.
            let action: [Float]
            if t == 0 {
                try session.reset(frame: frame.span, height: h, width: w)
                if let r = policy.resetProgram {
                    try reference.setFloats(policy.inputTensor, normalized(session.pixels))
                    try reference.run(r)
                }
                action = try session.step(frame: frame.span, height: h, width: w)
            } else {
                action = try session.step(frame: frame.span, height: h, width: w)
            }
            try reference.setFloats(policy.inputTensor, normalized(session.pixels))
            try reference.run(policy.stepProgram)
            let raw = try reference.floats(policy.outputTensor)
            #expect(session.rawChunk == raw, "step \(t)")
            let want = try processor.process(raw.span)
            #expect(action == want, "step \(t)")
        }
    }

    func normalized(_ pixels: [UInt8]) -> [Float] {
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        return pixels.enumerated().map { i, v in (Float(v) / 255 - mean[i % 3]) / std[i % 3] }
    }

    @Test func stepAllocatesNothingAfterReset() throws {
        try KernelPaths.exclusive {
            #expect(vla_test_allocation_counter_active() == 1, "the allocation counter is not interposed")
            let (folder, _) = try RuntimeFixtures.demoFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let policy = try Policy(path: folder + "/policies/policy.vla")
            let session = try PolicySession(policy: policy, options: RuntimeOptions(threads: 1))
            let frame = RuntimeFixtures.frame(height: 480, width: 640)
            let pixels = [UInt8](session.pixels)
            try session.reset(frame: frame.span, height: 480, width: 640)
            _ = try session.step(frame: frame.span, height: 480, width: 640)
            let before = vla_test_allocations_on_this_thread()
            var sum: Float = 0
            for _ in 0..<5 {
                sum += try session.step(frame: frame.span, height: 480, width: 640)[0]
            }
            let after = vla_test_allocations_on_this_thread()
            #expect(after - before == 0, "\(after - before) allocations in 5 steps")
            _ = try session.step(pixels: pixels.span)
            let before2 = vla_test_allocations_on_this_thread()
            sum += try session.step(pixels: pixels.span)[0]
            #expect(vla_test_allocations_on_this_thread() - before2 == 0)
            #expect(sum.isFinite)
        }
    }

    @Test func manySessionsShareOnePolicy() throws {
        let (folder, _) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let policy = try Policy(path: folder + "/policies/policy.vla")
        let a = try PolicySession(policy: policy), b = try PolicySession(policy: policy)
        let f1 = RuntimeFixtures.frame(height: 120, width: 160)
        let f2 = f1.map { 255 - $0 }
        try a.reset(frame: f1.span, height: 120, width: 160)
        try b.reset(frame: f2.span, height: 120, width: 160)
        let x = try a.step(frame: f1.span, height: 120, width: 160)
        _ = try b.step(frame: f2.span, height: 120, width: 160)
        // a's state is its own: a fresh session on the same frames gives the same action.
        let c = try PolicySession(policy: policy)
        try c.reset(frame: f1.span, height: 120, width: 160)
        #expect(try c.step(frame: f1.span, height: 120, width: 160) == x)
    }

    // MARK: bad input

    @Test func stepBeforeReset() throws {
        let (folder, _) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let session = try PolicySession(policy: Policy(path: folder + "/policies/policy.vla"))
        let frame = [UInt8](repeating: 1, count: 224 * 224 * 3)
        let e = #expect(throws: RuntimeError.self) { try session.step(frame: frame.span, height: 224, width: 224) }
        #expect(e?.message.contains("reset") == true)
    }

    @Test func wrongFrames() throws {
        let (folder, _) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let session = try PolicySession(policy: Policy(path: folder + "/policies/policy.vla"))
        let frame = [UInt8](repeating: 1, count: 100 * 100 * 3)
        for (h, w) in [(100, 99), (0, 0), (10, 999), (1, 1)] {
            let e = #expect(throws: RuntimeError.self) { try session.reset(frame: frame.span, height: h, width: w) }
            #expect(e?.code == .invalidInput)
        }
        // Four channels (RGBA) in the bytes of a 3-channel frame.
        let rgba = [UInt8](repeating: 1, count: 64 * 64 * 4)
        let e = #expect(throws: RuntimeError.self) { try session.reset(frame: rgba.span, height: 64, width: 64) }
        #expect(e?.message.contains("× 3") == true)
        try session.reset(frame: frame.span, height: 100, width: 100)
        #expect(throws: RuntimeError.self) { try session.step(pixels: frame.span) }
        #expect(throws: RuntimeError.self) { try session.step(networkInput: [Float](repeating: 0, count: 5).span) }
    }

    @Test func missingBlobNamesHash() throws {
        let (folder, files) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.removeItem(atPath: folder + "/shared/" + files.blobName)
        let e = #expect(throws: RuntimeError.self) { try Policy(path: folder + "/policies/policy.vla") }
        #expect(e?.code == .sharedBlob)
        let hash = String(files.blobName.dropFirst("backbone-".count).dropLast(4))
        #expect(e?.message.contains(hash) == true, "\(e?.message ?? "")")
    }

    @Test func alteredBlobIsRejected() throws {
        let (folder, files) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Replace the blob by another valid blob under the same name: it verifies, but its hash differs.
        let altered = try VLAWriter.serialize(SampleDocuments.blob())
        try Data(altered).write(to: URL(fileURLWithPath: folder + "/shared/" + files.blobName))
        let e = #expect(throws: RuntimeError.self) { try Policy(path: folder + "/policies/policy.vla") }
        #expect(e?.code == .sharedBlob)
        #expect(e?.message.contains("altered") == true || e?.message.contains("bytes") == true, "\(e?.message ?? "")")
        // A flipped byte in a blob: it fails its own digest.
        var flipped = files.blob
        flipped[flipped.count / 2] ^= 0x40
        try Data(flipped).write(to: URL(fileURLWithPath: folder + "/shared/" + files.blobName))
        let e2 = #expect(throws: RuntimeError.self) { try Policy(path: folder + "/policies/policy.vla") }
        #expect(e2?.code == .sharedBlob)
    }

    @Test func corruptPolicyFile() throws {
        let (folder, files) = try RuntimeFixtures.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/policies/policy.vla"
        // Prefixes at a stride (every prefix is covered by VLAFormatTests on VLAFile) and seeded flips.
        var rng = SplitMix64(seed: 9)
        for cut in stride(from: 0, to: files.policy.count, by: max(1, files.policy.count / 97)) {
            try Data(files.policy.prefix(cut)).write(to: URL(fileURLWithPath: path))
            let e = #expect(throws: RuntimeError.self) { try Policy(path: path) }
            #expect(e?.code == .invalidFile)
        }
        for _ in 0..<40 {
            var bytes = files.policy
            let i = Int(rng.next() % UInt64(bytes.count))
            bytes[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(throws: RuntimeError.self) { try Policy(path: path) }
        }
        let e = #expect(throws: RuntimeError.self) { try Policy(path: folder + "/nonexistent.vla") }
        #expect(e?.code == .invalidFile)
        // A shared blob is not a policy.
        let blobPath = folder + "/shared/" + files.blobName
        let e2 = #expect(throws: RuntimeError.self) { try Policy(path: blobPath) }
        #expect(e2?.code == .invalidProgram)
    }
}

