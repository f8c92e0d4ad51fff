import VLAJSON

/// The settings of a HyperVLA model read from its `config.json` (`hypervla.md` §5–6).
///
/// The released code writes `hypernet_kwargs`, `base_net_kwargs` and `text_processor` either at the top level
/// or under `model`; both are accepted. Only the inference-relevant keys are read (Docs/HyperVLA.md's
/// configuration table lists them), and every setting vlac cannot compile (`attend_to_padding`,
/// `task_attend_to_layer`, `use_all_image_tokens`, a goal image, per-block layer tokens, no position embedding, a
/// history window, an unknown normalization type, ...) is reported, all at once, naming the field and what vlac
/// supports.
public struct HyperVLAConfig: Sendable, Equatable {
    /// HN width `context_embedding_dim` (128 released).
    public var contextDim: Int
    /// Context-encoder blocks (6).
    public var hnLayers: Int
    /// Context-encoder heads (4).
    public var hnHeads: Int
    /// Context-encoder MLP width (512).
    public var hnMLP: Int
    /// Whether the first camera frame's frozen-DINOv2 CLS token is an HN input.
    public var useInitialImage: Bool
    /// Whether c is divided by √contextDim after the final LayerNorm.
    public var scaleContextEmbedding: Bool
    /// Instruction tokens (`text_processor` max_length, 32).
    public var maxTokens: Int
    /// Base-net width (64).
    public var hidden: Int
    /// Base-net blocks (4).
    public var layers: Int
    /// Base-net heads (4).
    public var heads: Int
    /// Base-net MLP width (128).
    public var mlp: Int
    /// Actions per chunk (4).
    public var horizon: Int
    /// Action dims (7; the last is the gripper).
    public var actionDim: Int
    /// The squash bound of the continuous dims (`max_action`, 5).
    public var maxAction: Float
    /// The squash's divisor: `max_action · tanh(x / tanh_scaling_factor)` (5).
    public var tanhScalingFactor: Float = 5
    /// Whether the continuous dims are squashed at all (`squash_continuous_action`, true).
    public var squashContinuousAction: Bool = true
    /// The action head's MLP (`action_head_kwargs.hidden_dims`, empty released): per entry Dense → LayerNorm
    /// (eps 1e-6) → swish on the action token before the continuous and discrete heads.
    public var actionHeadHiddenDims: [Int] = []
    /// `dataset_kwargs.dataset_kwargs.action_proprio_normalization_type` (one dataset), nil when absent.
    public var normalizationType: String?
    /// `dataset_kwargs.dataset_kwargs_list[i]`: normalization type by dataset name (several datasets).
    public var normalizationTypes: [String: String] = [:]

    /// The input width of the action heads: the last hidden dim, else the base-net width.
    public var actionHeadInput: Int { actionHeadHiddenDims.last ?? hidden }

    /// `dataset_kwargs.frame_transform_kwargs.image_aug_style` is `"rtx"` (default `"octo"`): the model was
    /// trained on frames padded to 256 × 320, and the released SimplerEnv evaluation pads each camera frame the
    /// same way (`resize_with_pad`) before resizing it (the image contract's `pad_lanczos3_antialias`).
    public var rtxImageAugmentation = false

    /// Continuous dims: all but the gripper.
    public var continuousDims: Int { actionDim - 1 }

