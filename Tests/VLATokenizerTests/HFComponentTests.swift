import Testing
@testable import VLATokenizer

/// tokenizer.json features that the converted fixtures do not exercise, on a small hand-written file.
@Suite struct HFComponentTests {
    static let wordPieceWithNormalizedAddedToken = #"""
{"version": "1.0", "truncation": null, "padding": null,
 "added_tokens": [
  {"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 7, "content": "GRIP", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}],
 "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
 "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": null, "decoder": null,
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 5,
   "vocab": {"[UNK]": 0, "pick": 1, "up": 2, "the": 3, "##s": 4, "cup": 5, "grip": 6, "GRIP": 7, "!": 8, "##grip": 9}}}
"""#

    /// Expected ids from `tokenizers.Tokenizer.from_file(...).encode(text).ids` (tokenizers 0.23.3): an added
    /// token with `normalized: true` matched in the lowercased text, `max_input_chars_per_word` 5.
    @Test(arguments: [
        ("Pick up the cups", [1, 2, 3, 5, 4]), ("GRIP the cup", [7, 3, 5]), ("regrip! Grip [UNK] Cupsss", [0, 7, 8, 7, 0, 0]),
        ("pickup GRIPs", [0, 7, 0]), ("Ｇｒｉｐ", [0]),
    ] as [(String, [Int32])])
    func normalizedAddedToken(_ text: String, _ ids: [Int32]) throws {
        let t = try HFTokenizer(jsonBytes: Array(Self.wordPieceWithNormalizedAddedToken.utf8), source: "small.json")
        #expect(try t.encode(text).ids == ids)
    }
}
