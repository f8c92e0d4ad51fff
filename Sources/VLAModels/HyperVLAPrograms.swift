import VLAFormat

/// The HyperVLA programs the compiler evaluates and emits (`hypervla.md` §5–6), built from the op set.
///
/// Exact simplifications, each provably equal to the released computation:
/// - padded instruction tokens are dropped (they are masked as keys everywhere and only the layer token is read);
/// - after the last HN block only the layer token's row is computed;
/// - in the base net, patch rows never attend to the action token, so patch rows attend among themselves with no
///   mask and the action row attends to all rows; in the last block only the action row is computed.
extension HyperVLAModel {
    // MARK: HN, instruction part

    /// The instruction's projected token block, for a batch of `batch` instructions of `length` real tokens:
    /// `tokens [B, T, text_dim] → tokens·W + b + P_task[0..<T]` `[B, T, d]`. Output `projected`.
    public func buildProjection(batch: Int, length: Int) throws(ModelError) -> BuiltModel {
        var L = Layers(weights: hn, cache: cache)
        let x = L.b.input("tokens", TensorType(.f32, [batch, length, textDim]))
        let y = try hnProjectTokens(&L, x, batch: batch, length: length)
        L.b.output("projected", y)
        return L.b.finish()
    }

    /// The whole HN for `use_initial_image = false`: `tokens [B, T, text_dim]` and the block mask `mask u8
    /// [B, T+1, T+1]` → every generated leaf, heads concatenated in ``leaves`` order: `generated [B, total]`.
    public func buildFullHN(batch: Int, length: Int) throws(ModelError) -> BuiltModel {
        let c = config, d = c.contextDim, t = length + 1
        var L = Layers(weights: hn, cache: cache)
        let x0 = L.b.input("tokens", TensorType(.f32, [batch, length, textDim]))
        let mask = L.b.input("mask", TensorType(.u8, [batch, t, t]))
        let lastMask = L.b.input("last_mask", TensorType(.u8, [batch, t]))
        let proj = try hnProjectTokens(&L, x0, batch: batch, length: length)
        let layer = try load(hn, "layer_pos_embedding")
        let lt = L.b.constant("layer_token", [batch, 1, d], Array((0..<batch).map { _ in layer }.joined()))
        let x = L.b.op(.concat, [proj, lt], "context_tokens", TensorType(.f32, [batch, t, d]), attributes: [1])
        let cvec = try hnEncoder(&L, x, batch: batch, tokens: t, mask: mask, lastMask: lastMask)
        let heads = try hnHeadsConcatenated(&L, cvec, batch: batch)
        L.b.output("generated", heads)
        return L.b.finish()
    }

    // MARK: HN, reset part (use_initial_image = true)

