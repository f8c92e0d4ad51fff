/// An error from a checkpoint reader: what went wrong, where (file, tensor or entry, byte offset).
///
/// Messages are lowercase clauses that name the offending value; ``description`` prefixes the file and
/// appends the byte offset, for example
/// `model.safetensors: tensor "w1": data 0x40..<0x1040 exceeds data size 0x800 (at byte offset 120)`.
public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. A struct rather than an enum so new kinds do not break clients.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case io, truncated, malformed, unsupportedDType, unsupportedFormat, outOfBounds
            case limitExceeded, duplicateName, unsafePath, refusedGlobal, decompression, legacyFormat
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The file could not be opened, mapped or read.
        public static let io = Code(.io)
        /// The bytes end before a structure they declare.
        public static let truncated = Code(.truncated)
        /// A header, entry or record does not follow its format.
        public static let malformed = Code(.malformed)
        /// A tensor's element type is not one vlac reads.
        public static let unsupportedDType = Code(.unsupportedDType)
        /// The file is not in a format vlac reads, or uses a feature of it vlac does not read.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// An offset or length points outside its container, overflows, or overlaps another.
        public static let outOfBounds = Code(.outOfBounds)
        /// A count or size is larger than ``ReaderLimits`` allows.
        public static let limitExceeded = Code(.limitExceeded)
        /// Two tensors or entries have the same name.
        public static let duplicateName = Code(.duplicateName)
        /// A path in the file points outside the folder it must stay in.
        public static let unsafePath = Code(.unsafePath)
        /// A pickle names a global that is not on the allow-list.
        public static let refusedGlobal = Code(.refusedGlobal)
        /// Compressed data does not inflate to its declared size.
        public static let decompression = Code(.decompression)
        /// A format vlac recognises but does not read (legacy PyTorch).
        public static let legacyFormat = Code(.legacyFormat)

        public var description: String { wrapped.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, naming the tensor, entry or field.
    public var message: String
    /// The file the error is in, if known.
    public var file: String?
    /// The byte offset in ``file`` (or in the zip entry the message names) where the problem was found.
    public var offset: Int?

    /// Makes an error.
    public init(_ code: Code, _ message: String, offset: Int? = nil, file: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.file = file
    }

    public var description: String {
        var text = ""
        if let file { text += "\(file): " }
        text += message
        if let offset { text += " (at byte offset \(offset))" }
        return text
    }

    /// Returns this error with `file` filled in if it was not set yet.
    func inFile(_ path: String) -> CheckpointError {
        var copy = self
        if copy.file == nil { copy.file = path }
        return copy
    }

    /// Returns this error with `prefix` put before the message (for example `entry "a.npy": `).
    func prefixed(_ prefix: String) -> CheckpointError {
        var copy = self
        copy.message = prefix + copy.message
        return copy
    }
}
