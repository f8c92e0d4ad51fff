import CAllocationCounter
import Foundation
import Testing
import VLAFormat
@testable import VLARuntime
@testable import VLACompiler
import VLATestSupport

/// The per-op profile sees inside `call` ops: on the hypervla-tiny policies `vlac compile` makes in both
/// configurations, every op of the called blob programs (`backbone`, `policy-tail`) is counted once per run
/// under its own origin, a call's total is the sum of its ops and its copies, and profiled steps allocate nothing.
@Suite(.serialized) struct CallProfileTests {
    /// Compiles one demo instruction once per configuration (its own folder); returns the policy path. The
    /// folder serves every test of the process and is removed when the process exits.
    static func compiled(_ setting: String) throws -> (policy: String, folder: String) {
        let out = NSTemporaryDirectory() + "vlart-profile-\(setting)-\(getpid())"
        if let files = try? FileManager.default.contentsOfDirectory(atPath: out + "/policies"), let f = files.first {
            return (out + "/policies/" + f, out)
        }
        ProcessTemporaries.removeAtExit(out)
        let model = StepAllocationTests.root + "/Examples/hypervla-tiny/" + (setting == "image" ? "model" : "model-no-image")
        let c = try Compiler(model: model, options: CompileOptions())
        _ = try c.compile(tasks: TaskList(bytes: Array("open the drawer\n".utf8), name: "tasks.txt"), listName: "tasks.txt", to: out)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/policies")
        return (out + "/policies/" + (try #require(files.first)), out)
    }

    @Test(arguments: ["image", "no-image"])
    func profileSeesInsideCalls(setting: String) throws {
        let (path, folder) = try Self.compiled(setting)
        let policy = try Policy(path: path, sharedSearchPaths: [folder + "/shared"])
        let session = try PolicySession(policy: policy)
        let step = policy.stepProgram
        let fileOps = policy.file.programs[step].operations
        let calls = fileOps.indices.filter { fileOps[$0].opcode == .call }
        let callees = calls.map { policy.blobs[Int(fileOps[$0].attributes[0])].programs[Int(fileOps[$0].attributes[1])] }
        #expect(Set(callees.map(\.name)) == ["backbone", "policy-tail"], "\(callees.map(\.name))")

        var frame = [UInt8](repeating: 0, count: 480 * 640 * 3)
        for i in frame.indices { frame[i] = UInt8(truncatingIfNeeded: i &* 3 &+ i / 1920) }
        try session.reset(frame: frame.span, height: 480, width: 640)
        _ = try session.step(frame: frame.span, height: 480, width: 640)
        let profile = OpProfile(interpreter: session.interpreter)
        session.profile = profile
        let runs = 3
        let counter = StepAllocationTests.Counter(session.interpreter)
        // One profiled step first: the process's first profiled run pays one-time runtime set-up (one allocation).
        _ = try session.step(frame: frame.span, height: 480, width: 640)
        profile.clear()
        var perStep: [Int] = []
        for _ in 0..<runs {
            perStep.append(try counter.during { _ = try session.step(frame: frame.span, height: 480, width: 640) })
        }
        let allocations = perStep.reduce(0, +)
        session.profile = nil
        #expect(allocations == 0, "\(setting): \(perStep) allocations in \(runs) profiled steps")
        #expect(profile.runs[step] == runs)

        let entries = profile.entries(program: step)
        // Every planned op ran once per run.
        #expect(entries.allSatisfy { $0.count == runs })
        // The file's own ops (not calls) keep their identity origin.
        let own = entries.filter { $0.origin.callee == nil }.map(\.origin.op)
        #expect(own == fileOps.indices.filter { fileOps[$0].opcode != .call })
        // File-level totals are the planned totals regrouped.
        #expect(profile.nanoseconds[step].reduce(0, +) == entries.reduce(0) { $0 + $1.nanoseconds })

        for (call, callee) in zip(calls, callees) {
            let inside = entries.filter { $0.origin.op == call }
            var ops: [Int] = [], opsNs: UInt64 = 0, copyNs: UInt64 = 0, copiesIn = 0, copiesOut = 0
            for e in inside {
                let c = try #require(e.origin.callee)
                #expect(c.blob == Int(fileOps[call].attributes[0]) && c.program == Int(fileOps[call].attributes[1]))
                switch c.part {
                case .op(let j): ops.append(j); opsNs += e.nanoseconds
                case .copyIn: copiesIn += 1; copyNs += e.nanoseconds
                case .copyOut: copiesOut += 1; copyNs += e.nanoseconds
                }
            }
            // Each op of the called program appears exactly once, in order, plus one copy per output; the inputs
            // are read in place (the caller's pixel_values, patch tokens and generated weights: Interpreter.link).
            #expect(ops == Array(callee.operations.indices), "\(callee.name)")
            #expect(copiesIn == 0 && copiesOut == callee.outputs.count, "\(callee.name): \(copiesIn) copies in")
            // The call's total is its ops plus its copies; the copies are a small part of it.
            let total = profile.nanoseconds[step][call]
            #expect(total == opsNs + copyNs)
            #expect(opsNs > 0 && copyNs < total / 2, "\(callee.name): ops \(opsNs) ns, copies \(copyNs) ns of \(total) ns")
        }

        profile.clear()
        #expect(profile.runs.allSatisfy { $0 == 0 } && profile.entries(program: step).allSatisfy { $0.nanoseconds == 0 && $0.count == 0 })
    }
}
