import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLAJSON
import VLAModels
@testable import VLACompiler

/// The configuration fields of Docs/HyperVLA.md's table that vlac refuses or checks: one error each, naming the
/// file and the field, before anything is written. The accepted values are checked against the reference by
/// VLARuntimeParityTests.ConfigVariantTests.
@Suite struct ConfigSemanticsTests {
    static let variants = Paths.root + "/Tests/Fixtures/HyperVLA/variants"

    /// A copy of a variant folder whose encoder paths are absolute (the copy lives elsewhere), edited by `edit`
    /// on config.json's text and `stats` on dataset_statistics.json's. The caller removes it with ``remove(_:)``.
    static func copy(_ variant: String, _ name: String, config edit: (String) -> String = { $0 }, stats: (String) -> String = { $0 }) throws -> String {
        let dir = Paths.temporary(name) + "/" + variant
        try FileManager.default.copyItem(atPath: variants + "/" + variant, toPath: dir)
        let tiny = Paths.tiny
        var text = String(decoding: try #require(FileManager.default.contents(atPath: dir + "/config.json")), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"../../../../../Examples/hypervla-tiny/", with: "\"\(tiny)/")
        try edit(text).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let s = String(decoding: try #require(FileManager.default.contents(atPath: dir + "/dataset_statistics.json")), as: UTF8.self)
        try stats(s).write(toFile: dir + "/dataset_statistics.json", atomically: true, encoding: .utf8)
        return dir
    }

    /// Removes a folder `copy` made, with the temporary folder that holds it.
    static func remove(_ dir: String) {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path)
    }

    static func options(robot: RobotMapping, dataset: String? = nil) -> CompileOptions {
        var o = CompileOptions()
        o.robot = robot
        o.dataset = dataset
        return o
    }

    /// The error of opening `dir`, with the checks that it names `file` and every one of `fields`.
    static func refusal(_ dir: String, _ options: CompileOptions = CompileOptions(), file: String, _ fields: [String]) throws -> String {
        let error = try #require(throws: CompileError.self) { try Compiler(model: dir, options: options) }
        let d = error.description
        #expect(error.code == .model)
        #expect(d.contains(dir + "/" + file), "\(d)")
        for f in fields { #expect(d.contains(f), "\(f) not in: \(d)") }
        return d
    }

    @Test func copiesCompile() throws {
        let dir = try Self.copy("mlp-bounds", "ok")
        defer { Self.remove(dir) }
        let c = try Compiler(model: dir, options: Self.options(robot: .widowxBridge))
        #expect(c.model.statistics.dataset == "bridge_dataset" && c.model.statistics.kind == .bounds && c.model.statistics.chosenByRobot)
        #expect(c.model.config.actionHeadHiddenDims == [10, 6] && c.model.config.tanhScalingFactor == 2)
        #expect(c.metadataBase.action.squashScale == 2 && c.metadataBase.action.normalization == .bounds)
        #expect(c.provenance.options.contains { $0.key == "dataset" && $0.value == "bridge_dataset" })
        // --dataset overrides the robot's choice.
        let d = try Compiler(model: dir, options: Self.options(robot: .widowxBridge, dataset: "fractal20220817_data"))
        #expect(d.model.statistics.dataset == "fractal20220817_data" && d.model.statistics.kind == .normal && !d.model.statistics.chosenByRobot)
    }

    /// hidden_dims emptied while the parameters hold the MLP's heads: every unused leaf is named with the field.
    @Test func unusedLeavesAreRefused() throws {
        let dir = try Self.copy("mlp-bounds", "unused", config: { $0.replacingOccurrences(of: "\"hidden_dims\": [\n    10,\n    6\n   ]", with: "\"hidden_dims\": []") })
        defer { Self.remove(dir) }
        let d = try Self.refusal(dir, Self.options(robot: .widowxBridge), file: "params.safetensors", [
            "tensor \"output_head_action_head_Dense_0_kernel/kernel\" is not used by config.json (base_net_kwargs.action_head_kwargs.hidden_dims is [])",
            "output_head_action_head_LayerNorm_1_scale/bias",
            "tensor \"output_head_action_head_continuous_head_kernel/kernel\": expected shape [8, 144], got [8, 108]",
        ])
        #expect(!d.contains("hidden_dims is [10"))
    }

    /// hidden_dims longer than the parameters: the missing leaves are named.
    @Test func missingLeavesAreRefused() throws {
        let dir = try Self.copy("nosquash", "missing", config: { $0.replacingOccurrences(of: "\"hidden_dims\": [\n    12\n   ]", with: "\"hidden_dims\": [12, 4]") })
        defer { Self.remove(dir) }
        _ = try Self.refusal(dir, Self.options(robot: .libero), file: "params.safetensors", [
            "tensor \"output_head_action_head_Dense_1_kernel/kernel\" is missing (expected shape [12, 48])",
            "tensor \"output_head_action_head_LayerNorm_1_scale/kernel\" is missing",
        ])
    }

    /// A normalization type vlac does not know.
    @Test func unknownNormalizationTypeIsRefused() throws {
        let dir = try Self.copy("mlp-bounds", "norm", config: { $0.replacingOccurrences(of: "\"bounds\"", with: "\"bounds_q99\"") })
        defer { Self.remove(dir) }
        _ = try Self.refusal(dir, Self.options(robot: .widowxBridge), file: "config.json", [
            "dataset_kwargs.dataset_kwargs_list[0].action_proprio_normalization_type", "\"bounds_q99\"", "vlac supports \"normal\" and \"bounds\"",
        ])
    }

    /// Statistics without the robot's dataset, and a config whose dataset list lacks the chosen dataset.
    @Test func statisticsWithoutTheRobotsDatasetAreRefused() throws {
        let dir = try Self.copy("mlp-bounds", "robot")
        defer { Self.remove(dir) }
        _ = try Self.refusal(dir, Self.options(robot: .libero), file: "dataset_statistics.json", [
            "no dataset \"libero\"", "robot libero", "has: bridge_dataset, fractal20220817_data",
        ])
        _ = try Self.refusal(dir, Self.options(robot: .none), file: "dataset_statistics.json", ["2 datasets", "--dataset or --robot"])
        let listed = try Self.copy("mlp-bounds", "list", config: { $0.replacingOccurrences(of: "\"name\": \"fractal20220817_data\"", with: "\"name\": \"fractal\"") })
        defer { Self.remove(listed) }
        _ = try Self.refusal(listed, Self.options(robot: .googleRobot), file: "dataset_statistics.json", [
            "dataset_kwargs.dataset_kwargs_list has no entry named \"fractal20220817_data\"",
        ])
    }

    /// A statistics file keyed by one dataset name: the robot's dataset must be that one (the released
    /// `InferenceWrapper` indexes the file by the robot's name); without a robot the only one is used.
    @Test func oneDatasetMustBeTheRobots() throws {
        let dir = Paths.tiny + "/model-no-image"  // {"bridge_dataset": {...}}
        _ = try Self.refusal(dir, Self.options(robot: .libero), file: "dataset_statistics.json", [
            "no dataset \"libero\"", "robot libero", "has: bridge_dataset",
        ])
        _ = try Self.refusal(dir, Self.options(robot: .googleRobot), file: "dataset_statistics.json", ["no dataset \"fractal20220817_data\""])
        for robot in [RobotMapping.widowxBridge, .none] {
            #expect(try Compiler(model: dir, options: Self.options(robot: robot)).model.statistics.mean.count == 7, "\(robot)")
        }
        #expect(try Compiler(model: dir, options: Self.options(robot: .libero, dataset: "bridge_dataset")).model.statistics.dataset == "bridge_dataset")
    }

    /// Bounds statistics without p01, a bad scaling factor, a bad hidden_dims entry, a bad mask.
    @Test func malformedValuesAreRefused() throws {
        let noP01 = try Self.copy("mlp-bounds", "p01", stats: { $0.replacingOccurrences(of: "\"p01\"", with: "\"q01\"") })
        defer { Self.remove(noP01) }
        _ = try Self.refusal(noP01, Self.options(robot: .widowxBridge), file: "dataset_statistics.json", [
            "bridge_dataset.action.p01 is missing or not an array (needed for bounds normalization)",
        ])
        let scale = try Self.copy("mlp-bounds", "scale", config: { $0.replacingOccurrences(of: "\"tanh_scaling_factor\": 2.0", with: "\"tanh_scaling_factor\": 0") })
        defer { Self.remove(scale) }
        _ = try Self.refusal(scale, Self.options(robot: .widowxBridge), file: "config.json", ["action_head_kwargs.tanh_scaling_factor must be positive, is 0.0"])
        let dims = try Self.copy("nosquash", "dims", config: { $0.replacingOccurrences(of: "\"hidden_dims\": [\n    12\n   ]", with: "\"hidden_dims\": [12.5]") })
        defer { Self.remove(dims) }
        _ = try Self.refusal(dims, Self.options(robot: .libero), file: "config.json", ["action_head_kwargs.hidden_dims[0] is 12.5"])
        let mask = try Self.copy("nosquash", "mask", stats: { $0.replacingOccurrences(of: "\"mean\"", with: "\"mask\": [1, 0],\n  \"mean\"") })
        defer { Self.remove(mask) }
        _ = try Self.refusal(mask, Self.options(robot: .libero), file: "dataset_statistics.json", ["action.mask must be a list of true/false"])
    }

    /// A frozen encoder of another width than initial_image_projection's input (32 here, the backbone's is 8):
    /// refused from its config.json, before its weights are read.
    @Test func frozenWidthMustMatchTheProjection() throws {
        let dir = try Self.copy("mlp-bounds", "frozen")
        defer { Self.remove(dir) }
        let vision = Paths.temporary("frozen-16")
        defer { try? FileManager.default.removeItem(atPath: vision) }
        var text = String(decoding: try #require(FileManager.default.contents(atPath: Paths.tiny + "/vision-encoder/config.json")), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"hidden_size\": 32", with: "\"hidden_size\": 16")
        try text.write(toFile: vision + "/config.json", atomically: true, encoding: .utf8)
        var o = Self.options(robot: .widowxBridge)
        o.visionEncoder = vision
        let error = try #require(throws: CompileError.self) { try Compiler(model: dir, options: o) }
        #expect(error.description.contains("DINOv2 hidden_size 16 does not match initial_image_projection/kernel's input width 32"), "\(error)")
    }

    /// Every refused value of Docs/HyperVLA.md's table, in one config: each is one problem naming the field and
    /// what vlac supports, all reported at once.
    @Test func everyRefusedFieldIsNamed() throws {
        let json = try JSONValue(parsing: Array("""
            {"window_size": 2,
             "hypernet_kwargs": {"context_embedding_dim": 8, "encoder_type": "mlp", "one_hot_context": true,
              "shared_modules": [], "attend_to_padding": true, "task_attend_to_layer": true, "use_all_image_tokens": true,
              "include_goal_image": true, "share_TF_output_head": true, "output_head_bias": false,
              "generation_strategy": "block", "share_layer_index": false,
              "context_encoder_kwargs": {"num_layers": 1, "mlp_dim": 8, "num_attention_heads": 2, "add_position_embedding": true}},
             "base_net_kwargs": {"action_horizon": 4, "action_dim": 7, "model_type": "cnn", "action_head_type": "diffusion",
              "vit_kwargs": {"encoder_type": "SmallStem", "hidden_dim": 8, "num_layers": 1, "num_heads": 2, "mlp_dim": 8,
               "add_positional_embedding": false, "use_differential_transformer": true, "use_language_token": true,
               "include_class_token": true},
              "action_head_kwargs": {"token_per_horizon": true, "max_action": 0, "tanh_scaling_factor": -1, "hidden_dims": [4, 0]}},
             "dataset_kwargs": {"dataset_kwargs": {"action_proprio_normalization_type": "minmax"}}}
            """.utf8))
        let error = try #require(throws: ModelError.self) { try HyperVLAConfig(json: json) }
        let want = [
            "window_size 2 is not supported (1: no image history)",
            "hypernet_kwargs: encoder_type \"mlp\" is not supported (transformer)",
            "hypernet_kwargs: one_hot_context true is not supported",
            "hypernet_kwargs: shared_modules [] is not supported: vlac needs [\"image_encoder\"] (the fine-tuned DINOv2 stored, not generated)",
            "hypernet_kwargs: attend_to_padding true is not supported",
            "hypernet_kwargs: task_attend_to_layer true is not supported",
            "hypernet_kwargs: use_all_image_tokens true is not supported",
            "hypernet_kwargs: include_goal_image true is not supported",
            "hypernet_kwargs: share_TF_output_head true is not supported",
            "hypernet_kwargs: output_head_bias false is not supported",
            "hypernet_kwargs: generation_strategy \"block\" without share_layer_index is not supported (one layer token is)",
            "hypernet_kwargs.context_encoder_kwargs: context_encoder_kwargs.add_position_embedding true is not supported",
            "base_net_kwargs: base_net_kwargs.model_type \"cnn\" is not supported (vit)",
            "base_net_kwargs: base_net_kwargs.encoder_type \"SmallStem\" is not supported (DINOv2)",
            "base_net_kwargs: base_net_kwargs.action_head_type \"diffusion\" is not supported (mix)",
            "base_net_kwargs: vit_kwargs.add_positional_embedding false is not supported (true: a learned position per token)",
            "base_net_kwargs: vit_kwargs.use_differential_transformer true is not supported",
            "base_net_kwargs: base_net_kwargs.use_language_token true is not supported",
            "base_net_kwargs: base_net_kwargs.include_class_token true is not supported",
            "base_net_kwargs: base_net_kwargs.token_per_horizon true is not supported",
            "base_net_kwargs: action_head_kwargs.max_action must be positive, is 0.0",
            "base_net_kwargs: action_head_kwargs.tanh_scaling_factor must be positive, is -1.0",
            "base_net_kwargs: action_head_kwargs.hidden_dims[1] is 0; each entry must be an integer in 1...\(ModelLimits.maxDimension)",
            "config key \"dataset_kwargs.dataset_kwargs.action_proprio_normalization_type\" is \"minmax\"; vlac supports \"normal\" and \"bounds\"",
        ]
        for w in want { #expect(error.problems.contains(w), "missing: \(w)\nin: \(error.problems)") }
        #expect(error.problems.count == want.count, "\(error.problems)")
    }
}
