import Foundation
import VLACheckpoint
import VLAFormat
import VLAJSON

/// Action statistics from `dataset_statistics.json` (`hypervla.md` §7.2) and how they are applied.
public struct ActionStatistics: Sendable, Equatable {
    /// How normalized actions map back (`action_proprio_normalization_type`).
    public enum Kind: String, Sendable, Equatable {
        /// `a · std + mean` where the mask is true.
        case normal
        /// `(a + 1) · (p99 − p01 + 1e-8) / 2 + p01` where the mask is true.
        case bounds
    }

    /// Per-dim mean (`normal`).
    public var mean: [Float]
    /// Per-dim standard deviation (`normal`).
    public var std: [Float]
    /// Per-dim: unnormalize this dim. Without a `"mask"` in the file every dim, the gripper included (what the
    /// released `InferenceWrapper` does).
    public var mask: [Bool]
    /// The dataset whose statistics these are (empty for a single-dataset file).
    public var dataset: String
    /// Whether ``dataset`` was picked from the robot among several (no `--dataset`).
    public var chosenByRobot = false
    /// The normalization type.
    public var kind: Kind = .normal
    /// Per-dim 1st percentile (`bounds`; empty otherwise).
    public var p01: [Float] = []
    /// Per-dim 99th percentile (`bounds`; empty otherwise).
    public var p99: [Float] = []

    /// Creates statistics.
    public init(mean: [Float], std: [Float], mask: [Bool], dataset: String) {
        self.mean = mean
        self.std = std
        self.mask = mask
        self.dataset = dataset
    }

    /// The dataset the released evaluation uses for a robot (`InferenceWrapper.__init__`): google_robot
    /// `fractal20220817_data`, widowx_bridge `bridge_dataset`, libero `libero`; nil without a robot.
    public static func dataset(for robot: RobotMapping) -> String? {
        switch robot {
        case .googleRobot: "fractal20220817_data"
        case .widowxBridge: "bridge_dataset"
        case .libero: "libero"
        default: nil
        }
    }

