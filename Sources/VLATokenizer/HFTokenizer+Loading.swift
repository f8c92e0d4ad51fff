import VLAJSON

extension HFTokenizer {
    /// Loads a `tokenizer.json` file's bytes.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: the file name used in error messages.
    ///   - limits: size limits checked before allocation.
    /// - Throws: ``TokenizerError`` naming the file and the JSON path: `.malformed`/`.truncated` JSON,
    ///   `.wrongType`, `.missing` fields or vocabulary entries, `.duplicate` tokens, `.unsupported` components.
    public init(jsonBytes bytes: [UInt8], source: String, limits: TokenizerLimits = TokenizerLimits()) throws(TokenizerError) {
        if bytes.count > limits.maxFileBytes {
            throw TokenizerError(.limitExceeded, "\(source): \(bytes.count) bytes is above the limit of \(limits.maxFileBytes)")
        }
        let root = try JSONValue.parseTokenizerJSON(bytes, source: source, limits: limits)
        let r = Reader(source: source, limits: limits)
        _ = try r.object(root, "")
        guard let modelJSON = root["model"], !modelJSON.isNull else {
            throw TokenizerError(.missing, "\(source): model is missing", offset: root.offset)
        }
        let model = try r.model(modelJSON)
        let normalizer = try root["normalizer"].flatMap { $0.isNull ? nil : $0 }.map { j throws(TokenizerError) in try r.normalizer(j, "normalizer") }
        let preTokenizer = try root["pre_tokenizer"].flatMap { $0.isNull ? nil : $0 }.map { j throws(TokenizerError) in
            try r.preTokenizer(j, "pre_tokenizer")
        }
        let added = try r.addedTokens(root["added_tokens"])
        var post = PostProcessing()
        if let pp = root["post_processor"], !pp.isNull { post = try r.postProcessor(pp) }
        if let t = root["truncation"], !t.isNull { try r.truncation(t, &post) }
        if let p = root["padding"], !p.isNull { try r.padding(p, &post) }
        self.init(normalizer: normalizer, preTokenizer: preTokenizer, model: model, added: added, postProcessing: post)
    }

    /// Builds a BERT WordPiece tokenizer from a `vocab.txt` (one token per line, the line number is the id), as
    /// `tokenizers.BertWordPieceTokenizer(vocab, lowercase=...)`: BertNormalizer (clean text, CJK spacing,
    /// accents stripped when lowercasing), BertPreTokenizer, WordPiece with `##` and 100 characters per word,
    /// `[CLS] … [SEP]`, and the special tokens `[PAD] [UNK] [CLS] [SEP] [MASK]` matched in the raw text.
    /// - Throws: ``TokenizerError`` `.duplicate` for a repeated line, `.missing` when `[UNK]`, `[CLS]` or `[SEP]` is absent,
    ///   `.invalidUTF8` naming the line.
    public init(wordPieceVocab bytes: [UInt8], source: String, lowercase: Bool = true, limits: TokenizerLimits = TokenizerLimits())
        throws(TokenizerError)
    {
        if bytes.count > limits.maxFileBytes {
            throw TokenizerError(.limitExceeded, "\(source): \(bytes.count) bytes is above the limit of \(limits.maxFileBytes)")
        }
        var vocab: [(token: [UInt8], id: Int32)] = []
        var seen: [[UInt8]: Int] = [:]
        var lineStart = 0
        var line = 0
        while lineStart < bytes.count {
            var e = lineStart
            while e < bytes.count, bytes[e] != 0x0A { e += 1 }
            var t = Array(bytes[lineStart..<e])
            if let bad = UTF8Check.firstInvalidOffset(t) {
                throw TokenizerError(.invalidUTF8, "\(source): line \(line + 1) is not valid UTF-8", offset: lineStart + bad)
            }
            // Trailing whitespace is dropped, as `tokenizers` reads vocab.txt (`trim_end`).
            var scalars = UTF8Check.scalars(t[...])
            while let last = scalars.last, UnicodeRules.isWhitespace(last) { scalars.removeLast() }
            t = []
            for s in scalars { UTF8Check.append(s, to: &t) }
            if let prev = seen[t] {
                throw TokenizerError(
                    .duplicate, "\(source): line \(line + 1) repeats the token \"\(UTF8Check.string(t))\" of line \(prev + 1)",
                    offset: lineStart)
            }
            if t.count > limits.maxPieceBytes {
                throw TokenizerError(.limitExceeded, "\(source): line \(line + 1) is longer than \(limits.maxPieceBytes) bytes", offset: lineStart)
            }
            seen[t] = line
            vocab.append((t, Int32(line)))
            line += 1
            if line > limits.maxVocabulary {
                throw TokenizerError(.limitExceeded, "\(source): more than \(limits.maxVocabulary) lines", offset: lineStart)
            }
            lineStart = e + 1
        }
        func id(_ token: String) throws(TokenizerError) -> Int32 {
            guard let i = seen[Array(token.utf8)] else {
                throw TokenizerError(.missing, "\(source): the special token \(token) is not in the vocabulary")
            }
            return Int32(i)
        }
        let wp = try WordPiece(vocab: vocab, unknownToken: "[UNK]", prefix: "##", maxInputCharsPerWord: 100, source: source)
        var added: [AddedToken] = []
        for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] {
            if let i = seen[Array(t.utf8)] { added.append(AddedToken(id: Int32(i), content: t, special: true)) }
        }
        var post = PostProcessing()
        post.prefix = [PostProcessing.Special(id: try id("[CLS]"), token: "[CLS]")]
        post.suffix = [PostProcessing.Special(id: try id("[SEP]"), token: "[SEP]")]
        self.init(
            normalizer: .bert(cleanText: true, chinese: true, stripAccents: lowercase, lowercase: lowercase), preTokenizer: .bert,
            model: .wordPiece(wp), added: added, postProcessing: post)
    }
}

