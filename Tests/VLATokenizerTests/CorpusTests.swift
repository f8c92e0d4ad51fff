import Foundation
import Testing
@testable import VLATokenizer

/// Token ids identical to `sentencepiece` and `tokenizers` on every corpus record, for every tokenizer.
/// The expected ids were written by Tests/Reference/gen_tokenizer_reference.py (`make reference`).
@Suite struct CorpusTests {
    /// How a tokenizer is built and called for one expected-ids file.
    enum Case: String, CaseIterable, CustomTestStringConvertible {
        case spmByteFallback = "spm-bf"
        case spmNoByteFallback = "spm-nobf"
        case hfT5ByteFallback = "hf-t5-bf"
        case hfT5NoByteFallback = "hf-t5-nobf"
        case hfGenericByteFallback = "hf-spm-bf"
        case t5Config = "t5-config"
        case miniLMJSON = "minilm-json"
        case miniLMVocab = "minilm-vocab"

        var testDescription: String { rawValue }

        func tokenizer() throws -> Tokenizer {
            switch self {
            case .spmByteFallback: try Tokenizer(fileBytes: Fixtures.bytes("t5-bf.model"), fileName: "t5-bf.model")
            case .spmNoByteFallback: try Tokenizer(fileBytes: Fixtures.bytes("t5-nobf.model"), fileName: "t5-nobf.model")
            case .hfT5ByteFallback:
                try Tokenizer(fileBytes: Fixtures.bytes("t5-bf.tokenizer.json"), fileName: "t5-bf.tokenizer.json")
            case .hfT5NoByteFallback, .t5Config:
                try Tokenizer(fileBytes: Fixtures.bytes("t5-nobf.tokenizer.json"), fileName: "t5-nobf.tokenizer.json")
            case .hfGenericByteFallback:
                try Tokenizer(fileBytes: Fixtures.bytes("spm-bf.tokenizer.json"), fileName: "spm-bf.tokenizer.json")
            case .miniLMJSON: try Tokenizer(fileBytes: Fixtures.miniLM("tokenizer.json"), fileName: "tokenizer.json")
            case .miniLMVocab: try Tokenizer(fileBytes: Fixtures.miniLM("vocab.txt"), fileName: "vocab.txt")
            }
        }

        /// (padded length, pad id) when the expected ids omit the padding.
        var padding: (Int, Int32)? {
            switch self {
            case .t5Config: (32, 0)
            case .miniLMJSON: (128, 0)
            default: nil
            }
        }
    }

    @Test("ids match the reference on every corpus record", arguments: Case.allCases)
    func corpusMatches(_ c: Case) throws {
        let corpus = try Fixtures.corpus()
        #expect(corpus.count >= 5000)
        let expected = try Fixtures.ids(c.rawValue + ".ids")
        try #require(expected.rows.count == corpus.count, "\(c.rawValue).ids has \(expected.rows.count) rows for \(corpus.count) records")
        var tokenizer = try c.tokenizer()
        var post: PostProcessing?
        if c == .t5Config {
            let processor = try TextProcessor.hyperVLA(
                fileBytes: Fixtures.bytes("t5-nobf.tokenizer.json"), fileName: "t5-nobf.tokenizer.json")
            tokenizer = processor.tokenizer
            post = processor.postProcessing
        }
        var mismatches = 0
        for (i, record) in corpus.enumerated() {
            let e = try tokenizer.encode(utf8: record, postProcessing: post)
            var want = expected.rows[i]
            var wantMask = [Int32](repeating: 1, count: want.count)
            if let (length, pad) = c.padding, want.count < length {
                wantMask += [Int32](repeating: 0, count: length - want.count)
                want += [Int32](repeating: pad, count: length - want.count)
            }
            if e.ids != want || e.attentionMask != wantMask {
                mismatches += 1
                if mismatches <= 8 {
                    Issue.record("""
                        \(c.rawValue) record \(i + 1) \(String(reflecting: String(decoding: record.prefix(200), as: UTF8.self))):
                          got  \(e.ids.prefix(60)) \(e.tokens.prefix(60))
                          want \(want.prefix(60))
                        """)
                }
            }
        }
        #expect(mismatches == 0, "\(c.rawValue): \(mismatches) of \(corpus.count) records differ")
    }
}