    /// Reads `stats["action"]` or `stats[dataset]["action"]`.
    ///
    /// The dataset is `dataset` when given (`--dataset`), else the robot's (``dataset(for:)``), which must be there
    /// even when the file has only one (the released `InferenceWrapper` looks it up by that name), else (no robot)
    /// the only one. With several datasets and neither, it is an error that lists the names.
    /// - Parameters:
    ///   - kind: the normalization type of a config with one dataset: `normal` reads `mean`/`std`, `bounds`
    ///     reads `p01`/`p99`.
    ///   - kinds: the types by dataset name (a config's `dataset_kwargs_list`); when not empty, the chosen
    ///     dataset's entry decides and a dataset without one is an error.
    ///   - robot: the robot mapping, which picks the dataset of a file with several.
    /// - Throws: `ModelError` `.badConfig` naming the missing or malformed key.
    public init(
        json: JSONValue, dataset: String?, actionDim: Int, kind defaultKind: Kind = .normal, kinds: [String: Kind] = [:],
        robot: RobotMapping = .none
    ) throws(ModelError) {
        let what = "dataset_statistics.json"
        var action: JSONValue?
        var chosen = ""
        var byRobot = false
        if let a = json["action"] {
            action = a
        } else if let name = dataset ?? Self.dataset(for: robot) {
            guard let d = json[name] else {
                let why = dataset == nil ? " (the dataset the released evaluation uses for robot \(robot); choose another with --dataset)" : ""
                throw ModelError(.badConfig, "\(what): no dataset \"\(name)\"\(why) (has: \(Self.names(json).joined(separator: ", ")))")
            }
            action = d["action"]
            chosen = name
            byRobot = dataset == nil
        } else {
            let names = Self.names(json).filter { json[$0]?["action"] != nil }
            guard names.count == 1 else {
                throw ModelError(
                    .badConfig,
                    "\(what): \(names.count) datasets (\(names.joined(separator: ", "))); choose one with --dataset or --robot")
            }
            action = json[names[0]]?["action"]
            chosen = names[0]
        }
        guard let action else { throw ModelError(.badConfig, "\(what): no \"action\" statistics\(chosen.isEmpty ? "" : " for dataset \"\(chosen)\"")") }
        let prefix = chosen.isEmpty ? "action" : "\(chosen).action"
        var kind = defaultKind
        if !kinds.isEmpty {
            // The released wrapper looks its dataset up in dataset_kwargs_list by name.
            let name = chosen.isEmpty ? (dataset ?? Self.dataset(for: robot) ?? "") : chosen
            guard let k = kinds[name] else {
                throw ModelError(
                    .badConfig,
                    "config.json: dataset_kwargs.dataset_kwargs_list has no entry named \"\(name)\" (has: \(kinds.keys.sorted().joined(separator: ", "))); its action_proprio_normalization_type says how to unnormalize; choose the dataset with --dataset or --robot")
            }
            kind = k
        }
        func floats(_ key: String) throws(ModelError) -> [Float] {
            guard let a = action[key]?.array else {
                throw ModelError(.badConfig, "\(what): \(prefix).\(key) is missing or not an array (needed for \(kind.rawValue) normalization)")
            }
            var out: [Float] = []
            for v in a {
                guard let x = v.double, x.isFinite else {
                    throw ModelError(.badConfig, "\(what): \(prefix).\(key) has a non-number entry")
                }
                out.append(Float(x))
            }
            guard out.count == actionDim else {
                throw ModelError(.badConfig, "\(what): \(prefix).\(key) has \(out.count) entries, the config's action_dim is \(actionDim)")
            }
            return out
        }
        var mask: [Bool]
        if let m = action["mask"], !m.isNull {
            guard let a = m.array, a.allSatisfy({ $0.bool != nil }) else {
                throw ModelError(.badConfig, "\(what): \(prefix).mask must be a list of true/false")
            }
            mask = a.map { $0.bool ?? false }
            guard mask.count == actionDim else {
                throw ModelError(.badConfig, "\(what): \(prefix).mask has \(mask.count) entries, the config's action_dim is \(actionDim)")
            }
        } else {
            // The released wrapper: `stats.get("mask", ones)`: every dim, the gripper included.
            mask = [Bool](repeating: true, count: actionDim)
        }
        switch kind {
        case .normal:
            let mean = try floats("mean"), std = try floats("std")
            if let bad = std.indices.first(where: { !(std[$0] > 0) && mask[$0] }) {
                throw ModelError(.badConfig, "\(what): \(prefix).std[\(bad)] is \(std[bad]); it must be positive")
            }
            self.mean = mean
            self.std = std
        case .bounds:
            let low = try floats("p01"), high = try floats("p99")
            if let bad = low.indices.first(where: { !(high[$0] >= low[$0]) && mask[$0] }) {
                throw ModelError(.badConfig, "\(what): \(prefix).p99[\(bad)] \(high[bad]) is below p01[\(bad)] \(low[bad])")
            }
            p01 = low
            p99 = high
            self.mean = low
            self.std = high
        }
        self.kind = kind
        self.mask = mask
        self.dataset = chosen
        chosenByRobot = byRobot
    }

    private static func names(_ json: JSONValue) -> [String] {
        (json.object ?? []).map(\.key).sorted()
    }
}

/// A HyperVLA model directory: config, statistics, the HN parameters, and the foundation-model directories.
///
/// ```
/// model/
///   config.json               hypernet_kwargs, base_net_kwargs, text_processor (as the released code writes it)
///   dataset_statistics.json   action mean/std/mask, single or per dataset
///   params.safetensors        HN parameters with the released Flax names (or params.npz / params.msgpack)
///   text_encoder/             T5 (Hugging Face layout), unless --text-encoder names another
///   vision_encoder/           frozen DINOv2 (Hugging Face layout), unless --vision-encoder names another
/// ```
public struct HyperVLAModel: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; Checkpoint holds read-only mapped bytes.
    /// The model directory.
    public let directory: String
    /// The settings.
    public let config: HyperVLAConfig
    /// Action statistics.
    public let statistics: ActionStatistics
    /// The HN parameters, by normalized name (`/`-separated).
    public let hn: HNWeights
    /// Width of the T5 token embeddings (768).
    public let textDim: Int
    /// Width of the backbone's tokens (768).
    public let imageDim: Int
    /// Width of the frozen encoder's CLS token, `initial_image_projection/kernel`'s input (768 released; it need not
    /// be the backbone's); 0 without `use_initial_image`.
    public let frozenDim: Int
    /// Image tokens of the base net (256).
    public let patches: Int
    /// The generated leaves with shapes.
    public let leaves: [(name: String, shape: [Int])]
    /// The files that define the model (relative name, absolute path), for digests and provenance.
    public let files: [(name: String, path: String)]
    /// Converted HN weights, shared by every program this model builds (see ``ConstantCache``).
    let cache = ConstantCache()
    /// The model's name (the directory's last component).
    public var name: String { (directory as NSString).lastPathComponent }

