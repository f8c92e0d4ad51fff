import VLAFormat

/// A SHA-256 digest of a checkpoint file or tensor, for provenance (computed with `VLAFormat.SHA256`).
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// Wraps 32 digest bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The digest of `bytes`.
    public static func of(_ bytes: [UInt8]) -> SHA256Digest { SHA256Digest(bytes: SHA256.hash(bytes)) }

    /// The digest of the bytes of `view`.
    public static func of(_ view: ByteView) -> SHA256Digest {
        var h = SHA256()
        h.update(view)
        return SHA256Digest(bytes: h.finalize())
    }

    /// Lowercase hexadecimal, 64 characters.
    public var hex: String { hexString(bytes) }

    /// The hexadecimal digest.
    public var description: String { hex }
}

extension SHA256 {
    /// Adds the bytes of a checkpoint view to the input.
    public mutating func update(_ view: ByteView) {
        view.withUnsafeBytes { unsafe update($0) }
    }
}
