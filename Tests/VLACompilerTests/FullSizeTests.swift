import Foundation
import Testing
import VLACheckpoint
import VLAModels
import VLARuntime
@testable import VLACompiler

/// The released-size configuration (T5-base, DINOv2-base, 128-d HN with 6 layers, 201,500 generated
/// parameters), from `make reference-hypervla-full` (random weights, not committed) in `.reference/hypervla-full/`
/// (model/, model-no-image/, text-encoder/, vision-encoder/ and the golden-*.safetensors files). Opt-in:
/// `VLAC_FULL_REFERENCE=1 swift test --filter FullSize`, or `make test-full`.
@Suite struct FullSizeTests {
    static let dir: String? = {
        guard ProcessInfo.processInfo.environment["VLAC_FULL_REFERENCE"] == "1" else { return nil }
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/.reference/hypervla-full"
    }()

    @Test(.enabled(if: dir != nil), arguments: ["no-image", "image"])
    func generatedParameters(setting: String) throws {
        let dir = try #require(Self.dir)
        let golden = try Checkpoint(path: dir + "/golden-\(setting).safetensors")
        let infoData = try #require(FileManager.default.contents(atPath: dir + "/golden.json"))
        let info = try #require(try JSONSerialization.jsonObject(with: infoData) as? [String: Any])
        let tasks = try #require(info["tasks"] as? [String])
        let c = try Compiler(model: dir + (setting == "image" ? "/model" : "/model-no-image"))
        #expect(c.model.generatedCount == 201_500)
        var cls: [Float] = []
        if let fm = c.frozenModel {
            let fi = try Interpreter(document: fm.document)
            try fi.setFloats(try #require(fm.input("pixel_values")), try goldenFrames()[0])
            try fi.run(0)
            cls = try fi.floats(try #require(fm.output("cls")))
        }
        var worst: Float = 0
        var cache: [Int: (Interpreter, BuiltModel, Interpreter, BuiltModel)] = [:]
        for (i, text) in tasks.enumerated() {
            let key = String(format: "task%02d", i)
            guard golden["\(key)/generated/encoder_pos_embedding"] != nil else { continue }
            let p = try c.prepare(TaskLine(line: i + 1, text: text), listName: "tasks.txt", warn: { _ in })
            let ev = try #require(try c.evaluate([p], length: Compiler.bucket(p.count, max: 32), cache: &cache).first)
            var all: [Float] = []
            if let g = ev.generated {
                all = g
            } else {
                let rm = try c.model.buildResetHN(projected: nil, length: p.count)
                let ri = try Interpreter(document: rm.document)
                try ri.setFloats(try #require(rm.input("cls")), cls)
                try ri.setFloats(try #require(rm.input("instruction.tokens")), try #require(ev.projected))
                try ri.run(0)
                for (name, _) in c.model.leaves { all += try ri.floats(try #require(rm.output("generated.\(name)"))) }
            }
            var o = 0
            for (name, shape) in c.model.leaves {
                let n = shape.reduce(1, *)
                let want = try #require(golden["\(key)/generated/\(name)"]).floats()
                let d = maxAbsDiff(Array(all[o..<(o + n)]), want)
                worst = max(worst, d)
                #expect(d <= 1e-5, "\(key) \(name): \(d)")
                o += n
            }
        }
        print("full size \(setting): largest |generated − reference|: \(worst)")
    }
}