    /// Total generated parameters.
    public var generatedCount: Int { leaves.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// Opens a model directory and checks every HN tensor against the config, reporting all problems at once.
    ///
    /// - Parameters:
    ///   - directory: the model directory.
    ///   - dataset: which dataset's statistics to use when the file has several.
    ///   - robot: the robot mapping; with statistics of several datasets and no `dataset` it picks the one the
    ///     released evaluation uses (``ActionStatistics/dataset(for:)``).
    ///   - backbone: the DINOv2 config (from the vision-encoder directory), for the shared leaves' shapes.
    /// - Throws: `ModelError`.
    public init(directory: String, dataset: String? = nil, robot: RobotMapping = .none, backbone: DINOv2.Config) throws(ModelError) {
        let configPath = directory + "/config.json"
        let json = try readJSON(configPath)
        let config: HyperVLAConfig
        do { config = try HyperVLAConfig(json: json) } catch {
            throw ModelError(error.code, "\(configPath): \(error.message)", problems: error.problems)
        }
        let statsPath = directory + "/dataset_statistics.json"
        let stats: ActionStatistics
        do {
            stats = try ActionStatistics(
                json: try readJSON(statsPath), dataset: dataset, actionDim: config.actionDim,
                kind: ActionStatistics.Kind(rawValue: config.normalizationType ?? "normal") ?? .normal,
                kinds: config.normalizationTypes.compactMapValues { ActionStatistics.Kind(rawValue: $0) }, robot: robot)
        } catch {
            throw ModelError(error.code, "\(statsPath): \(error.message)")
        }
        var paramsPath: String?
        for n in ["params.safetensors", "params.npz", "params.msgpack", "hn_params.safetensors", "hn_params.npz", "hn_params.msgpack"]
        where FileManager.default.fileExists(atPath: directory + "/" + n) {
            paramsPath = directory + "/" + n
            break
        }
        guard let paramsPath else {
            throw ModelError(.io, "\(directory): no HN parameters (params.safetensors, params.npz or params.msgpack)")
        }
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(path: paramsPath) } catch { throw ModelError(.io, "\(paramsPath): \(error)") }
        let hn = HNWeights(checkpoint)
        var problems = ProblemList()
        let c = config
        let textDim = hn.shape(of: "task_token_projection/kernel")?.first ?? 0
        let imageDim = backbone.hiddenSize
        let frozenDim = c.useInitialImage ? (hn.shape(of: "initial_image_projection/kernel")?.first ?? 0) : 0
        if c.useInitialImage && frozenDim == 0 {
            problems.add("tensor \"initial_image_projection/kernel\" is missing (expected shape [frozen_encoder_width, \(c.contextDim)]; use_initial_image is true)")
        }
        let side = 224 / max(backbone.patchSize, 1)
        let patches = side * side
        if textDim == 0 { problems.add("tensor \"task_token_projection/kernel\" is missing (expected shape [text_dim, \(c.contextDim)])") }
        let d = c.contextDim
        var plan = WeightPlan()
        plan.need("task_token_projection/kernel", [textDim, d])
        plan.need("task_token_projection/bias", [d])
        plan.need("task_pos_embedding", [1, c.maxTokens, d])
        plan.need("layer_pos_embedding", [1, 1, d])
        if c.useInitialImage {
            plan.need("initial_image_projection/kernel", [frozenDim, d])
            plan.need("initial_image_projection/bias", [d])
            plan.need("initial_image_pos_embedding", [1, 1, d])
        }
        for l in 0..<min(c.hnLayers, ModelLimits.maxLayers) {
            let p = "context_encoder/encoderblock_\(l)/"
            for n in ["LayerNorm_0", "LayerNorm_1"] {
                plan.need(p + n + "/scale", [d])
                plan.need(p + n + "/bias", [d])
            }
            let hd = d / max(c.hnHeads, 1)
            for m in ["query", "key", "value"] {
                plan.need(p + "MultiHeadDotProductAttention_0/\(m)/kernel", [d, c.hnHeads, hd])
                plan.need(p + "MultiHeadDotProductAttention_0/\(m)/bias", [c.hnHeads, hd])
            }
            plan.need(p + "MultiHeadDotProductAttention_0/out/kernel", [c.hnHeads, hd, d])
            plan.need(p + "MultiHeadDotProductAttention_0/out/bias", [d])
            plan.need(p + "MlpBlock_0/Dense_0/kernel", [d, c.hnMLP])
            plan.need(p + "MlpBlock_0/Dense_0/bias", [c.hnMLP])
            plan.need(p + "MlpBlock_0/Dense_1/kernel", [c.hnMLP, d])
            plan.need(p + "MlpBlock_0/Dense_1/bias", [d])
        }
        plan.need("context_encoder/encoder_norm/scale", [d])
        plan.need("context_encoder/encoder_norm/bias", [d])
        let leaves = c.generatedLeaves(patches: patches, backboneDim: imageDim)
        for (name, shape) in leaves {
            let n = shape.reduce(1, *)
            plan.need("output_head_\(name)/kernel", [d, n])
            plan.need("output_head_\(name)/bias", [n])
        }
        plan.check(hn, into: &problems)
        // The fine-tuned backbone, stored as flat vectors.
        let bb = FlatDINOv2Weights(hn, config: backbone)
        bb.check(into: &problems)
        // Every HN tensor must be one the configuration uses: a leaf it leaves unused (an action-head MLP layer
        // with hidden_dims empty, an image projection with use_initial_image false) means the config is not the
        // one the parameters were trained with, and ignoring it would compute other actions.
        let used = Set(plan.expected.map(\.name)).union(bb.flatNames.map { FlatDINOv2Weights.prefix + $0 })
        for name in hn.names where !used.contains(name) && !name.hasPrefix("vlac/") {
            problems.add("tensor \"\(name)\" is not used by config.json (\(Self.unusedHint(name, c))); vlac refuses parameters the configuration ignores")
        }
        try problems.throwIfAny(.weightsMismatch, "\(paramsPath): config.json and the HN parameters disagree")
        self.directory = directory
        self.config = config
        self.statistics = stats
        self.hn = hn
        self.textDim = textDim
        self.imageDim = imageDim
        self.frozenDim = frozenDim
        self.patches = patches
        self.leaves = leaves
        self.files = [
            ("config.json", configPath), ("dataset_statistics.json", statsPath),
            ((paramsPath as NSString).lastPathComponent, paramsPath),
        ]
    }