    /// The HN tail that `reset` runs: `cls [1, frozen_dim]` (frozen DINOv2 CLS) → one output per generated leaf
    /// `generated.<leaf> [1, numel]`. The instruction's projected block `[n, d]` is an inline constant named
    /// `instruction.tokens`, its attention mask `instruction.mask`; every other constant is HN weight.
    /// With `projected` nil the block is instead a program input `instruction.tokens` (the compiler's own
    /// evaluation uses one program for every instruction of that length).
    ///
    /// With `maskInput` the mask is a program input `instruction.mask u8 [length+2, length+2]` too (and its last row
    /// `instruction.mask.layer_row u8 [length+2]`, what the last block's layer-token row attends to): one program then
    /// serves every instruction of at most `length` tokens, its block zero-padded to `length` rows and the padded
    /// rows masked as keys (``resetMask(tokens:length:)``); padded keys get exactly zero weight.
    ///
    /// With `flatOutput` the leaves are concatenated into one output `generated [1, total]` in ``leaves`` order
    /// (what ``buildStepTail(leaves:)`` with ``LeafSource/flat`` reads).
    public func buildResetHN(projected: [Float]?, length: Int, maskInput: Bool = false, flatOutput: Bool = false) throws(ModelError) -> BuiltModel {
        let c = config, d = c.contextDim, t = length + 2
        var L = Layers(weights: hn, cache: cache)
        let cls = L.b.input("cls", TensorType(.f32, [1, frozenDim]))
        let block = projected.map { L.b.constant("instruction.tokens", [length, d], $0) }
            ?? L.b.input("instruction.tokens", TensorType(.f32, [length, d]))
        var img = try dense(&L, cls, "initial_image_projection", name: "image_token.projection")
        img = L.binary(.add, img, L.b.constant("initial_image_pos_embedding", [1, d], try load(hn, "initial_image_pos_embedding")), name: "image_token")
        let lt = L.b.constant("layer_pos_embedding", [1, d], try load(hn, "layer_pos_embedding"))
        let x = L.b.op(.concat, [block, img, lt], "context_tokens", TensorType(.f32, [t, d]), attributes: [0])
        let mask = maskInput
            ? L.b.input("instruction.mask", TensorType(.u8, [t, t]))
            : L.b.constant("instruction.mask", [t, t], uint8: resetMask(tokens: length, length: length))
        // The layer token's row attends to every real token (the last row of the mask).
        let lastMask = maskInput ? L.b.input("instruction.mask.layer_row", TensorType(.u8, [t])) : nil
        let cvec = try hnEncoder(&L, x, batch: nil, tokens: t, mask: mask, lastMask: lastMask)
        var parts: [Int] = []
        for (name, shape) in leaves {
            let n = shape.reduce(1, *)
            let k = try L.weight("output_head_\(name)/kernel", [d, n])
            let b = try L.weight("output_head_\(name)/bias", [n])
            let y = L.b.op(.linear, [cvec, k, b], "generated.\(name)", TensorType(.f32, [1, n]))
            if flatOutput { parts.append(y) } else { L.b.output("generated.\(name)", y) }
        }
        if flatOutput {
            let g = L.b.op(.concat, parts, "generated", TensorType(.f32, [1, generatedCount]), attributes: [1])
            L.b.output("generated", g)
        }
        return L.b.finish()
    }

    /// The reset HN's attention mask `[length+2, length+2]` for an instruction of `tokens` real tokens in a block of
    /// `length` rows: every row attends to the real tokens and the image token; only the layer token (last) row
    /// attends to the layer token; padded token rows are never attended to.
    public func resetMask(tokens: Int, length: Int) -> [UInt8] {
        let t = length + 2
        var m = [UInt8](repeating: 0, count: t * t)
        for r in 0..<t {
            for col in 0..<t {
                let attend = col < tokens || col == t - 2 || (col == t - 1 && r == t - 1)
                m[r * t + col] = attend ? 1 : 0
            }
        }
        return m
    }

    // MARK: base net

    /// Where the step tail takes the generated leaves from.
    public enum LeafSource {
        /// Baked in: one inline constant per leaf, `generated.<leaf>`, from the concatenated vector.
        case constants([Float])
        /// Program inputs `generated.<leaf>` (arena tensors a `reset` wrote), in the shapes the ops read.
        case inputs
        /// One program input `generated [1, total]`, every leaf concatenated in ``leaves`` order; each leaf is
        /// sliced out (a copy) where it is first read. One program then serves every instruction.
        case flat
    }

