import Foundation
import Testing
@testable import VLATokenizer

/// A small deterministic generator for the mutation tests (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes protobuf bytes for hand-made .model files.
struct ProtoWriter {
    var bytes: [UInt8] = []
    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func tag(_ field: UInt64, _ wire: UInt64) { varint(field << 3 | wire) }
    mutating func lengthDelimited(_ field: UInt64, _ payload: [UInt8]) {
        tag(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }
    mutating func float(_ field: UInt64, _ v: Float) {
        tag(field, 5)
        let b = v.bitPattern
        bytes += [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
    }
    mutating func int(_ field: UInt64, _ v: Int) {
        tag(field, 0)
        varint(UInt64(bitPattern: Int64(v)))
    }

    static func piece(_ text: String, _ score: Float, _ type: Int) -> [UInt8] {
        var w = ProtoWriter()
        w.lengthDelimited(1, Array(text.utf8))
        w.float(2, score)
        w.int(3, type)
        return w.bytes
    }

    /// A model with these pieces and optional trainer_spec fields.
    static func model(_ pieces: [(String, Float, Int)], trainer: [(UInt64, Int)] = []) -> [UInt8] {
        var w = ProtoWriter()
        for p in pieces { w.lengthDelimited(1, piece(p.0, p.1, p.2)) }
        var t = ProtoWriter()
        for (f, v) in trainer { t.int(f, v) }
        w.lengthDelimited(2, t.bytes)
        return w.bytes
    }
}

@Suite struct SentencePieceBadInputTests {
    func load(_ bytes: [UInt8]) throws(TokenizerError) -> SentencePieceProcessor {
        try SentencePieceProcessor(modelBytes: bytes, source: "bad.model")
    }

    func expectError(_ bytes: [UInt8], _ code: TokenizerError.Code, _ fragment: String) {
        do {
            _ = try load(bytes)
            Issue.record("expected \(code) mentioning \(fragment)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
            #expect(error.description.contains("bad.model"), "\(error)")
        }
    }

    @Test func handMadeModelEncodes() throws {
        let bytes = ProtoWriter.model([("<unk>", 0, 2), ("▁a", -1, 1), ("b", -2, 1), ("▁", -3, 1), ("a", -4, 1)])
        let sp = try load(bytes)
        // No charsmap: identity normalization, dummy prefix, spaces escaped; "c" is unknown.
        #expect(try sp.encode("ab  c").ids == [1, 2, 3, 0])
    }

    @Test func duplicatePiece() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("a", -1, 1), ("a", -2, 1)]), .duplicate, "pieces[2].piece")
    }

    @Test func missingUnknown() {
        expectError(ProtoWriter.model([("a", -1, 1), ("b", -2, 1)]), .missing, "UNKNOWN")
    }

    @Test func bpeIsUnsupported() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("a", -1, 1)], trainer: [(3, 2)]), .unsupported, "trainer_spec.model_type is BPE")
    }

    @Test func bytePieceWithoutByteFallback() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("<0x41>", 0, 6)]), .malformed, "byte_fallback is false")
    }

    @Test func byteFallbackNeedsAll256() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("<0x41>", 0, 6)], trainer: [(35, 1)]), .missing, "<0x00>")
    }

    @Test func emptyPiece() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("", -1, 1)]), .malformed, "pieces[1].piece is empty")
    }

    @Test func unknownPieceType() {
        expectError(ProtoWriter.model([("<unk>", 0, 2), ("a", -1, 9)]), .malformed, "pieces[1].type 9")
    }

    @Test func scoreWithWrongWireType() {
        var p = ProtoWriter()
        p.lengthDelimited(1, Array("a".utf8))
        p.int(2, 5)  // score as a varint
        var w = ProtoWriter()
        w.lengthDelimited(1, ProtoWriter.piece("<unk>", 0, 2))
        w.lengthDelimited(1, p.bytes)
        expectError(w.bytes, .wrongType, "pieces[1].score")
    }

    @Test func pieceNotUTF8() {
        var p = ProtoWriter()
        p.lengthDelimited(1, [0x61, 0xFF])
        var w = ProtoWriter()
        w.lengthDelimited(1, ProtoWriter.piece("<unk>", 0, 2))
        w.lengthDelimited(1, p.bytes)
        expectError(w.bytes, .invalidUTF8, "pieces[1].piece")
    }

    @Test func corruptCharsMapSizes() {
        for blob: [UInt8] in [[1, 2], [5, 0, 0, 0, 1, 2, 3, 4, 5], [64, 0, 0, 0, 1, 2, 3, 4], [0, 0, 0, 0]] {
            #expect(throws: TokenizerError.self) {
                _ = try PrecompiledCharsMap(bytes: blob, field: "x", limits: TokenizerLimits())
            }
        }
    }

    /// Every prefix of a valid model: an error (never a crash); the whole file loads.
    @Test func everyPrefixOfTinyModel() throws {
        let bytes = try Fixtures.bytes("tiny.model")
        var errors = 0
        for n in 0..<bytes.count {
            do {
                let sp = try load(Array(bytes[0..<n]))
                _ = try? sp.encode("pick up the red block")
            } catch {
                errors += 1
                #expect(error.description.contains("bad.model"))
            }
        }
        #expect(errors > bytes.count / 2)
        _ = try load(bytes)
    }

    /// Prefixes of the real model (every byte for the first 2 KiB, then every 997th byte): an error, or a
    /// clean read when the cut falls on a field boundary (protobuf cannot tell), never a crash.
    @Test func prefixesOfTrainedModel() throws {
        let bytes = try Fixtures.bytes("t5-bf.model")
        var n = 0
        var errors = 0
        var total = 0
        while n < bytes.count {
            total += 1
            if let sp = try? load(Array(bytes[0..<n])) {
                _ = try? sp.encode("pick up the red block")
            } else {
                errors += 1
            }
            n += n < 2048 ? 1 : 997
        }
        #expect(errors > total * 9 / 10)
    }

    @Test(arguments: ["tiny.model", "t5-bf.model"])
    func seededMutations(_ name: String) throws {
        let original = try Fixtures.bytes(name)
        var rng = SeededRandom(state: 0x5EED_0000 &+ UInt64(original.count))
        let rounds = original.count < 4096 ? 2000 : 60
        for _ in 0..<rounds {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let sp = try? load(bytes) {
                for text in ["pick up the ﬁ red block  ", "", "😀 <move>\t打开"] { _ = try? sp.encode(text) }
            }
        }
    }

    @Test func tinyModelMatchesSentencePiece() throws {
        let sp = try load(try Fixtures.bytes("tiny.model"))
        #expect(sp.model.normalizer.precompiledCharsMap.isEmpty)
        let corpus = try Fixtures.corpus()
        let expected = try Fixtures.ids("tiny.ids")
        #expect(expected.rows.count == 500)
        for (i, row) in expected.rows.enumerated() {
            #expect(try sp.encode(utf8: corpus[i]).ids == row, "record \(i + 1)")
        }
    }
}

