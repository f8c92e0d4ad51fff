import Foundation
import Testing
import VLAFormat
import VLAModels
import VLARuntime
@testable import VLACompiler

/// The compiler's numbers against the Flax reference's goldens for hypervla-tiny (both settings).
@Suite(.serialized) struct ExactnessTests {
    static func goldenTasks() throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: Paths.fixtures + "/golden.json"))
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(obj["tasks"] as? [String])
    }

    static func modelDir(_ setting: String) -> String { Paths.tiny + (setting == "image" ? "/model" : "/model-no-image") }

    /// Every generated parameter of every instruction within 1e-5 of the reference (for `image`, the reset
    /// program's HN tail evaluated on the frozen CLS of the golden first frame); token ids equal.
    @Test(arguments: ["image", "no-image"])
    func generatedParameters(setting: String) throws {
        let golden = try Golden(setting)
        let tasks = try Self.goldenTasks()
        let c = try SharedCompilers.get(Self.modelDir(setting))
        var cls: [Float] = []
        if let fm = c.frozenModel {
            let fi = try Interpreter(document: fm.document)
            try fi.setFloats(try #require(fm.input("pixel_values")), try goldenFrames()[0])
            try fi.run(0)
            cls = try fi.floats(try #require(fm.output("cls")))
            #expect(maxAbsDiff(cls, try golden.floats("frame0/frozen_cls")) <= 1e-4)
        }
        var worst: Float = 0
        var cache: [Int: (Interpreter, BuiltModel, Interpreter, BuiltModel)] = [:]
        for (i, text) in tasks.enumerated() {
            let key = String(format: "task%02d", i)
            let p = try c.prepare(TaskLine(line: i + 1, text: text), listName: "tasks.txt", warn: { _ in })
            #expect(p.ids.map { Int($0) } == (try golden.ints("\(key)/input_ids")), "token ids of \(key)")
            let ev = try #require(try c.evaluate([p], length: Compiler.bucket(p.count, max: 32), cache: &cache).first)
            let leaves = try c.generatedLeaves(ev, cls: cls)
            for (name, _) in c.model.leaves {
                let d = maxAbsDiff(try #require(leaves[name]), try golden.floats("\(key)/generated/\(name)"))
                #expect(d <= 1e-5, "\(key) \(name): \(d)")
                worst = max(worst, d)
            }
        }
        print("hypervla-tiny \(setting): largest |generated − reference| over \(tasks.count) instructions: \(worst)")
    }

    /// Compiled policy files, run by the interpreter on the golden episode: reset writes the reference's
    /// generated weights, step's raw chunk matches the reference's within 1e-4 on all 12 frames (and so does
    /// the normalized chunk after squash and gripper threshold), and the embedded test vectors pass.
    @Test(arguments: ["image", "no-image"])
    func policiesReproduceTheReferenceEpisode(setting: String) throws {
        let golden = try Golden(setting)
        let tasks = try Self.goldenTasks()
        let pick = [0, 2, 17, 19]  // includes the non-ASCII line and the truncated one
        let list = pick.map { tasks[$0] }.joined(separator: "\n") + "\n"
        let out = Paths.temporary("episode-\(setting)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let c = try SharedCompilers.get(Self.modelDir(setting))
        var warnings: [String] = []
        let summary = try c.compile(tasks: TaskList(bytes: Array(list.utf8), name: "tasks.txt"), listName: "tasks.txt", to: out) {
            if case .warning(let w) = $0 { warnings.append(w) }
        }
        #expect(summary.policies == pick.count && summary.failed == 0)
        #expect(warnings == ["tasks.txt:4: 60 tokens with </s>, over the limit of 32; truncated as the reference tokenizer does"])
        let frames = try goldenFrames()
        let cfg = c.model.config
        for (k, i) in pick.enumerated() {
            let key = String(format: "task%02d", i)
            let manifest = try #require(ManifestFile.read(out + "/manifest.json"))
            let entry = try #require(manifest.policies.first { $0.line == k + 1 })
            let path = out + "/" + entry.file
            let file = try VLAFile(path: path)
            #expect(file.metadata.instruction == tasks[i])
            let blobs = try SharedBlobResolver(searchPaths: SharedBlobResolver.defaultSearchPaths(forPolicyAt: path)).resolve(for: file)
            #expect(blobs.count == (setting == "image" ? 3 : 1))
            for r in try TestVectors.run(file: file, blobs: blobs) { #expect(r.passed, "\(key) test vector \(r.index): \(r.maxAbsDifference)") }
            let interp = try Interpreter(file: file, blobs: blobs)
            if let reset = interp.program(named: "reset") {
                try interp.setFloats(file.programs[reset].inputs[0], frames[0])
                try interp.run(reset)
                for (name, _) in c.model.leaves {
                    let got = try interp.floats(try #require(interp.tensor(named: "hn/generated.\(name)")))
                    let d = maxAbsDiff(got, try golden.floats("\(key)/generated/\(name)"))
                    #expect(d <= 1e-5, "\(key) reset \(name): \(d)")
                }
            } else {
                #expect(setting == "no-image")
            }
            let step = try #require(interp.program(named: "step"))
            let raw = try golden.floats("\(key)/episode/raw")
            let normalized = try golden.floats("\(key)/episode/normalized")
            let chunk = cfg.horizon * cfg.actionDim
            var worst: Float = 0
            for (f, frame) in frames.enumerated() {
                try interp.setFloats(file.programs[step].inputs[0], frame)
                try interp.run(step)
                let y = try interp.floats(file.programs[step].outputs[0])
                let want = Array(raw[(f * chunk)..<((f + 1) * chunk)])
                worst = max(worst, maxAbsDiff(y, want))
                for j in 0..<chunk {
                    let dim = j % cfg.actionDim
                    if dim < cfg.continuousDims {
                        let s = cfg.maxAction * tanh(y[j] / cfg.maxAction)
                        #expect(abs(s - normalized[f * chunk + j]) <= 1e-4)
                    } else if abs(want[j]) > 1e-4 {
                        #expect((y[j] >= 0 ? Float(1) : 0) == normalized[f * chunk + j], "\(key) frame \(f) gripper \(j / cfg.actionDim)")
                    }
                }
            }
            #expect(worst <= 1e-4, "\(key) raw step output: \(worst)")
        }
    }
}
