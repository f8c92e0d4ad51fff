import Foundation
import Testing
import VLACheckpoint
import VLAJSON
import VLAModels
import VLARuntime
import VLATokenizer

/// The demo model `Examples/hypervla-tiny` and its goldens (`Tests/Fixtures/HyperVLA`), read with vlac's own
/// checkpoint readers and checked against what the Flax reference computed (gen_hypervla_reference.py).
@Suite struct HyperVLAExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The instruction keys of golden.json, in order.
    static func taskCount() throws -> Int {
        try #require(try json("Tests/Fixtures/HyperVLA/golden.json")["tasks"] as? [String]).count
    }

    /// The three params files of `model/` were written by three libraries (safetensors, numpy, flax): vlac reads
    /// the same names, shapes and bits from each.
    @Test func threeParamsFormatsHoldTheSameTensors() throws {
        let st = try Checkpoint(path: Self.path("Examples/hypervla-tiny/model/params.safetensors"))
        let npz = try Checkpoint(path: Self.path("Examples/hypervla-tiny/model/params.npz"))
        let mp = try Checkpoint(path: Self.path("Examples/hypervla-tiny/model/params.msgpack"))
        #expect(st.format == .safetensors && npz.format == .npz && mp.format == .msgpack)
        #expect(Set(st.names) == Set(npz.names))
        #expect(Set(st.names) == Set(mp.names))
        #expect(st.tensors.count == 166)
        for t in st.tensors {
            for other in [npz, mp] {
                let u = try #require(other[t.name], "\(t.name) missing in \(other.format)")
                #expect(u.dtype == .f32 && u.shape == t.shape, "\(t.name) in \(other.format): \(u.dtype) \(u.shape)")
                #expect(u.floats().map(\.bitPattern) == t.floats().map(\.bitPattern), "\(t.name) in \(other.format)")
            }
        }
    }

    /// Every generated leaf in the goldens equals the head c·K + b of the params file, reshaped row-major:
    /// the names, the kernel layout [C, numel] and the reshape are as Docs/HyperVLA.md says.
    @Test(arguments: [("model", "image"), ("model-no-image", "no-image")])
    func headsReproduceTheGeneratedLeaves(model: String, setting: String) throws {
        try Self.checkHeads(models: "Examples/hypervla-tiny", goldens: "Tests/Fixtures/HyperVLA", model: model,
                            setting: setting, tasks: try Self.taskCount(), leaves: 41, generated: 9_596)
    }

    /// The same at the released sizes (73 leaves, 201,500 generated parameters), on the files that
    /// `make reference-hypervla-full` writes (not committed): `VLAC_FULL_REFERENCE=1 swift test --filter HyperVLA`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VLAC_FULL_REFERENCE"] == "1"),
          arguments: [("model", "image"), ("model-no-image", "no-image")])
    func fullSizeHeadsReproduceTheGeneratedLeaves(model: String, setting: String) throws {
        try Self.checkHeads(models: ".reference/hypervla-full", goldens: ".reference/hypervla-full", model: model,
                            setting: setting, tasks: 2, leaves: 73, generated: 201_500)
    }

    static func checkHeads(models: String, goldens: String, model: String, setting: String, tasks: Int, leaves wantLeaves: Int, generated wantGenerated: Int) throws {
        let params = try Checkpoint(path: Self.path("\(models)/\(model)/params.safetensors"))
        let golden = try Checkpoint(path: Self.path("\(goldens)/golden-\(setting).safetensors"))
        let config = try Self.json("\(models)/\(model)/config.json")
        let hn = try #require(config["hypernet_kwargs"] as? [String: Any])
        let c = try #require(hn["context_embedding_dim"] as? Int)
        var worst: Double = 0
        var leaves = 0
        var generated = 0
        for task in 0..<tasks {
            let key = String(format: "task%02d", task)
            let ctx = try #require(golden["\(key)/context_embedding"]).floats()
            #expect(ctx.count == c)
            for leaf in golden.names where leaf.hasPrefix("\(key)/generated/") {
                let name = String(leaf.dropFirst("\(key)/generated/".count))
                let want = try #require(golden[leaf])
                let kernel = try #require(params["output_head_\(name)/kernel"], "no head for \(name)")
                let bias = try #require(params["output_head_\(name)/bias"]).floats()
                #expect(kernel.shape == [c, want.elementCount])
                let k = kernel.floats()
                let w = want.floats()
                for j in 0..<w.count {
                    var s = Double(bias[j])
                    for i in 0..<c { s += Double(ctx[i]) * Double(k[i * w.count + j]) }
                    worst = max(worst, abs(s - Double(w[j])))
                }
                if task == 0 { leaves += 1; generated += w.count }
            }
        }
        #expect(leaves == wantLeaves)
        #expect(generated == wantGenerated)
        #expect(worst <= 1e-5, "largest |c·K + b − golden| = \(worst)")
    }

    /// The config's shapes match the tensors (what the compiler's shape check relies on).
    @Test(arguments: ["model", "model-no-image"])
    func configShapesMatchTensors(model: String) throws {
        let params = try Checkpoint(path: Self.path("Examples/hypervla-tiny/\(model)/params.safetensors"))
        let config = try Self.json("Examples/hypervla-tiny/\(model)/config.json")
        let hn = try #require(config["hypernet_kwargs"] as? [String: Any])
        let enc = try #require(hn["context_encoder_kwargs"] as? [String: Any])
        let c = try #require(hn["context_embedding_dim"] as? Int)
        let layers = try #require(enc["num_layers"] as? Int)
        let heads = try #require(enc["num_attention_heads"] as? Int)
        let mlp = try #require(enc["mlp_dim"] as? Int)
        let useImage = try #require(hn["use_initial_image"] as? Bool)
        #expect(useImage == (model == "model"))
        #expect(params["task_token_projection/kernel"]?.shape == [32, c])
        #expect((params["initial_image_projection/kernel"] != nil) == useImage)
        #expect(params["task_pos_embedding"]?.shape == [1, 32, c])
        #expect(params["layer_pos_embedding"]?.shape == [1, 1, c])
        for i in 0..<layers {
            let p = "context_encoder/encoderblock_\(i)/"
            #expect(params[p + "MultiHeadDotProductAttention_0/query/kernel"]?.shape == [c, heads, c / heads])
            #expect(params[p + "MultiHeadDotProductAttention_0/out/kernel"]?.shape == [heads, c / heads, c])
            #expect(params[p + "MlpBlock_0/Dense_0/kernel"]?.shape == [c, mlp])
        }
        #expect(params["context_encoder/encoderblock_\(layers)/LayerNorm_0/scale"] == nil)
        let base = try #require(config["base_net_kwargs"] as? [String: Any])
        let vit = try #require(base["vit_kwargs"] as? [String: Any])
        let d = try #require(vit["hidden_dim"] as? Int)
        let horizon = try #require(base["action_horizon"] as? Int)
        let dim = try #require(base["action_dim"] as? Int)
        #expect(params["output_head_encoder_pos_embedding/kernel"]?.shape == [c, 257 * d])
        #expect(params["output_head_action_head_continuous_head_kernel/kernel"]?.shape == [c, d * horizon * (dim - 1)])
        #expect(params["output_head_action_head_discrete_head_kernel/kernel"]?.shape == [c, d * horizon])
        let shared = params.tensors.filter { $0.name.hasPrefix("encoder_image_encoder_") }
        #expect(shared.count == 43)
        #expect(shared.allSatisfy { $0.shape.count == 1 })
        #expect(params["encoder_image_encoder_embeddings_position_embeddings"]?.shape == [1370 * 32])
    }

    /// The episode goldens follow the action contract: squash, gripper threshold, mean/std on masked dims,
    /// uniform ensembling over the last 4 chunks, and the libero / widowx gripper rules (recomputed here).
    @Test(arguments: [("model", "image"), ("model-no-image", "no-image")])
    func episodeGoldensFollowTheActionContract(model: String, setting: String) throws {
        let golden = try Checkpoint(path: Self.path("Tests/Fixtures/HyperVLA/golden-\(setting).safetensors"))
        var stats = try Self.json("Examples/hypervla-tiny/\(model)/dataset_statistics.json")
        if stats["action"] == nil { stats = try #require(stats["bridge_dataset"] as? [String: Any]) }
        let action = try #require(stats["action"] as? [String: Any])
        let mean = try #require(action["mean"] as? [Double]), std = try #require(action["std"] as? [Double])
        let mask = try #require(action["mask"] as? [Bool])
        var worst: Double = 0
        for task in 0..<(try Self.taskCount()) {
            let key = String(format: "task%02d", task)
            let raw = try #require(golden["\(key)/episode/raw"])
            #expect(raw.shape == [12, 4, 7])
            let r = raw.floats(), n = try #require(golden["\(key)/episode/normalized"]).floats()
            let u = try #require(golden["\(key)/episode/unnormalized"]).floats()
            let e = try #require(golden["\(key)/episode/ensembled"]).floats()
            let lib = try #require(golden["\(key)/episode/executed_libero"]).floats()
            let wx = try #require(golden["\(key)/episode/executed_widowx_bridge"]).floats()
            for t in 0..<12 {
                for h in 0..<4 {
                    for a in 0..<7 {
                        let x = Double(r[(t * 4 + h) * 7 + a])
                        let norm = a < 6 ? 5 * tanh(x / 5) : (x >= 0 ? 1 : 0)
                        worst = max(worst, abs(norm - Double(n[(t * 4 + h) * 7 + a])))
                        let un = mask[a] ? norm * std[a] + mean[a] : norm
                        worst = max(worst, abs(un - Double(u[(t * 4 + h) * 7 + a])))
                    }
                }
                let k = min(t + 1, 4)
                for a in 0..<7 {
                    var s = 0.0
                    for j in 0..<k { s += Double(u[((t - j) * 4 + j) * 7 + a]) }
                    worst = max(worst, abs(s / Double(k) - Double(e[t * 7 + a])))
                }
                let g = Double(e[t * 7 + 6])
                worst = max(worst, abs((2 * g - 1) - Double(lib[t * 7 + 6])))
                worst = max(worst, abs((g > 0.5 ? 1 : -1) - Double(wx[t * 7 + 6])))
                for a in 0..<3 { worst = max(worst, abs(Double(e[t * 7 + a]) - Double(lib[t * 7 + a]))) }
            }
        }
        #expect(worst <= 1e-5, "largest deviation from the contract: \(worst)")
    }
}

