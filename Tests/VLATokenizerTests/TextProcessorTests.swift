import Testing
@testable import VLATokenizer

/// HyperVLA's named configuration and the post-processing rules, on values checked against the references.
@Suite struct TextProcessorTests {
    @Test func hyperVLAFromTokenizerJSON() throws {
        let p = try TextProcessor.hyperVLA(
            fileBytes: Fixtures.bytes("t5-nobf.tokenizer.json"), fileName: "t5-nobf.tokenizer.json")
        #expect(p.postProcessing.maxLength == 32)
        #expect(p.postProcessing.padToLength == 32)
        #expect(p.postProcessing.suffix == [PostProcessing.Special(id: 1, token: "</s>")])
        #expect(p.postProcessing.pad == PostProcessing.Special(id: 0, token: "<pad>"))
        let corpus = try Fixtures.corpus()
        let expected = try Fixtures.ids("t5-config.ids")
        // The first instruction record and the longest record (truncated to 31 tokens + </s>).
        let longest = corpus.indices.max { corpus[$0].count < corpus[$1].count } ?? 0
        for i in [ALL_HARD_COUNT, longest] {
            let e = try p.encode(utf8: corpus[i])
            #expect(e.ids.count == 32)
            #expect(Array(e.ids.prefix(expected.rows[i].count)) == expected.rows[i])
            #expect(e.attentionMask.reduce(0, +) == Int32(expected.rows[i].count))
        }
        #expect(expected.rows[longest].count == 32 && expected.rows[longest].last == 1)
    }

    /// The index of the first plain instruction in the corpus (after the hard fragments and 8 short records).
    var ALL_HARD_COUNT: Int { 200 }

    @Test func hyperVLAFromModelAppendsEOSAndPads() throws {
        let p = try TextProcessor.hyperVLA(fileBytes: Fixtures.bytes("t5-nobf.model"), fileName: "t5-nobf.model")
        let plain = try p.tokenizer.encode("pick up the red block")
        let e = try p.encode("pick up the red block")
        #expect(plain.ids == [74, 6, 94, 5, 173, 201])  // sentencepiece 0.2.3 on t5-nobf.model
        #expect(e.ids == plain.ids + [1] + [Int32](repeating: 0, count: 25))
        #expect(e.attentionMask == [Int32](repeating: 1, count: 7) + [Int32](repeating: 0, count: 25))
    }

    @Test func truncationKeepsSpecialTokens() {
        var p = PostProcessing()
        p.prefix = [.init(id: 101, token: "[CLS]")]
        p.suffix = [.init(id: 102, token: "[SEP]")]
        p.maxLength = 4
        p.padToLength = 6
        let e = p.apply(Encoding(ids: [5, 6, 7, 8], tokens: ["a", "b", "c", "d"]))
        #expect(e.ids == [101, 5, 6, 102, 0, 0])
        #expect(e.attentionMask == [1, 1, 1, 1, 0, 0])
        p.truncationSide = .left
        p.paddingSide = .left
        #expect(p.apply(Encoding(ids: [5, 6, 7, 8], tokens: ["a", "b", "c", "d"])).ids == [0, 0, 101, 7, 8, 102])
    }

    @Test func miniLMJSONSettings() throws {
        let t = try Tokenizer(fileBytes: Fixtures.miniLM("tokenizer.json"), fileName: "tokenizer.json")
        let post = t.defaultPostProcessing
        #expect(post.maxLength == 128)
        #expect(post.padToLength == 128)
        #expect(post.prefix.map(\.id) == [101])
        #expect(post.suffix.map(\.id) == [102])
        // sentence-transformers' reference sentence (docs: vlac.md); ids from tokenizers 0.23.3.
        let e = try t.encode("pick up the red block and place it in the bowl")
        #expect(Array(e.ids.prefix(13)) == [101, 4060, 2039, 1996, 2417, 3796, 1998, 2173, 2009, 1999, 1996, 4605, 102])
    }
}