    /// The base net after the backbone: `patch_tokens [N, image_dim]` → `actions [horizon, action_dim]`, the raw
    /// head output (continuous dims pre-squash, the gripper logit in the last dim).
    public func buildStepTail(leaves source: LeafSource) throws(ModelError) -> BuiltModel {
        let c = config, d = c.hidden, n = patches, hd = d / c.heads
        var L = Layers(weights: hn, cache: cache)
        let px = L.b.input("patch_tokens", TensorType(.f32, [n, imageDim]))
        var offsets: [String: Int] = [:]
        var o = 0
        for (name, shape) in leaves {
            offsets[name] = o
            o += shape.reduce(1, *)
        }
        var flat = -1
        if case .flat = source { flat = L.b.input("generated", TensorType(.f32, [1, o])) }
        func leaf(_ name: String, _ shape: [Int]) -> Int {
            switch source {
            case .constants(let all):
                let start = offsets[name] ?? 0
                let count = shape.reduce(1, *)
                return L.b.constant("generated.\(name)", shape, Array(all[start..<(start + count)]))
            case .inputs:
                return L.b.input("generated.\(name)", TensorType(.f32, shape))
            case .flat:
                let count = shape.reduce(1, *)
                let part = L.b.op(.slice, [flat], "generated.\(name).flat", TensorType(.f32, [1, count]), attributes: [1, UInt32(offsets[name] ?? 0), UInt32(count)])
                return L.b.view(part, shape, "generated.\(name)")
            }
        }
        let pk = leaf("encoder_image_embedding_projection_kernel", [imageDim, d])
        let pb = leaf("encoder_image_embedding_projection_bias", [d])
        let pos = leaf("encoder_pos_embedding", [n + 1, d])
        var xp = L.b.op(.linear, [px, pk, pb], "patch_projection", TensorType(.f32, [n, d]))
        let posP = L.b.op(.slice, [pos], "pos.patches", TensorType(.f32, [n, d]), attributes: [0, 0, UInt32(n)])
        xp = L.b.op(.add, [xp, posP], "patches.embedded", TensorType(.f32, [n, d]))
        // The action token starts at zero: only its position embedding remains.
        var xa = L.b.op(.slice, [pos], "action_token", TensorType(.f32, [1, d]), attributes: [0, UInt32(n), 1])
        let scale = Float(1.0 / Double(hd).squareRoot())
        for l in 0..<c.layers {
            let p = "encoder_Transformer_0_encoderblock_\(l)_"
            let last = l == c.layers - 1
            let g0 = leaf(p + "LayerNorm_0_scale", [d]), b0 = leaf(p + "LayerNorm_0_bias", [d])
            func proj(_ m: String) -> (Int, Int) {
                (leaf(p + "MultiHeadDotProductAttention_0_\(m)_kernel", [d, d]), leaf(p + "MultiHeadDotProductAttention_0_\(m)_bias", [d]))
            }
            let (qk, qb) = proj("query"), (kk, kb) = proj("key"), (vk, vb) = proj("value"), (ok, ob) = proj("out")
            let g1 = leaf(p + "LayerNorm_1_scale", [d]), b1 = leaf(p + "LayerNorm_1_bias", [d])
            let d0k = leaf(p + "MlpBlock_0_Dense_0_kernel", [d, c.mlp]), d0b = leaf(p + "MlpBlock_0_Dense_0_bias", [c.mlp])
            let d1k = leaf(p + "MlpBlock_0_Dense_1_kernel", [c.mlp, d]), d1b = leaf(p + "MlpBlock_0_Dense_1_bias", [d])
            let hp = L.b.op(.layerNorm, [xp, g0, b0], "b\(l).ln0.patches", L.b.type(xp), attributes: [bits(1e-6)])
            let ha = L.b.op(.layerNorm, [xa, g0, b0], "b\(l).ln0.action", L.b.type(xa), attributes: [bits(1e-6)])
            let kp = L.b.op(.linear, [hp, kk, kb], "b\(l).k.patches", TensorType(.f32, [n, d]))
            let vp = L.b.op(.linear, [hp, vk, vb], "b\(l).v.patches", TensorType(.f32, [n, d]))
            let qa = L.b.op(.linear, [ha, qk, qb], "b\(l).q.action", TensorType(.f32, [1, d]))
            let ka = L.b.op(.linear, [ha, kk, kb], "b\(l).k.action", TensorType(.f32, [1, d]))
            let va = L.b.op(.linear, [ha, vk, vb], "b\(l).v.action", TensorType(.f32, [1, d]))
            let kAll = L.b.op(.concat, [kp, ka], "b\(l).k.all", TensorType(.f32, [n + 1, d]), attributes: [0])
            let vAll = L.b.op(.concat, [vp, va], "b\(l).v.all", TensorType(.f32, [n + 1, d]), attributes: [0])
            let aa = L.attention(q: qa, k: kAll, v: vAll, heads: c.heads, headDim: hd, scale: scale, mask: nil, bias: nil, name: "b\(l).attn.action")
            let oa = L.b.op(.linear, [aa, ok, ob], "b\(l).out.action", TensorType(.f32, [1, d]))
            xa = L.b.op(.add, [xa, oa], "b\(l).res0.action", TensorType(.f32, [1, d]))
            let ma = mlp(&L, xa, g1, b1, d0k, d0b, d1k, d1b, hidden: c.mlp, name: "b\(l).mlp.action")
            if !last {
                let qp = L.b.op(.linear, [hp, qk, qb], "b\(l).q.patches", TensorType(.f32, [n, d]))
                let ap = L.attention(q: qp, k: kp, v: vp, heads: c.heads, headDim: hd, scale: scale, mask: nil, bias: nil, name: "b\(l).attn.patches")
                let op = L.b.op(.linear, [ap, ok, ob], "b\(l).out.patches", TensorType(.f32, [n, d]))
                xp = L.b.op(.add, [xp, op], "b\(l).res0.patches", TensorType(.f32, [n, d]))
                let mp = mlp(&L, xp, g1, b1, d0k, d0b, d1k, d1b, hidden: c.mlp, name: "b\(l).mlp.patches")
                xp = L.b.op(.add, [xp, mp], "b\(l).res1.patches", TensorType(.f32, [n, d]))
            }
            xa = L.b.op(.add, [xa, ma], "b\(l).res1.action", TensorType(.f32, [1, d]))
        }
        let gs = leaf("encoder_Transformer_0_encoder_norm_scale", [d]), gb = leaf("encoder_Transformer_0_encoder_norm_bias", [d])
        let e = L.b.op(.layerNorm, [xa, gs, gb], "embedding", TensorType(.f32, [1, d]), attributes: [bits(1e-6)])
        // The action head's MLP (`hidden_dims`): per entry Dense → LayerNorm → swish, named as Flax's compact
        // modules of MixActionHead (Dense_<i>, LayerNorm_<i>).
        var x = e, width = d
        for (i, w) in c.actionHeadHiddenDims.enumerated() {
            let k = leaf("action_head_Dense_\(i)_kernel", [width, w]), b = leaf("action_head_Dense_\(i)_bias", [w])
            let g = leaf("action_head_LayerNorm_\(i)_scale", [w]), gb = leaf("action_head_LayerNorm_\(i)_bias", [w])
            let t = TensorType(.f32, [1, w])
            x = L.b.op(.linear, [x, k, b], "action_head.dense\(i)", t)
            x = L.b.op(.layerNorm, [x, g, gb], "action_head.ln\(i)", t, attributes: [bits(1e-6)])
            x = swish(&L, x, width: w, name: "action_head.swish\(i)")
            width = w
        }
        let h = c.horizon, cd = c.continuousDims
        let ck = leaf("action_head_continuous_head_kernel", [width, h * cd]), cb = leaf("action_head_continuous_head_bias", [h * cd])
        let dk = leaf("action_head_discrete_head_kernel", [width, h]), db = leaf("action_head_discrete_head_bias", [h])
        let cont = L.b.op(.linear, [x, ck, cb], "continuous", TensorType(.f32, [1, h * cd]))
        let disc = L.b.op(.linear, [x, dk, db], "gripper_logits", TensorType(.f32, [1, h]))
        let cont2 = L.b.view(cont, [h, cd], "continuous.chunk")
        let disc2 = L.b.view(disc, [h, 1], "gripper_logits.chunk")
        let out = L.b.op(.concat, [cont2, disc2], "actions", TensorType(.f32, [h, cd + 1]), attributes: [1])
        L.b.output("actions", out)
        return L.b.finish()
    }

