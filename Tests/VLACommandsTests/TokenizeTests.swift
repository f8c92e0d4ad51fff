import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLATokenizer

/// `vlac tokenize`: parsing, validation, and output on the committed T5-style model.
@Suite struct TokenizeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("VLATokenizer")

    @Test func parsesOptions() throws {
        let c = try VLAC.parseAsRoot(["tokenize", "--tokenizer", "t.model", "--hypervla", "--json", "a", "b"])
        let t = try #require(c as? Tokenize)
        #expect(t.tokenizer == "t.model")
        #expect(t.hypervla && t.json)
        #expect(t.texts == ["a", "b"])
    }

    @Test func needsText() {
        #expect(throws: (any Error).self) { _ = try VLAC.parseAsRoot(["tokenize", "--tokenizer", "t.model"]) }
        #expect(throws: (any Error).self) {
            _ = try VLAC.parseAsRoot(["tokenize", "--tokenizer", "t.model", "--hypervla", "--no-post-processing", "x"])
        }
    }

    @Test func helpTeaches() {
        let help = Tokenize.helpMessage()
        for needle in ["--tokenizer <path>", "--hypervla", "--json", "--bench <path>", "Examples:", "vlac tokenize --tokenizer spiece.model"] {
            #expect(help.contains(needle), "\(needle)")
        }
    }

    /// Ids from sentencepiece 0.2.3 on t5-nobf.model (`spm-nobf.ids` has the same segmentation rules).
    @Test func textAndJSONOutput() throws {
        let path = Self.fixtures.appendingPathComponent("t5-nobf.model").path
        let cmd = try #require(try VLAC.parseAsRoot(["tokenize", "--tokenizer", path, "pick up the red block"]) as? Tokenize)
        try cmd.run()
        let processor = try TextProcessor.hyperVLA(fileBytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), fileName: "t5-nobf.model")
        let e = try processor.encode("pick up the red block")
        let json = Tokenize.json([("pick up the red block", e)], tokenizer: "t5-nobf.model")
        #expect(json.hasPrefix("{\"formatVersion\": 1, \"tokenizer\": \"t5-nobf.model\", \"results\": [{\"text\": \"pick up the red block\", \"ids\": [74, 6, 94, 5, 173, 201, 1, 0,"))
        let text = Tokenize.text([("pick up the red block", e)], showMask: true)
        #expect(text.contains("  pieces: \"▁pick\" \"▁\" \"up\" \"▁the\" \"▁red\" \"▁block\" \"</s>\" \"<pad>\""))
        #expect(Tokenize.jsonString("a\"\\\n\u{1}") == "\"a\\\"\\\\\\n\\u0001\"")
    }
}
