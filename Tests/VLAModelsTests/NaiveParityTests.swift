import Testing
import VLACheckpoint
import VLAFormat
@testable import VLAModels

/// The builders' programs, run by the plain test evaluator, against transformers (torch CPU) on small
/// random-weight models (Tests/Reference/gen_models_reference.py). Tolerance: 1e-4 absolute, as the issue asks.
@Suite struct NaiveParityTests {
    static func textCases(_ ref: Checkpoint) -> [Int] {
        (0..<64).filter { ref["case\($0).input_ids"] != nil }
    }

    @Test(arguments: ["t5-tiny-relu", "t5-tiny-gated"]) func t5(_ name: String) throws {
        let dir = Fixtures.path(name)
        let model = try T5Encoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        let cases = Self.textCases(ref)
        #expect(cases.count == 4)
        for c in cases {
            let ids = try ref.values("case\(c).input_ids").map { Int32($0) }
            let mask = try ref.values("case\(c).attention_mask").map { UInt8($0) }
            let built = try model.build(ids: ids, mask: mask)
            var ev = NaiveEvaluator(built.document)
            ev.run()
            let got = ev.read(try #require(built.output("last_hidden_state")))
            let diff = maxAbsDiff(got, try ref.values("case\(c).last_hidden_state"))
            #expect(diff <= 1e-4, "\(name) case \(c) (\(ids.count) tokens): max difference \(diff)")
        }
    }

    @Test func bert() throws {
        let dir = Fixtures.path("bert-tiny")
        let model = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        for c in Self.textCases(ref) {
            let ids = try ref.values("case\(c).input_ids").map { Int32($0) }
            let mask = try ref.values("case\(c).attention_mask").map { UInt8($0) }
            let built = try model.build(ids: ids, mask: mask, pooling: true)
            var ev = NaiveEvaluator(built.document)
            ev.run()
            for out in ["last_hidden_state", "pooled", "embedding"] {
                let diff = maxAbsDiff(ev.read(try #require(built.output(out))), try ref.values("case\(c).\(out)"))
                #expect(diff <= 1e-4, "case \(c) \(out): max difference \(diff)")
            }
        }
    }

    @Test func dinov2TorchMode() throws {
        let dir = Fixtures.path("dinov2-tiny")
        let model = try DINOv2(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Checkpoint(path: dir + "/reference.safetensors")
        for c in 0..<3 {
            let shape = try ref.dims("case\(c).pixel_values_hwc")
            let built = try model.build(height: shape[0], width: shape[1], interpolation: .torchBicubic)
            var ev = NaiveEvaluator(built.document)
            ev.run(inputs: [try #require(built.input("pixel_values")): try ref.values("case\(c).pixel_values_hwc")])
            let want = try ref.values("case\(c).last_hidden_state")
            let diff = maxAbsDiff(ev.read(try #require(built.output("last_hidden_state"))), want)
            #expect(diff <= 1e-4, "image \(shape): max difference \(diff)")
            let d = 32
            #expect(maxAbsDiff(ev.read(try #require(built.output("cls"))), Array(want[0..<d])) <= 1e-4)
            #expect(maxAbsDiff(ev.read(try #require(built.output("patch_tokens"))), Array(want[d...])) <= 1e-4)
        }
    }
}
