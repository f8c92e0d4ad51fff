/// The `tokenizers` library's Unigram model (`model.type == "Unigram"` in tokenizer.json): the optimized
/// Viterbi pass in double precision over every vocabulary entry, consecutive unknowns fused, the fused
/// string looked up in the vocabulary, then byte fallback or the unknown id.
struct HFUnigram: Sendable {
    let trie: PieceTrie
    let scores: [Double]
    let tokens: [String]
    let unknownID: Int32?
    let byteFallback: Bool
    let minScore: Double
    /// The id of each `<0xNN>` piece, where the vocabulary has it.
    let byteIDs: [Int32?]

    init(vocab: [(bytes: [UInt8], score: Double)], unknownID: Int?, byteFallback: Bool) {
        trie = PieceTrie(vocab.enumerated().map { ($0.element.bytes, Int32($0.offset)) })
        scores = vocab.map(\.score)
        tokens = vocab.map { UTF8Check.string($0.bytes) }
        self.unknownID = unknownID.map { Int32($0) }
        self.byteFallback = byteFallback
        minScore = vocab.map(\.score).min() ?? 0
        var ids: [Int32?] = []
        for b in 0..<256 { ids.append(trie.lookup(Array("<0x\(SentencePieceModel.hex(UInt8(b)))>".utf8))) }
        byteIDs = ids
    }

    func encode(_ text: [UInt8], into ids: inout [Int32], _ out: inout [String]) throws(TokenizerError) {
        let size = text.count
        if size == 0 { return }
        var bestScore = [Double](repeating: 0, count: size + 1)
        var bestStart = [Int32](repeating: -1, count: size + 1)
        var bestID = [Int32](repeating: -1, count: size + 1)
        let unkScore = minScore - 10.0
        var startsAt = 0
        while startsAt < size {
            let here = bestScore[startsAt]
            let mblen = min(UTF8Check.sequenceLength(text[startsAt]), size - startsAt)
            var hasSingle = false
            trie.forEachPrefix(text, from: startsAt, limit: size) { end, id in
                let candidate = scores[Int(id)] + here
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = Int32(startsAt)
                    bestID[end] = id
                }
                if end - startsAt == mblen { hasSingle = true }
            }
            if !hasSingle {
                guard let unk = unknownID else {
                    throw TokenizerError(.missing, "the Unigram model has no unk_id but the text has a character outside its vocabulary")
                }
                let end = startsAt + mblen
                let candidate = unkScore + here
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = Int32(startsAt)
                    bestID[end] = unk
                }
            }
            startsAt += mblen
        }
        // Backtrack into (start, end, id), fusing consecutive unknowns.
        var path: [(Int, Int, Int32)] = []
        var end = size
        while end > 0 {
            let s = Int(bestStart[end])
            let id = bestID[end]
            if id == unknownID, let last = path.last, last.2 == id {
                path[path.count - 1] = (s, last.1, id)
            } else {
                path.append((s, end, id))
            }
            end = s
        }
        for (s, e, id) in path.reversed() {
            if id != unknownID {
                ids.append(id)
                out.append(tokens[Int(id)])
                continue
            }
            let piece = text[s..<e]
            if let known = trie.lookup(piece) {
                ids.append(known)
                out.append(tokens[Int(known)])
            } else if byteFallback, piece.allSatisfy({ byteIDs[Int($0)] != nil }) {
                for b in piece {
                    if let id = byteIDs[Int(b)] {
                        ids.append(id)
                        out.append(tokens[Int(id)])
                    }
                }
            } else if let unk = unknownID {
                ids.append(unk)
                out.append(UTF8Check.string(piece))
            }
        }
    }
}

/// WordPiece (`model.type == "WordPiece"`, or a BERT `vocab.txt`): greedy longest-match-first, the
/// continuation prefix (`##`) on every piece after the first, the unknown token for a word that cannot be
/// covered or that has more than `maxInputCharsPerWord` characters.
struct WordPiece: Sendable {
    let initial: PieceTrie
    let continuation: PieceTrie
    let tokens: [String]
    let unknownID: Int32
    let unknownToken: String
    let maxInputCharsPerWord: Int

    init(vocab: [(token: [UInt8], id: Int32)], unknownToken: String, prefix: String, maxInputCharsPerWord: Int, source: String)
        throws(TokenizerError)
    {
        let prefixBytes = Array(prefix.utf8)
        var cont: [(bytes: [UInt8], value: Int32)] = []
        var maxID: Int32 = -1
        for (t, id) in vocab {
            maxID = max(maxID, id)
            if !prefixBytes.isEmpty, t.count > prefixBytes.count, t.starts(with: prefixBytes) {
                cont.append((Array(t[prefixBytes.count...]), id))
            } else if prefixBytes.isEmpty {
                cont.append((t, id))
            }
        }
        initial = PieceTrie(vocab.map { ($0.token, $0.id) })
        continuation = PieceTrie(cont)
        var names = [String](repeating: "", count: Int(maxID) + 1)
        for (t, id) in vocab { names[Int(id)] = UTF8Check.string(t) }
        tokens = names
        guard let unk = initial.lookup(Array(unknownToken.utf8)) else {
            throw TokenizerError(.missing, "\(source): the unknown token \"\(unknownToken)\" is not in the vocabulary")
        }
        unknownID = unk
        self.unknownToken = unknownToken
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    func encode(_ word: [UInt8], into ids: inout [Int32], _ out: inout [String]) {
        if word.isEmpty { return }
        var chars = 0
        for b in word where b & 0xC0 != 0x80 { chars += 1 }
        if chars > maxInputCharsPerWord {
            ids.append(unknownID)
            out.append(unknownToken)
            return
        }
        let mark = ids.count
        var start = 0
        while start < word.count {
            let trie = start == 0 ? initial : continuation
            guard let m = trie.longestPrefix(word, from: start, limit: word.count) else {
                ids.removeLast(ids.count - mark)
                out.removeLast(out.count - mark)
                ids.append(unknownID)
                out.append(unknownToken)
                return
            }
            ids.append(m.value)
            out.append(tokens[Int(m.value)])
            start = m.end
        }
    }
}
