/// Encodes text exactly as `sentencepiece.SentencePieceProcessor.encode` does for a unigram model:
/// normalization (user-defined symbols kept whole, longest-match precompiled character map, whitespace
/// handling, `▁`), the optimized Viterbi pass, then merging of consecutive unknowns or byte fallback.
///
/// Immutable after loading, so it is `Sendable` and may be shared between threads.
///
/// > Note: <Docs/Tokenizers.md#sentencepiece>
public struct SentencePieceProcessor: Sendable {
    /// The model this processor was built from.
    public let model: SentencePieceModel
    let charsMap: PrecompiledCharsMap
    /// Normal, user-defined and unused pieces (the ones SentencePiece puts into its trie).
    let trie: PieceTrie
    /// User-defined symbols, matched before the character map during normalization.
    let userDefined: PieceTrie
    let hasUserDefined: Bool
    let types: [SentencePieceModel.PieceType]
    let scores: [Float]
    let pieceStrings: [String]
    let minScore: Float
    let maxScore: Float
    let byteIDs: [Int32]
    /// ASCII bytes that no user-defined symbol and no character-map key starts with: they normalize to
    /// themselves, so the prefix search can be skipped.
    let asciiPassThrough: [Bool]
    /// ASCII bytes that normalize to themselves when the next byte is ASCII too (or the text ends): no
    /// user-defined symbol starts with them, they have no mapping of their own, and no key continues them
    /// with an ASCII byte.
    let asciiPassThroughBeforeASCII: [Bool]

    /// Builds a processor from a decoded model.
    /// - Throws: ``TokenizerError`` when the precompiled character map is malformed.
    public init(model: SentencePieceModel, source: String, limits: TokenizerLimits = TokenizerLimits()) throws(TokenizerError) {
        self.model = model
        charsMap = try PrecompiledCharsMap(
            bytes: model.normalizer.precompiledCharsMap, field: "\(source): normalizer_spec.precompiled_charsmap",
            limits: limits)
        var entries: [(bytes: [UInt8], value: Int32)] = []
        var user: [(bytes: [UInt8], value: Int32)] = []
        var minS = Float.greatestFiniteMagnitude
        var maxS = Float.leastNormalMagnitude  // FLT_MIN, as SentencePiece starts its maximum
        var byteIDs = [Int32](repeating: -1, count: 256)
        for (i, p) in model.pieces.enumerated() {
            switch p.type {
            case .normal:
                entries.append((p.bytes, Int32(i)))
                minS = min(minS, p.score)
                maxS = max(maxS, p.score)
            case .userDefined:
                entries.append((p.bytes, Int32(i)))
                user.append((p.bytes, Int32(i)))
            case .unused:
                entries.append((p.bytes, Int32(i)))
            case .byte:
                if let b = SentencePieceModel.byteValue(p.bytes) { byteIDs[Int(b)] = Int32(i) }
            case .unknown, .control:
                break
            }
        }
        trie = PieceTrie(entries)
        userDefined = PieceTrie(user)
        hasUserDefined = !user.isEmpty
        types = model.pieces.map(\.type)
        scores = model.pieces.map(\.score)
        pieceStrings = model.pieces.map { UTF8Check.string($0.bytes) }
        minScore = minS
        maxScore = maxS
        self.byteIDs = byteIDs
        let map = charsMap
        var pass = [Bool](repeating: true, count: 128)
        var passBeforeASCII = [Bool](repeating: true, count: 128)
        for b in 0..<128 {
            let byte = UInt8(b)
            if user.contains(where: { $0.bytes.first == byte }) {
                pass[b] = false
                passBeforeASCII[b] = false
                continue
            }
            if map.hasKeys(startingWith: [byte]) { pass[b] = false }
            var single = false
            _ = map.forEachPrefix([byte], from: 0, to: 1) { _, _ in single = true }
            if single || (0..<128).contains(where: { map.hasKeys(startingWith: [byte, UInt8($0)]) }) {
                passBeforeASCII[b] = false
            }
        }
        asciiPassThrough = pass
        asciiPassThroughBeforeASCII = passBeforeASCII
    }

    /// Loads a `.model` file's bytes.
    /// - Throws: ``TokenizerError`` (see ``SentencePieceModel/init(bytes:source:limits:)``).
    public init(modelBytes: [UInt8], source: String, limits: TokenizerLimits = TokenizerLimits()) throws(TokenizerError) {
        try self.init(model: SentencePieceModel(bytes: modelBytes, source: source, limits: limits), source: source, limits: limits)
    }

