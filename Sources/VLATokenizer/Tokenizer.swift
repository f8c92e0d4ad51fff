/// One tokenizer, whatever file it came from: a SentencePiece `.model`, a `tokenizer.json`, or a BERT
/// `vocab.txt`. Loaders take the file's bytes; this module does no I/O.
///
/// ```swift
/// let t5 = try Tokenizer(fileBytes: bytes, fileName: "spiece.model")
/// let e = try t5.encode("pick up the red block", postProcessing: .hyperVLA())
/// // e.ids: 32 ids ending in </s> (1) and padding (0); e.attentionMask: 1s then 0s
/// ```
///
/// > Note: <Docs/Tokenizers.md>
public struct Tokenizer: Sendable {
    /// What the tokenizer was built from.
    public enum Kind: Sendable {
        case sentencePiece(SentencePieceProcessor)
        case huggingFace(HFTokenizer)
    }

    /// The underlying tokenizer.
    public let kind: Kind

    /// Wraps a SentencePiece processor.
    public init(_ sp: SentencePieceProcessor) { kind = .sentencePiece(sp) }
    /// Wraps a tokenizer.json pipeline.
    public init(_ hf: HFTokenizer) { kind = .huggingFace(hf) }

    /// Loads a tokenizer file, choosing the format from the name (`.model`: SentencePiece, `.json`:
    /// tokenizer.json, `.txt`: WordPiece vocabulary) and, failing that, from the first byte.
    /// - Throws: ``TokenizerError`` from the loader.
    public init(fileBytes: [UInt8], fileName: String, limits: TokenizerLimits = TokenizerLimits()) throws(TokenizerError) {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".json") || (!lower.hasSuffix(".model") && !lower.hasSuffix(".txt") && fileBytes.first == 0x7B) {
            self.init(try HFTokenizer(jsonBytes: fileBytes, source: fileName, limits: limits))
        } else if lower.hasSuffix(".txt") {
            self.init(try HFTokenizer(wordPieceVocab: fileBytes, source: fileName, limits: limits))
        } else {
            self.init(try SentencePieceProcessor(modelBytes: fileBytes, source: fileName, limits: limits))
        }
    }

    /// The post-processing this tokenizer applies by default: the tokenizer.json's own (special tokens,
    /// truncation, padding), or none for a SentencePiece model (like `SentencePieceProcessor.encode`).
    public var defaultPostProcessing: PostProcessing {
        switch kind {
        case .sentencePiece: PostProcessing()
        case .huggingFace(let hf): hf.postProcessing
        }
    }

    /// Encodes text.
    /// - Parameters:
    ///   - text: the text.
    ///   - postProcessing: special tokens, truncation and padding to apply; nil: ``defaultPostProcessing``.
    /// - Throws: ``TokenizerError`` for a corrupt model discovered while encoding.
    public func encode(_ text: String, postProcessing: PostProcessing? = nil) throws(TokenizerError) -> Encoding {
        try encode(validUTF8: Array(text.utf8), postProcessing: postProcessing)
    }

    /// Encodes UTF-8 bytes.
    /// - Throws: ``TokenizerError`` `.invalidUTF8` with the offset of the first ill-formed byte (nothing is
    ///   replaced), or an error from encoding.
    public func encode(utf8 bytes: [UInt8], postProcessing: PostProcessing? = nil) throws(TokenizerError) -> Encoding {
        if let bad = UTF8Check.firstInvalidOffset(bytes) {
            throw TokenizerError(.invalidUTF8, "text is not valid UTF-8: byte 0x\(SentencePieceModel.hex(bytes[bad])) does not start a well-formed sequence", offset: bad)
        }
        return try encode(validUTF8: bytes, postProcessing: postProcessing)
    }

    private func encode(validUTF8 bytes: [UInt8], postProcessing: PostProcessing?) throws(TokenizerError) -> Encoding {
        switch kind {
        case .sentencePiece(let sp):
            let e = try sp.encodeValidated(bytes)
            return postProcessing.map { $0.apply(e) } ?? e
        case .huggingFace(let hf):
            return try hf.encodeValidated(bytes, postProcessing: postProcessing)
        }
    }

    /// The `</s>` and `<pad>` tokens of a T5-style vocabulary, for ``PostProcessing/hyperVLA(eos:pad:)``;
    /// nil when the vocabulary has no `</s>`.
    public var t5Specials: (eos: PostProcessing.Special, pad: PostProcessing.Special)? {
        switch kind {
        case .sentencePiece(let sp):
            let m = sp.model
            guard m.eosID >= 0, m.eosID < m.pieces.count else { return nil }
            let pad = m.padID >= 0 && m.padID < m.pieces.count ? m.padID : 0
            return (PostProcessing.Special(id: Int32(m.eosID), token: sp.pieceStrings[m.eosID]),
                    PostProcessing.Special(id: Int32(pad), token: sp.pieceStrings[pad]))
        case .huggingFace(let hf):
            guard let eos = hf.added.first(where: { $0.content == "</s>" }) else { return nil }
            let pad = hf.added.first(where: { $0.content == "<pad>" })
            return (PostProcessing.Special(id: eos.id, token: eos.content),
                    PostProcessing.Special(id: pad?.id ?? 0, token: pad?.content ?? "<pad>"))
        }
    }
}
