/// The contents of a SentencePiece `.model` file (a `sentencepiece.ModelProto`) that encoding needs,
/// checked the way SentencePiece checks them when it loads a model.
///
/// > Note: <Docs/Tokenizers.md#sentencepiece-model-files>
public struct SentencePieceModel: Sendable {
    /// The type of a piece (`ModelProto.SentencePiece.Type`).
    public enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// One vocabulary entry. Its id is its index in ``pieces``.
    public struct Piece: Sendable {
        /// The piece's UTF-8 bytes (`▁` stands for a space).
        public var bytes: [UInt8]
        /// The log-probability score.
        public var score: Float
        /// What kind of piece it is.
        public var type: PieceType
    }

    /// `NormalizerSpec`: how text is normalized before segmentation.
    public struct Normalizer: Sendable {
        /// The rule name, for example `nmt_nfkc` (informational).
        public var name: String
        /// Add a `▁` at the start of the text.
        public var addDummyPrefix: Bool
        /// Drop leading and trailing spaces and collapse runs of spaces.
        public var removeExtraWhitespaces: Bool
        /// Replace spaces with `▁` (U+2581).
        public var escapeWhitespaces: Bool
        /// The raw `precompiled_charsmap` bytes (empty: no character mapping).
        public var precompiledCharsMap: [UInt8]
    }

    /// All pieces, indexed by id.
    public var pieces: [Piece]
    /// The normalizer settings.
    public var normalizer: Normalizer
    /// The id of the single `UNKNOWN` piece.
    public var unknownID: Int
    /// `TrainerSpec.eos_id` (-1: none).
    public var eosID: Int
    /// `TrainerSpec.bos_id` (-1: none).
    public var bosID: Int
    /// `TrainerSpec.pad_id` (-1: none).
    public var padID: Int
    /// Unknown characters become their UTF-8 bytes as `<0xNN>` pieces.
    public var byteFallback: Bool
    /// The dummy space goes at the end instead of the start.
    public var treatWhitespaceAsSuffix: Bool

    /// Decodes and checks a `.model` file's bytes.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: the file name used in error messages.
    ///   - limits: size limits checked before anything is allocated from the file's counts.
    /// - Throws: ``TokenizerError`` naming the file and field: `.malformed` or `.truncated` when the protobuf
    ///   does not decode, `.unsupported` for a non-unigram model, `.duplicate`, `.missing`, `.invalidUTF8`.
    public init(bytes: [UInt8], source: String, limits: TokenizerLimits = TokenizerLimits()) throws(TokenizerError) {
        if bytes.count > limits.maxFileBytes {
            throw TokenizerError(
                .limitExceeded, "\(source): \(bytes.count) bytes is above the limit of \(limits.maxFileBytes)")
        }
        try ProtoWire.check(bytes, source: source, limits: limits)
        let raw = try Self.decode(bytes, source: source, limits: limits)
        try self.init(raw: raw, source: source, limits: limits)
    }

