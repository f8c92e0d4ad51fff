/// The result of encoding one text: token ids, their pieces, and the attention mask.
public struct Encoding: Sendable, Equatable {
    /// Token ids, after post-processing (special tokens, truncation, padding) when it applies.
    public var ids: [Int32]
    /// The piece of each id (`<0x41>` for a byte piece; the normalized text for a merged unknown).
    public var tokens: [String]
    /// 1 for a real token, 0 for padding.
    public var attentionMask: [Int32]

    /// Creates an encoding with an all-ones attention mask.
    public init(ids: [Int32], tokens: [String]) {
        self.ids = ids
        self.tokens = tokens
        self.attentionMask = [Int32](repeating: 1, count: ids.count)
    }

    /// Creates an encoding with an explicit attention mask.
    public init(ids: [Int32], tokens: [String], attentionMask: [Int32]) {
        self.ids = ids
        self.tokens = tokens
        self.attentionMask = attentionMask
    }
}

/// Post-processing after segmentation: special tokens around the sequence, truncation, padding, as the
/// `tokenizers` library applies them to a single sequence (truncate the content so that content plus
/// special tokens fits `maxLength`, add the special tokens, then pad).
public struct PostProcessing: Sendable, Equatable {
    /// A special token: its id and piece.
    public struct Special: Sendable, Equatable {
        /// The token id.
        public var id: Int32
        /// The token text.
        public var token: String
        /// Creates a special token.
        public init(id: Int32, token: String) {
            self.id = id
            self.token = token
        }
    }

    /// Which end padding goes to.
    public enum Side: Sendable, Equatable { case left, right }

    /// Tokens put before the sequence (`[CLS]`).
    public var prefix: [Special] = []
    /// Tokens put after the sequence (`</s>`, `[SEP]`).
    public var suffix: [Special] = []
    /// The most tokens, special tokens included; nil: no truncation.
    public var maxLength: Int?
    /// Which end truncation removes tokens from.
    public var truncationSide: Side = .right
    /// Pad to this many tokens; nil: no padding.
    public var padToLength: Int?
    /// The padding token.
    public var pad = Special(id: 0, token: "<pad>")
    /// Which end padding goes to.
    public var paddingSide: Side = .right

    /// No special tokens, no truncation, no padding.
    public init() {}

    /// HyperVLA's text processor for T5 (`AutoTokenizer("t5-base")` called with `max_length=32`,
    /// `padding="max_length"`, `truncation=True`): `</s>` appended, at most 32 tokens, right-padded with id 0.
    /// - Parameters:
    ///   - eos: the `</s>` token (id 1 in T5's vocabulary).
    ///   - pad: the `<pad>` token (id 0 in T5's vocabulary).
    public static func hyperVLA(eos: Special = Special(id: 1, token: "</s>"), pad: Special = Special(id: 0, token: "<pad>"))
        -> PostProcessing
    {
        var p = PostProcessing()
        p.suffix = [eos]
        p.maxLength = 32
        p.padToLength = 32
        p.pad = pad
        return p
    }

    /// Applies the special tokens, truncation and padding to a segmented sequence.
    public func apply(_ e: Encoding) -> Encoding {
        if prefix.isEmpty && suffix.isEmpty && maxLength == nil && padToLength == nil { return e }
        var ids = e.ids
        var tokens = e.tokens
        let specials = prefix.count + suffix.count
        if let maxLength {
            let keep = max(0, maxLength - specials)
            if ids.count > keep {
                if truncationSide == .right {
                    ids.removeLast(ids.count - keep)
                    tokens.removeLast(tokens.count - keep)
                } else {
                    ids.removeFirst(ids.count - keep)
                    tokens.removeFirst(tokens.count - keep)
                }
            }
        }
        ids = prefix.map(\.id) + ids + suffix.map(\.id)
        tokens = prefix.map(\.token) + tokens + suffix.map(\.token)
        var mask = [Int32](repeating: 1, count: ids.count)
        if let padToLength, ids.count < padToLength {
            let n = padToLength - ids.count
            let padIDs = [Int32](repeating: pad.id, count: n)
            let padTokens = [String](repeating: pad.token, count: n)
            let zeros = [Int32](repeating: 0, count: n)
            if paddingSide == .right {
                ids += padIDs
                tokens += padTokens
                mask += zeros
            } else {
                ids = padIDs + ids
                tokens = padTokens + tokens
                mask = zeros + mask
            }
        }
        return Encoding(ids: ids, tokens: tokens, attentionMask: mask)
    }
}