/// Typed access to tokenizer.json members with errors that name the path.
private struct Reader {
    let source: String
    let limits: TokenizerLimits

    func fail(_ code: TokenizerError.Code, _ path: String, _ what: String, _ j: JSONValue?) -> TokenizerError {
        TokenizerError(code, "\(source): \(path) \(what)", offset: j?.offset)
    }

    func object(_ j: JSONValue, _ path: String) throws(TokenizerError) -> [(key: String, value: JSONValue)] {
        guard case .object(let m) = j.kind else { throw fail(.wrongType, path.isEmpty ? "the document" : path, "is \(j.typeName), expected an object", j) }
        return m
    }

    func member(_ j: JSONValue, _ key: String, _ path: String) throws(TokenizerError) -> JSONValue {
        guard let v = j[key] else { throw fail(.missing, "\(path).\(key)", "is missing", j) }
        return v
    }

    func string(_ j: JSONValue, _ path: String) throws(TokenizerError) -> String {
        guard case .string(let s) = j.kind else { throw fail(.wrongType, path, "is \(j.typeName), expected a string", j) }
        return s
    }

    func bool(_ j: JSONValue, _ path: String) throws(TokenizerError) -> Bool {
        guard case .bool(let b) = j.kind else { throw fail(.wrongType, path, "is \(j.typeName), expected a boolean", j) }
        return b
    }

    func number(_ j: JSONValue, _ path: String) throws(TokenizerError) -> Double {
        // Valid number syntax always converts (to ±infinity beyond Double's range, which callers refuse).
        guard case .number(let text) = j.kind, let d = Double(text) else { throw fail(.wrongType, path, "is \(j.typeName), expected a number", j) }
        return d
    }

    func int(_ j: JSONValue, _ path: String, max: Int) throws(TokenizerError) -> Int {
        let d = try number(j, path)
        guard d >= 0, d <= Double(max), d == d.rounded() else {
            throw fail(.malformed, path, "is \(d), expected an integer in 0...\(max)", j)
        }
        return Int(d)
    }

    func array(_ j: JSONValue, _ path: String) throws(TokenizerError) -> [JSONValue] {
        guard case .array(let a) = j.kind else { throw fail(.wrongType, path, "is \(j.typeName), expected an array", j) }
        return a
    }

    func optionalBool(_ j: JSONValue, _ key: String, _ path: String, default d: Bool) throws(TokenizerError) -> Bool {
        guard let v = j[key], !v.isNull else { return d }
        return try bool(v, "\(path).\(key)")
    }

    func type(_ j: JSONValue, _ path: String) throws(TokenizerError) -> String {
        _ = try object(j, path)
        return try string(try member(j, "type", path), "\(path).type")
    }

