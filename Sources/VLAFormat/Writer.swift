/// Serializes a ``VLADocument`` into the bytes of a .vla file.
///
/// Deterministic: the same document gives the same bytes (no timestamps, strings interned in first-use
/// order, zero padding). The result is checked by the same verifier every reader runs, so the writer never
/// produces a file that a reader would refuse.
public enum VLAWriter {
    /// Section sizes and record sizes written by this version.
    static let metadataFixedSize = 152
    static let programsHeaderSize = 32
    static let provenanceHeaderSize = 24
    static let sourceEntrySize = 48
    static let optionEntrySize = 16
    static let testVectorsHeaderSize = 16
    static let testVectorEntrySize = 16
    static let bindingSize = 8
    static let sharedRefEntrySize = 48
    static let tableHeaderSize = 8

    /// Returns the bytes of the file for `document`.
    ///
    /// - Parameter document: The content. Inline tensors must carry exactly `byteCount` bytes.
    /// - Returns: The complete file, trailing digest included.
    /// - Throws: `FormatError` when the document is inconsistent (the message names the tensor, program or
    ///   field) or when the result would fail verification.
    public static func serialize(_ document: VLADocument, limits: FormatLimits = .default) throws(FormatError) -> [UInt8] {
        try serializeWithIdentity(document, limits: limits).bytes
    }

