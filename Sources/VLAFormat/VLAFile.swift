/// A verified, read-only .vla file.
///
/// Creating one runs the whole verifier (digest first, then every offset, length, alignment, overlap, count,
/// shape and op signature) before any accessor is usable; there is no unverified mode. After it returns, the
/// runtime may trust every offset and shape it reads from here without checking again. Tensor payloads are
/// views of the mapped file: opening copies no tensor data.
///
/// `@unchecked Sendable`: all stored properties are immutable after `init`, and the bytes are a read-only
/// mapping or a private copy (``FileBytes``).
///
/// > Note: The byte layout is specified in `Schemas/vla-format.md`.
@safe public final class VLAFile: @unchecked Sendable {
    /// The file header.
    public struct Header: Sendable, Hashable {
        /// Format major version (1).
        public var major: UInt16
        /// Format minor version.
        public var minor: UInt16
        /// Flag bits.
        public var flags: UInt32
        /// Total size in bytes.
        public var fileSize: UInt64
        /// Where the section table starts.
        public var sectionTableOffset: UInt64
        /// Number of sections.
        public var sectionCount: UInt32
        /// Whether the file is a shared blob rather than a policy.
        public var isSharedBlob: Bool { flags & Layout.flagSharedBlob != 0 }
    }

    /// One entry of the section table.
    public struct Section: Sendable, Hashable {
        /// What the section holds.
        public var kind: SectionKind
        /// Whether a reader that does not know the kind must refuse the file.
        public var isRequired: Bool
        /// Byte offset in the file.
        public var offset: UInt64
        /// Length in bytes.
        public var length: UInt64
        /// Alignment of `offset`.
        public var alignment: UInt32
        /// False for an unknown optional section, which the reader skipped.
        public var isKnown: Bool { SectionKind.known.contains(kind) }
    }

    /// A tensor as stored: the entry of the tensor table with its resolved location.
    public struct Tensor: Sendable, Hashable {
        /// Unique name.
        public var name: String
        /// Element type and shape.
        public var type: TensorType
        /// Where the bytes are.
        public var storage: Storage
        /// For i8: the scale tensor's id.
        public var scaleTensor: Int?
        /// Payload size in bytes.
        public var byteCount: UInt64

        /// Where a tensor's bytes are.
        public enum Storage: Sendable, Hashable {
            /// In this file at an absolute, 64-byte aligned byte offset.
            case inline(fileOffset: UInt64)
            /// Tensor `index` of shared blob `ref`.
            case external(ref: Int, index: Int)
            /// At `offset` in the arena.
            case arena(offset: UInt64)
        }
    }

    /// The header.
    public let header: Header
    /// The section table, in file order.
    public let sections: [Section]
    /// The tensor table, in id order.
    public let tensors: [Tensor]
    /// Metadata.
    public let metadata: Metadata
    /// Programs.
    public let programs: [Program]
    /// The work of one run of each program, in FLOP-equivalents (``OpWork``), by program index; a `call` op
    /// counts its operands only (``SharedBlobResolver/expansion(of:in:blobs:)`` adds its callee's work).
    /// Each is at most ``FormatLimits/maxProgramWork``.
    public let programWork: [UInt64]
    /// Arena size in bytes.
    public let arenaSize: UInt64
    /// Provenance.
    public let provenance: Provenance
    /// Test vectors.
    public let testVectors: [TestVector]
    /// Shared-blob references.
    public let sharedRefs: [SharedReference]
    /// The trailing SHA-256 digest (of everything before it).
    public let digest: [UInt8]
    /// SHA-256 of the whole file, from the verifier's digest pass.
    private let wholeFileHash: [UInt8]

    private let storage: FileBytes

    /// Maps and verifies the file at `path`.
    ///
    /// - Throws: `FormatError` with `.io` when the file cannot be opened or mapped, otherwise the first
    ///   problem the verifier finds, with its byte offset.
    public convenience init(path: String, limits: FormatLimits = .default) throws(FormatError) {
        try self.init(storage: FileBytes(mapping: path), limits: limits)
    }

    /// Maps and verifies the file at `path` only if it is `byteCount` bytes long: a file of another size is
    /// refused from its `fstat`, before any of it is read or hashed (shared-blob lookup, whose references
    /// record each blob's size).
    convenience init(path: String, limits: FormatLimits, byteCount: UInt64) throws(FormatError) {
        try self.init(storage: FileBytes(mapping: path, expectedSize: byteCount), limits: limits)
    }

