/// A Hugging Face `tokenizer.json` pipeline, encoding exactly as the `tokenizers` library does for the
/// components it supports: added tokens matched first on the raw text, then per segment the normalizer,
/// the pre-tokenizer and the model (Unigram or WordPiece), then the post-processor, truncation and padding
/// that the file configures.
///
/// Supported components (anything else is rejected at load time with `.unsupported`):
/// - normalizers: `Sequence`, `Precompiled`, `Strip`, `Replace` (string or simple regex), `BertNormalizer`,
///   `Lowercase`;
/// - pre-tokenizers: `Sequence`, `Metaspace`, `WhitespaceSplit`, `BertPreTokenizer`, `Split` (simple regex
///   or string, `Isolated` or `Removed`);
/// - models: `Unigram`, `WordPiece`;
/// - post-processors: `TemplateProcessing` (single sequence), `BertProcessing`.
///
/// > Note: <Docs/Tokenizers.md#tokenizerjson>
public struct HFTokenizer: Sendable {
    indirect enum Normalizer: Sendable {
        case sequence([Normalizer])
        case precompiled(PrecompiledCharsMap, ascii: [[UInt8]?])
        case strip(left: Bool, right: Bool)
        case replace(Pattern, [UInt8])
        case bert(cleanText: Bool, chinese: Bool, stripAccents: Bool, lowercase: Bool)
        case lowercase
    }

    enum Pattern: Sendable {
        case literal([UInt8])
        case regex(SimpleRegex)

        func matches(in text: [UInt8]) -> [Range<Int>] {
            switch self {
            case .regex(let r):
                return r.matches(in: text, 0, text.count)
            case .literal(let lit):
                if lit.isEmpty || text.count < lit.count { return [] }
                var out: [Range<Int>] = []
                var p = 0
                let first = lit[0]
                while p + lit.count <= text.count {
                    if text[p] == first, text[p..<(p + lit.count)].elementsEqual(lit) {
                        out.append(p..<(p + lit.count))
                        p += lit.count
                    } else {
                        p += 1
                    }
                }
                return out
            }
        }
    }

    enum Prepend: Sendable { case always, first, never }
    enum SplitBehavior: Sendable { case isolated, removed }

    indirect enum PreTokenizer: Sendable {
        case sequence([PreTokenizer])
        case metaspace(replacement: [UInt8], prepend: Prepend, split: Bool)
        case whitespaceSplit
        case bert
        case split(Pattern, SplitBehavior)
    }

    enum Model: Sendable {
        case unigram(HFUnigram)
        case wordPiece(WordPiece)
    }

    struct AddedToken: Sendable {
        var id: Int32
        var content: String
        var special: Bool
        /// Matched in the normalized text (with its content normalized) instead of the raw text.
        var normalized = false
    }

    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: Model
    let added: [AddedToken]
    /// Tokens matched in the raw text (`normalized: false`), value: index in `added`.
    let addedTrie: PieceTrie
    let hasRawAdded: Bool
    /// Tokens matched in the normalized text, by their normalized content; value: index in `added`.
    let normalizedAddedTrie: PieceTrie
    let hasNormalizedAdded: Bool
    /// True when a pre-tokenizer needs to know whether a split starts the original text
    /// (`Metaspace` with `prepend_scheme: first`).
    let tracksOrigin: Bool
    /// The post-processing the file configures (special tokens, truncation, padding).
    public let postProcessing: PostProcessing

