import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLARuntime
@testable import VLACompiler

/// The runtime on policies `vlac compile` made from hypervla-tiny, against the Flax reference's golden
/// episodes (Tests/Fixtures/HyperVLA, from the hypervla-ref generator: jax.image lanczos3 + TF crop_and_resize
/// preprocessing, the Flax HN and base network, SimplerEnv's ensembler and gripper rules, transforms3d).
@Suite(.serialized) struct EpisodeParityTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let fixtures = root + "/Tests/Fixtures/HyperVLA"
    /// `VLAC_FULL_REFERENCE=1`: the released-size model and goldens of `make reference-hypervla-full`
    /// (`.reference/hypervla-full/`, not committed) instead of hypervla-tiny; the episode frames are the same.
    static let full = ProcessInfo.processInfo.environment["VLAC_FULL_REFERENCE"] == "1"
    static let goldens = full ? root + "/.reference/hypervla-full" : fixtures
    static let models = full ? root + "/.reference/hypervla-full" : root + "/Examples/hypervla-tiny"

    static func frames() throws -> Checkpoint { try Checkpoint(path: fixtures + "/frames.npz") }

    static func u8(_ t: Tensor) -> [UInt8] { t.floats().map { UInt8($0) } }

    /// Fraction of values within one level, and the largest difference.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> (within: Double, worst: Int) {
        var ok = 0, worst = 0
        for (x, y) in zip(a, b) {
            let d = abs(Int(x) - Int(y))
            if d <= 1 { ok += 1 }
            worst = max(worst, d)
        }
        return (Double(ok) / Double(max(a.count, 1)), worst)
    }

    /// The hypervla-ref generator's preprocessing references (other sizes, crop and no crop).
    @Test(arguments: ["480x640", "256x256", "180x120", "97x131"])
    func preprocessingMatchesReference(size: String) throws {
        let npz = try Self.frames()
        let raw = try #require(npz["raw_\(size)"])
        let (h, w) = (raw.shape[0], raw.shape[1])
        for crop in [true, false] {
            let want = Self.u8(try #require(npz["pre_\(size)_\(crop ? "crop" : "nocrop")"]))
            let p = ImagePreprocessor(contract: ImageContract(
                height: 224, width: 224, resize: .lanczos3Antialias, crop: crop ? .central : .none, cropArea: crop ? 0.9 : 0,
                mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
            let frame = Self.u8(raw)
            try p.prepare(frame: frame.span, frameHeight: h, frameWidth: w)
            let (within, worst) = Self.compare(p.pixels, want)
            print("preprocess \(size) crop \(crop): \(within * 100)% within one level, worst \(worst)")
            #expect(within >= 0.999, "\(size) crop \(crop): \(within)")
        }
    }

    static func robot(_ name: String) -> RobotMapping {
        ["libero": .libero, "widowx_bridge": .widowxBridge, "google_robot": .googleRobot][name] ?? .none
    }

    /// Compiled policies run by PolicySession on the raw episode frames (120×160, resized and cropped by the
    /// runtime) and on the golden preprocessed frames: raw chunks, unnormalized chunks and the executed actions
    /// of all three robot mappings within 1e-4 of the reference over the 12-frame episode.
    @Test(arguments: ["image", "no-image"])
    func episodeMatchesReference(setting: String) throws {
        let goldenJSON = try #require(FileManager.default.contents(atPath: Self.goldens + "/golden.json"))
        let tasks = try #require((try JSONSerialization.jsonObject(with: goldenJSON) as? [String: Any])?["tasks"] as? [String])
        let golden = try Checkpoint(path: Self.goldens + "/golden-\(setting).safetensors")
        let pick = Self.full ? [0] : [5]  // one instruction per setting keeps the debug-build test near a minute
        let out = NSTemporaryDirectory() + "vlart-parity-\(setting)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var options = CompileOptions()
        options.crop = true
        options.robot = .googleRobot
        // model-no-image's statistics hold bridge_dataset only, which the goldens unnormalize with: named, since the
        // robot's own dataset (fractal20220817_data) is not there.
        if setting == "no-image" { options.dataset = "bridge_dataset" }
        let c = try Compiler(model: Self.models + "/" + (setting == "image" ? "model" : "model-no-image"), options: options)
        let list = pick.map { tasks[$0] }.joined(separator: "\n") + "\n"
        let summary = try c.compile(tasks: TaskList(bytes: Array(list.utf8), name: "tasks.txt"), listName: "tasks.txt", to: out)
        #expect(summary.policies == pick.count)
        let npz = try Self.frames()
        let rawFrames = Self.u8(try #require(npz["episode_raw"]))
        let preFrames = Self.u8(try #require(npz["episode"]))
        let rawShape = try #require(npz["episode_raw"]).shape
        let (count, h, w) = (rawShape[0], rawShape[1], rawShape[2])
        let policyFiles = try FileManager.default.contentsOfDirectory(atPath: out + "/policies").sorted()
        #expect(policyFiles.count == pick.count)
        var worstRaw: Float = 0, worstAction = 0.0, worstPixels = 1.0
        for (k, i) in pick.enumerated() {
            let key = String(format: "task%02d", i)
            let manifest = try #require(ManifestFile.read(out + "/manifest.json"))
            let entry = try #require(manifest.policies.first { $0.line == k + 1 })
            let policy = try Policy(path: out + "/" + entry.file)
            #expect(policy.metadata.instruction == tasks[i])
            #expect((policy.resetProgram != nil) == (setting == "image"))
            #expect(try policy.selfTest().allSatisfy { $0.passed })
            let rawGolden = try #require(golden[key + "/episode/raw"]).floats()
            let unnormalized = try #require(golden[key + "/episode/unnormalized"]).floats()
            var executed: [String: [Float]] = [:]
            for r in ["libero", "widowx_bridge", "google_robot"] {
                executed[r] = try #require(golden[key + "/episode/executed_\(r)"]).floats()
            }
            for usePreprocessed in [true, false] {
                let session = try PolicySession(policy: policy)
                var processors: [String: ActionProcessor] = [:]
                for r in ["libero", "widowx_bridge"] {
                    var contract = policy.metadata.action
                    contract.robot = Self.robot(r)
                    processors[r] = try ActionProcessor(contract: contract)
                }
                let n = 224 * 224 * 3, rn = h * w * 3
                for f in 0..<count {
                    let action: [Float]
                    if usePreprocessed {
                        let frame = Array(preFrames[(f * n)..<((f + 1) * n)])
                        if f == 0 { try session.reset(pixels: frame.span) }
                        action = try session.step(pixels: frame.span)
                    } else {
                        let frame = Array(rawFrames[(f * rn)..<((f + 1) * rn)])
                        if f == 0 { try session.reset(frame: frame.span, height: h, width: w) }
                        action = try session.step(frame: frame.span, height: h, width: w)
                        let pre = Array(preFrames[(f * n)..<((f + 1) * n)])
                        worstPixels = min(worstPixels, Self.compare(session.pixels, pre).within)
                    }
                    let chunk = session.rawChunk
                    let want = Array(rawGolden[(f * 28)..<((f + 1) * 28)])
                    let d = zip(chunk, want).map { abs($0 - $1) }.max() ?? 0
                    worstRaw = max(worstRaw, d)
                    #expect(d <= 1e-4, "\(setting) \(key) frame \(f) raw chunk (preprocessed \(usePreprocessed)): \(d)")
                    let un = Array(unnormalized[(f * 28)..<((f + 1) * 28)])
                    let du = zip(session.processedChunk, un).map { abs($0 - $1) }.max() ?? 0
                    #expect(du <= 1e-4, "\(setting) \(key) frame \(f) unnormalized chunk: \(du)")
                    var all: [(String, [Float])] = [("google_robot", action)]
                    for (r, p) in processors { all.append((r, try p.process(chunk.span))) }
                    for (r, got) in all {
                        let ref = try #require(executed[r])
                        for dim in 0..<7 {
                            let e = abs(Double(got[dim]) - Double(ref[f * 7 + dim]))
                            worstAction = max(worstAction, e)
                            #expect(e <= 1e-4, "\(setting) \(key) frame \(f) \(r) dim \(dim): \(got[dim]) vs \(ref[f * 7 + dim])")
                        }
                    }
                }
            }
        }
        print("episode parity \(setting): worst raw chunk \(worstRaw), worst executed action \(worstAction), raw-frame preprocessing ≥ \(worstPixels * 100)% within one level")
    }
}