    // MARK: Normalization

    /// Normalizes UTF-8 text as SentencePiece's `Normalizer::Normalize` does.
    /// - Throws: ``TokenizerError`` `.malformed` if the character map points outside itself.
    func normalize(_ input: [UInt8]) throws(TokenizerError) -> [UInt8] {
        let spec = model.normalizer
        let n = input.count
        var pos = 0
        var out: [UInt8] = []
        if n == 0 { return out }
        if spec.removeExtraWhitespaces {
            while pos < n {
                let p = try prefix(input, pos)
                if p.replacement.count != 1 || p.replacement.first != 0x20 { break }
                pos += p.consumed
            }
        }
        if pos == n { return out }
        out.reserveCapacity((n - pos) + 8)
        let escape = spec.escapeWhitespaces
        if !model.treatWhitespaceAsSuffix && spec.addDummyPrefix { Self.appendSpace(&out, escape) }
        var isPrevSpace = spec.removeExtraWhitespaces
        while pos < n {
            let b = input[pos]
            if b < 0x80
                && (asciiPassThrough[Int(b)]
                    || (asciiPassThroughBeforeASCII[Int(b)] && (pos + 1 == n || input[pos + 1] < 0x80)))
            {
                // Fast path, same result as the general one: the byte normalizes to itself.
                if b == 0x20 {
                    if !isPrevSpace {
                        if escape { out.append(0xE2); out.append(0x96); out.append(0x81) } else { out.append(0x20) }
                        isPrevSpace = true
                    }
                } else {
                    out.append(b)
                    isPrevSpace = false
                }
                pos += 1
                if !spec.removeExtraWhitespaces { isPrevSpace = false }
                continue
            }
            let p = try prefix(input, pos)
            var sp = p.replacement
            while isPrevSpace, sp.first == 0x20 { sp = sp.dropFirst() }
            if !sp.isEmpty {
                for b in sp {
                    if escape && b == 0x20 {
                        out.append(0xE2); out.append(0x96); out.append(0x81)
                    } else {
                        out.append(b)
                    }
                }
                isPrevSpace = sp.last == 0x20
            }
            pos += p.consumed
            if !spec.removeExtraWhitespaces { isPrevSpace = false }
        }
        if spec.removeExtraWhitespaces {
            if escape {
                while out.count >= 3, out[out.count - 3] == 0xE2, out[out.count - 2] == 0x96, out[out.count - 1] == 0x81 {
                    out.removeLast(3)
                }
            } else {
                while out.last == 0x20 { out.removeLast() }
            }
        }
        if model.treatWhitespaceAsSuffix && spec.addDummyPrefix { Self.appendSpace(&out, escape) }
        return out
    }

    @inline(__always)
    private static func appendSpace(_ out: inout [UInt8], _ escape: Bool) {
        if escape {
            out.append(0xE2); out.append(0x96); out.append(0x81)
        } else {
            out.append(0x20)
        }
    }

    /// `NormalizePrefix`: the normalized form of the longest known prefix at `pos` and how many bytes it consumes.
    @inline(__always)
    private func prefix(_ input: [UInt8], _ pos: Int) throws(TokenizerError) -> (replacement: ArraySlice<UInt8>, consumed: Int) {
        let n = input.count
        let b = input[pos]
        if b < 0x80 && asciiPassThrough[Int(b)] { return (input[pos..<(pos + 1)], 1) }
        if hasUserDefined, let m = userDefined.longestPrefix(input, from: pos, limit: n) {
            return (input[pos..<m.end], m.end - pos)
        }
        var longest = 0
        var value = 0
        if !charsMap.isEmpty {
            let ok = charsMap.forEachPrefix(input, from: pos, to: n) { length, v in
                if longest == 0 || length > longest {
                    longest = length
                    value = v
                }
            }
            if !ok { throw TokenizerError(.malformed, "precompiled_charsmap: the trie walks outside its units") }
        }
        if longest > 0 {
            guard let r = charsMap.replacement(at: value) else {
                throw TokenizerError(.malformed, "precompiled_charsmap: replacement offset \(value) is outside the string area")
            }
            return (r, longest)
        }
        let len = min(UTF8Check.sequenceLength(input[pos]), n - pos)
        return (input[pos..<(pos + len)], len)
    }