    init(
        normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: Model, added: [AddedToken],
        postProcessing: PostProcessing
    ) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.added = added
        let raw = added.enumerated().filter { !$0.element.normalized }
        self.addedTrie = PieceTrie(raw.map { (Array($0.element.content.utf8), Int32($0.offset)) })
        self.hasRawAdded = !raw.isEmpty
        var normalizedEntries: [(bytes: [UInt8], value: Int32)] = []
        for (i, a) in added.enumerated() where a.normalized {
            var content = Array(a.content.utf8)
            if let normalizer, let n = try? Self.normalize(content, normalizer) { content = n }
            if !content.isEmpty { normalizedEntries.append((content, Int32(i))) }
        }
        self.normalizedAddedTrie = PieceTrie(normalizedEntries)
        self.hasNormalizedAdded = !normalizedEntries.isEmpty
        func needsOrigin(_ p: PreTokenizer?) -> Bool {
            switch p {
            case .sequence(let list)?: list.contains { needsOrigin($0) }
            case .metaspace(_, .first, _)?: true
            default: false
            }
        }
        self.tracksOrigin = needsOrigin(preTokenizer)
        self.postProcessing = postProcessing
    }

    // MARK: Encoding

    /// Encodes text as `tokenizers.Tokenizer.encode(text)` does.
    /// - Parameters:
    ///   - text: the text.
    ///   - postProcessing: overrides the file's post-processing; nil uses the file's.
    /// - Throws: ``TokenizerError`` for a corrupt character map or a missing unknown id.
    public func encode(_ text: String, postProcessing: PostProcessing? = nil) throws(TokenizerError) -> Encoding {
        try encodeValidated(Array(text.utf8), postProcessing: postProcessing)
    }

    /// Encodes UTF-8 bytes.
    /// - Throws: ``TokenizerError`` `.invalidUTF8` with the offset of the first bad byte; nothing is replaced.
    public func encode(utf8 bytes: [UInt8], postProcessing: PostProcessing? = nil) throws(TokenizerError) -> Encoding {
        if let bad = UTF8Check.firstInvalidOffset(bytes) {
            throw TokenizerError(.invalidUTF8, "text is not valid UTF-8", offset: bad)
        }
        return try encodeValidated(bytes, postProcessing: postProcessing)
    }

    /// Segments without any post-processing (no special tokens, truncation or padding).
    func segment(_ text: [UInt8]) throws(TokenizerError) -> Encoding {
        var ids: [Int32] = []
        var tokens: [String] = []
        var segStart = 0
        var p = 0
        let n = text.count
        if !hasRawAdded {
            try encodeSegment(text[...], atStart: true, &ids, &tokens)
            return Encoding(ids: ids, tokens: tokens)
        }
        while p < n {
            if let m = addedTrie.longestPrefix(text, from: p, limit: n) {
                if p > segStart { try encodeSegment(text[segStart..<p], atStart: segStart == 0, &ids, &tokens) }
                let a = added[Int(m.value)]
                ids.append(a.id)
                tokens.append(a.content)
                p = m.end
                segStart = p
            } else {
                p += 1
            }
        }
        if segStart < n { try encodeSegment(text[segStart..<n], atStart: segStart == 0, &ids, &tokens) }
        return Encoding(ids: ids, tokens: tokens)
    }

    func encodeValidated(_ text: [UInt8], postProcessing override: PostProcessing?) throws(TokenizerError) -> Encoding {
        (override ?? postProcessing).apply(try segment(text))
    }

    private func encodeSegment(_ seg: ArraySlice<UInt8>, atStart: Bool, _ ids: inout [Int32], _ tokens: inout [String])
        throws(TokenizerError)
    {
        var text = Array(seg)
        var atStart = atStart
        if let normalizer {
            if atStart && tracksOrigin {
                let (t, keeps) = try Self.normalizeTracking(text, normalizer)
                text = t
                atStart = keeps
            } else {
                text = try Self.normalize(text, normalizer)
            }
        }
        if text.isEmpty { return }
        if !hasNormalizedAdded {
            try encodeNormalized(text, atStart: atStart, &ids, &tokens)
            return
        }
        // Tokens declared `normalized: true` are matched in the normalized text (leftmost, longest).
        var p = 0
        var pieceStart = 0
        while p < text.count {
            if let m = normalizedAddedTrie.longestPrefix(text, from: p, limit: text.count) {
                if p > pieceStart {
                    try encodeNormalized(Array(text[pieceStart..<p]), atStart: atStart && pieceStart == 0, &ids, &tokens)
                }
                let a = added[Int(m.value)]
                ids.append(a.id)
                tokens.append(a.content)
                p = m.end
                pieceStart = p
            } else {
                p += 1
            }
        }
        if pieceStart < text.count {
            try encodeNormalized(Array(text[pieceStart...]), atStart: atStart && pieceStart == 0, &ids, &tokens)
        }
    }

    private func encodeNormalized(_ text: [UInt8], atStart: Bool, _ ids: inout [Int32], _ tokens: inout [String])
        throws(TokenizerError)
    {
        var splits: [(bytes: [UInt8], atStart: Bool)] = [(text, atStart)]
        if let preTokenizer { splits = Self.preTokenize(splits, preTokenizer) }
        for s in splits where !s.bytes.isEmpty {
            switch model {
            case .unigram(let u): try u.encode(s.bytes, into: &ids, &tokens)
            case .wordPiece(let w): w.encode(s.bytes, into: &ids, &tokens)
            }
        }
    }

    // MARK: Normalizers

    /// Normalizes and tells whether the first character of the result still comes from the first character
    /// of the input (what `offsets_original().0 == 0` tests in `tokenizers`' Metaspace `prepend_scheme: first`).
    static func normalizeTracking(_ text: [UInt8], _ n: Normalizer) throws(TokenizerError) -> ([UInt8], Bool) {
        if case .sequence(let list) = n {
            var t = text
            var keeps = true
            for step in list {
                let (u, k) = try normalizeTracking(t, step)
                t = u
                keeps = keeps && k
            }
            return (t, keeps)
        }
        let keeps = try firstSurvives(text, n)
        return (try normalize(text, n), keeps)
    }

    /// Whether a single (non-sequence) normalizer keeps the first character of `text` as the origin of its
    /// output's first character.
    private static func firstSurvives(_ text: [UInt8], _ n: Normalizer) throws(TokenizerError) -> Bool {
        guard !text.isEmpty else { return true }
        let firstLen = min(UTF8Check.sequenceLength(text[0]), text.count)
        let first = UTF8Check.scalars(text[0..<firstLen]).first ?? " "
        switch n {
        case .sequence, .lowercase:
            return true
        case .strip(let left, _):
            return !(left && UnicodeRules.isWhitespace(first))
        case .replace(let pattern, let content):
            guard content.isEmpty, let m = pattern.matches(in: text).first else { return true }
            return !(m.lowerBound == 0 && !m.isEmpty)
        case .bert(let cleanText, _, let stripAccents, _):
            if cleanText && (first.value == 0 || first.value == 0xFFFD || UnicodeRules.isBertControl(first)) { return false }
            if stripAccents && UnicodeRules.isBertNonspacingMark(first) { return false }
            return true
        case .precompiled(let map, _):
            let string = UTF8Check.string(text)
            guard let g = string.first else { return true }
            let gb = Array(g.utf8)
            if gb.count < 6, let r = try transform(gb, map) { return !r.isEmpty }
            if let r = try transform(Array(text[0..<firstLen]), map) { return !r.isEmpty }
            return true
        }
    }

    static func normalize(_ text: [UInt8], _ n: Normalizer) throws(TokenizerError) -> [UInt8] {
        switch n {
        case .sequence(let list):
            var t = text
            for step in list { t = try normalize(t, step) }
            return t
        case .precompiled(let map, let ascii):
            return try precompiled(text, map, ascii)
        case .strip(let left, let right):
            let scalars = UTF8Check.scalars(text[...])
            var lo = 0
            var hi = scalars.count
            if left { while lo < hi, UnicodeRules.isWhitespace(scalars[lo]) { lo += 1 } }
            if right { while hi > lo, UnicodeRules.isWhitespace(scalars[hi - 1]) { hi -= 1 } }
            if lo == 0 && hi == scalars.count { return text }
            var out: [UInt8] = []
            for s in scalars[lo..<hi] { UTF8Check.append(s, to: &out) }
            return out
        case .replace(let pattern, let content):
            let ms = pattern.matches(in: text)
            if ms.isEmpty { return text }
            var out: [UInt8] = []
            var last = 0
            for m in ms {
                out.append(contentsOf: text[last..<m.lowerBound])
                out.append(contentsOf: content)
                last = m.upperBound
            }
            out.append(contentsOf: text[last...])
            return out
        case .bert(let cleanText, let chinese, let stripAccents, let lowercase):
            return bert(text, cleanText: cleanText, chinese: chinese, stripAccents: stripAccents, lowercase: lowercase)
        case .lowercase:
            var out: [Unicode.Scalar] = []
            for s in UTF8Check.scalars(text[...]) { UnicodeRules.appendLowercase(s, to: &out) }
            var bytes: [UInt8] = []
            for s in out { UTF8Check.append(s, to: &bytes) }
            return bytes
        }
    }

    /// The first (shortest) key of the map that is a prefix of `bytes`, as `spm_precompiled::transform`.
    private static func transform(_ bytes: [UInt8], _ map: PrecompiledCharsMap) throws(TokenizerError) -> ArraySlice<UInt8>? {
        var first: Int?
        let ok = map.forEachPrefix(bytes, from: 0, to: bytes.count) { _, v in
            if first == nil { first = v }
        }
        if !ok { throw TokenizerError(.malformed, "Precompiled.precompiled_charsmap: the trie walks outside its units") }
        guard let v = first else { return nil }
        guard let r = map.replacement(at: v) else {
            throw TokenizerError(.malformed, "Precompiled.precompiled_charsmap: replacement offset \(v) is outside the string area")
        }
        return r
    }

    /// The replacement of each ASCII byte on its own (nil: unchanged), computed once at load.
    static func asciiTable(_ map: PrecompiledCharsMap) throws(TokenizerError) -> [[UInt8]?] {
        var table: [[UInt8]?] = []
        for b in 0..<128 {
            if let r = try transform([UInt8(b)], map) { table.append(Array(r)) } else { table.append(nil) }
        }
        return table
    }

    /// The `Precompiled` normalizer of `tokenizers`: per extended grapheme cluster, a cluster shorter than
    /// 6 bytes is replaced whole by the mapping of its shortest mapped prefix; otherwise each character is
    /// mapped on its own.
    private static func precompiled(_ text: [UInt8], _ map: PrecompiledCharsMap, _ ascii: [[UInt8]?]) throws(TokenizerError)
        -> [UInt8]
    {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        let simple = !text.contains { $0 >= 0x80 || $0 == 0x0D }
        if simple {
            for b in text {
                if let r = ascii[Int(b)] { out.append(contentsOf: r) } else { out.append(b) }
            }
            return out
        }
        let string = UTF8Check.string(text)
        for ch in string {
            let g = Array(ch.utf8)
            if g.count == 1 {
                if let r = ascii[Int(g[0])] { out.append(contentsOf: r) } else { out.append(g[0]) }
                continue
            }
            if g.count < 6, let r = try transform(g, map) {
                out.append(contentsOf: r)
                continue
            }
            for s in ch.unicodeScalars {
                var sb: [UInt8] = []
                UTF8Check.append(s, to: &sb)
                if let r = try transform(sb, map) { out.append(contentsOf: r) } else { out.append(contentsOf: sb) }
            }
        }
        return out
    }

    private static func bert(_ text: [UInt8], cleanText: Bool, chinese: Bool, stripAccents: Bool, lowercase: Bool) -> [UInt8] {
        var scalars = UTF8Check.scalars(text[...])
        if cleanText {
            var kept: [Unicode.Scalar] = []
            kept.reserveCapacity(scalars.count)
            for s in scalars {
                if s.value == 0 || s.value == 0xFFFD || UnicodeRules.isBertControl(s) { continue }
                kept.append(UnicodeRules.isWhitespace(s) ? " " : s)
            }
            scalars = kept
        }
        if chinese {
            var spaced: [Unicode.Scalar] = []
            spaced.reserveCapacity(scalars.count)
            for s in scalars {
                if UnicodeRules.isChineseChar(s) {
                    spaced.append(" ")
                    spaced.append(s)
                    spaced.append(" ")
                } else {
                    spaced.append(s)
                }
            }
            scalars = spaced
        }
        if stripAccents {
            scalars = UnicodeRules.nfd(scalars).filter { !UnicodeRules.isBertNonspacingMark($0) }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for s in scalars { UnicodeRules.appendLowercase(s, to: &lowered) }
            scalars = lowered
        }
        var out: [UInt8] = []
        out.reserveCapacity(scalars.count)
        for s in scalars { UTF8Check.append(s, to: &out) }
        return out
    }

    // MARK: Pre-tokenizers

    static func preTokenize(_ splits: [(bytes: [UInt8], atStart: Bool)], _ p: PreTokenizer) -> [(bytes: [UInt8], atStart: Bool)] {
        switch p {
        case .sequence(let list):
            var s = splits
            for step in list { s = preTokenize(s, step) }
            return s
        case .metaspace(let replacement, let prepend, let split):
            var out: [(bytes: [UInt8], atStart: Bool)] = []
            for (bytes, atStart) in splits {
                var t: [UInt8] = []
                t.reserveCapacity(bytes.count + 3)
                for b in bytes {
                    if b == 0x20 { t.append(contentsOf: replacement) } else { t.append(b) }
                }
                if !t.isEmpty && !t.starts(with: replacement) {
                    if prepend == .always || (prepend == .first && atStart) { t = replacement + t }
                }
                if !split {
                    out.append((t, atStart))
                    continue
                }
                // Split on the replacement, each delimiter merged with what follows it.
                var pieceStart = 0
                var i = 0
                while i < t.count {
                    if t.count - i >= replacement.count, t[i..<(i + replacement.count)].elementsEqual(replacement) {
                        if i > pieceStart { out.append((Array(t[pieceStart..<i]), atStart && pieceStart == 0)) }
                        pieceStart = i
                        i += replacement.count
                    } else {
                        i += 1
                    }
                }
                if pieceStart < t.count { out.append((Array(t[pieceStart...]), atStart && pieceStart == 0)) }
            }
            return out
        case .whitespaceSplit:
            return splitScalars(splits) { UnicodeRules.isWhitespace($0) ? .removed : nil }
        case .bert:
            let ws = splitScalars(splits) { UnicodeRules.isWhitespace($0) ? .removed : nil }
            return splitScalars(ws) { UnicodeRules.isBertPunctuation($0) ? .isolated : nil }
        case .split(let pattern, let behavior):
            var out: [(bytes: [UInt8], atStart: Bool)] = []
            for (bytes, atStart) in splits {
                var last = 0
                func emit(_ r: Range<Int>) {
                    if r.isEmpty { return }
                    out.append((Array(bytes[r]), atStart && r.lowerBound == 0))
                }
                for m in pattern.matches(in: bytes) where !m.isEmpty {
                    emit(last..<m.lowerBound)
                    if behavior == .isolated { emit(m) }
                    last = m.upperBound
                }
                emit(last..<bytes.count)
            }
            return out
        }
    }

    /// Splits on single scalars: `.removed` drops the scalar, `.isolated` makes it its own split.
    private static func splitScalars(
        _ splits: [(bytes: [UInt8], atStart: Bool)], _ rule: (Unicode.Scalar) -> SplitBehavior?
    ) -> [(bytes: [UInt8], atStart: Bool)] {
        var out: [(bytes: [UInt8], atStart: Bool)] = []
        for (bytes, atStart) in splits {
            var cur: [UInt8] = []
            var curStart = 0
            func flush() {
                if !cur.isEmpty {
                    out.append((cur, atStart && curStart == 0))
                    cur = []
                }
            }
            var i = 0
            while i < bytes.count {
                let len = min(UTF8Check.sequenceLength(bytes[i]), bytes.count - i)
                let b0 = bytes[i]
                let behavior: SplitBehavior?
                if len == 1 {
                    behavior = rule(Unicode.Scalar(b0))
                } else {
                    let s = UTF8Check.scalars(bytes[i..<(i + len)])
                    behavior = s.first.flatMap(rule)
                }
                switch behavior {
                case .removed?:
                    flush()
                case .isolated?:
                    flush()
                    out.append((Array(bytes[i..<(i + len)]), atStart && i == 0))
                case nil:
                    if cur.isEmpty { curStart = i }
                    cur.append(contentsOf: bytes[i..<(i + len)])
                }
                i += len
            }
            flush()
        }
        return out
    }
}

extension HFTokenizer {
    /// The id of a vocabulary entry of the model, or nil.
    func modelID(_ token: String) -> Int32? {
        switch model {
        case .unigram(let u): u.trie.lookup(Array(token.utf8))
        case .wordPiece(let w): w.initial.lookup(Array(token.utf8))
        }
    }

    /// A copy in which these tokens, where the vocabulary has them, are also matched whole in the raw text,
    /// as `transformers` does for a tokenizer's declared special tokens (`eos_token`, `unk_token`, ...).
    func matchingSpecialTokens(_ contents: [String]) -> HFTokenizer {
        var added = self.added
        for c in contents where !added.contains(where: { $0.content == c }) {
            if let id = modelID(c) { added.append(AddedToken(id: id, content: c, special: true)) }
        }
        return HFTokenizer(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model, added: added, postProcessing: postProcessing)
    }
}