    // MARK: pieces

    /// Flax's `nn.swish`, `x · sigmoid(x)`, from ops the format has: `sigmoid(x) = 0.5 + 0.25 · (2 · tanh(x / 2))`
    /// (`scaled_tanh` with bound 2), an identity of the real functions; in f32 it differs from `1 / (1 + e^−x)`
    /// by float rounding only (≤ 2 ulp of the sigmoid).
    private func swish(_ L: inout Layers, _ x: Int, width w: Int, name: String) -> Int {
        let t = L.b.type(x)
        let s = L.b.op(.scaledTanh, [x], name + ".tanh", t, attributes: [bits(2)])
        let quarter = L.b.constant(name + ".quarter", [w], [Float](repeating: 0.25, count: w))
        let half = L.b.constant(name + ".half", [w], [Float](repeating: 0.5, count: w))
        let q = L.b.op(.mul, [s, quarter], name + ".scaled", t)
        let sig = L.b.op(.add, [q, half], name + ".sigmoid", t)
        return L.b.op(.mul, [x, sig], name, t)
    }

    private func mlp(_ L: inout Layers, _ x: Int, _ g: Int, _ b: Int, _ k0: Int, _ b0: Int, _ k1: Int, _ b1: Int, hidden: Int, name: String) -> Int {
        let t = L.b.type(x)
        let h = L.b.op(.layerNorm, [x, g, b], name + ".ln", t, attributes: [bits(1e-6)])
        var f = L.b.op(.linear, [h, k0, b0], name + ".dense0", TensorType(.f32, Array(t.shape.dropLast()) + [hidden]))
        f = L.b.op(.geluTanh, [f], name + ".gelu", L.b.type(f))
        return L.b.op(.linear, [f, k1, b1], name + ".dense1", t)
    }

