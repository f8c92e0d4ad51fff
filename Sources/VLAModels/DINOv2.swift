import VLAFormat
import VLAJSON

/// DINOv2 (a ViT with layer scale) from a Hugging Face `config.json` and weights, as `Dinov2Model` computes it.
///
/// Patch embedding (a convolution with stride = kernel), a CLS token, the position table resampled to the
/// image's patch grid (``PositionInterpolation``), then per layer `x += λ1 ⊙ Wo·attn(LN1(x))` and
/// `x += λ2 ⊙ fc2(act(fc1(LN2(x))))`, and a final LayerNorm on all tokens.
///
/// > Note: <Docs/Models.md>
public struct DINOv2 {
    /// The sizes and options read from `config.json`.
    public struct Config: Sendable, Equatable {
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        public var mlpRatio: Int
        public var patchSize: Int
        public var imageSize: Int
        public var channels: Int
        public var layerNormEps: Double
        public var hiddenAct: String
        /// Hidden size of the MLP: `hidden_size · mlp_ratio`.
        public var mlpSize: Int { hiddenSize * mlpRatio }
        /// Side of the square position table: `image_size / patch_size`.
        public var tableSide: Int { imageSize / patchSize }
    }

    /// The config.
    public let config: Config
    /// The weight-name prefix found in the checkpoint (`""` or `"dinov2."`).
    public let prefix: String
    let weights: any WeightSource
    /// Converted weights, shared by every program built from this model.
    let cache = ConstantCache()
    /// Weight prefixes of q, k, v and the output projection inside a layer.
    let attentionNames: [String]

    /// Reads the config and checks every weight against it, reporting all problems at once.
    ///
    /// - Throws: `ModelError` listing every config problem, missing tensor and shape mismatch.
    /// With `checkWeights` false only the config is read (to learn an architecture).
    public init(config json: JSONValue, weights: any WeightSource, checkWeights: Bool = true) throws(ModelError) {
        var r = ConfigReader(json)
        let modelType = r.string("model_type", default: "dinov2") ?? "dinov2"
        if modelType != "dinov2" { r.problems.add("model_type \"\(modelType)\" is not supported by the DINOv2 builder (expected dinov2)") }
        for a in r.architectures where !a.hasPrefix("Dinov2") {
            r.problems.add("architecture \"\(a)\" is not supported by the DINOv2 builder (expected Dinov2*)")
        }
        if r.bool("use_swiglu_ffn", default: false) { r.problems.add("use_swiglu_ffn true is not supported (DINOv2-giant's SwiGLU MLP)") }
        let c = Config(
            hiddenSize: r.int("hidden_size"), layers: r.int("num_hidden_layers"), heads: r.int("num_attention_heads"),
            mlpRatio: r.int("mlp_ratio", default: 4), patchSize: r.int("patch_size"), imageSize: r.int("image_size"),
            channels: r.int("num_channels", default: 3), layerNormEps: r.double("layer_norm_eps", default: 1e-6),
            hiddenAct: r.string("hidden_act", default: "gelu") ?? "gelu")
        if Activation.op(c.hiddenAct) == nil {
            r.problems.add("hidden_act \"\(c.hiddenAct)\" is not supported (supported: \(Activation.known))")
        }
        if c.hiddenSize % c.heads != 0 {
            r.problems.add("hidden_size \(c.hiddenSize) is not a multiple of num_attention_heads \(c.heads)")
        }
        if c.imageSize < c.patchSize {
            r.problems.add("image_size \(c.imageSize) is smaller than patch_size \(c.patchSize): no position table")
        }
        if c.layers > ModelLimits.maxLayers { r.problems.add("num_hidden_layers \(c.layers) over the limit \(ModelLimits.maxLayers)") }
        let prefix = weights.shape(of: "dinov2.embeddings.cls_token") != nil ? "dinov2." : ""
        // transformers 5 saves q_proj/k_proj/v_proj/o_proj; older checkpoints (the Hub's facebook/dinov2-*)
        // attention.query/key/value and output.dense.
        let modern = weights.shape(of: prefix + "encoder.layer.0.attention.q_proj.weight") != nil
        let names = modern
            ? ["attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj"]
            : ["attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"]
        var plan = WeightPlan()
        let d = c.hiddenSize, p = c.patchSize, side = c.tableSide
        plan.need(prefix + "embeddings.cls_token", [1, 1, d])
        plan.need(prefix + "embeddings.position_embeddings", [1, side * side + 1, d])
        plan.need(prefix + "embeddings.patch_embeddings.projection.weight", [d, c.channels, p, p])
        plan.need(prefix + "embeddings.patch_embeddings.projection.bias", [d])
        for l in 0..<min(c.layers, ModelLimits.maxLayers) {
            let lp = prefix + "encoder.layer.\(l)."
            for n in ["norm1", "norm2"] {
                plan.need(lp + n + ".weight", [d])
                plan.need(lp + n + ".bias", [d])
            }
            for m in names {
                plan.need(lp + m + ".weight", [d, d])
                plan.need(lp + m + ".bias", [d])
            }
            plan.need(lp + "layer_scale1.lambda1", [d])
            plan.need(lp + "layer_scale2.lambda1", [d])
            plan.need(lp + "mlp.fc1.weight", [c.mlpSize, d])
            plan.need(lp + "mlp.fc1.bias", [c.mlpSize])
            plan.need(lp + "mlp.fc2.weight", [d, c.mlpSize])
            plan.need(lp + "mlp.fc2.bias", [d])
        }
        plan.need(prefix + "layernorm.weight", [d])
        plan.need(prefix + "layernorm.bias", [d])
        if checkWeights { plan.check(weights, into: &r.problems) }
        try r.problems.throwIfAny(.weightsMismatch, "dinov2: config.json and weights disagree")
        self.config = c
        self.prefix = prefix
        self.weights = weights
        self.attentionNames = names
    }

