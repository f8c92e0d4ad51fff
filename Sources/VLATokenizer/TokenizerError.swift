/// An error from loading a tokenizer file or from encoding text.
///
/// The message names the file (the `source` name the loader was given), the field or entry, and the byte
/// offset where one is known, for example
/// `t5.model: pieces[17].piece "▁the" is already defined as piece 12`.
public struct TokenizerError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case truncated, malformed, wrongType, unsupported, missing, duplicate, invalidUTF8, limitExceeded
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The bytes end before the structure they announce.
        public static let truncated = Code(.truncated)
        /// The bytes are not well-formed (protobuf, JSON, charsmap, vocabulary).
        public static let malformed = Code(.malformed)
        /// A field holds a value of the wrong type (a string where a number belongs, ...).
        public static let wrongType = Code(.wrongType)
        /// A well-formed setting that this implementation does not support (a BPE model, an unknown normalizer).
        public static let unsupported = Code(.unsupported)
        /// A required field or vocabulary entry is absent.
        public static let missing = Code(.missing)
        /// A piece, token or key occurs twice.
        public static let duplicate = Code(.duplicate)
        /// Text or a file string is not valid UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A count or size is above ``TokenizerLimits``.
        public static let limitExceeded = Code(.limitExceeded)

        public var description: String {
            switch wrapped {
            case .truncated: "truncated"
            case .malformed: "malformed"
            case .wrongType: "wrong type"
            case .unsupported: "unsupported"
            case .missing: "missing"
            case .duplicate: "duplicate"
            case .invalidUTF8: "invalid UTF-8"
            case .limitExceeded: "limit exceeded"
            }
        }
    }

    /// What kind of problem this is.
    public var code: Code
    /// A lowercase clause naming the file, the field or entry, and the offending value.
    public var message: String
    /// The byte offset in the file or text, where known.
    public var offset: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if let offset {
            return "\(message) (at byte \(offset))"
        }
        return message
    }
}

/// Hard limits that every loader checks before it allocates. One place, so they can be reviewed together.
public struct TokenizerLimits: Sendable {
    /// The largest tokenizer file accepted (bytes).
    public var maxFileBytes = 256 << 20
    /// The most vocabulary entries (pieces, tokens).
    public var maxVocabulary = 4 << 20
    /// The longest single piece or token (bytes).
    public var maxPieceBytes = 4096
    /// The largest precompiled character map (bytes).
    public var maxCharsMapBytes = 64 << 20
    /// The deepest JSON nesting.
    public var maxJSONDepth = 64
    /// The most added tokens, template items and pipeline steps.
    public var maxListItems = 1 << 16
    /// The largest `max_length` / padding length accepted from a file.
    public var maxSequenceLength = 1 << 20
    /// The most matcher states one `Regex` pattern compiles to (about one per literal and anchor, plus
    /// `m + 1` for a `{n,m}` quantifier): matching costs this many steps per text byte.
    public var maxRegexStates = 4096

    /// The default limits.
    public init() {}
}
