import VLAFormat

#if canImport(Glibc)
import Glibc
import VLAJSON
#endif

/// A T5 encoder (the encoder stack of `T5EncoderModel`) from a Hugging Face `config.json` and weights.
///
/// Pre-norm layers with RMS norm and no biases: `x += Wo·attn(RMS(x))` with T5's bucketed relative position
/// bias (computed once from the first layer's table, shared by all layers, attention scale 1), then
/// `x += FF(RMS(x))` where FF is `wo·relu(wi·h)` or the gated `wo·(act(wi_0·h) ⊙ wi_1·h)`; a final RMS norm.
///
/// > Note: <Docs/Models.md>
public struct T5Encoder {
    /// The sizes and options read from `config.json`.
    public struct Config: Sendable, Equatable {
        public var vocabSize: Int
        public var dModel: Int
        public var dKV: Int
        public var dFF: Int
        public var layers: Int
        public var heads: Int
        public var buckets: Int
        public var maxDistance: Int
        public var eps: Double
        /// The feed-forward activation (Hugging Face name).
        public var activation: String
        /// Whether the feed-forward is gated (`gated-gelu`).
        public var gated: Bool
    }

    /// The config.
    public let config: Config
    let weights: any WeightSource
    /// Converted weights, shared by every program built from this model.
    let cache = ConstantCache()
    let embeddingName: String

    /// Reads the config and checks every weight against it, reporting all problems at once.
    ///
    /// - Throws: `ModelError` listing every config problem, missing tensor and shape mismatch.
    public init(config json: JSONValue, weights: any WeightSource) throws(ModelError) {
        var r = ConfigReader(json)
        let modelType = r.string("model_type", default: "t5") ?? "t5"
        if !["t5", "mt5", "umt5"].contains(modelType) || modelType == "umt5" {
            r.problems.add("model_type \"\(modelType)\" is not supported by the T5 builder (expected t5 or mt5)")
        }
        for a in r.architectures where !(a.hasPrefix("T5") || a.hasPrefix("MT5")) {
            r.problems.add("architecture \"\(a)\" is not supported by the T5 builder (expected T5*)")
        }
        let ffProj = r.string("feed_forward_proj", default: "relu") ?? "relu"
        let parts = ffProj.split(separator: "-").map(String.init)
        var gated = false
        var act = ffProj
        if parts.count == 2, parts[0] == "gated" {
            gated = true
            act = parts[1] == "gelu" ? "gelu_new" : parts[1]
        } else if parts.count != 1 {
            r.problems.add("feed_forward_proj \"\(ffProj)\" is not of the form ACT or gated-ACT")
        }
        if Activation.op(act) == nil {
            r.problems.add("feed_forward_proj \"\(ffProj)\": activation \"\(act)\" is not supported (supported: \(Activation.known))")
        }
        let c = Config(
            vocabSize: r.int("vocab_size"), dModel: r.int("d_model"), dKV: r.int("d_kv"), dFF: r.int("d_ff"),
            layers: r.int("num_layers"), heads: r.int("num_heads"),
            buckets: r.int("relative_attention_num_buckets", default: 32, min: 2),
            maxDistance: r.int("relative_attention_max_distance", default: 128, min: 2),
            eps: r.double("layer_norm_epsilon", default: 1e-6), activation: act, gated: gated)
        if c.layers > ModelLimits.maxLayers { r.problems.add("num_layers \(c.layers) over the limit \(ModelLimits.maxLayers)") }

        let emb = weights.shape(of: "shared.weight") != nil ? "shared.weight" : "encoder.embed_tokens.weight"
        var plan = WeightPlan()
        let d = c.dModel, inner = c.heads * c.dKV
        plan.need(emb, [c.vocabSize, d])
        plan.need("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", [c.buckets, c.heads])
        for l in 0..<min(c.layers, ModelLimits.maxLayers) {
            let p = "encoder.block.\(l).layer."
            for m in ["q", "k", "v"] { plan.need(p + "0.SelfAttention.\(m).weight", [inner, d]) }
            plan.need(p + "0.SelfAttention.o.weight", [d, inner])
            plan.need(p + "0.layer_norm.weight", [d])
            if gated {
                plan.need(p + "1.DenseReluDense.wi_0.weight", [c.dFF, d])
                plan.need(p + "1.DenseReluDense.wi_1.weight", [c.dFF, d])
            } else {
                plan.need(p + "1.DenseReluDense.wi.weight", [c.dFF, d])
            }
            plan.need(p + "1.DenseReluDense.wo.weight", [d, c.dFF])
            plan.need(p + "1.layer_norm.weight", [d])
        }
        plan.need("encoder.final_layer_norm.weight", [d])
        plan.check(weights, into: &r.problems)
        try r.problems.throwIfAny(.weightsMismatch, "t5 encoder: config.json and weights disagree")
        self.config = c
        self.weights = weights
        self.embeddingName = emb
    }