    /// What config field an unused tensor points at.
    static func unusedHint(_ name: String, _ c: HyperVLAConfig) -> String {
        if name.hasPrefix("output_head_action_head_Dense_") || name.hasPrefix("output_head_action_head_LayerNorm_") {
            return "base_net_kwargs.action_head_kwargs.hidden_dims is \(c.actionHeadHiddenDims)"
        }
        if name.hasPrefix("initial_image_") { return "hypernet_kwargs.use_initial_image is \(c.useInitialImage)" }
        if name.hasPrefix("context_encoder/encoderblock_") { return "hypernet_kwargs.context_encoder_kwargs.num_layers is \(c.hnLayers)" }
        if name.hasPrefix("output_head_encoder_Transformer_0_encoderblock_") { return "base_net_kwargs.vit_kwargs.num_layers is \(c.layers)" }
        if name.hasPrefix(FlatDINOv2Weights.prefix) { return "not a leaf of the fine-tuned DINOv2 the backbone config describes" }
        return "no configuration field uses it"
    }

    /// The fine-tuned backbone's weights under Hugging Face torch names, for ``DINOv2``.
    public func backboneWeights(config: DINOv2.Config) -> any WeightSource { FlatDINOv2Weights(hn, config: config) }
}

/// Reads and parses a JSON file.
func readJSON(_ path: String) throws(ModelError) -> JSONValue {
    let contents: [UInt8]?
    do { contents = try RegularFile.read(path) } catch { throw ModelError(.io, error.message) }
    guard let data = contents else { throw ModelError(.io, "\(path): cannot read") }
    do { return try JSONValue(parsing: data) } catch {
        throw ModelError(.badConfig, "\(path): \(error.message)", offset: error.offset)
    }
}

