import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLAModels
import VLARuntime
@testable import VLACompiler

/// Configurations that differ from hypervla-tiny in every dimension of Docs/HyperVLA.md's configuration table
/// (widths, depths, heads, horizon, the action head's MLP, the squash's scaling factor and squash off, statistics
/// without a mask, bounds normalization, several datasets picked by the robot, a frozen encoder narrower than the
/// backbone), compiled by `vlac compile`'s library and run by PolicySession against the Flax reference's goldens
/// (Tests/Fixtures/HyperVLA/variants, from Tests/Reference/gen_hypervla_variants.py).
@Suite(.serialized) struct ConfigVariantTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let variants = root + "/Tests/Fixtures/HyperVLA/variants"

    static func robot(_ name: String) -> RobotMapping {
        ["libero": .libero, "widowx_bridge": .widowxBridge, "google_robot": .googleRobot][name] ?? .none
    }

    static func tasks() throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: variants + "/golden.json"))
        return try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["tasks"] as? [String])
    }

    /// The golden episode's first frames after the image contract (uint8, 224 × 224 × 3 each).
    static func frames(_ count: Int) throws -> [[UInt8]] {
        let npz = try Checkpoint(path: root + "/Tests/Fixtures/HyperVLA/frames.npz")
        let v = try #require(npz["episode"]).floats()
        let n = 224 * 224 * 3
        return (0..<count).map { f in v[(f * n)..<((f + 1) * n)].map { UInt8($0) } }
    }

    /// variant/robot: generated parameters within 1e-5, and over four frames the raw chunk, the unnormalized chunk
    /// and the executed action within 1e-4 of the reference; the action contract says what the config says.
    @Test(arguments: ["mlp-bounds/widowx_bridge", "mlp-bounds/google_robot", "nosquash/libero"])
    func variantMatchesReference(_ which: String) throws {
        let parts = which.split(separator: "/").map(String.init)
        let (variant, robotName) = (parts[0], parts[1])
        let golden = try Checkpoint(path: Self.variants + "/golden-\(variant).safetensors")
        func g(_ name: String) throws -> [Float] { try #require(golden[name], "golden \(name)").floats() }
        var options = CompileOptions()
        options.robot = Self.robot(robotName)
        let c = try Compiler(model: Self.variants + "/" + variant, options: options)
        let cfg = c.model.config
        let tasks = try Self.tasks()
        let frames = try Self.frames(4)

        // Generated parameters: the compiler's own evaluation (and for use_initial_image its HN tail on the
        // frozen CLS of the first frame).
        var cls: [Float] = []
        if let fm = c.frozenModel {
            let fi = try Interpreter(document: fm.document)
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            try fi.setFloats(try #require(fm.input("pixel_values")), frames[0].enumerated().map { (Float($1) / 255 - mean[$0 % 3]) / std[$0 % 3] })
            try fi.run(0)
            cls = try fi.floats(try #require(fm.output("cls")))
            #expect(c.model.frozenDim == 32 && c.model.imageDim == 8, "frozen width \(c.model.frozenDim), backbone width \(c.model.imageDim)")
        }
        var cache: [Int: (Interpreter, BuiltModel, Interpreter, BuiltModel)] = [:]
        var worstGenerated: Float = 0
        for (k, text) in tasks.enumerated() {
            let p = try c.prepare(TaskLine(line: k + 1, text: text), listName: "tasks.txt", warn: { _ in })
            let ev = try #require(try c.evaluate([p], length: Compiler.bucket(p.count, max: cfg.maxTokens), cache: &cache).first)
            let leaves = try c.generatedLeaves(ev, cls: cls)
            for (name, _) in c.model.leaves {
                let want = try g("task\(k)/generated/\(name)")
                let got = try #require(leaves[name])
                let d = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
                #expect(got.count == want.count && d <= 1e-5, "\(variant) task\(k) \(name): \(d)")
                worstGenerated = max(worstGenerated, d)
            }
        }
        #expect(c.model.leaves.contains { $0.name == "action_head_Dense_0_kernel" })

        // Compile, then run the policies over the episode.
        let out = NSTemporaryDirectory() + "vlac-variant-\(variant)-\(robotName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let list = tasks.joined(separator: "\n") + "\n"
        let summary = try c.compile(tasks: TaskList(bytes: Array(list.utf8), name: "tasks.txt"), listName: "tasks.txt", to: out)
        #expect(summary.policies == tasks.count && summary.failed == 0)
        let manifest = try #require(ManifestFile.read(out + "/manifest.json"))
        let h = cfg.horizon, a = cfg.actionDim
        var worstRaw: Float = 0, worstAction = 0.0
        for k in tasks.indices {
            let entry = try #require(manifest.policies.first { $0.line == k + 1 })
            let policy = try Policy(path: out + "/" + entry.file)
            let contract = policy.metadata.action
            #expect(contract.horizon == UInt32(h) && contract.mask == [Bool](repeating: true, count: 7))
            switch variant {
            case "mlp-bounds":
                #expect(contract.squashedDims == 6 && contract.squashBound == 1 && contract.squashScale == 2)
                #expect(contract.normalization == (robotName == "widowx_bridge" ? .bounds : .meanStd))
            default:
                #expect(contract.squashedDims == 0 && contract.normalization == .meanStd)
            }
            #expect(try policy.selfTest().allSatisfy { $0.passed })
            let raw = try g("task\(k)/episode/raw")
            let unnormalized = try g("task\(k)/\(robotName)/unnormalized")
            let executed = try #require(golden["task\(k)/\(robotName)/executed"]).floats()
            let session = try PolicySession(policy: policy)
            for (f, frame) in frames.enumerated() {
                if f == 0 { try session.reset(pixels: frame.span) }
                let action = try session.step(pixels: frame.span)
                let n = h * a
                let dr = zip(session.rawChunk, raw[(f * n)..<((f + 1) * n)]).map { abs($0 - $1) }.max() ?? .infinity
                let du = zip(session.processedChunk, unnormalized[(f * n)..<((f + 1) * n)]).map { abs($0 - $1) }.max() ?? .infinity
                #expect(session.rawChunk.count == n && dr <= 1e-4, "\(which) task\(k) frame \(f) raw chunk: \(dr)")
                #expect(du <= 1e-4, "\(which) task\(k) frame \(f) unnormalized chunk: \(du)")
                worstRaw = max(worstRaw, dr)
                for dim in 0..<a {
                    let e = abs(Double(action[dim]) - Double(executed[f * a + dim]))
                    worstAction = max(worstAction, e)
                    #expect(e <= 1e-4, "\(which) task\(k) frame \(f) dim \(dim): \(action[dim]) vs \(executed[f * a + dim])")
                }
            }
        }
        print("variant \(which): worst generated \(worstGenerated), raw chunk \(worstRaw), executed action \(worstAction)")
    }
}
