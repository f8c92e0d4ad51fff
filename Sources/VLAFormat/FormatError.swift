/// Why a .vla file was refused, or could not be written.
///
/// Thrown with typed throws by every reader, verifier and writer entry point of `VLAFormat`. It carries no
/// underlying error, so it is usable where existentials are not (Embedded Swift).
public struct FormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable category, for programs that branch on the kind of problem.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The file ends before a structure it declares.
        public static let truncated = Code("truncated")
        /// The first bytes are not the .vla magic.
        public static let badMagic = Code("bad_magic")
        /// A major version this reader does not read.
        public static let unsupportedVersion = Code("unsupported_version")
        /// The trailing SHA-256 does not match the content.
        public static let digestMismatch = Code("digest_mismatch")
        /// A field's value is out of its allowed set (a flag, a dtype, an enum value, a size field).
        public static let invalidValue = Code("invalid_value")
        /// An offset or length points outside its container, or arithmetic on it overflows.
        public static let outOfBounds = Code("out_of_bounds")
        /// Two regions that must be disjoint overlap.
        public static let overlap = Code("overlap")
        /// An offset is not a multiple of its required alignment.
        public static let misaligned = Code("misaligned")
        /// A count or size is over a limit of ``FormatLimits``.
        public static let limitExceeded = Code("limit_exceeded")
        /// A string is not valid UTF-8, or a name is empty or repeated.
        public static let badString = Code("bad_string")
        /// A required section is missing, repeated, or unknown.
        public static let badSection = Code("bad_section")
        /// A tensor id, program index or shared-blob index is out of range, or refers to the wrong kind of tensor.
        public static let badReference = Code("bad_reference")
        /// An op's operands do not fit its signature, or the op code is unknown.
        public static let badOperation = Code("bad_operation")
        /// A shared blob is missing or does not match its reference.
        public static let sharedBlob = Code("shared_blob")
        /// The file system refused an operation (open, map, write, rename).
        public static let io = Code("io")

        /// The snake_case name.
        public var description: String { name }
    }

    /// The category.
    public var code: Code
    /// A lowercase clause naming the field and what is wrong with it.
    public var message: String
    /// The byte offset in the file of the offending field, when there is one.
    public var offset: UInt64?

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: UInt64? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `digest_mismatch at byte 0x1c0: ...`.
    public var description: String {
        if let offset {
            return "\(code) at byte \(offset) (0x\(String(offset, radix: 16))): \(message)"
        }
        return "\(code): \(message)"
    }
}