    /// A Flax Dense `prefix/kernel [in, out]`, `prefix/bias [out]`.
    private func dense(_ L: inout Layers, _ x: Int, _ prefix: String, name: String) throws(ModelError) -> Int {
        let shape = hn.shape(of: prefix + "/kernel") ?? [0, 0]
        let k = try L.weight(prefix + "/kernel", shape)
        let b = try L.weight(prefix + "/bias", [shape[1]])
        let xs = L.b.type(x).shape
        return L.b.op(.linear, [x, k, b], name, TensorType(.f32, Array(xs.dropLast()) + [shape[1]]))
    }

    private func hnProjectTokens(_ L: inout Layers, _ x: Int, batch: Int, length: Int) throws(ModelError) -> Int {
        let d = config.contextDim
        let y = try dense(&L, x, "task_token_projection", name: "task_tokens.projection")
        let pos = try load(hn, "task_pos_embedding")
        let p = L.b.constant("task_pos_embedding[0..<\(length)]", [length, d], Array(pos[0..<(length * d)]))
        return L.binary(.add, y, p, name: "task_tokens")
    }

    /// The context encoder over `x` (`[B?, T, d]`), returning c `[B, d]` or `[1, d]`: the layer token's row
    /// (the last) after the final LayerNorm, divided by √d when configured.
    private func hnEncoder(_ L: inout Layers, _ x0: Int, batch: Int?, tokens t: Int, mask: Int, lastMask: Int?) throws(ModelError) -> Int {
        let c = config, d = c.contextDim, hd = d / c.hnHeads
        let lead = batch.map { [$0] } ?? []
        let scale = Float(1.0 / Double(hd).squareRoot())
        var x = x0
        func consts(_ name: String, _ shape: [Int]) throws(ModelError) -> Int {
            try L.weight(name, shape)
        }
        for l in 0..<c.hnLayers {
            let p = "context_encoder/encoderblock_\(l)/"
            let last = l == c.hnLayers - 1
            let g0 = try consts(p + "LayerNorm_0/scale", [d]), b0 = try consts(p + "LayerNorm_0/bias", [d])
            let a = p + "MultiHeadDotProductAttention_0/"
            let qk = try consts(a + "query/kernel", [d, d]), qb = try consts(a + "query/bias", [d])
            let kk = try consts(a + "key/kernel", [d, d]), kb = try consts(a + "key/bias", [d])
            let vk = try consts(a + "value/kernel", [d, d]), vb = try consts(a + "value/bias", [d])
            let ok = try consts(a + "out/kernel", [d, d]), ob = try consts(a + "out/bias", [d])
            let g1 = try consts(p + "LayerNorm_1/scale", [d]), b1 = try consts(p + "LayerNorm_1/bias", [d])
            let k0 = try consts(p + "MlpBlock_0/Dense_0/kernel", [d, c.hnMLP]), bb0 = try consts(p + "MlpBlock_0/Dense_0/bias", [c.hnMLP])
            let k1 = try consts(p + "MlpBlock_0/Dense_1/kernel", [c.hnMLP, d]), bb1 = try consts(p + "MlpBlock_0/Dense_1/bias", [d])
            let full = TensorType(.f32, lead + [t, d])
            let h = L.b.op(.layerNorm, [x, g0, b0], "hn\(l).ln0", full, attributes: [bits(1e-6)])
            let k = L.b.op(.linear, [h, kk, kb], "hn\(l).k", full)
            let v = L.b.op(.linear, [h, vk, vb], "hn\(l).v", full)
            if !last {
                let q = L.b.op(.linear, [h, qk, qb], "hn\(l).q", full)
                let att = attention(&L, q, k, v, lead: lead, tq: t, tk: t, mask: mask, scale: scale, name: "hn\(l).attention")
                let o = L.b.op(.linear, [att, ok, ob], "hn\(l).out", full)
                x = L.b.op(.add, [x, o], "hn\(l).res0", full)
                let m = mlp(&L, x, g1, b1, k0, bb0, k1, bb1, hidden: c.hnMLP, name: "hn\(l).mlp")
                x = L.b.op(.add, [x, m], "hn\(l).res1", full)
            } else {
                // Only the layer token's row is read after the last block.
                let row = TensorType(.f32, lead + [1, d])
                let axis = UInt32(lead.count)
                let xr = L.b.op(.slice, [x], "hn\(l).layer_row", row, attributes: [axis, UInt32(t - 1), 1])
                let hr = L.b.op(.slice, [h], "hn\(l).ln0.layer_row", row, attributes: [axis, UInt32(t - 1), 1])
                let q = L.b.op(.linear, [hr, qk, qb], "hn\(l).q", row)
                let rowMask: Int
                if let lastMask {
                    rowMask = lastMask
                } else {
                    // Unbatched (reset): the layer token sees every token.
                    rowMask = L.b.constant("instruction.mask.layer_row", [t], uint8: [UInt8](repeating: 1, count: t))
                }
                let att = attention(&L, q, k, v, lead: lead, tq: 1, tk: t, mask: rowMask, scale: scale, name: "hn\(l).attention")
                let o = L.b.op(.linear, [att, ok, ob], "hn\(l).out", row)
                x = L.b.op(.add, [xr, o], "hn\(l).res0", row)
                let m = mlp(&L, x, g1, b1, k0, bb0, k1, bb1, hidden: c.hnMLP, name: "hn\(l).mlp")
                x = L.b.op(.add, [x, m], "hn\(l).res1", row)
            }
        }
        let gs = try consts("context_encoder/encoder_norm/scale", [d]), gb = try consts("context_encoder/encoder_norm/bias", [d])
        x = L.b.op(.layerNorm, [x, gs, gb], "context.ln", L.b.type(x), attributes: [bits(1e-6)])
        var cvec = L.b.view(x, [batch ?? 1, d], "context.raw")
        if c.scaleContextEmbedding {
            let s = Float(1.0 / Double(d).squareRoot())
            let sv = L.b.constant("context_scale", [d], [Float](repeating: s, count: d))
            cvec = L.b.op(.mul, [cvec, sv], "context", TensorType(.f32, [batch ?? 1, d]))
        }
        return cvec
    }