    /// The name of the patch embedding's kernel tensor in built programs.
    public var patchKernelName: String { prefix + "embeddings.patch_embeddings.projection.kernel" }

    /// The position table for a `gridH × gridW` patch grid: `[1 + gridH·gridW, D]`, CLS row first, unchanged.
    public func positionTable(gridH: Int, gridW: Int, interpolation: PositionInterpolation) throws(ModelError) -> [Float] {
        let c = config
        let d = c.hiddenSize, side = c.tableSide
        let table = try load(weights, prefix + "embeddings.position_embeddings")
        let patches = Array(table[d...])
        let resampled = interpolation.resample(patches, inH: side, inW: side, channels: d, outH: gridH, outW: gridW)
        return Array(table[0..<d]) + resampled
    }

    /// Builds the forward pass for an `height × width` image as a program.
    ///
    /// Input: `pixel_values` f32 `[height, width, channels]`, already normalized (HWC). Outputs:
    /// `last_hidden_state` `[1 + N, D]` (after the final LayerNorm), `cls` `[1, D]` and `patch_tokens`
    /// `[N, D]` with `N = (height / patch) · (width / patch)` in row-major grid order.
    ///
    /// With `patchEmbeddingAsProduct` (and both sides multiples of the patch size) the patch embedding is written
    /// as the product that `patch_embed` computes instead of the op: the image viewed as `[gh, P, gw, P·C]`, one
    /// `slice` per patch row `py` (`[gh, 1, gw, P·C]`), their `concat` along the last axis (`[gh, 1, gw, P·P·C]`,
    /// each patch's pixels in the kernel's `(py, px, c)` order), viewed as `[N, P·P·C]`, then a `linear` with the
    /// kernel as `[P·P·C, D]`: the same sums in the same order, so the same bits as `patch_embed`, and a `linear`
    /// that `vlac compile --precision` can convert like the others.
    public func build(
        height: Int, width: Int, interpolation: PositionInterpolation, patchEmbeddingAsProduct: Bool = false
    ) throws(ModelError) -> BuiltModel {
        let c = config
        let p = c.patchSize
        guard height >= p, width >= p, height <= ModelLimits.maxImageSide, width <= ModelLimits.maxImageSide else {
            throw ModelError(.badInput, "dinov2: image \(height)×\(width) is outside \(p)...\(ModelLimits.maxImageSide) pixels per side")
        }
        let gh = height / p, gw = width / p, n = gh * gw
        let d = c.hiddenSize, hd = d / c.heads
        let eps = Float(c.layerNormEps)
        let act = Activation.op(c.hiddenAct) ?? .geluErf
        var L = Layers(weights: weights, cache: cache)
        let pre = prefix
        let image = L.b.input("pixel_values", TensorType(.f32, [height, width, c.channels]))
        // torch conv weight [D, C, P, P] → patch_embed kernel [P, P, C, D] (as a product: [P·P·C, D], the same bytes).
        let source = weights, channels = c.channels
        let asProduct = patchEmbeddingAsProduct && height % p == 0 && width % p == 0
        let kernelShape = asProduct ? [p * p * channels, d] : [p, p, channels, d]
        let kernel = try L.weight(patchKernelName, kernelShape) { () throws(ModelError) in
            let w = try load(source, pre + "embeddings.patch_embeddings.projection.weight")
            var k = [Float](repeating: 0, count: w.count)
            for o in 0..<d {
                for ch in 0..<channels {
                    for y in 0..<p {
                        for x in 0..<p { k[((y * p + x) * channels + ch) * d + o] = w[((o * channels + ch) * p + y) * p + x] }
                    }
                }
            }
            return k
        }
        let bias = try L.weight(pre + "embeddings.patch_embeddings.projection.bias", [d])
        let patches: Int
        if asProduct {
            let grid = L.b.view(image, [gh, p, gw, p * channels], "pixel_values.patch_rows")
            let rows = (0..<p).map { py in
                L.b.op(.slice, [grid], "patch_row\(py)", TensorType(.f32, [gh, 1, gw, p * channels]), attributes: [1, UInt32(py), 1])
            }
            let pixels = L.b.op(.concat, rows, "patch_pixels", TensorType(.f32, [gh, 1, gw, p * p * channels]), attributes: [3])
            let flat = L.b.view(pixels, [n, p * p * channels], "patch_pixels.rows")
            patches = L.b.op(.linear, [flat, kernel, bias], "patch_embeddings", TensorType(.f32, [n, d]))
        } else {
            patches = L.b.op(.patchEmbed, [image, kernel, bias], "patch_embeddings", TensorType(.f32, [n, d]), attributes: [UInt32(p)])
        }
        let cls = try L.weight(pre + "embeddings.cls_token", [1, d])
        var x = L.b.op(.concat, [cls, patches], "tokens", TensorType(.f32, [n + 1, d]), attributes: [0])
        let pos = L.b.constant("position_table.\(interpolation)", [n + 1, d], try positionTable(gridH: gh, gridW: gw, interpolation: interpolation))
        x = L.binary(.add, x, pos, name: "embeddings")
        let scale = Float(1.0 / Double(hd).squareRoot())
        for l in 0..<c.layers {
            let lp = pre + "encoder.layer.\(l)."
            let h = try L.layerNorm(x, lp + "norm1", eps: eps, name: "layer\(l).norm1")
            let q = try L.linear(h, lp + attentionNames[0], name: "layer\(l).q")
            let kk = try L.linear(h, lp + attentionNames[1], name: "layer\(l).k")
            let v = try L.linear(h, lp + attentionNames[2], name: "layer\(l).v")
            let a = L.attention(q: q, k: kk, v: v, heads: c.heads, headDim: hd, scale: scale, mask: nil, bias: nil, name: "layer\(l).attention")
            var o = try L.linear(a, lp + attentionNames[3], name: "layer\(l).attention_out")
            let l1 = try L.weight(lp + "layer_scale1.lambda1", [d])
            o = L.binary(.mul, o, l1, name: "layer\(l).layer_scale1")
            x = L.binary(.add, o, x, name: "layer\(l).attention_residual")
            let g = try L.layerNorm(x, lp + "norm2", eps: eps, name: "layer\(l).norm2")
            var f = try L.linear(g, lp + "mlp.fc1", name: "layer\(l).fc1")
            f = L.unary(act, f, name: "layer\(l).act")
            f = try L.linear(f, lp + "mlp.fc2", name: "layer\(l).fc2")
            let l2 = try L.weight(lp + "layer_scale2.lambda1", [d])
            f = L.binary(.mul, f, l2, name: "layer\(l).layer_scale2")
            x = L.binary(.add, f, x, name: "layer\(l).mlp_residual")
        }
        x = try L.layerNorm(x, pre + "layernorm", eps: eps, name: "last_hidden_state")
        let clsOut = L.b.op(.slice, [x], "cls", TensorType(.f32, [1, d]), attributes: [0, 0, 1])
        let patchOut = L.b.op(.slice, [x], "patch_tokens", TensorType(.f32, [n, d]), attributes: [0, 1, UInt32(n)])
        L.b.output("last_hidden_state", x)
        L.b.output("cls", clsOut)
        L.b.output("patch_tokens", patchOut)
        return L.b.finish()
    }
}
