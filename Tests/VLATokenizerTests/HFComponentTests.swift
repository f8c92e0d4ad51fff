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

    static let metaspaceFirst = #"""
{"version": "1.0", "truncation": null, "padding": null,
 "added_tokens": [{"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": false},
   {"type": "Replace", "pattern": {"String": "x"}, "content": "a"}]},
 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
   {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": true}]},
 "post_processor": null, "decoder": null,
 "model": {"type": "Unigram", "unk_id": 2, "byte_fallback": false,
   "vocab": [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], ["\u2581a", -1.5], ["b", -3.0], ["a", -4.0], ["\u2581b", -2.5]]}}
"""#

    /// Expected ids from `tokenizers` 0.23.3: `Metaspace(prepend_scheme="first")` prepends `▁` only to a
    /// split that starts the original text (not after a stripped prefix or an added token).
    @Test(arguments: [
        ("a b", [4, 5]), ("  a b", [6, 5]), ("x<pad>a b", [4, 0, 6, 5]), ("<pad> a", [0, 6]), ("ab<pad>", [4, 5, 0]),
        ("b", [7]), ("\tba  x", [5, 6, 6]),
    ] as [(String, [Int32])])
    func metaspacePrependFirst(_ text: String, _ ids: [Int32]) throws {
        let t = try HFTokenizer(jsonBytes: Array(Self.metaspaceFirst.utf8), source: "first.json")
        #expect(try t.encode(text).ids == ids)
    }
}