    /// Reads the config, collecting every problem.
    ///
    /// - Throws: `ModelError` `.badConfig` listing every missing, mistyped or unsupported key.
    public init(json: JSONValue) throws(ModelError) {
        var problems = ProblemList()
        func section(_ key: String) -> JSONValue? {
            if let v = json[key] { return v }
            if let m = json["model"], let v = m[key] { return v }
            return nil
        }
        let hnJSON = section("hypernet_kwargs")
        let baseJSON = section("base_net_kwargs")
        if hnJSON == nil { problems.add("config key \"hypernet_kwargs\" is missing (top level or under \"model\")") }
        if baseJSON == nil { problems.add("config key \"base_net_kwargs\" is missing (top level or under \"model\")") }
        var hn = ConfigReader(hnJSON ?? JSONValue(.object([])))
        var enc = ConfigReader(hnJSON?["context_encoder_kwargs"] ?? JSONValue(.object([])))
        if hnJSON != nil, hnJSON?["context_encoder_kwargs"] == nil {
            problems.add("config key \"hypernet_kwargs.context_encoder_kwargs\" is missing")
        }
        // The released code nests the ViT and action-head settings: merge them over the top level.
        var merged: [(key: String, value: JSONValue)] = []
        if let o = baseJSON?.object {
            merged = o
            for key in ["action_head_kwargs", "vit_kwargs"] {
                for m in baseJSON?[key]?.object ?? [] {
                    if let i = merged.firstIndex(where: { $0.key == m.key }) { merged[i].value = m.value } else { merged.append(m) }
                }
            }
        }
        var base = ConfigReader(JSONValue(.object(merged), offset: baseJSON?.offset ?? 0))
        contextDim = hn.int("context_embedding_dim")
        useInitialImage = hn.bool("use_initial_image", default: false)
        scaleContextEmbedding = hn.bool("scale_context_embedding", default: false)
        if hn.bool("attend_to_padding", default: false) { hn.problems.add("attend_to_padding true is not supported") }
        if hn.bool("task_attend_to_layer", default: false) { hn.problems.add("task_attend_to_layer true is not supported") }
        if hn.bool("use_all_image_tokens", default: false) { hn.problems.add("use_all_image_tokens true is not supported") }
        if hn.bool("include_goal_image", default: false) { hn.problems.add("include_goal_image true is not supported") }
        if hn.bool("share_TF_output_head", default: false) { hn.problems.add("share_TF_output_head true is not supported") }
        if !hn.bool("output_head_bias", default: true) { hn.problems.add("output_head_bias false is not supported") }
        if let t = hn.string("encoder_type", default: "transformer"), t != "transformer" {
            hn.problems.add("encoder_type \"\(t)\" is not supported (transformer)")
        }
        if hn.bool("one_hot_context", default: false) { hn.problems.add("one_hot_context true is not supported") }
        if let shared = hnJSON?["shared_modules"], !shared.isNull,
           !(shared.array ?? []).contains(where: { $0.string == "image_encoder" }) {
            hn.problems.add("shared_modules \(shared) is not supported: vlac needs [\"image_encoder\"] (the fine-tuned DINOv2 stored, not generated)")
        }
        let strategy = hn.string("generation_strategy", default: "full") ?? "full"
        if strategy == "block" {
            if !hn.bool("share_layer_index", default: false) {
                hn.problems.add("generation_strategy \"block\" without share_layer_index is not supported (one layer token is)")
            }
        } else if strategy != "full" {
            hn.problems.add("generation_strategy \"\(strategy)\" is not supported (full, or block with share_layer_index)")
        }
        hnLayers = enc.int("num_layers")
        hnMLP = enc.int("mlp_dim")
        hnHeads = enc.int("num_attention_heads")
        if enc.bool("add_position_embedding", default: false) {
            enc.problems.add("context_encoder_kwargs.add_position_embedding true is not supported")
        }
        hidden = base.int("hidden_dim")
        layers = base.int("num_layers")
        heads = base.int("num_heads")
        mlp = base.int("mlp_dim")
        horizon = base.int("action_horizon")
        actionDim = base.int("action_dim", min: 2)
        maxAction = Float(base.double("max_action", default: 5))
        tanhScalingFactor = Float(base.double("tanh_scaling_factor", default: 5))
        squashContinuousAction = base.bool("squash_continuous_action", default: true)
        if let dims = base.json["hidden_dims"], !dims.isNull {
            if let a = dims.array {
                var out: [Int] = []
                for (i, v) in a.enumerated() {
                    if let x = v.double, x.isFinite, x == x.rounded(), x >= 1, x <= Double(ModelLimits.maxDimension) {
                        out.append(Int(x))
                    } else {
                        base.problems.add("action_head_kwargs.hidden_dims[\(i)] is \(v); each entry must be an integer in 1...\(ModelLimits.maxDimension)")
                    }
                }
                if out.count > ModelLimits.maxLayers {
                    base.problems.add("action_head_kwargs.hidden_dims has \(out.count) entries, over the limit \(ModelLimits.maxLayers)")
                    out = []
                }
                actionHeadHiddenDims = out
            } else {
                base.problems.add("action_head_kwargs.hidden_dims must be a list of integers, is \(dims)")
            }
        }
        if let t = base.string("model_type", default: "vit"), t != "vit" { base.problems.add("base_net_kwargs.model_type \"\(t)\" is not supported (vit)") }
        if let t = base.string("encoder_type", default: "DINOv2"), t != "DINOv2" {
            base.problems.add("base_net_kwargs.encoder_type \"\(t)\" is not supported (DINOv2)")
        }
        if let t = base.string("action_head_type", default: "mix"), t != "mix" {
            base.problems.add("base_net_kwargs.action_head_type \"\(t)\" is not supported (mix)")
        }
        if base.bool("use_language_token", default: false) { base.problems.add("base_net_kwargs.use_language_token true is not supported") }
        if base.bool("include_class_token", default: false) { base.problems.add("base_net_kwargs.include_class_token true is not supported") }
        if !base.bool("add_positional_embedding", default: true) {
            base.problems.add("vit_kwargs.add_positional_embedding false is not supported (true: a learned position per token)")
        }
        if base.bool("use_differential_transformer", default: false) {
            base.problems.add("vit_kwargs.use_differential_transformer true is not supported")
        }
        if base.bool("token_per_horizon", default: false) { base.problems.add("base_net_kwargs.token_per_horizon true is not supported") }
        if squashContinuousAction, !(maxAction > 0) { base.problems.add("action_head_kwargs.max_action must be positive, is \(maxAction)") }
        if squashContinuousAction, !(tanhScalingFactor > 0) {
            base.problems.add("action_head_kwargs.tanh_scaling_factor must be positive, is \(tanhScalingFactor)")
        }
        // How the actions were normalized (the released InferenceWrapper reads the same two places).
        if let dk = section("dataset_kwargs") {
            func kind(_ v: JSONValue?, _ field: String) -> String? {
                guard let v, !v.isNull else { return nil }
                guard let s = v.string else { problems.add("config key \"\(field)\" must be a string, is \(v)"); return nil }
                guard s == "normal" || s == "bounds" else {
                    problems.add("config key \"\(field)\" is \"\(s)\"; vlac supports \"normal\" and \"bounds\"")
                    return nil
                }
                return s
            }
            if let one = dk["dataset_kwargs"] {
                normalizationType = kind(one["action_proprio_normalization_type"], "dataset_kwargs.dataset_kwargs.action_proprio_normalization_type")
            }
            for (i, entry) in (dk["dataset_kwargs_list"]?.array ?? []).enumerated() {
                let field = "dataset_kwargs.dataset_kwargs_list[\(i)].action_proprio_normalization_type"
                if let name = entry["name"]?.string, let t = kind(entry["action_proprio_normalization_type"], field) {
                    normalizationTypes[name] = t
                }
            }
        }
        // text_processor.kwargs.tokenizer_kwargs.max_length, default 32.
        var maxLen = 32
        if let tp = section("text_processor") {
            let kw = tp["kwargs"]?["tokenizer_kwargs"] ?? tp["tokenizer_kwargs"]
            if let kw {
                var r = ConfigReader(kw)
                maxLen = r.int("max_length", default: 32)
                problems.items += r.problems.items.map { "text_processor: " + $0 }
            }
        }
        maxTokens = maxLen
        // One frame per step: the released base network squeezes the history axis.
        if let w = json["window_size"], !w.isNull, w.double != 1 {
            problems.add("window_size \(w) is not supported (1: no image history)")
        }
        // dataset_kwargs.frame_transform_kwargs.image_aug_style: "octo" (default) or "rtx" (Docs/HyperVLA.md,
        // "Image contract fields").
        let frameTransform = section("dataset_kwargs")?["frame_transform_kwargs"]
        // resize_size.primary: the released evaluation's image_size; vlac's backbone input is 224 × 224.
        if let size = frameTransform?["resize_size"] {
            let primary = size["primary"] ?? size
            let sides = primary.array?.compactMap(\.int) ?? []
            if sides != [224, 224] {
                let text = primary.array.map { "[" + $0.map { $0.numberText ?? "?" }.joined(separator: ", ") + "]" } ?? "(not a list)"
                problems.add("dataset_kwargs.frame_transform_kwargs.resize_size.primary \(text) is not supported (224 × 224)")
            }
        }
        if let style = frameTransform?["image_aug_style"] {
            switch style.string {
            case "octo": break
            case "rtx": rtxImageAugmentation = true
            default:
                problems.add("dataset_kwargs.frame_transform_kwargs.image_aug_style \(style.string.map { "\"\($0)\"" } ?? "(not a string)") is not supported (octo, rtx)")
            }
        }
        if hnHeads > 0, contextDim % hnHeads != 0 { problems.add("context_embedding_dim \(contextDim) is not a multiple of num_attention_heads \(hnHeads)") }
        if heads > 0, hidden % heads != 0 { problems.add("base_net_kwargs.hidden_dim \(hidden) is not a multiple of num_heads \(heads)") }
        problems.items += hn.problems.items.map { "hypernet_kwargs: " + $0 }
        problems.items += enc.problems.items.map { "hypernet_kwargs.context_encoder_kwargs: " + $0 }
        problems.items += base.problems.items.map { "base_net_kwargs: " + $0 }
        try problems.throwIfAny(.badConfig, "hypervla config.json")
    }

    /// Creates a config from values (tests).
    public init(
        contextDim: Int, hnLayers: Int, hnHeads: Int, hnMLP: Int, useInitialImage: Bool, scaleContextEmbedding: Bool,
        maxTokens: Int, hidden: Int, layers: Int, heads: Int, mlp: Int, horizon: Int, actionDim: Int, maxAction: Float
    ) {
        self.contextDim = contextDim
        self.hnLayers = hnLayers
        self.hnHeads = hnHeads
        self.hnMLP = hnMLP
        self.useInitialImage = useInitialImage
        self.scaleContextEmbedding = scaleContextEmbedding
        self.maxTokens = maxTokens
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.mlp = mlp
        self.horizon = horizon
        self.actionDim = actionDim
        self.maxAction = maxAction
    }

    /// The generated base-net leaves (`hypervla.md` §6.2) in the released flattening order, with their
    /// shapes, for `patches` image tokens of width `backboneDim`.
    public func generatedLeaves(patches: Int, backboneDim: Int) -> [(name: String, shape: [Int])] {
        let d = hidden, h = heads, hd = hidden / max(heads, 1)
        var out: [(String, [Int])] = []
        out.append(("encoder_image_embedding_projection_kernel", [backboneDim, d]))
        out.append(("encoder_image_embedding_projection_bias", [d]))
        out.append(("encoder_pos_embedding", [1, patches + 1, d]))
        for l in 0..<layers {
            let p = "encoder_Transformer_0_encoderblock_\(l)_"
            out.append((p + "LayerNorm_0_scale", [d]))
            out.append((p + "LayerNorm_0_bias", [d]))
            for m in ["query", "key", "value"] {
                out.append((p + "MultiHeadDotProductAttention_0_\(m)_kernel", [d, h, hd]))
                out.append((p + "MultiHeadDotProductAttention_0_\(m)_bias", [h, hd]))
            }
            out.append((p + "MultiHeadDotProductAttention_0_out_kernel", [h, hd, d]))
            out.append((p + "MultiHeadDotProductAttention_0_out_bias", [d]))
            out.append((p + "LayerNorm_1_scale", [d]))
            out.append((p + "LayerNorm_1_bias", [d]))
            out.append((p + "MlpBlock_0_Dense_0_kernel", [d, mlp]))
            out.append((p + "MlpBlock_0_Dense_0_bias", [mlp]))
            out.append((p + "MlpBlock_0_Dense_1_kernel", [mlp, d]))
            out.append((p + "MlpBlock_0_Dense_1_bias", [d]))
        }
        out.append(("encoder_Transformer_0_encoder_norm_scale", [d]))
        out.append(("encoder_Transformer_0_encoder_norm_bias", [d]))
        var width = d
        for (i, w) in actionHeadHiddenDims.enumerated() {
            out.append(("action_head_Dense_\(i)_kernel", [width, w]))
            out.append(("action_head_Dense_\(i)_bias", [w]))
            out.append(("action_head_LayerNorm_\(i)_scale", [w]))
            out.append(("action_head_LayerNorm_\(i)_bias", [w]))
            width = w
        }
        out.append(("action_head_continuous_head_kernel", [width, horizon * continuousDims]))
        out.append(("action_head_continuous_head_bias", [horizon * continuousDims]))
        out.append(("action_head_discrete_head_kernel", [width, horizon]))
        out.append(("action_head_discrete_head_bias", [horizon]))
        return out
    }
}