/// HN parameters by `/`-separated name, whichever separator the file used (`.` in some npz exports).
public struct HNWeights: WeightSource, @unchecked Sendable {
    // @unchecked: immutable; the checkpoint's bytes are read-only.
    let checkpoint: Checkpoint
    let index: [String: String]

    /// Wraps a checkpoint.
    public init(_ checkpoint: Checkpoint) {
        self.checkpoint = checkpoint
        var index: [String: String] = [:]
        for n in checkpoint.names {
            var k = n.replacingOccurrences(of: ".", with: "/")
            if k.hasPrefix("params/") { k.removeFirst("params/".count) }
            index[k] = n
        }
        self.index = index
    }

    public func shape(of name: String) -> [Int]? { index[name].flatMap { checkpoint[$0]?.shape } }

    /// Every tensor's normalized name, sorted.
    public var names: [String] { index.keys.sorted() }

    public func floats(of name: String) throws -> [Float] {
        guard let n = index[name], let t = checkpoint[n] else { throw ModelError(.weightsMismatch, "tensor \"\(name)\" is missing") }
        return t.floats()
    }
}

/// The fine-tuned DINOv2 stored in the HN as flat vectors `encoder_image_encoder_<flax path joined by _>`,
/// presented under the Hugging Face torch names ``DINOv2`` reads (kernels transposed to `[out, in]`, the patch
/// kernel from HWIO to OIHW).
struct FlatDINOv2Weights: WeightSource {
    let hn: HNWeights
    let config: DINOv2.Config
    static let prefix = "encoder_image_encoder_"

    init(_ hn: HNWeights, config: DINOv2.Config) {
        self.hn = hn
        self.config = config
    }

    /// torch name → (flat name, torch shape, kind of conversion).
    private func map(_ name: String) -> (flat: String, shape: [Int], kind: Int)? {
        let c = config, d = c.hiddenSize, p = c.patchSize, side = c.tableSide
        switch name {
        case "embeddings.cls_token": return ("embeddings_cls_token", [1, 1, d], 0)
        case "embeddings.position_embeddings": return ("embeddings_position_embeddings", [1, side * side + 1, d], 0)
        case "embeddings.patch_embeddings.projection.weight": return ("embeddings_patch_embeddings_projection_kernel", [d, c.channels, p, p], 2)
        case "embeddings.patch_embeddings.projection.bias": return ("embeddings_patch_embeddings_projection_bias", [d], 0)
        case "layernorm.weight": return ("layernorm_scale", [d], 0)
        case "layernorm.bias": return ("layernorm_bias", [d], 0)
        default: break
        }
        guard name.hasPrefix("encoder.layer.") else { return nil }
        let rest = name.dropFirst("encoder.layer.".count)
        guard let dot = rest.firstIndex(of: "."), let l = Int(rest[..<dot]) else { return nil }
        let tail = String(rest[rest.index(after: dot)...])
        let lp = "encoder_layer_\(l)_"
        let m = c.mlpSize
        let table: [String: (String, [Int], Int)] = [
            "norm1.weight": ("norm1_scale", [d], 0), "norm1.bias": ("norm1_bias", [d], 0),
            "norm2.weight": ("norm2_scale", [d], 0), "norm2.bias": ("norm2_bias", [d], 0),
            "attention.attention.query.weight": ("attention_attention_query_kernel", [d, d], 1),
            "attention.attention.query.bias": ("attention_attention_query_bias", [d], 0),
            "attention.attention.key.weight": ("attention_attention_key_kernel", [d, d], 1),
            "attention.attention.key.bias": ("attention_attention_key_bias", [d], 0),
            "attention.attention.value.weight": ("attention_attention_value_kernel", [d, d], 1),
            "attention.attention.value.bias": ("attention_attention_value_bias", [d], 0),
            "attention.output.dense.weight": ("attention_output_dense_kernel", [d, d], 1),
            "attention.output.dense.bias": ("attention_output_dense_bias", [d], 0),
            "layer_scale1.lambda1": ("layer_scale1_lambda1", [d], 0),
            "layer_scale2.lambda1": ("layer_scale2_lambda1", [d], 0),
            "mlp.fc1.weight": ("mlp_fc1_kernel", [m, d], 1), "mlp.fc1.bias": ("mlp_fc1_bias", [m], 0),
            "mlp.fc2.weight": ("mlp_fc2_kernel", [d, m], 1), "mlp.fc2.bias": ("mlp_fc2_bias", [d], 0),
        ]
        guard let (f, s, k) = table[tail] else { return nil }
        return (lp + f, s, k)
    }