    /// What the protobuf decoder hands over, before the semantic checks.
    struct Raw {
        var pieces: [(bytes: [UInt8], score: Float, type: Int32)] = []
        var modelType: Int32 = 1
        var treatWhitespaceAsSuffix = false
        var byteFallback = false
        var unkID: Int32 = 0
        var bosID: Int32 = 1
        var eosID: Int32 = 2
        var padID: Int32 = -1
        var name: [UInt8] = []
        var charsMap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    init(raw: Raw, source: String, limits: TokenizerLimits) throws(TokenizerError) {
        guard raw.modelType == 1 else {
            let name = [1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"][raw.modelType] ?? "\(raw.modelType)"
            throw TokenizerError(
                .unsupported, "\(source): trainer_spec.model_type is \(name); only UNIGRAM models are supported")
        }
        guard !raw.pieces.isEmpty else {
            throw TokenizerError(.missing, "\(source): pieces is empty")
        }
        var pieces: [Piece] = []
        var seenNormal: [[UInt8]: Int] = [:]
        var seenReserved: [[UInt8]: Int] = [:]
        var unk = -1
        var bytesFound = [Bool](repeating: false, count: 256)
        for (i, p) in raw.pieces.enumerated() {
            guard let type = PieceType(rawValue: p.type) else {
                throw TokenizerError(.malformed, "\(source): pieces[\(i)].type \(p.type) is not a piece type")
            }
            if p.bytes.isEmpty {
                throw TokenizerError(.malformed, "\(source): pieces[\(i)].piece is empty")
            }
            if p.bytes.count > limits.maxPieceBytes {
                throw TokenizerError(
                    .limitExceeded, "\(source): pieces[\(i)].piece has \(p.bytes.count) bytes, above \(limits.maxPieceBytes)")
            }
            if let bad = UTF8Check.firstInvalidOffset(p.bytes) {
                throw TokenizerError(.invalidUTF8, "\(source): pieces[\(i)].piece is not valid UTF-8 at its byte \(bad)")
            }
            let isNormal = type == .normal || type == .userDefined || type == .unused
            if isNormal {
                if let prev = seenNormal[p.bytes] {
                    throw TokenizerError(
                        .duplicate,
                        "\(source): pieces[\(i)].piece \"\(UTF8Check.string(p.bytes))\" is already defined as piece \(prev)")
                }
                seenNormal[p.bytes] = i
            } else {
                if let prev = seenReserved[p.bytes] {
                    throw TokenizerError(
                        .duplicate,
                        "\(source): pieces[\(i)].piece \"\(UTF8Check.string(p.bytes))\" is already defined as piece \(prev)")
                }
                seenReserved[p.bytes] = i
            }
            if type == .unknown {
                if unk >= 0 {
                    throw TokenizerError(.duplicate, "\(source): pieces[\(i)] is a second UNKNOWN piece (first: \(unk))")
                }
                unk = i
            }
            if type == .byte {
                guard raw.byteFallback else {
                    throw TokenizerError(
                        .malformed,
                        "\(source): pieces[\(i)] is the byte piece \"\(UTF8Check.string(p.bytes))\" but trainer_spec.byte_fallback is false"
                    )
                }
                guard let b = Self.byteValue(p.bytes) else {
                    throw TokenizerError(
                        .malformed, "\(source): pieces[\(i)].piece \"\(UTF8Check.string(p.bytes))\" is not a byte piece <0xNN>")
                }
                bytesFound[Int(b)] = true
            }
            pieces.append(Piece(bytes: p.bytes, score: p.score, type: type))
        }
        guard unk >= 0 else {
            throw TokenizerError(.missing, "\(source): pieces has no UNKNOWN piece (unk is not defined)")
        }
        if raw.byteFallback, let missing = bytesFound.firstIndex(of: false) {
            throw TokenizerError(
                .missing,
                "\(source): trainer_spec.byte_fallback is true but the byte piece <0x\(Self.hex(UInt8(missing)))> is missing")
        }
        self.pieces = pieces
        self.unknownID = unk
        self.eosID = Int(raw.eosID)
        self.bosID = Int(raw.bosID)
        self.padID = Int(raw.padID)
        self.byteFallback = raw.byteFallback
        self.treatWhitespaceAsSuffix = raw.treatWhitespaceAsSuffix
        self.normalizer = Normalizer(
            name: UTF8Check.string(raw.name), addDummyPrefix: raw.addDummyPrefix,
            removeExtraWhitespaces: raw.removeExtraWhitespaces, escapeWhitespaces: raw.escapeWhitespaces,
            precompiledCharsMap: raw.charsMap)
    }

    /// The byte of a `<0xNN>` piece (two upper- or lower-case hex digits), or nil.
    static func byteValue(_ bytes: [UInt8]) -> UInt8? {
        guard bytes.count == 6, bytes[0] == 0x3C, bytes[1] == 0x30, bytes[2] == 0x78, bytes[5] == 0x3E else { return nil }
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        guard let h = digit(bytes[3]), let l = digit(bytes[4]) else { return nil }
        return h << 4 | l
    }

    /// Two upper-case hex digits.
    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