    private func attention(_ L: inout Layers, _ q: Int, _ k: Int, _ v: Int, lead: [Int], tq: Int, tk: Int, mask: Int, scale: Float, name: String) -> Int {
        let c = config, hd = c.contextDim / c.hnHeads, h = c.hnHeads
        let qh = L.b.view(q, lead + [tq, h, hd], name + ".q_heads")
        let kh = L.b.view(k, lead + [tk, h, hd], name + ".k_heads")
        let vh = L.b.view(v, lead + [tk, h, hd], name + ".v_heads")
        let y = L.b.op(.attention, [qh, kh, vh, mask], name, TensorType(.f32, lead + [tq, h, hd]), attributes: [bits(scale), AttentionFlags.hasMask])
        return L.b.view(y, lead + [tq, h * hd], name + ".merged")
    }

    /// All heads as one linear: `c [B, d] · K [d, total] + b [total]`.
    private func hnHeadsConcatenated(_ L: inout Layers, _ cvec: Int, batch: Int) throws(ModelError) -> Int {
        let d = config.contextDim
        let total = generatedCount
        let heads = leaves, w = hn
        let kt = try L.weight("output_heads/kernel", [d, total]) { () throws(ModelError) in
            var k = [Float](repeating: 0, count: d * total)
            var col = 0
            for (name, shape) in heads {
                let n = shape.reduce(1, *)
                let kv = try load(w, "output_head_\(name)/kernel")
                for r in 0..<d {
                    for j in 0..<n { k[r * total + col + j] = kv[r * n + j] }
                }
                col += n
            }
            return k
        }
        let bt = try L.weight("output_heads/bias", [total]) { () throws(ModelError) in
            var b: [Float] = []
            for (name, _) in heads { b += try load(w, "output_head_\(name)/bias") }
            return b
        }
        return L.b.op(.linear, [cvec, kt, bt], "generated", TensorType(.f32, [batch, total]))
    }
}