    /// T5's bidirectional relative position bucket for `relative = key position − query position`.
    ///
    /// Mirrors transformers' `_relative_position_bucket` including its float32 arithmetic (the log is taken
    /// in f32 and truncated toward zero), so bucket boundaries agree exactly.
    public static func bucket(relative: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        var result = relative > 0 ? half : 0
        let n = abs(relative)
        let maxExact = half / 2
        if n < maxExact { return result + n }
        let ratio = Float(n) / Float(maxExact)
        let denominator = Float(log(Double(maxDistance) / Double(maxExact)))
        var scaled = logf(ratio) / denominator * Float(half - maxExact)
        // Degenerate configs (fewer than 4 buckets, max distance ≤ max exact) give inf or NaN here, where
        // torch's cast is undefined; vlac clamps instead of trapping.
        if scaled.isNaN { scaled = Float(half) }
        scaled = Swift.min(Swift.max(scaled, -Float(half)), Float(half))
        let large = Swift.max(Swift.min(maxExact + Int(scaled), half - 1), 0)
        result += large
        return result
    }

    /// The additive bias `[H, T, T]` for a sequence of length `t`: `bias[h, i, j] = table[bucket(j − i), h]`.
    func positionBias(t: Int) throws(ModelError) -> [Float] {
        let c = config
        let table = try load(weights, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
        var out = [Float](repeating: 0, count: c.heads * t * t)
        for i in 0..<t {
            for j in 0..<t {
                let bkt = T5Encoder.bucket(relative: j - i, buckets: c.buckets, maxDistance: c.maxDistance)
                for h in 0..<c.heads { out[(h * t + i) * t + j] = table[bkt * c.heads + h] }
            }
        }
        return out
    }

    /// Builds the encoder for one token sequence (padding included), as a program.
    ///
    /// Output: `last_hidden_state` `[T, d_model]` after the final RMS norm (padded rows included, as
    /// transformers computes them; masked keys get no attention).
    public func build(ids: [Int32], mask: [UInt8]? = nil) throws(ModelError) -> BuiltModel {
        let c = config
        let t = ids.count
        let mask = mask ?? [UInt8](repeating: 1, count: t)
        guard t >= 1, t <= ModelLimits.maxSequence, mask.count == t else {
            throw ModelError(.badInput, "t5 encoder: \(t) tokens with \(mask.count) mask entries; need 1...\(ModelLimits.maxSequence) tokens and a mask entry per token")
        }
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw ModelError(.badInput, "t5 encoder: token \(bad) has id \(ids[bad]), outside the vocabulary of \(c.vocabSize)")
        }
        let d = c.dModel
        var L = Layers(weights: weights, cache: cache)
        let table = try L.weight(embeddingName, [c.vocabSize, d])
        let idsT = L.b.constant("input_ids", [t], int32: ids)
        let maskT = L.b.constant("attention_mask", [t], uint8: mask)
        let bias = L.b.constant("relative_position_bias", [c.heads, t, t], try positionBias(t: t))
        var x = L.b.op(.gather, [table, idsT], "embeddings", TensorType(.f32, [t, d]))
        x = try encoderStack(&L, x, mask: maskT, bias: bias)
        L.b.output("last_hidden_state", x)
        var built = L.b.finish()
        built.attentionMask = mask
        return built
    }
}

extension T5Encoder {
    /// The encoder blocks and the final RMS norm over `x` (`[T, d_model]` or `[B, T, d_model]`), with the key
    /// `mask` and T5's relative position `bias`; shared by the single-sequence and the batched builders.
    func encoderStack(_ L: inout Layers, _ input: Int, mask: Int, bias: Int) throws(ModelError) -> Int {
        let c = config
        let eps = Float(c.eps)
        let act = Activation.op(c.activation) ?? .relu
        var x = input
        for l in 0..<c.layers {
            let p = "encoder.block.\(l).layer."
            let h = try L.rmsNorm(x, p + "0.layer_norm", eps: eps, name: "block\(l).attention_norm")
            let q = try L.linear(h, p + "0.SelfAttention.q", bias: false, name: "block\(l).q")
            let k = try L.linear(h, p + "0.SelfAttention.k", bias: false, name: "block\(l).k")
            let v = try L.linear(h, p + "0.SelfAttention.v", bias: false, name: "block\(l).v")
            let a = L.attention(q: q, k: k, v: v, heads: c.heads, headDim: c.dKV, scale: 1, mask: mask, bias: bias, name: "block\(l).attention")
            let o = try L.linear(a, p + "0.SelfAttention.o", bias: false, name: "block\(l).attention_out")
            x = L.binary(.add, x, o, name: "block\(l).attention_residual")
            let g = try L.rmsNorm(x, p + "1.layer_norm", eps: eps, name: "block\(l).ff_norm")
            var f: Int
            if c.gated {
                let a0 = try L.linear(g, p + "1.DenseReluDense.wi_0", bias: false, name: "block\(l).wi_0")
                let a1 = L.unary(act, a0, name: "block\(l).act")
                let b1 = try L.linear(g, p + "1.DenseReluDense.wi_1", bias: false, name: "block\(l).wi_1")
                f = L.binary(.mul, a1, b1, name: "block\(l).gate")
            } else {
                f = try L.linear(g, p + "1.DenseReluDense.wi", bias: false, name: "block\(l).wi")
                f = L.unary(act, f, name: "block\(l).act")
            }
            f = try L.linear(f, p + "1.DenseReluDense.wo", bias: false, name: "block\(l).wo")
            x = L.binary(.add, x, f, name: "block\(l).ff_residual")
        }
        return try L.rmsNorm(x, "encoder.final_layer_norm", eps: eps, name: "final_norm")
    }
}
