import Foundation
import Testing
import VLAFormat
import VLAJSON
import VLAModels
import VLARuntime
@testable import VLACompiler

/// Model directories that disagree with their config, and hostile task lists, configs and manifests.
@Suite struct InputTests {
    /// A config whose sizes disagree with the parameters: one error, every tensor named with expected vs actual.
    @Test func everyMismatchAtOnce() throws {
        let copy = try Paths.copyOfTiny("mismatch")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let path = copy + "/model/config.json"
        var text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"mlp_dim\": 64", with: "\"mlp_dim\": 48")
        text = text.replacingOccurrences(of: "\"action_horizon\": 4", with: "\"action_horizon\": 5")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: CompileError.self) { try Compiler(model: copy + "/model") }
        #expect(error.code == .model)
        let d = error.description
        #expect(d.contains("tensor \"context_encoder/encoderblock_0/MlpBlock_0/Dense_0/kernel\": expected shape [32, 48], got [32, 64]"), "\(d)")
        #expect(d.contains("tensor \"context_encoder/encoderblock_1/MlpBlock_0/Dense_1/kernel\": expected shape [48, 32], got [64, 32]"))
        #expect(d.contains("tensor \"output_head_action_head_discrete_head_bias/kernel\": expected shape [32, 5], got [32, 4]"))
        #expect(d.contains("tensor \"output_head_action_head_discrete_head_kernel/kernel\": expected shape [32, 80], got [32, 64]"))
        #expect(d.contains("problems"))
    }

    @Test func unsupportedSettingsAreListed() throws {
        let json = try JSONValue(parsing: Array("""
            {"hypernet_kwargs": {"context_embedding_dim": 8, "attend_to_padding": true, "generation_strategy": "block",
             "context_encoder_kwargs": {"num_layers": 1, "mlp_dim": 8, "num_attention_heads": 3}},
             "base_net_kwargs": {"action_horizon": 4, "action_dim": 7, "action_head_type": "diffusion",
             "vit_kwargs": {"hidden_dim": 8, "num_layers": 1, "num_heads": 2, "mlp_dim": 8}}}
            """.utf8))
        let error = try #require(throws: ModelError.self) { try HyperVLAConfig(json: json) }
        #expect(error.problems.count == 4, "\(error)")
        #expect(error.problems.contains("hypernet_kwargs: attend_to_padding true is not supported"))
        #expect(error.problems.contains("context_embedding_dim 8 is not a multiple of num_attention_heads 3"))
        #expect(error.problems.contains("base_net_kwargs: base_net_kwargs.action_head_type \"diffusion\" is not supported (mix)"))
    }

    /// `image_aug_style`: "octo" (the default) resizes directly; "rtx" pads to 256 × 320 first, as the released
    /// SimplerEnv evaluation does (not the LIBERO one); anything else is refused naming the file, field and value.
    @Test func imageAugStyleSetsThePad() throws {
        func config(_ style: String) throws -> HyperVLAConfig {
            try HyperVLAConfig(json: try JSONValue(parsing: Array("""
                {"hypernet_kwargs": {"context_embedding_dim": 8, "context_encoder_kwargs": {"num_layers": 1, "mlp_dim": 8, "num_attention_heads": 2}},
                 "base_net_kwargs": {"action_horizon": 4, "action_dim": 7, "vit_kwargs": {"hidden_dim": 8, "num_layers": 1, "num_heads": 2, "mlp_dim": 8}},
                 "dataset_kwargs": {"frame_transform_kwargs": {"image_aug_style": \(style)}}}
                """.utf8)))
        }
        #expect(try !config("\"octo\"").rtxImageAugmentation)
        let rtx = try config("\"rtx\"")
        #expect(rtx.rtxImageAugmentation)
        for (robot, pads) in [(RobotMapping.googleRobot, true), (.widowxBridge, true), (.none, true), (.libero, false)] {
            #expect(Compiler.padsFrames(config: rtx, robot: robot) == pads, "\(robot)")
            #expect(!Compiler.padsFrames(config: try config("\"octo\""), robot: robot))
        }
        #expect(Compiler.imageContract(crop: true, pad: true).resize == .padLanczos3Antialias)
        // resize_size other than 224 × 224: refused with the field and value.
        let sized = try JSONValue(parsing: Array("""
            {"hypernet_kwargs": {"context_embedding_dim": 8, "context_encoder_kwargs": {"num_layers": 1, "mlp_dim": 8, "num_attention_heads": 2}},
             "base_net_kwargs": {"action_horizon": 4, "action_dim": 7, "vit_kwargs": {"hidden_dim": 8, "num_layers": 1, "num_heads": 2, "mlp_dim": 8}},
             "dataset_kwargs": {"frame_transform_kwargs": {"resize_size": {"primary": [256, 256]}, "image_aug_style": "rtx"}}}
            """.utf8))
        let error = try #require(throws: ModelError.self) { try HyperVLAConfig(json: sized) }
        #expect(error.problems == ["dataset_kwargs.frame_transform_kwargs.resize_size.primary [256, 256] is not supported (224 × 224)"])

        let copy = try Paths.copyOfTiny("aug-style")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let path = copy + "/model/config.json"
        let original = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        try #require(original.contains("\"image_aug_style\": \"octo\""))
        for (value, ok) in [("\"rtx\"", true), ("\"augmix\"", false), ("3", false)] {
            let text = original.replacingOccurrences(of: "\"image_aug_style\": \"octo\"", with: "\"image_aug_style\": \(value)")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            var o = CompileOptions()
            o.textEncoder = copy + "/text-encoder"
            o.visionEncoder = copy + "/vision-encoder"
            if ok {
                let c = try Compiler(model: copy + "/model", options: o)
                #expect(c.metadataBase.image.resize == .padLanczos3Antialias)
                o.robot = .libero
                #expect(try Compiler(model: copy + "/model", options: o).metadataBase.image.resize == .lanczos3Antialias)
            } else {
                let error = try #require(throws: CompileError.self) { try Compiler(model: copy + "/model", options: o) }
                let d = error.description
                #expect(d.contains("config.json") && d.contains("dataset_kwargs.frame_transform_kwargs.image_aug_style \(value == "3" ? "(not a string)" : value) is not supported (octo, rtx)"), "\(d)")
            }
        }
    }

    @Test func slugs() {
        #expect("Pick up the red block!".slug == "pick-up-the-red-block")
        #expect("put the crème brûlée cup".slug == "put-the-cr-me-br-l-e-cup")
        #expect("???".slug == "instruction")
    }

    static let sample = Array("# tasks\npick coke can\n\nopen the top drawer\r\npick coke can\nput carrot on plate".utf8)

    /// Every prefix and seeded byte mutations of a task list, a config and a manifest: an error or a clean
    /// read, never a crash or a hang.
    @Test func truncationAndMutation() throws {
        defer { try? FileManager.default.removeItem(atPath: Self.manifestPath) }
        for n in 0...Self.sample.count { _ = TaskList(bytes: Array(Self.sample[0..<n]), name: "t") }
        let config = [UInt8](try #require(FileManager.default.contents(atPath: Paths.tiny + "/model/config.json")))
        let manifestText = ManifestFile(
            key: "k", compiler: "c", model: .init(name: "m", digest: "d"), options: [("a", "b")],
            sources: [.init(name: "s", sha256: "x", size: 1)], shared: [],
            policies: [.init(instruction: "i", line: 1, file: "policies/i-1.vla", sha256: "y", size: 2, tokens: 3, shared: [])],
            generatedParameters: 1, useInitialImage: true).json()
        let manifest = Array(manifestText.utf8)
        #expect(ManifestFile.read(write(manifest))?.policies.count == 1)
        for n in stride(from: 0, through: config.count, by: 7) {
            if let j = try? JSONValue(parsing: Array(config[0..<n])) { _ = try? HyperVLAConfig(json: j) }
        }
        for n in 0...manifest.count { _ = ManifestFile.read(write(Array(manifest[0..<n]))) }
        var rng = SplitMix(seed: 6)
        for _ in 0..<300 {
            var t = Self.sample, c = config, m = manifest
            for _ in 0..<4 {
                t[Int(rng.next() % UInt64(t.count))] = UInt8(truncatingIfNeeded: rng.next())
                c[Int(rng.next() % UInt64(c.count))] = UInt8(truncatingIfNeeded: rng.next())
                m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = TaskList(bytes: t, name: "t")
            if let j = try? JSONValue(parsing: c) { _ = try? HyperVLAConfig(json: j) }
            _ = ManifestFile.read(write(m))
        }
    }

    /// The file `write` overwrites.
    private static let manifestPath = NSTemporaryDirectory() + "vlac-manifest-\(getpid()).json"

    private func write(_ bytes: [UInt8]) -> String {
        FileManager.default.createFile(atPath: Self.manifestPath, contents: Data(bytes))
        return Self.manifestPath
    }
}

/// A small deterministic generator for mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The HN parameters read from safetensors, npz and Flax msgpack give the same numbers.
@Suite struct ParameterFormatTests {
    @Test func safetensorsNpzAndMsgpackAgree() throws {
        var results: [[Float]] = []
        for format in ["safetensors", "npz", "msgpack"] {
            let copy = try Paths.copyOfTiny("format-\(format)")
            defer { try? FileManager.default.removeItem(atPath: copy) }
            for other in ["safetensors", "npz", "msgpack"] where other != format {
                try? FileManager.default.removeItem(atPath: copy + "/model/params.\(other)")
            }
            let c = try Compiler(model: copy + "/model")
            let p = try c.prepare(TaskLine(line: 1, text: "pick coke can"), listName: "t", warn: { _ in })
            var cache: [Int: (VLARuntime.Interpreter, BuiltModel, VLARuntime.Interpreter, BuiltModel)] = [:]
            let ev = try #require(try c.evaluate([p], length: Compiler.bucket(p.count, max: 32), cache: &cache).first)
            results.append(try #require(ev.projected))
            #expect(c.model.files.map(\.name).contains("params.\(format)"))
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }
}