/// The demo model's encoder directories through vlac's own tokenizer and model builders (run by the runtime
/// interpreter), against the reference's token ids, T5 output (transformers) and frozen DINOv2 output (Flax).
@Suite struct HyperVLADemoEncoderTests {
    static let root = HyperVLAExampleTests.root

    @Test func tokenizerAndT5MatchTheGoldens() throws {
        let dir = HyperVLAExampleTests.path("Examples/hypervla-tiny/text-encoder")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json")))
        let processor = try TextProcessor.hyperVLA(fileBytes: bytes, fileName: "tokenizer.json")
        guard case .t5(let t5) = try FoundationModel.open(directory: dir) else {
            Issue.record("text-encoder is not a T5 directory")
            return
        }
        let golden = try Checkpoint(path: HyperVLAExampleTests.path("Tests/Fixtures/HyperVLA/golden-no-image.safetensors"))
        let tasks = try #require(try HyperVLAExampleTests.json("Tests/Fixtures/HyperVLA/golden.json")["tasks"] as? [String])
        var worst: Float = 0
        for (i, text) in tasks.enumerated() {
            let key = String(format: "task%02d", i)
            let enc = try processor.encode(text)
            let ids = try #require(golden["\(key)/input_ids"]).floats().map { Int32($0) }
            let mask = try #require(golden["\(key)/attention_mask"]).floats().map { Int32($0) }
            #expect(enc.ids == ids, "\(key) \"\(text)\": ids")
            #expect(enc.attentionMask == mask, "\(key): mask")
            let built = try t5.build(ids: ids, mask: mask.map { UInt8($0) })
            let interpreter = try Interpreter(document: built.document)
            try interpreter.run(try #require(interpreter.program(named: "forward")))
            let got = try interpreter.floats(try #require(built.output("last_hidden_state")))
            let want = try #require(golden["\(key)/t5_last_hidden_state"]).floats()
            #expect(got.count == want.count)
            for (a, b) in zip(got, want) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= 1e-4, "T5 last hidden state: largest difference \(worst)")
    }

    @Test func frozenDINOv2MatchesTheGolden() throws {
        let dir = HyperVLAExampleTests.path("Examples/hypervla-tiny/vision-encoder")
        guard case .dinov2(let dino) = try FoundationModel.open(directory: dir) else {
            Issue.record("vision-encoder is not a DINOv2 directory")
            return
        }
        let frames = try Checkpoint(path: HyperVLAExampleTests.path("Tests/Fixtures/HyperVLA/frames.npz"))
        let episode = try #require(frames["episode"])
        #expect(episode.dtype == .u8 && episode.shape == [12, 224, 224, 3])
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let pixels = Array(episode.floats()[0..<(224 * 224 * 3)]).enumerated().map { i, v in (v / 255 - mean[i % 3]) / std[i % 3] }
        let built = try dino.build(height: 224, width: 224, interpolation: .jaxBicubic)
        let interpreter = try Interpreter(document: built.document)
        try interpreter.setFloats(try #require(built.input("pixel_values")), pixels)
        try interpreter.run(try #require(interpreter.program(named: "forward")))
        let got = try interpreter.floats(try #require(built.output("last_hidden_state")))
        let golden = try Checkpoint(path: HyperVLAExampleTests.path("Tests/Fixtures/HyperVLA/golden-image.safetensors"))
        let want = try #require(golden["frame0/frozen_last_hidden_state"]).floats()
        #expect(got.count == want.count)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "frozen DINOv2 on frame 0: largest difference \(worst)")
    }
}

/// The fine-tuned backbone as the HN stores it (`encoder_image_encoder_*` flat vectors, Flax layout) presented
/// to vlac's DINOv2 builder under the Hugging Face torch names: the mapping the compiler needs, written out.
/// Flax Dense kernels are [in, out] (torch Linear weights [out, in]); the patch conv kernel is HWIO (torch OIHW);
/// LayerNorm `scale` is torch `weight`.
struct FlatBackboneWeights: WeightSource {
    let params: Checkpoint
    let hidden: Int, mlp: Int, patch: Int, channels: Int

    static func flatName(_ hf: String) -> String {
        var parts = hf.split(separator: ".").map(String.init)
        if parts.last == "weight" {
            let isNorm = parts.count >= 2 && (parts[parts.count - 2].hasPrefix("norm") || parts[parts.count - 2] == "layernorm")
            parts[parts.count - 1] = isNorm ? "scale" : "kernel"
        }
        return "encoder_image_encoder_" + parts.joined(separator: "_")
    }

    func shape(of name: String) -> [Int]? {
        guard let flat = params[Self.flatName(name)] else { return nil }
        let d = hidden
        switch true {
        case name.hasSuffix("cls_token"): return [1, 1, d]
        case name.hasSuffix("mask_token"): return [1, d]
        case name.hasSuffix("position_embeddings"): return [1, flat.elementCount / d, d]
        case name.hasSuffix("projection.weight"): return [d, channels, patch, patch]
        case name.hasSuffix("fc1.weight"): return [mlp, d]
        case name.hasSuffix("fc2.weight"): return [d, mlp]
        case name.hasSuffix("fc1.bias"): return [mlp]
        case name.hasSuffix(".weight") && flat.elementCount == d * d: return [d, d]
        default: return [flat.elementCount]
        }
    }

    func floats(of name: String) throws -> [Float] {
        guard let flat = params[Self.flatName(name)], let shape = shape(of: name) else {
            throw ModelError(.weightsMismatch, "no flat vector for \(name)")
        }
        let v = flat.floats()
        if name.hasSuffix("projection.weight") {            // HWIO [p, p, c, d] -> OIHW [d, c, p, p]
            var out = [Float](repeating: 0, count: v.count)
            for h in 0..<patch { for w in 0..<patch { for c in 0..<channels { for o in 0..<hidden {
                out[((o * channels + c) * patch + h) * patch + w] = v[((h * patch + w) * channels + c) * hidden + o]
            } } } }
            return out
        }
        if shape.count == 2 && name.hasSuffix(".weight") {  // [in, out] -> [out, in]
            let (rows, cols) = (shape[1], shape[0])
            var out = [Float](repeating: 0, count: v.count)
            for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = v[r * cols + c] } }
            return out
        }
        return v
    }
}

@Suite struct HyperVLABackboneTests {
    /// vlac's DINOv2 (jaxBicubic) built from the HN's shared flat vectors reproduces the reference backbone
    /// output on episode frame 0, for both demo models (they share the backbone).
    @Test(arguments: [("model", "image"), ("model-no-image", "no-image")])
    func backboneFromFlatVectorsMatchesTheGolden(model: String, setting: String) throws {
        let params = try Checkpoint(path: HyperVLAExampleTests.path("Examples/hypervla-tiny/\(model)/params.safetensors"))
        let configBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: HyperVLAExampleTests.path("Examples/hypervla-tiny/vision-encoder/config.json"))))
        let config = try JSONValue(parsing: configBytes)
        let cfg = try HyperVLAExampleTests.json("Examples/hypervla-tiny/vision-encoder/config.json")
        let hidden = try #require(cfg["hidden_size"] as? Int)
        let ratio = try #require(cfg["mlp_ratio"] as? Int)
        let weights = FlatBackboneWeights(params: params, hidden: hidden, mlp: hidden * ratio,
                                          patch: try #require(cfg["patch_size"] as? Int), channels: 3)
        let dino = try DINOv2(config: config, weights: weights)
        let built = try dino.build(height: 224, width: 224, interpolation: .jaxBicubic)
        let frames = try Checkpoint(path: HyperVLAExampleTests.path("Tests/Fixtures/HyperVLA/frames.npz"))
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let pixels = Array(try #require(frames["episode"]).floats()[0..<(224 * 224 * 3)]).enumerated().map { i, v in (v / 255 - mean[i % 3]) / std[i % 3] }
        let interpreter = try Interpreter(document: built.document)
        try interpreter.setFloats(try #require(built.input("pixel_values")), pixels)
        try interpreter.run(try #require(interpreter.program(named: "forward")))
        let got = try interpreter.floats(try #require(built.output("last_hidden_state")))
        let golden = try Checkpoint(path: HyperVLAExampleTests.path("Tests/Fixtures/HyperVLA/golden-\(setting).safetensors"))
        let want = try #require(golden["backbone/last_hidden_state_frame0"]).floats()
        #expect(got.count == want.count)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "backbone on frame 0: largest difference \(worst)")
    }
}