    // MARK: Model

    func model(_ j: JSONValue) throws(TokenizerError) -> HFTokenizer.Model {
        let kind = try type(j, "model")
        switch kind {
        case "Unigram":
            let vocabJSON = try array(try member(j, "vocab", "model"), "model.vocab")
            guard vocabJSON.count <= limits.maxVocabulary else {
                throw fail(.limitExceeded, "model.vocab", "has \(vocabJSON.count) entries, above \(limits.maxVocabulary)", j)
            }
            guard !vocabJSON.isEmpty else { throw fail(.missing, "model.vocab", "is empty", j) }
            var vocab: [(bytes: [UInt8], score: Double)] = []
            var seen: [[UInt8]: Int] = [:]
            for (i, e) in vocabJSON.enumerated() {
                let path = "model.vocab[\(i)]"
                let pair = try array(e, path)
                guard pair.count == 2 else { throw fail(.malformed, path, "has \(pair.count) items, expected [piece, score]", e) }
                let piece = Array(try string(pair[0], "\(path)[0]").utf8)
                let score = try number(pair[1], "\(path)[1]")
                guard !piece.isEmpty else { throw fail(.malformed, "\(path)[0]", "is an empty piece", pair[0]) }
                guard piece.count <= limits.maxPieceBytes else { throw fail(.limitExceeded, "\(path)[0]", "is longer than \(limits.maxPieceBytes) bytes", pair[0]) }
                if let prev = seen[piece] {
                    throw fail(.duplicate, "\(path)[0]", "\"\(UTF8Check.string(piece))\" is already model.vocab[\(prev)]", pair[0])
                }
                seen[piece] = i
                vocab.append((piece, score))
            }
            var unk: Int?
            if let u = j["unk_id"], !u.isNull {
                let v = try int(u, "model.unk_id", max: Int(Int32.max))
                guard v < vocab.count else { throw fail(.missing, "model.unk_id", "\(v) is not in the vocabulary of \(vocab.count)", u) }
                unk = v
            }
            let byteFallback = try optionalBool(j, "byte_fallback", "model", default: false)
            return .unigram(HFUnigram(vocab: vocab, unknownID: unk, byteFallback: byteFallback))
        case "WordPiece":
            let vocabJSON = try object(try member(j, "vocab", "model"), "model.vocab")
            guard vocabJSON.count <= limits.maxVocabulary else {
                throw fail(.limitExceeded, "model.vocab", "has \(vocabJSON.count) entries, above \(limits.maxVocabulary)", j)
            }
            var vocab: [(token: [UInt8], id: Int32)] = []
            var seenTokens: Set<String> = []
            var seenIDs: [Int32: String] = [:]
            for (k, v) in vocabJSON {
                let path = "model.vocab[\"\(k)\"]"
                let id = Int32(try int(v, path, max: limits.maxVocabulary - 1))
                guard seenTokens.insert(k).inserted else { throw fail(.duplicate, path, "occurs twice", v) }
                if let other = seenIDs[id] { throw fail(.duplicate, path, "has id \(id), already used by \"\(other)\"", v) }
                seenIDs[id] = k
                guard !k.isEmpty, k.utf8.count <= limits.maxPieceBytes else { throw fail(.malformed, path, "is empty or too long", v) }
                vocab.append((Array(k.utf8), id))
            }
            let unk = try string(try member(j, "unk_token", "model"), "model.unk_token")
            var prefix = "##"
            if let p = j["continuing_subword_prefix"], !p.isNull { prefix = try string(p, "model.continuing_subword_prefix") }
            var maxChars = 100
            if let m = j["max_input_chars_per_word"], !m.isNull {
                maxChars = try int(m, "model.max_input_chars_per_word", max: Int(Int32.max))
            }
            return .wordPiece(try WordPiece(vocab: vocab, unknownToken: unk, prefix: prefix, maxInputCharsPerWord: maxChars, source: source))
        default:
            throw fail(.unsupported, "model.type", "\"\(kind)\" is not supported (Unigram and WordPiece are)", j)
        }
    }

    // MARK: Normalizers

