import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLARuntime
@testable import VLAModels

/// Runs a built model on VLARuntime's interpreter: inputs by tensor id, every output by name.
func interpret(_ built: BuiltModel, inputs: [Int: [Float]] = [:], threads: Int = 1) throws -> [String: [Float]] {
    let interpreter = try Interpreter(document: built.document, options: RuntimeOptions(threads: threads))
    for (id, v) in inputs { try interpreter.setFloats(id, v) }
    try interpreter.run(0)
    var out: [String: [Float]] = [:]
    for (name, id) in built.outputs { out[name] = try interpreter.floats(id) }
    return out
}

/// The builders' programs on VLARuntime's interpreter (the code the compiler and the robot run) against
/// transformers (torch CPU) on small random-weight models. Tolerance: 1e-4 absolute, as the issue asks.
@Suite struct InterpreterParityTests {
    @Test(arguments: ["t5-tiny-relu", "t5-tiny-gated"]) func t5(_ name: String) throws {
        let dir = Fixtures.path(name)
        let model = try T5Encoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        for c in NaiveParityTests.textCases(ref) {
            let ids = try ref.values("case\(c).input_ids").map { Int32($0) }
            let mask = try ref.values("case\(c).attention_mask").map { UInt8($0) }
            let out = try interpret(try model.build(ids: ids, mask: mask))
            let diff = maxAbsDiff(try #require(out["last_hidden_state"]), try ref.values("case\(c).last_hidden_state"))
            #expect(diff <= 1e-4, "\(name) case \(c) (\(ids.count) tokens): max difference \(diff)")
        }
    }

    @Test func bert() throws {
        let dir = Fixtures.path("bert-tiny")
        let model = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        for c in NaiveParityTests.textCases(ref) {
            let ids = try ref.values("case\(c).input_ids").map { Int32($0) }
            let mask = try ref.values("case\(c).attention_mask").map { UInt8($0) }
            let out = try interpret(try model.build(ids: ids, mask: mask, pooling: true))
            for name in ["last_hidden_state", "pooled", "embedding"] {
                let diff = maxAbsDiff(try #require(out[name]), try ref.values("case\(c).\(name)"))
                #expect(diff <= 1e-4, "case \(c) \(name): max difference \(diff)")
            }
        }
    }

    @Test(arguments: [1, 2]) func dinov2(threads: Int) throws {
        let dir = Fixtures.path("dinov2-tiny")
        let model = try DINOv2(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        for c in 0..<3 {
            let shape = try ref.dims("case\(c).pixel_values_hwc")
            let built = try model.build(height: shape[0], width: shape[1], interpolation: .torchBicubic)
            let out = try interpret(built, inputs: [try #require(built.input("pixel_values")): try ref.values("case\(c).pixel_values_hwc")], threads: threads)
            let want = try ref.values("case\(c).last_hidden_state")
            let diff = maxAbsDiff(try #require(out["last_hidden_state"]), want)
            #expect(diff <= 1e-4, "image \(shape): max difference \(diff)")
            #expect(maxAbsDiff(try #require(out["cls"]), Array(want[0..<32])) <= 1e-4)
            #expect(maxAbsDiff(try #require(out["patch_tokens"]), Array(want[32...])) <= 1e-4)
        }
    }

    /// The patch embedding built as its product (`patchEmbeddingAsProduct`: the image viewed as patch rows,
    /// `slice` + `concat` into each patch's pixels, a `linear` with the kernel as `[P·P·C, D]`) gives
    /// `patch_embed`'s bits on every output, with 1 and 2 threads; where a side is not a multiple of the patch size
    /// the op stays `patch_embed`.
    @Test(arguments: [1, 2]) func dinov2PatchEmbeddingAsProductGivesTheSameBits(threads: Int) throws {
        let dir = Fixtures.path("dinov2-tiny")
        let model = try DINOv2(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let p = model.config.patchSize
        for (h, w) in [(2 * p, 3 * p), (4 * p, 4 * p), (2 * p + 1, 3 * p)] {
            let op = try model.build(height: h, width: w, interpolation: .torchBicubic)
            let product = try model.build(height: h, width: w, interpolation: .torchBicubic, patchEmbeddingAsProduct: true)
            let codes = product.document.programs[0].operations.map(\.opcode)
            let divisible = h % p == 0 && w % p == 0
            #expect(codes.contains(.patchEmbed) == !divisible, "\(h)×\(w)")
            let slices = op.document.programs[0].operations.filter { $0.opcode == .slice }.count
            #expect(codes.filter { $0 == .slice }.count == slices + (divisible ? p : 0), "\(h)×\(w): one slice per patch row")
            var rng = UInt64(h * 1000 + w)
            let pixels = (0..<h * w * model.config.channels).map { _ -> Float in
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: rng >> 11) % 2000) / 1000
            }
            let a = try interpret(op, inputs: [try #require(op.input("pixel_values")): pixels], threads: threads)
            let b = try interpret(product, inputs: [try #require(product.input("pixel_values")): pixels], threads: threads)
            for name in ["last_hidden_state", "cls", "patch_tokens"] {
                let x = try #require(a[name]), y = try #require(b[name])
                #expect(x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(h)×\(w) \(name)")
            }
        }
    }

    /// JAX mode differs from torch mode only in the position table: the interpreter's output with the JAX
    /// table equals the plain evaluator's.
    @Test func dinov2JaxModeAgreesWithThePlainEvaluator() throws {
        let dir = Fixtures.path("dinov2-tiny")
        let model = try DINOv2(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        let built = try model.build(height: 24, width: 24, interpolation: .jaxBicubic)
        let pixels = try ref.values("case1.pixel_values_hwc")
        let input = try #require(built.input("pixel_values"))
        let out = try interpret(built, inputs: [input: pixels])
        var ev = NaiveEvaluator(built.document)
        ev.run(inputs: [input: pixels])
        let id = try #require(built.output("last_hidden_state"))
        #expect(maxAbsDiff(try #require(out["last_hidden_state"]), ev.read(id)) <= 1e-4)
    }
}

/// all-MiniLM-L6-v2's real weights on the interpreter against sentence-transformers.
@Suite struct MiniLMTests {
    /// sentence-transformers' normalized embedding of the reference sentence, first 8 values (vlac.md).
    static let expected: [Float] = [0.018508157, 0.011140887, -0.065158948, -0.0026214756, -0.055603385, 0.022584409, -0.0078437477, -0.00016539099]

    /// The 101 sentences in 4 slices, so Swift Testing runs them in parallel.
    @Test(arguments: 0..<4) func referenceSentenceAndHundredOthers(slice: Int) throws {
        let dir = try Fixtures.miniLM()
        let model = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Fixtures.tensors("minilm-sentences.safetensors")
        let want = try ref.values("embeddings")
        #expect(try ref.dims("embeddings") == [101, 384])
        var worst = 1.0
        defer { print("MiniLM slice \(slice): lowest cosine \(worst)") }
        for s in stride(from: slice, to: 101, by: 4) {
            let ids = try ref.values("sentence\(s).input_ids").map { Int32($0) }
            let e = try #require(try interpret(try model.build(ids: ids, pooling: true))["embedding"])
            let w = Array(want[(s * 384)..<((s + 1) * 384)])
            if s == 0 {
                // "pick up the red block and place it in the bowl", token ids from the tokenizers package.
                #expect(ids == [101, 4060, 2039, 1996, 2417, 3796, 1998, 2173, 2009, 1999, 1996, 4605, 102])
                #expect(maxAbsDiff(Array(e[0..<8]), Self.expected) <= 1e-5)
            }
            var dot = 0.0, na = 0.0, nb = 0.0
            for i in 0..<384 {
                dot += Double(e[i]) * Double(w[i]); na += Double(e[i]) * Double(e[i]); nb += Double(w[i]) * Double(w[i])
            }
            let cosine = dot / (na * nb).squareRoot()
            worst = min(worst, cosine)
            #expect(cosine >= 0.99999, "sentence \(s): cosine \(cosine)")
        }
    }
}