@Suite struct TokenizerJSONBadInputTests {
    static let small = """
        {"version": "1.0", "added_tokens": [{"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false,
           "normalized": false, "special": true}],
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": false, "strip_right": true},
           {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\\u2581"}]},
         "pre_tokenizer": {"type": "Metaspace", "replacement": "\\u2581", "prepend_scheme": "always", "split": true},
         "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}},
           {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
         "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
         "model": {"type": "Unigram", "unk_id": 2, "byte_fallback": false,
           "vocab": [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\\u2581", -2.0], ["\\u2581a", -1.5], ["b", -3.0], ["a", -4.0]]}}
        """

    func load(_ text: String) throws(TokenizerError) -> HFTokenizer {
        try HFTokenizer(jsonBytes: Array(text.utf8), source: "bad.json")
    }

    func expectError(_ text: String, _ code: TokenizerError.Code, _ fragment: String) {
        do {
            _ = try load(text)
            Issue.record("expected \(code) mentioning \(fragment)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
            #expect(error.description.contains("bad.json"), "\(error)")
        }
    }

    /// Expected ids from `tokenizers.Tokenizer.from_str(small).encode(text).ids` (tokenizers 0.23.3).
    @Test(arguments: [
        ("ab  a <pad>", [4, 5, 4, 0, 1]), ("", [1]), ("😀  b", [3, 2, 3, 5, 1]), (" a b ", [4, 3, 5, 1]),
        ("bab   a", [3, 5, 6, 5, 4, 1]),
    ] as [(String, [Int32])])
    func smallLoadsAndEncodes(_ text: String, _ ids: [Int32]) throws {
        let t = try load(Self.small)
        #expect(try t.encode(text).ids == ids)
    }

    @Test func unknownModelKind() {
        expectError(Self.small.replacingOccurrences(of: "\"Unigram\"", with: "\"BPE\""), .unsupported, "model.type")
    }

    @Test func missingVocab() {
        expectError(Self.small.replacingOccurrences(of: "\"vocab\"", with: "\"vocabulary\""), .missing, "model.vocab")
    }

    @Test func scoreOfWrongType() {
        expectError(Self.small.replacingOccurrences(of: "[\"b\", -3.0]", with: "[\"b\", \"-3.0\"]"), .wrongType, "model.vocab[5][1]")
    }

    @Test func duplicatePiece() {
        expectError(Self.small.replacingOccurrences(of: "[\"b\", -3.0]", with: "[\"a\", -3.0]"), .duplicate, "model.vocab[6][0]")
    }

    @Test func unsupportedNormalizer() {
        expectError(Self.small.replacingOccurrences(of: "\"Strip\"", with: "\"NFKC\""), .unsupported, "normalizer.normalizers[0].type")
    }

    @Test func unsupportedRegex() {
        expectError(Self.small.replacingOccurrences(of: " {2,}", with: "[a-z]+"), .unsupported, "regex")
    }

    @Test func unkIDOutsideVocab() {
        expectError(Self.small.replacingOccurrences(of: "\"unk_id\": 2", with: "\"unk_id\": 70"), .missing, "model.unk_id")
    }

    @Test func missingSpecialToken() {
        expectError(Self.small.replacingOccurrences(of: "{\"</s>\": {", with: "{\"<eos>\": {"), .missing, "special_tokens")
    }

    @Test func wordPieceWithoutUnknown() {
        let json = """
            {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0, "##b": 1}}}
            """
        expectError(json, .missing, "[UNK]")
    }

    @Test func wordPieceDuplicateID() {
        let json = """
            {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "b": 1}}}
            """
        expectError(json, .duplicate, "id 1")
    }

    @Test func notAnObject() {
        expectError("[1, 2]", .wrongType, "the document")
    }

    /// Every prefix of a small valid file: an error (never a crash), with the file name.
    @Test func everyPrefix() throws {
        let bytes = Array(Self.small.utf8)
        for n in 0..<bytes.count {
            do {
                _ = try HFTokenizer(jsonBytes: Array(bytes[0..<n]), source: "bad.json")
                Issue.record("prefix of \(n) bytes loaded")
            } catch {
                #expect(error.description.contains("bad.json"))
            }
        }
    }

    @Test func seededMutationsOfSmall() {
        let original = Array(Self.small.utf8)
        var rng = SeededRandom(state: 42)
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let t = try? HFTokenizer(jsonBytes: bytes, source: "bad.json") {
                for text in ["ab  a <pad>", "", "😀  b"] { _ = try? t.encode(text) }
            }
        }
    }