    func shape(of name: String) -> [Int]? {
        guard let (flat, shape, _) = map(name), let actual = hn.shape(of: Self.prefix + flat) else { return nil }
        return actual.reduce(1, *) == shape.reduce(1, *) ? shape : actual
    }

    func floats(of name: String) throws -> [Float] {
        guard let (flat, shape, kind) = map(name) else { throw ModelError(.weightsMismatch, "tensor \"\(name)\" has no flat HN name") }
        let v = try hn.floats(of: Self.prefix + flat)
        switch kind {
        case 1:  // flax [in, out] → torch [out, in]
            return transposed(v, rows: shape[1], cols: shape[0])
        case 2:  // flax [P, P, C, D] → torch [D, C, P, P]
            let d = shape[0], ch = shape[1], p = shape[2]
            var out = [Float](repeating: 0, count: v.count)
            for y in 0..<p {
                for x in 0..<p {
                    for c in 0..<ch {
                        for o in 0..<d { out[((o * ch + c) * p + y) * p + x] = v[((y * p + x) * ch + c) * d + o] }
                    }
                }
            }
            return out
        default:
            return v
        }
    }

    /// The flat names (without the prefix) of every vector the backbone reads, and `embeddings_mask_token`, which
    /// the released tree holds and inference never reads.
    var flatNames: [String] { torchNames.compactMap { map($0)?.flat } + ["embeddings_mask_token"] }

    /// Lists missing shared vectors and wrong element counts.
    func check(into problems: inout ProblemList) {
        for n in torchNames {
            guard let (flat, shape, _) = map(n) else { continue }
            let want = shape.reduce(1, *)
            guard let actual = hn.shape(of: Self.prefix + flat) else {
                problems.add("tensor \"\(Self.prefix + flat)\" is missing (expected \(want) elements, shape [\(want)])")
                continue
            }
            if actual.reduce(1, *) != want {
                problems.add("tensor \"\(Self.prefix + flat)\": expected \(want) elements (shape [\(want)]), got shape \(actual)")
            }
        }
    }

    /// The torch names of every backbone weight.
    private var torchNames: [String] {
        var names = [
            "embeddings.cls_token", "embeddings.position_embeddings", "embeddings.patch_embeddings.projection.weight",
            "embeddings.patch_embeddings.projection.bias", "layernorm.weight", "layernorm.bias",
        ]
        for l in 0..<min(config.layers, ModelLimits.maxLayers) {
            for t in [
                "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "attention.attention.query.weight",
                "attention.attention.query.bias", "attention.attention.key.weight", "attention.attention.key.bias",
                "attention.attention.value.weight", "attention.attention.value.bias", "attention.output.dense.weight",
                "attention.output.dense.bias", "layer_scale1.lambda1", "layer_scale2.lambda1", "mlp.fc1.weight",
                "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
            ] { names.append("encoder.layer.\(l).\(t)") }
        }
        return names
    }
}