    // MARK: Encoding

    /// Encodes text into piece ids (no `<s>` or `</s>` added), as `SentencePieceProcessor.encode(text)`.
    /// - Throws: ``TokenizerError`` `.malformed` for a corrupt character map.
    public func encode(_ text: String) throws(TokenizerError) -> Encoding {
        try encodeValidated(Array(text.utf8))
    }

    /// Encodes UTF-8 bytes.
    /// - Throws: ``TokenizerError`` `.invalidUTF8` with the offset of the first bad byte; nothing is replaced.
    public func encode(utf8 bytes: [UInt8]) throws(TokenizerError) -> Encoding {
        if let bad = UTF8Check.firstInvalidOffset(bytes) {
            throw TokenizerError(.invalidUTF8, "text is not valid UTF-8", offset: bad)
        }
        return try encodeValidated(bytes)
    }

    func encodeValidated(_ bytes: [UInt8]) throws(TokenizerError) -> Encoding {
        let normalized = try normalize(bytes)
        let path = viterbi(normalized)
        var ids: [Int32] = []
        var tokens: [String] = []
        ids.reserveCapacity(path.count)
        var prevUnknown = false
        let unk = Int32(model.unknownID)
        for (start, end, id) in path {
            let isUnknown = id == unk
            if isUnknown && model.byteFallback {
                for b in normalized[start..<end] {
                    let bid = byteIDs[Int(b)]
                    ids.append(bid)
                    tokens.append(pieceStrings[Int(bid)])
                }
            } else if isUnknown && prevUnknown {
                tokens[tokens.count - 1] += UTF8Check.string(normalized[start..<end])
            } else {
                ids.append(id)
                tokens.append(isUnknown ? UTF8Check.string(normalized[start..<end]) : pieceStrings[Int(id)])
            }
            prevUnknown = isUnknown
        }
        return Encoding(ids: ids, tokens: tokens)
    }

    /// SentencePiece's `EncodeOptimized`: the best path by byte position, scores in float as upstream
    /// (user-defined pieces score `length × max_score − 0.1` in double).
    func viterbi(_ text: [UInt8]) -> [(Int, Int, Int32)] {
        let size = text.count
        if size == 0 { return [] }
        /// The best path ending at a position: its score, where its last piece starts (-1: none yet), the piece.
        struct Best {
            var score: Float = 0
            var start: Int32 = -1
            var id: Int32 = -1
        }
        var best = [Best](repeating: Best(), count: size + 1)
        let unkScore = minScore - 10.0
        let unk = Int32(model.unknownID)
        var startsAt = 0
        while startsAt < size {
            let here = best[startsAt].score
            let mblen = min(UTF8Check.sequenceLength(text[startsAt]), size - startsAt)
            var hasSingle = false
            var node = 0
            var end = startsAt
            while end < size {
                node = trie.child(node, text[end])
                if node < 0 { break }
                end += 1
                let id = trie.value(at: node)
                if id < 0 { continue }
                let type = types[Int(id)]
                if type == .unused { continue }
                let length = end - startsAt
                if type == .userDefined {
                    let candidate = Double(Float(length) * maxScore) - 0.1 + Double(here)
                    if best[end].start == -1 || candidate > Double(best[end].score) {
                        best[end] = Best(score: Float(candidate), start: Int32(startsAt), id: id)
                    }
                } else {
                    let candidate = scores[Int(id)] + here
                    if best[end].start == -1 || candidate > best[end].score {
                        best[end] = Best(score: candidate, start: Int32(startsAt), id: id)
                    }
                }
                if length == mblen { hasSingle = true }
            }
            if !hasSingle {
                let end = startsAt + mblen
                let candidate = unkScore + here
                if best[end].start == -1 || candidate > best[end].score {
                    best[end] = Best(score: candidate, start: Int32(startsAt), id: unk)
                }
            }
            startsAt += mblen
        }
        var count = 0
        var end = size
        while end > 0 {
            count += 1
            end = Int(best[end].start)
        }
        var path = [(Int, Int, Int32)](repeating: (0, 0, 0), count: count)
        end = size
        while end > 0 {
            count -= 1
            let s = Int(best[end].start)
            path[count] = (s, end, best[end].id)
            end = s
        }
        return path
    }
}
