/// A tokenizer together with the post-processing an encoder expects: one named configuration.
///
/// ```swift
/// let p = try TextProcessor.hyperVLA(fileBytes: bytes, fileName: "tokenizer.json")
/// let e = try p.encode("put the eggplant in the basket")  // 32 ids, </s>, padding 0, mask
/// ```
public struct TextProcessor: Sendable {
    /// The tokenizer.
    public let tokenizer: Tokenizer
    /// Special tokens, truncation and padding applied after segmentation.
    public let postProcessing: PostProcessing

    /// Pairs a tokenizer with post-processing.
    public init(tokenizer: Tokenizer, postProcessing: PostProcessing) {
        self.tokenizer = tokenizer
        self.postProcessing = postProcessing
    }

    /// HyperVLA's text processor (`hypervla.md` §3): the T5 tokenizer called as
    /// `tokenizer(text, max_length=32, padding="max_length", truncation=True)`: `</s>` appended, at most 32
    /// tokens, right-padded with `<pad>` (id 0), attention mask 1/0.
    ///
    /// From a `tokenizer.json` it behaves as `transformers`' T5 tokenizer: `</s>`, `<unk>` and `<pad>` typed
    /// in the text are matched whole as special tokens. From a SentencePiece `.model` the segmentation is
    /// `sentencepiece`'s own (which does not treat those strings specially).
    /// - Throws: ``TokenizerError`` from loading, or `.missing` when the vocabulary has no `</s>`.
    public static func hyperVLA(fileBytes: [UInt8], fileName: String, limits: TokenizerLimits = TokenizerLimits())
        throws(TokenizerError) -> TextProcessor
    {
        var t = try Tokenizer(fileBytes: fileBytes, fileName: fileName, limits: limits)
        if case .huggingFace(let hf) = t.kind {
            t = Tokenizer(hf.matchingSpecialTokens(["</s>", "<unk>", "<pad>"]))
        }
        guard let specials = t.t5Specials else {
            throw TokenizerError(.missing, "\(fileName): the vocabulary has no </s> token, which HyperVLA's T5 text processor appends")
        }
        return TextProcessor(tokenizer: t, postProcessing: .hyperVLA(eos: specials.eos, pad: specials.pad))
    }

    /// Encodes text with this configuration.
    /// - Throws: ``TokenizerError`` from encoding.
    public func encode(_ text: String) throws(TokenizerError) -> Encoding {
        try tokenizer.encode(text, postProcessing: postProcessing)
    }

    /// Encodes UTF-8 bytes with this configuration.
    /// - Throws: ``TokenizerError`` `.invalidUTF8` naming the offset of the first bad byte.
    public func encode(utf8 bytes: [UInt8]) throws(TokenizerError) -> Encoding {
        try tokenizer.encode(utf8: bytes, postProcessing: postProcessing)
    }
}