    /// Verifies a copy of `bytes` (placed at a 64-byte aligned address).
    ///
    /// - Throws: the first problem the verifier finds, with its byte offset.
    public convenience init(bytes: [UInt8], limits: FormatLimits = .default) throws(FormatError) {
        try self.init(storage: FileBytes(copying: bytes), limits: limits)
    }

    /// Verifies a copy of `bytes` whose SHA-256 hashes the caller already computed over exactly these bytes:
    /// `prefix` of bytes `0..<n-32`, `whole` of all of them. Everything else is checked as usual, and the
    /// trailing digest is still compared with `prefix`. For the writer's self-check only (VLAWriter.serialize).
    convenience init(bytes: [UInt8], limits: FormatLimits, knownHashes: (prefix: [UInt8], whole: [UInt8])) throws(FormatError) {
        try self.init(storage: FileBytes(copying: bytes), limits: limits, knownHashes: knownHashes)
    }

    private init(storage: FileBytes, limits: FormatLimits, knownHashes: (prefix: [UInt8], whole: [UInt8])? = nil) throws(FormatError) {
        self.storage = storage
        var v = unsafe Verifier(reader: ByteReader(base: storage.buffer), limits: limits, knownHashes: knownHashes)
        try v.run()
        header = v.header
        sections = v.sections
        tensors = v.tensors
        metadata = v.metadata
        programs = v.programs
        programWork = v.programWork
        arenaSize = v.arenaSize
        provenance = v.provenance
        testVectors = v.testVectors
        sharedRefs = v.sharedRefs
        digest = v.digest
        wholeFileHash = v.contentHash
    }

    /// The file's total size in bytes.
    public var byteCount: Int { unsafe storage.buffer.count }

    /// Calls `body` with a view of an inline tensor's payload (no copy).
    ///
    /// - Parameter id: A tensor id whose storage is `.inline`.
    /// - Returns: What `body` returns, or `nil` for a tensor that is not inline.
    /// - Warning: Do not escape the buffer; it is valid only during `body`.
    public func withPayload<R, E: Error>(
        ofTensor id: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R? {
        guard tensors.indices.contains(id), case .inline(let offset) = tensors[id].storage else { return nil }
        let start = Int(offset), end = start + Int(tensors[id].byteCount)
        return try unsafe body(UnsafeRawBufferPointer(rebasing: storage.buffer[start..<end]))
    }

    /// The address of an inline tensor's payload in the mapped file, for the runtime's zero-copy binding.
    ///
    /// - Returns: `nil` for a tensor that is not inline.
    /// - Warning: The pointer is valid only while this `VLAFile` is alive; keep the file alive as long as the
    ///   pointer is used (the interpreter holds it as its `keepAlive`). The memory is read-only.
    @unsafe public func unsafePayloadAddress(ofTensor id: Int) -> UnsafeRawPointer? {
        guard tensors.indices.contains(id), case .inline(let offset) = tensors[id].storage,
              let base = unsafe storage.buffer.baseAddress
        else { return nil }
        return unsafe base + Int(offset)
    }

    /// A copy of an inline tensor's payload bytes, or `nil` for a tensor that is not inline.
    public func payload(ofTensor id: Int) -> [UInt8]? {
        unsafe withPayload(ofTensor: id) { unsafe Array($0) }
    }

    /// Calls `body` with the whole file's bytes.
    ///
    /// - Warning: Do not escape the buffer; it is valid only during `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try unsafe body(storage.buffer)
    }

    /// The SHA-256 of the whole file, trailing digest included: the identity policies use for a shared blob.
    ///
    /// Computed by the verifier in the same pass as the trailing digest, so asking for it reads nothing.
    public func contentHash() -> [UInt8] { wholeFileHash }

    /// Index of the tensor with `name`, if any.
    public func tensorID(named name: String) -> Int? {
        tensors.firstIndex { $0.name == name }
    }

    /// Reconstructs the document (inline payloads copied), so that `VLAWriter.serialize(file.document())`
    /// gives back the same bytes.
    public func document() -> VLADocument {
        let entries = tensors.enumerated().map { id, t in
            let location: TensorLocation
            switch t.storage {
            case .inline: location = .inline(payload(ofTensor: id) ?? [])
            case .external(let ref, let index): location = .external(ref: ref, index: index)
            case .arena(let offset): location = .arena(offset: offset)
            }
            return TensorEntry(name: t.name, type: t.type, location: location, scaleTensor: t.scaleTensor)
        }
        return VLADocument(
            isSharedBlob: header.isSharedBlob, tensors: entries, metadata: metadata, programs: programs,
            arenaSize: arenaSize, provenance: provenance, testVectors: testVectors, sharedRefs: sharedRefs)
    }
}
