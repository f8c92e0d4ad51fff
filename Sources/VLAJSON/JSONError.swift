/// Why a JSON text was refused, and the byte offset where.
public struct JSONError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable {
        private let raw: UInt8
        /// The text ends inside a value.
        public static let truncated = Code(raw: 0)
        /// The text is not JSON (RFC 8259): a bad token, escape, number or trailing bytes.
        public static let malformed = Code(raw: 1)
        /// Containers nest deeper than ``JSONReader/maxDepth``.
        public static let tooDeep = Code(raw: 2)
        /// An object names the same key twice.
        public static let duplicateKey = Code(raw: 3)
        /// A string holds bytes that are not well-formed UTF-8.
        public static let invalidUTF8 = Code(raw: 4)
        /// Building the values would pass ``JSONReader/budget``.
        public static let overBudget = Code(raw: 5)
    }

    /// The kind of failure.
    public var code: Code
    /// What is wrong, a lowercase clause without the offset (`duplicate key "a"`).
    public var message: String
    /// Byte offset of the problem (plus the reader's `base`).
    public var offset: Int

    /// An error of `code` at `offset`.
    public init(_ code: Code, _ message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `message (at byte offset)`.
    public var description: String { "\(message) (at byte \(offset))" }
}