    func pattern(_ j: JSONValue, _ path: String) throws(TokenizerError) -> HFTokenizer.Pattern {
        _ = try object(j, path)
        if let s = j["String"] { return .literal(Array(try string(s, "\(path).String").utf8)) }
        if let r = j["Regex"] { return .regex(try SimpleRegex(try string(r, "\(path).Regex"), field: "\(source): \(path).Regex", maxStates: limits.maxRegexStates)) }
        throw fail(.malformed, path, "has neither String nor Regex", j)
    }

    func normalizer(_ j: JSONValue, _ path: String) throws(TokenizerError) -> HFTokenizer.Normalizer {
        let kind = try type(j, path)
        switch kind {
        case "Sequence":
            let list = try array(try member(j, "normalizers", path), "\(path).normalizers")
            guard list.count <= limits.maxListItems else { throw fail(.limitExceeded, "\(path).normalizers", "is too long", j) }
            var out: [HFTokenizer.Normalizer] = []
            for (i, n) in list.enumerated() { out.append(try normalizer(n, "\(path).normalizers[\(i)]")) }
            return .sequence(out)
        case "Precompiled":
            let b64 = try string(try member(j, "precompiled_charsmap", path), "\(path).precompiled_charsmap")
            guard let bytes = Base64.decode(b64) else {
                throw fail(.malformed, "\(path).precompiled_charsmap", "is not valid base64", j)
            }
            let map = try PrecompiledCharsMap(bytes: bytes, field: "\(source): \(path).precompiled_charsmap", limits: limits)
            if let bad = UTF8Check.firstInvalidOffset(map.strings) {
                throw fail(.invalidUTF8, "\(path).precompiled_charsmap", "normalized strings are not valid UTF-8 at their byte \(bad)", j)
            }
            return .precompiled(map, ascii: try HFTokenizer.asciiTable(map))
        case "Strip":
            return .strip(
                left: try optionalBool(j, "strip_left", path, default: false),
                right: try optionalBool(j, "strip_right", path, default: false))
        case "Replace":
            let p = try pattern(try member(j, "pattern", path), "\(path).pattern")
            let content = try string(try member(j, "content", path), "\(path).content")
            return .replace(p, Array(content.utf8))
        case "BertNormalizer":
            let lowercase = try optionalBool(j, "lowercase", path, default: true)
            var strip = lowercase
            if let s = j["strip_accents"], !s.isNull { strip = try bool(s, "\(path).strip_accents") }
            return .bert(
                cleanText: try optionalBool(j, "clean_text", path, default: true),
                chinese: try optionalBool(j, "handle_chinese_chars", path, default: true), stripAccents: strip, lowercase: lowercase)
        case "Lowercase":
            return .lowercase
        default:
            throw fail(.unsupported, "\(path).type", "\"\(kind)\" is not a supported normalizer", j)
        }
    }

    // MARK: Pre-tokenizers

    func preTokenizer(_ j: JSONValue, _ path: String) throws(TokenizerError) -> HFTokenizer.PreTokenizer {
        let kind = try type(j, path)
        switch kind {
        case "Sequence":
            let list = try array(try member(j, "pretokenizers", path), "\(path).pretokenizers")
            guard list.count <= limits.maxListItems else { throw fail(.limitExceeded, "\(path).pretokenizers", "is too long", j) }
            var out: [HFTokenizer.PreTokenizer] = []
            for (i, n) in list.enumerated() { out.append(try preTokenizer(n, "\(path).pretokenizers[\(i)]")) }
            return .sequence(out)
        case "Metaspace":
            let rep = try string(try member(j, "replacement", path), "\(path).replacement")
            guard rep.unicodeScalars.count == 1 else { throw fail(.malformed, "\(path).replacement", "must be one character", j) }
            var prepend = HFTokenizer.Prepend.always
            if let s = j["prepend_scheme"], !s.isNull {
                switch try string(s, "\(path).prepend_scheme") {
                case "always": prepend = .always
                case "first": prepend = .first
                case "never": prepend = .never
                case let other: throw fail(.unsupported, "\(path).prepend_scheme", "\"\(other)\" is not always, first or never", s)
                }
            } else if let a = j["add_prefix_space"], !a.isNull {
                prepend = try bool(a, "\(path).add_prefix_space") ? .always : .never
            }
            let split = try optionalBool(j, "split", path, default: true)
            return .metaspace(replacement: Array(rep.utf8), prepend: prepend, split: split)
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "BertPreTokenizer":
            return .bert
        case "Split":
            let p = try pattern(try member(j, "pattern", path), "\(path).pattern")
            if try optionalBool(j, "invert", path, default: false) {
                throw fail(.unsupported, "\(path).invert", "true is not supported", j)
            }
            let behavior = try string(try member(j, "behavior", path), "\(path).behavior")
            switch behavior {
            case "Isolated": return .split(p, .isolated)
            case "Removed": return .split(p, .removed)
            default: throw fail(.unsupported, "\(path).behavior", "\"\(behavior)\" is not supported (Isolated and Removed are)", j)
            }
        default:
            throw fail(.unsupported, "\(path).type", "\"\(kind)\" is not a supported pre-tokenizer", j)
        }
    }