    /// Returns the bytes of the file for `document` and their identity, hashing the bytes once.
    ///
    /// The identity is the SHA-256 of the whole file, trailing digest included (what a policy's shared
    /// reference names, Schemas/vla-format.md §11; ``VLAFile/contentHash()`` of the result). It comes from the
    /// same pass over the bytes as the trailing digest, so callers that need it need not hash the file again.
    ///
    /// - Parameter document: The content. Inline tensors must carry exactly `byteCount` bytes.
    /// - Returns: The complete file, trailing digest included, and its identity.
    /// - Throws: As ``serialize(_:limits:)``.
    public static func serializeWithIdentity(
        _ document: VLADocument, limits: FormatLimits = .default
    ) throws(FormatError) -> (bytes: [UInt8], identity: [UInt8]) {
        var strings = StringTable()
        var sections: [(SectionKind, [UInt8], Int)] = []  // kind, bytes, alignment

        // DATA: inline payloads at 64-byte aligned offsets, in tensor order.
        var data = ByteWriter()
        var inlineOffsets: [Int: UInt64] = [:]
        for (id, tensor) in document.tensors.enumerated() {
            guard case .inline(let payload) = tensor.location else { continue }
            guard payload.count == tensor.byteCount else {
                throw FormatError(
                    .invalidValue,
                    "tensor \(id) \"\(tensor.name)\": \(payload.count) payload bytes, \(tensor.type) needs \(tensor.byteCount)")
            }
            data.align(Layout.payloadAlignment)
            inlineOffsets[id] = UInt64(data.count)
            data.raw(payload)
        }

        // TENSORS
        var tensors = ByteWriter()
        tensors.u32(UInt32(document.tensors.count))
        tensors.u32(UInt32(Layout.tensorEntrySize))
        for (id, tensor) in document.tensors.enumerated() {
            guard tensor.type.shape.count <= Layout.maxRank else {
                throw FormatError(.limitExceeded, "tensor \(id) \"\(tensor.name)\": rank \(tensor.type.shape.count) exceeds \(Layout.maxRank)")
            }
            let name = strings.intern(tensor.name)
            tensors.u32(name.offset)
            tensors.u32(name.length)
            tensors.u8(tensor.type.dtype.rawValue)
            tensors.u8(UInt8(tensor.type.shape.count))
            var location: UInt64 = 0
            var ref = Layout.none
            switch tensor.location {
            case .inline:
                tensors.u8(0)
                location = inlineOffsets[id] ?? 0
            case .external(let r, let index):
                tensors.u8(1)
                location = UInt64(clamping: index)
                ref = UInt32(clamping: r)
            case .arena(let offset):
                tensors.u8(2)
                location = offset
            }
            tensors.u8(0)
            tensors.u32(tensor.scaleTensor.map { UInt32(clamping: $0) } ?? Layout.none)
            for axis in 0..<Layout.maxRank {
                tensors.u32(axis < tensor.type.shape.count ? UInt32(clamping: tensor.type.shape[axis]) : 0)
            }
            tensors.u64(location)
            tensors.u64(UInt64(clamping: tensor.byteCount))
            tensors.u32(ref)
            tensors.u32(0)
        }

        // METADATA
        let meta = document.metadata
        var metadata = ByteWriter()
        metadata.u32(UInt32(metadataFixedSize))
        // 1.3: the squash scale, with the SQUASH_SCALE flag; zero otherwise.
        if meta.action.hasSquashScale {
            guard meta.action.squashScale.isFinite, meta.action.squashScale > 0 else {
                throw FormatError(.invalidValue, "metadata: squash scale \(meta.action.squashScale) must be finite and positive")
            }
            metadata.f32(meta.action.squashScale)
        } else {
            metadata.u32(0)
        }
        for s in [meta.instruction, meta.model.name, meta.role] {
            let r = strings.intern(s)
            metadata.u32(r.offset)
            metadata.u32(r.length)
        }
        guard meta.model.digest.count == 32 else {
            throw FormatError(.invalidValue, "metadata: model digest has \(meta.model.digest.count) bytes, needs 32")
        }
        metadata.raw(meta.model.digest)
        let a = meta.action
        let n = Int(a.actionDim)
        guard a.mean.count == n, a.std.count == n, a.mask.count == n else {
            throw FormatError(
                .invalidValue,
                "metadata: action mean/std/mask have \(a.mean.count)/\(a.std.count)/\(a.mask.count) entries, action_dim is \(n)")
        }
        for v in [a.actionDim, a.horizon, a.squashedDims] { metadata.u32(v) }
        metadata.f32(a.squashBound)
        metadata.u32(a.gripper.rawValue)
        metadata.u32(a.gripperDim)
        metadata.u32(a.normalization.rawValue)
        metadata.u32(a.ensembling.rawValue)
        metadata.u32(a.ensembleWindow)
        metadata.u32(a.robot.rawValue)
        let im = meta.image
        guard im.mean.count == 3, im.std.count == 3 else {
            throw FormatError(.invalidValue, "metadata: image mean and std need 3 entries each")
        }
        metadata.u32(im.height)
        metadata.u32(im.width)
        metadata.u32(im.resize.rawValue)
        metadata.u32(im.crop.rawValue)
        metadata.f32(im.cropArea)
        for v in im.mean { metadata.f32(v) }
        for v in im.std { metadata.f32(v) }
        metadata.u32(a.rotation.rawValue)
        for v in a.mean { metadata.f32(v) }
        for v in a.std { metadata.f32(v) }
        for v in a.mask { metadata.u8(v ? 1 : 0) }
        metadata.align(8)

        // PROGRAMS
        var pool: [UInt32] = []
        var programEntries = ByteWriter()
        var opRecords = ByteWriter()
        var opCount = 0
        for program in document.programs {
            let name = strings.intern(program.name)
            programEntries.u32(name.offset)
            programEntries.u32(name.length)
            programEntries.u32(UInt32(opCount))
            programEntries.u32(UInt32(clamping: program.operations.count))
            programEntries.u32(UInt32(pool.count))
            programEntries.u32(UInt32(clamping: program.inputs.count))
            programEntries.u32(UInt32(clamping: program.outputs.count))
            programEntries.u32(0)
            pool += program.inputs.map { UInt32(clamping: $0) }
            pool += program.outputs.map { UInt32(clamping: $0) }
            for op in program.operations {
                guard op.inputs.count <= 0xFFFF, op.outputs.count <= 0xFFFF, op.attributes.count <= 0xFFFF else {
                    throw FormatError(.limitExceeded, "program \"\(program.name)\": an op has too many operands")
                }
                opRecords.u16(op.opcode.rawValue)
                opRecords.u16(0)
                opRecords.u32(UInt32(pool.count))
                opRecords.u16(UInt16(op.inputs.count))
                opRecords.u16(UInt16(op.outputs.count))
                opRecords.u16(UInt16(op.attributes.count))
                opRecords.u16(0)
                pool += op.inputs.map { UInt32(clamping: $0) }
                pool += op.outputs.map { UInt32(clamping: $0) }
                pool += op.attributes
                opCount += 1
            }
        }
        var programs = ByteWriter()
        programs.u32(UInt32(document.programs.count))
        programs.u32(UInt32(Layout.programEntrySize))
        programs.u32(UInt32(opCount))
        programs.u32(UInt32(Layout.opRecordSize))
        programs.u32(UInt32(clamping: pool.count))
        programs.u32(0)
        programs.u64(document.arenaSize)
        programs.raw(programEntries.bytes)
        programs.raw(opRecords.bytes)
        for w in pool { programs.u32(w) }
        programs.align(8)

        // PROVENANCE
        let prov = document.provenance
        var provenance = ByteWriter()
        let compiler = strings.intern(prov.compiler)
        provenance.u32(compiler.offset)
        provenance.u32(compiler.length)
        provenance.u32(UInt32(clamping: prov.sources.count))
        provenance.u32(UInt32(sourceEntrySize))
        provenance.u32(UInt32(clamping: prov.options.count))
        provenance.u32(UInt32(optionEntrySize))
        for source in prov.sources {
            guard source.sha256.count == 32 else {
                throw FormatError(.invalidValue, "provenance source \"\(source.name)\": digest has \(source.sha256.count) bytes, needs 32")
            }
            let r = strings.intern(source.name)
            provenance.u32(r.offset)
            provenance.u32(r.length)
            provenance.raw(source.sha256)
            provenance.u64(source.size)
        }
        for option in prov.options {
            let k = strings.intern(option.key), v = strings.intern(option.value)
            provenance.u32(k.offset)
            provenance.u32(k.length)
            provenance.u32(v.offset)
            provenance.u32(v.length)
        }

        // TEST_VECTORS
        var vectors = ByteWriter()
        vectors.u32(UInt32(clamping: document.testVectors.count))
        vectors.u32(UInt32(testVectorEntrySize))
        let bindingCount = document.testVectors.reduce(0) { $0 + $1.inputs.count + $1.expected.count }
        vectors.u32(UInt32(clamping: bindingCount))
        vectors.u32(UInt32(bindingSize))
        var firstBinding = 0
        for v in document.testVectors {
            vectors.u32(UInt32(clamping: v.program))
            vectors.u32(UInt32(firstBinding))
            vectors.u16(UInt16(clamping: v.inputs.count))
            vectors.u16(UInt16(clamping: v.expected.count))
            vectors.f32(v.tolerance)
            firstBinding += v.inputs.count + v.expected.count
        }
        for v in document.testVectors {
            for b in v.inputs + v.expected {
                vectors.u32(UInt32(clamping: b.target))
                vectors.u32(UInt32(clamping: b.value))
            }
        }

        // SHARED_REFS
        var refs = ByteWriter()
        refs.u32(UInt32(clamping: document.sharedRefs.count))
        refs.u32(UInt32(sharedRefEntrySize))
        for ref in document.sharedRefs {
            guard ref.sha256.count == 32 else {
                throw FormatError(.invalidValue, "shared reference \"\(ref.role)\": digest has \(ref.sha256.count) bytes, needs 32")
            }
            refs.raw(ref.sha256)
            let r = strings.intern(ref.role)
            refs.u32(r.offset)
            refs.u32(r.length)
            refs.u64(ref.size)
        }

        sections.append((.strings, strings.bytes, 8))
        sections.append((.tensors, tensors.bytes, 8))
        sections.append((.metadata, metadata.bytes, 8))
        if !document.programs.isEmpty || document.arenaSize > 0 { sections.append((.programs, programs.bytes, 8)) }
        sections.append((.provenance, provenance.bytes, 8))
        if !document.testVectors.isEmpty { sections.append((.testVectors, vectors.bytes, 8)) }
        if !document.sharedRefs.isEmpty { sections.append((.sharedRefs, refs.bytes, 8)) }
        if data.count > 0 { sections.append((.data, data.bytes, Layout.payloadAlignment)) }

        // Assemble: header, sections, section table, digest.
        var out = ByteWriter()
        out.raw(Layout.magic)
        out.u16(Layout.majorVersion)
        out.u16(document.minimumMinorVersion)
        out.u32((document.isSharedBlob ? Layout.flagSharedBlob : 0) | (document.metadata.action.hasSquashScale ? Layout.flagSquashScale : 0))
        out.u64(0)  // file size, patched below
        out.u64(0)  // section table offset, patched below
        out.u32(UInt32(sections.count))
        out.u32(UInt32(Layout.headerSize))
        out.zeros(24)
        var table = ByteWriter()
        for (kind, bytes, alignment) in sections {
            out.align(alignment)
            table.u32(kind.rawValue)
            table.u32(1)  // required: every section of 1.0 is required when present
            table.u64(UInt64(out.count))
            table.u64(UInt64(bytes.count))
            table.u32(UInt32(alignment))
            table.u32(0)
            out.raw(bytes)
        }
        out.align(8)
        out.patchU64(UInt64(out.count), at: 24)
        out.raw(table.bytes)
        let fileSize = out.count + Layout.digestSize
        out.patchU64(UInt64(fileSize), at: 16)
        // One pass: the digest of everything so far, then (from a copy of the state) the identity over the
        // digest too.
        var hasher = SHA256()
        hasher.update(out.bytes)
        var whole = hasher
        let digest = hasher.finalize()
        whole.update(digest)
        let identity = whole.finalize()
        out.raw(digest)

        // Self-check with the verifier every reader runs. It is given the two hashes instead of hashing the
        // bytes again: they were computed a few lines up over exactly the bytes it verifies (`out.bytes` is
        // unchanged since, bar the appended digest, which is the prefix hash itself), so re-hashing could only
        // repeat the same computation. Everything else (structure, ranges, cross-references) is verified.
        _ = try VLAFile(bytes: out.bytes, limits: limits, knownHashes: (digest, identity))
        return (out.bytes, identity)
    }
}

/// Interns strings in first-use order into the STRINGS section.
struct StringTable {
    var bytes: [UInt8] = []
    var index: [String: (offset: UInt32, length: UInt32)] = [:]

    mutating func intern(_ s: String) -> (offset: UInt32, length: UInt32) {
        if let r = index[s] { return r }
        let utf8 = Array(s.utf8)
        let r = (UInt32(clamping: bytes.count), UInt32(clamping: utf8.count))
        bytes += utf8
        index[s] = r
        return r
    }
}