    @Test(arguments: ["t5-nobf.tokenizer.json", "spm-bf.tokenizer.json"])
    func seededMutationsOfConverted(_ name: String) throws {
        let original = try Fixtures.bytes(name)
        var rng = SeededRandom(state: UInt64(original.count))
        for _ in 0..<25 {
            var bytes = original
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            if let t = try? HFTokenizer(jsonBytes: bytes, source: name) {
                _ = try? t.encode("pick up the ﬁ red block  😀")
            }
        }
    }

    @Test func vocabTxtErrors() {
        #expect(throws: TokenizerError.self) { _ = try HFTokenizer(wordPieceVocab: Array("[UNK]\na\na\n".utf8), source: "v.txt") }
        #expect(throws: TokenizerError.self) { _ = try HFTokenizer(wordPieceVocab: [0x5B, 0x55, 0x4E, 0x4B, 0x5D, 0x0A, 0xFF], source: "v.txt") }
        #expect(throws: TokenizerError.self) { _ = try HFTokenizer(wordPieceVocab: Array("a\nb\n".utf8), source: "v.txt") }
    }
}

@Suite struct InvalidUTF8Tests {
    @Test(arguments: [
        ([0x61, 0xFF], 1), ([0xC0, 0x80], 0), ([0xED, 0xA0, 0x80], 0), ([0x61, 0x62, 0xE2, 0x96], 2),
        ([0xF4, 0x90, 0x80, 0x80], 0), ([0x80], 0), ([0xF0, 0x9F, 0x98], 0),
    ] as [([UInt8], Int)])
    func rejected(_ bytes: [UInt8], _ offset: Int) throws {
        let t = try Tokenizer(fileBytes: Fixtures.bytes("tiny.model"), fileName: "tiny.model")
        do {
            _ = try t.encode(utf8: bytes)
            Issue.record("accepted invalid UTF-8 \(bytes)")
        } catch {
            #expect(error.code == .invalidUTF8)
            #expect(error.offset == offset)
        }
    }

    @Test func validEdgeCasesAccepted() throws {
        let t = try Tokenizer(fileBytes: Fixtures.bytes("tiny.model"), fileName: "tiny.model")
        for s in ["\u{FFFD}", "\u{FFFF}", "\u{10FFFF}", "\u{D7FF}", "\u{E000}", ""] {
            _ = try t.encode(utf8: Array(s.utf8))
        }
    }
}
