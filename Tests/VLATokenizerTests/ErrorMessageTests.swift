import Foundation
import Testing
@testable import VLATokenizer

/// The exact text of representative errors (Docs/Tokenizers.md quotes them).
@Suite struct ErrorMessageTests {
    static func message(_ f: () throws -> Void) -> String {
        do {
            try f()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    static var cases: [(String, String)] {
        var p = ProtoWriter()
        p.lengthDelimited(1, Array("a".utf8))
        p.int(2, 5)
        var w = ProtoWriter()
        w.lengthDelimited(1, ProtoWriter.piece("<unk>", 0, 2))
        w.lengthDelimited(1, p.bytes)
        let wrongType = w.bytes
        let small = TokenizerJSONBadInputTests.small
        return [
            (message { _ = try SentencePieceProcessor(modelBytes: ProtoWriter.model([("<unk>", 0, 2), ("a", -1, 1), ("a", -2, 1)]), source: "t5.model") }, "t5.model: pieces[2].piece \"a\" is already defined as piece 1"),
            (message { _ = try SentencePieceProcessor(modelBytes: wrongType, source: "t5.model") }, "t5.model: pieces[1].score has wire type varint, expected 32-bit (at byte 21)"),
            (message { _ = try SentencePieceProcessor(modelBytes: ProtoWriter.model([("<unk>", 0, 2), ("a", -1, 1)], trainer: [(3, 2)]), source: "t5.model") }, "t5.model: trainer_spec.model_type is BPE; only UNIGRAM models are supported"),
            (message { _ = try SentencePieceProcessor(modelBytes: Array(try Fixtures.bytes("t5-bf.model").prefix(1000)), source: "t5.model") }, "t5.model: pieces[59]: the data ends inside its length (at byte 1000)"),
            (message { _ = try HFTokenizer(jsonBytes: Array(small.replacingOccurrences(of: "[\"b\", -3.0]", with: "[\"b\", \"-3.0\"]").utf8), source: "tokenizer.json") }, "tokenizer.json: model.vocab[5][1] is a string, expected a number (at byte 918)"),
            (message { _ = try HFTokenizer(jsonBytes: Array(small.replacingOccurrences(of: "\"Unigram\"", with: "\"BPE\"").utf8), source: "tokenizer.json") }, "tokenizer.json: model.type \"BPE\" is not supported (Unigram and WordPiece are) (at byte 758)"),
            (message { _ = try HFTokenizer(jsonBytes: Array(small.utf8.prefix(77)), source: "tokenizer.json") }, "tokenizer.json: JSON: unterminated string (at byte 66)"),
            (message { _ = try Tokenizer(fileBytes: Fixtures.bytes("tiny.model"), fileName: "tiny.model").encode(utf8: [0x61, 0xFF]) }, "text is not valid UTF-8: byte 0xFF does not start a well-formed sequence (at byte 1)"),
        ]
    }

    @Test func messages() {
        for (got, want) in Self.cases {
            #expect(got == want)
        }
    }
}