    // MARK: Added tokens, post-processing

    func addedTokens(_ j: JSONValue?) throws(TokenizerError) -> [HFTokenizer.AddedToken] {
        guard let j, !j.isNull else { return [] }
        let list = try array(j, "added_tokens")
        guard list.count <= limits.maxListItems else { throw fail(.limitExceeded, "added_tokens", "has more than \(limits.maxListItems) entries", j) }
        var out: [HFTokenizer.AddedToken] = []
        var seen: Set<String> = []
        for (i, t) in list.enumerated() {
            let path = "added_tokens[\(i)]"
            _ = try object(t, path)
            let id = Int32(try int(try member(t, "id", path), "\(path).id", max: Int(Int32.max)))
            let content = try string(try member(t, "content", path), "\(path).content")
            guard !content.isEmpty else { throw fail(.malformed, "\(path).content", "is empty", t) }
            guard seen.insert(content).inserted else { throw fail(.duplicate, "\(path).content", "\"\(content)\" occurs twice", t) }
            for flag in ["lstrip", "rstrip", "single_word"] where try optionalBool(t, flag, path, default: false) {
                throw fail(.unsupported, "\(path).\(flag)", "true is not supported", t)
            }
            let special = try optionalBool(t, "special", path, default: false)
            out.append(
                HFTokenizer.AddedToken(
                    id: id, content: content, special: special,
                    normalized: try optionalBool(t, "normalized", path, default: !special)))
        }
        return out
    }

    func special(_ j: JSONValue, _ key: String, _ specials: JSONValue?, _ path: String) throws(TokenizerError) -> [PostProcessing.Special] {
        guard let specials else { throw fail(.missing, "\(path).special_tokens", "is missing", j) }
        guard let entry = specials[key] else { throw fail(.missing, "\(path).special_tokens[\"\(key)\"]", "is missing", specials) }
        let ids = try array(try member(entry, "ids", "\(path).special_tokens[\"\(key)\"]"), "\(path).special_tokens[\"\(key)\"].ids")
        let tokens = try array(try member(entry, "tokens", "\(path).special_tokens[\"\(key)\"]"), "\(path).special_tokens[\"\(key)\"].tokens")
        guard ids.count == tokens.count else { throw fail(.malformed, "\(path).special_tokens[\"\(key)\"]", "has \(ids.count) ids but \(tokens.count) tokens", entry) }
        var out: [PostProcessing.Special] = []
        for (i, t) in zip(ids, tokens) {
            out.append(PostProcessing.Special(id: Int32(try int(i, "\(path).special_tokens[\"\(key)\"].ids", max: Int(Int32.max))), token: try string(t, "\(path).special_tokens[\"\(key)\"].tokens")))
        }
        return out
    }

