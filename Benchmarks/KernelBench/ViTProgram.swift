import VLAFormat

/// A ViT program built from the op set with random weights: DINOv2's layout (patch embedding, CLS token,
/// position table, pre-norm blocks with layer scale and exact GELU, final LayerNorm), for timing only.
struct ViTProgram {
    var document: VLADocument
    var image: Int
    var output: Int
    /// FLOP of one forward (2 per multiply-add of linear, patch_embed and attention products).
    var flops: Double

    struct Shape {
        var imageSize = 224, patch = 14, channels = 3, hidden = 768, layers = 12, heads = 12, mlp = 3072
        var tokens: Int { (imageSize / patch) * (imageSize / patch) + 1 }
    }

    /// A deterministic xorshift stream of small floats.
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(Int64(bitPattern: state >> 11) - (1 << 52)) / Float(1 << 52)
        }
        mutating func bytes(_ count: Int, scale: Float, offset: Float = 0) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count * 4)
            for i in 0..<count {
                let bits = (offset + scale * next()).bitPattern.littleEndian
                out[4 * i] = UInt8(truncatingIfNeeded: bits)
                out[4 * i + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                out[4 * i + 2] = UInt8(truncatingIfNeeded: bits >> 16)
                out[4 * i + 3] = UInt8(truncatingIfNeeded: bits >> 24)
            }
            return out
        }
    }

    init(_ s: Shape = Shape(), seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        var rng = Random(state: seed)
        var tensors: [TensorEntry] = []
        var arena: UInt64 = 0
        func constant(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) -> Int {
            tensors.append(TensorEntry(
                name: name, type: TensorType(.f32, shape),
                location: .inline(rng.bytes(shape.reduce(1, *), scale: scale, offset: offset))))
            return tensors.count - 1
        }
        func buffer(_ name: String, _ shape: [Int], dtype: DType = .f32) -> Int {
            let bytes = UInt64(shape.reduce(1, *) * dtype.byteWidth)
            tensors.append(TensorEntry(name: name, type: TensorType(dtype, shape), location: .arena(offset: arena)))
            arena += (bytes + 63) / 64 * 64
            return tensors.count - 1
        }
        /// Another tensor over the same arena bytes (a view).
        func view(_ of: Int, _ name: String, _ shape: [Int]) -> Int {
            tensors.append(TensorEntry(name: name, type: TensorType(.f32, shape), location: tensors[of].location))
            return tensors.count - 1
        }
        let t = s.tokens, d = s.hidden, hd = d / s.heads
        var ops: [Operation] = []
        var flops = 0.0
        func linear(_ x: Int, _ w: Int, _ b: Int, _ y: Int, m: Int, k: Int, n: Int) {
            ops.append(Operation(.linear, inputs: [x, w, b], outputs: [y]))
            flops += 2 * Double(m * k * n)
        }
        func eps(_ e: Float) -> [UInt32] { [e.bitPattern] }

        let image = buffer("pixel_values", [s.imageSize, s.imageSize, s.channels])
        let grid = (s.imageSize / s.patch) * (s.imageSize / s.patch)
        let patchW = constant("patch.kernel", [s.patch, s.patch, s.channels, d], scale: 0.02)
        let patchB = constant("patch.bias", [d], scale: 0.02)
        let patches = buffer("patches", [grid, d])
        ops.append(Operation(.patchEmbed, inputs: [image, patchW, patchB], outputs: [patches], attributes: [UInt32(s.patch)]))
        flops += 2 * Double(grid * s.patch * s.patch * s.channels * d)
        let cls = constant("cls_token", [1, d], scale: 0.02)
        let tokens = buffer("tokens", [t, d])
        ops.append(Operation(.concat, inputs: [cls, patches], outputs: [tokens], attributes: [0]))
        let position = constant("position_embeddings", [t, d], scale: 0.02)
        let x = buffer("x", [t, d])
        ops.append(Operation(.add, inputs: [tokens, position], outputs: [x]))

        let h = buffer("h", [t, d])
        let q = buffer("q", [t, d]), k = buffer("k", [t, d]), v = buffer("v", [t, d])
        let q3 = view(q, "q.heads", [t, s.heads, hd]), k3 = view(k, "k.heads", [t, s.heads, hd]), v3 = view(v, "v.heads", [t, s.heads, hd])
        let a = buffer("attn", [t, d])
        let a3 = view(a, "attn.heads", [t, s.heads, hd])
        let o = buffer("o", [t, d])
        let f = buffer("mlp.hidden", [t, s.mlp])
        for l in 0..<s.layers {
            let p = "layer.\(l)."
            let g1 = constant(p + "norm1.weight", [d], scale: 0.1, offset: 1), b1 = constant(p + "norm1.bias", [d], scale: 0.02)
            ops.append(Operation(.layerNorm, inputs: [x, g1, b1], outputs: [h], attributes: eps(1e-6)))
            for (name, target) in [("query", q), ("key", k), ("value", v)] {
                linear(h, constant(p + name + ".weight", [d, d], scale: 0.04), constant(p + name + ".bias", [d], scale: 0.02), target, m: t, k: d, n: d)
            }
            ops.append(Operation(.attention, inputs: [q3, k3, v3], outputs: [a3], attributes: [(1 / Float(hd).squareRoot()).bitPattern, 0]))
            flops += 2 * 2 * Double(t * t * hd * s.heads)
            linear(a, constant(p + "output.weight", [d, d], scale: 0.04), constant(p + "output.bias", [d], scale: 0.02), o, m: t, k: d, n: d)
            ops.append(Operation(.mul, inputs: [o, constant(p + "layer_scale1", [d], scale: 0.1, offset: 0.5)], outputs: [o]))
            ops.append(Operation(.add, inputs: [x, o], outputs: [x]))
            let g2 = constant(p + "norm2.weight", [d], scale: 0.1, offset: 1), b2 = constant(p + "norm2.bias", [d], scale: 0.02)
            ops.append(Operation(.layerNorm, inputs: [x, g2, b2], outputs: [h], attributes: eps(1e-6)))
            linear(h, constant(p + "fc1.weight", [d, s.mlp], scale: 0.04), constant(p + "fc1.bias", [s.mlp], scale: 0.02), f, m: t, k: d, n: s.mlp)
            ops.append(Operation(.geluErf, inputs: [f], outputs: [f]))
            linear(f, constant(p + "fc2.weight", [s.mlp, d], scale: 0.02), constant(p + "fc2.bias", [d], scale: 0.02), o, m: t, k: s.mlp, n: d)
            ops.append(Operation(.mul, inputs: [o, constant(p + "layer_scale2", [d], scale: 0.1, offset: 0.5)], outputs: [o]))
            ops.append(Operation(.add, inputs: [x, o], outputs: [x]))
        }
        let gf = constant("layernorm.weight", [d], scale: 0.1, offset: 1), bf = constant("layernorm.bias", [d], scale: 0.02)
        let out = buffer("last_hidden_state", [t, d])
        ops.append(Operation(.layerNorm, inputs: [x, gf, bf], outputs: [out], attributes: eps(1e-6)))

        document = VLADocument(
            tensors: tensors, programs: [Program(name: "forward", inputs: [image], outputs: [out], operations: ops)],
            arenaSize: arena)
        self.image = image
        self.output = out
        self.flops = flops
    }
}