extension T5Encoder {
    /// Token embeddings looked up on the host: `ids` → `[ids.count, d_model]`.
    public func embed(_ ids: [Int32]) throws(ModelError) -> [Float] {
        let d = config.dModel
        let table = try embeddingTable()
        var out = [Float](repeating: 0, count: ids.count * d)
        for (i, id) in ids.enumerated() {
            let r = Int(id)
            guard r >= 0, r < config.vocabSize else { throw ModelError(.badInput, "t5 encoder: token id \(id) outside the vocabulary of \(config.vocabSize)") }
            for j in 0..<d { out[i * d + j] = table[r * d + j] }
        }
        return out
    }

    /// The embedding table `[vocab, d_model]`.
    public func embeddingTable() throws(ModelError) -> [Float] { try load(weights, embeddingName) }

    /// The encoder over a batch of `batch` sequences of `length` tokens, embeddings given:
    /// `embeddings [B, T, d_model]`, `mask u8 [B, T]` → `last_hidden_state [B, T, d_model]`.
    public func buildBatched(batch: Int, length t: Int) throws(ModelError) -> BuiltModel {
        let c = config, d = c.dModel
        var L = Layers(weights: weights, cache: cache)
        var x = L.b.input("embeddings", TensorType(.f32, [batch, t, d]))
        let maskT = L.b.input("mask", TensorType(.u8, [batch, t]))
        let bias = L.b.constant("relative_position_bias", [c.heads, t, t], try positionBias(t: t))
        x = try encoderStack(&L, x, mask: maskT, bias: bias)
        L.b.output("last_hidden_state", x)
        return L.b.finish()
    }
}