    func postProcessor(_ j: JSONValue) throws(TokenizerError) -> PostProcessing {
        let kind = try type(j, "post_processor")
        var post = PostProcessing()
        switch kind {
        case "TemplateProcessing":
            let single = try array(try member(j, "single", "post_processor"), "post_processor.single")
            var sawSequence = false
            for (i, item) in single.enumerated() {
                let path = "post_processor.single[\(i)]"
                if let s = item["SpecialToken"] {
                    let id = try string(try member(s, "id", "\(path).SpecialToken"), "\(path).SpecialToken.id")
                    let toks = try special(j, id, j["special_tokens"], "post_processor")
                    if sawSequence { post.suffix += toks } else { post.prefix += toks }
                } else if item["Sequence"] != nil {
                    guard !sawSequence else { throw fail(.unsupported, path, "is a second sequence in a single template", item) }
                    sawSequence = true
                } else {
                    throw fail(.malformed, path, "is neither SpecialToken nor Sequence", item)
                }
            }
            guard sawSequence else { throw fail(.malformed, "post_processor.single", "has no Sequence item", j) }
        case "BertProcessing":
            for (key, isPrefix) in [("cls", true), ("sep", false)] {
                let pair = try array(try member(j, key, "post_processor"), "post_processor.\(key)")
                guard pair.count == 2 else { throw fail(.malformed, "post_processor.\(key)", "expected [token, id]", j) }
                let s = PostProcessing.Special(
                    id: Int32(try int(pair[1], "post_processor.\(key)[1]", max: Int(Int32.max))), token: try string(pair[0], "post_processor.\(key)[0]"))
                if isPrefix { post.prefix = [s] } else { post.suffix = [s] }
            }
        default:
            throw fail(.unsupported, "post_processor.type", "\"\(kind)\" is not supported (TemplateProcessing and BertProcessing are)", j)
        }
        return post
    }

    func truncation(_ j: JSONValue, _ post: inout PostProcessing) throws(TokenizerError) {
        _ = try object(j, "truncation")
        post.maxLength = try int(try member(j, "max_length", "truncation"), "truncation.max_length", max: limits.maxSequenceLength)
        if let d = j["direction"], !d.isNull {
            switch try string(d, "truncation.direction") {
            case "Right": post.truncationSide = .right
            case "Left": post.truncationSide = .left
            case let other: throw fail(.unsupported, "truncation.direction", "\"\(other)\" is not Left or Right", d)
            }
        }
        if let s = j["stride"], !s.isNull, try int(s, "truncation.stride", max: limits.maxSequenceLength) != 0 {
            throw fail(.unsupported, "truncation.stride", "a non-zero stride is not supported", s)
        }
    }

    func padding(_ j: JSONValue, _ post: inout PostProcessing) throws(TokenizerError) {
        _ = try object(j, "padding")
        let strategy = try member(j, "strategy", "padding")
        var length: Int?
        if case .string(let s) = strategy.kind {
            guard s == "BatchLongest" else { throw fail(.unsupported, "padding.strategy", "\"\(s)\" is not supported", strategy) }
        } else if let f = strategy["Fixed"] {
            length = try int(f, "padding.strategy.Fixed", max: limits.maxSequenceLength)
        } else {
            throw fail(.unsupported, "padding.strategy", "is neither BatchLongest nor Fixed", strategy)
        }
        if let m = j["pad_to_multiple_of"], !m.isNull, let l = length {
            let k = try int(m, "padding.pad_to_multiple_of", max: limits.maxSequenceLength)
            if k > 0, l % k != 0 { length = (l / k + 1) * k }
        }
        post.padToLength = length
        if let d = j["direction"], !d.isNull {
            switch try string(d, "padding.direction") {
            case "Right": post.paddingSide = .right
            case "Left": post.paddingSide = .left
            case let other: throw fail(.unsupported, "padding.direction", "\"\(other)\" is not Left or Right", d)
            }
        }
        let padID = try int(try member(j, "pad_id", "padding"), "padding.pad_id", max: Int(Int32.max))
        let padToken = try string(try member(j, "pad_token", "padding"), "padding.pad_token")
        post.pad = PostProcessing.Special(id: Int32(padID), token: padToken)
    }
}

/// Standard base64 (with padding), for the `Precompiled` normalizer's `precompiled_charsmap`.
enum Base64 {
    static func decode(_ s: String) -> [UInt8]? {
        var table = [Int16](repeating: -1, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = Int16(i) }
        let bytes = Array(s.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var i = 0
        while i < bytes.count {
            var v: UInt32 = 0
            var pad = 0
            for k in 0..<4 {
                let c = bytes[i + k]
                if c == 0x3D {
                    guard i + 4 == bytes.count, k >= 2 else { return nil }
                    pad += 1
                    v <<= 6
                } else {
                    guard pad == 0, table[Int(c)] >= 0 else { return nil }
                    v = v << 6 | UInt32(table[Int(c)])
                }
            }
            out.append(UInt8(v >> 16))
            if pad < 2 { out.append(UInt8((v >> 8) & 0xFF)) }
            if pad < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}
