import VLAFormat
import VLAJSON

/// A BERT-family encoder (BERT, MiniLM, ...) from a Hugging Face `config.json` and weights.
///
/// Post-norm layers as in transformers' `BertModel`: embeddings (word + token type 0 + absolute position,
/// then LayerNorm), then per layer `LN(x + Wo·attn(x))` and `LN(h + W2·act(W1·h))`. Optional
/// sentence-transformers mean pooling over the attention mask and L2 normalization.
///
/// > Note: <Docs/Models.md>
public struct BertEncoder {
    /// The sizes and options read from `config.json`.
    public struct Config: Sendable, Equatable {
        public var vocabSize: Int
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        public var intermediateSize: Int
        public var maxPositions: Int
        public var typeVocabSize: Int
        public var layerNormEps: Double
        public var hiddenAct: String
    }

    /// The config.
    public let config: Config
    /// The weight-name prefix found in the checkpoint (`""` or `"bert."`).
    public let prefix: String
    let weights: any WeightSource
    /// Converted weights, shared by every program built from this model.
    let cache = ConstantCache()

    /// Reads the config and checks every weight against it, reporting all problems at once.
    ///
    /// - Throws: `ModelError` listing every config problem, missing tensor and shape mismatch.
    public init(config json: JSONValue, weights: any WeightSource) throws(ModelError) {
        var r = ConfigReader(json)
        let archs = r.architectures
        let modelType = r.string("model_type", default: "bert") ?? "bert"
        if !["bert", "roberta", "xlm-roberta"].contains(modelType) {
            r.problems.add("model_type \"\(modelType)\" is not a BERT-family encoder (expected bert)")
        }
        for a in archs where !a.hasPrefix("Bert") {
            r.problems.add("architecture \"\(a)\" is not supported by the BERT builder (expected Bert*)")
        }
        let c = Config(
            vocabSize: r.int("vocab_size"), hiddenSize: r.int("hidden_size"), layers: r.int("num_hidden_layers"),
            heads: r.int("num_attention_heads"), intermediateSize: r.int("intermediate_size"),
            maxPositions: r.int("max_position_embeddings", default: 512),
            typeVocabSize: r.int("type_vocab_size", default: 2),
            layerNormEps: r.double("layer_norm_eps", default: 1e-12),
            hiddenAct: r.string("hidden_act", default: "gelu") ?? "gelu")
        if Activation.op(c.hiddenAct) == nil {
            r.problems.add("hidden_act \"\(c.hiddenAct)\" is not supported (supported: \(Activation.known))")
        }
        if c.hiddenSize % c.heads != 0 {
            r.problems.add("hidden_size \(c.hiddenSize) is not a multiple of num_attention_heads \(c.heads)")
        }
        if c.layers > ModelLimits.maxLayers { r.problems.add("num_hidden_layers \(c.layers) over the limit \(ModelLimits.maxLayers)") }
        let pe = r.string("position_embedding_type", default: "absolute") ?? "absolute"
        if pe != "absolute" { r.problems.add("position_embedding_type \"\(pe)\" is not supported (expected absolute)") }

        let prefix = weights.shape(of: "bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        var plan = WeightPlan()
        let d = c.hiddenSize, ff = c.intermediateSize
        plan.need(prefix + "embeddings.word_embeddings.weight", [c.vocabSize, d])
        plan.need(prefix + "embeddings.position_embeddings.weight", [c.maxPositions, d])
        plan.need(prefix + "embeddings.token_type_embeddings.weight", [c.typeVocabSize, d])
        plan.need(prefix + "embeddings.LayerNorm.weight", [d])
        plan.need(prefix + "embeddings.LayerNorm.bias", [d])
        for l in 0..<min(c.layers, ModelLimits.maxLayers) {
            let p = prefix + "encoder.layer.\(l)."
            for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                plan.need(p + m + ".weight", [d, d])
                plan.need(p + m + ".bias", [d])
            }
            for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
                plan.need(p + n + ".weight", [d])
                plan.need(p + n + ".bias", [d])
            }
            plan.need(p + "intermediate.dense.weight", [ff, d])
            plan.need(p + "intermediate.dense.bias", [ff])
            plan.need(p + "output.dense.weight", [d, ff])
            plan.need(p + "output.dense.bias", [d])
        }
        plan.check(weights, into: &r.problems)
        try r.problems.throwIfAny(.weightsMismatch, "bert encoder: config.json and weights disagree")
        self.config = c
        self.prefix = prefix
        self.weights = weights
    }

    /// Builds the encoder for one token sequence (padding included), as a program.
    ///
    /// Outputs: `last_hidden_state` `[T, D]`; with `pooling`, also `pooled` (mask-weighted mean, `[D]`) and
    /// `embedding` (the pooled vector L2-normalized, eps 1e-12), as sentence-transformers computes them.
    /// - Parameters:
    ///   - ids: Token ids, `T` of them, each below the vocabulary size.
    ///   - mask: 1 for real tokens, 0 for padding; `T` entries.
    ///   - pooling: Whether to add mean pooling and normalization.
    public func build(ids: [Int32], mask: [UInt8]? = nil, pooling: Bool = false) throws(ModelError) -> BuiltModel {
        let c = config
        let t = ids.count
        let mask = mask ?? [UInt8](repeating: 1, count: t)
        guard t >= 1, t <= c.maxPositions, mask.count == t else {
            throw ModelError(.badInput, "bert encoder: \(t) tokens with \(mask.count) mask entries; need 1...\(c.maxPositions) tokens and a mask entry per token")
        }
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw ModelError(.badInput, "bert encoder: token \(bad) has id \(ids[bad]), outside the vocabulary of \(c.vocabSize)")
        }
        let d = c.hiddenSize, hd = d / c.heads
        let eps = Float(c.layerNormEps)
        let act = Activation.op(c.hiddenAct) ?? .geluErf
        var L = Layers(weights: weights, cache: cache)
        let p = prefix
        let table = try L.weight(p + "embeddings.word_embeddings.weight", [c.vocabSize, d])
        let idsT = L.b.constant("input_ids", [t], int32: ids)
        let maskT = L.b.constant("attention_mask", [t], uint8: mask)
        var x = L.b.op(.gather, [table, idsT], "embeddings.words", TensorType(.f32, [t, d]))
        let tt = try load(weights, p + "embeddings.token_type_embeddings.weight")
        let tt0 = L.b.constant(p + "embeddings.token_type_embeddings.row0", [d], Array(tt[0..<d]))
        x = L.binary(.add, x, tt0, name: "embeddings.plus_type")
        let pos = try load(weights, p + "embeddings.position_embeddings.weight")
        let posT = L.b.constant(p + "embeddings.position_embeddings.rows", [t, d], Array(pos[0..<(t * d)]))
        x = L.binary(.add, x, posT, name: "embeddings.plus_position")
        x = try L.layerNorm(x, p + "embeddings.LayerNorm", eps: eps, name: "embeddings")
        let scale = Float(1.0 / Double(hd).squareRoot())
        for l in 0..<c.layers {
            let lp = p + "encoder.layer.\(l)."
            let q = try L.linear(x, lp + "attention.self.query", name: "layer\(l).q")
            let k = try L.linear(x, lp + "attention.self.key", name: "layer\(l).k")
            let v = try L.linear(x, lp + "attention.self.value", name: "layer\(l).v")
            let a = L.attention(q: q, k: k, v: v, heads: c.heads, headDim: hd, scale: scale, mask: maskT, bias: nil, name: "layer\(l).attention")
            var o = try L.linear(a, lp + "attention.output.dense", name: "layer\(l).attention_out")
            o = L.binary(.add, o, x, name: "layer\(l).attention_residual")
            let h = try L.layerNorm(o, lp + "attention.output.LayerNorm", eps: eps, name: "layer\(l).attention_norm")
            var f = try L.linear(h, lp + "intermediate.dense", name: "layer\(l).intermediate")
            f = L.unary(act, f, name: "layer\(l).act")
            f = try L.linear(f, lp + "output.dense", name: "layer\(l).output")
            f = L.binary(.add, f, h, name: "layer\(l).output_residual")
            x = try L.layerNorm(f, lp + "output.LayerNorm", eps: eps, name: "layer\(l).output_norm")
        }
        L.b.output("last_hidden_state", x)
        if pooling {
            let pooled = L.b.op(.meanPool, [x, maskT], "pooled", TensorType(.f32, [d]))
            let e = L.b.op(.l2Normalize, [pooled], "embedding", TensorType(.f32, [d]), attributes: [bits(1e-12)])
            L.b.output("pooled", pooled)
            L.b.output("embedding", e)
        }
        var built = L.b.finish()
        built.attentionMask = mask
        return built
    }
}
