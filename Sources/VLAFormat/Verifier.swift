/// The verifier: one pass over a file's bytes that checks everything before anything is trusted.
///
/// Order: size and magic, major version, the header's file size, the trailing digest, then the header
/// flags, the section table, and each section (strings, shared refs, tensors, metadata, programs,
/// provenance, test vectors), then the cross-references between them. It fails fast on the first problem
/// with the byte offset of the offending field (style.md: the runtime validator fails fast).
struct Verifier {
    let reader: ByteReader
    let limits: FormatLimits

    var header = VLAFile.Header(major: 0, minor: 0, flags: 0, fileSize: 0, sectionTableOffset: 0, sectionCount: 0)
    var sections: [VLAFile.Section] = []
    var tensors: [VLAFile.Tensor] = []
    var metadata = Metadata()
    var programs: [Program] = []
    /// The work of one run of each program (``OpWork``), call ops counting their operands only.
    var programWork: [UInt64] = []
    var arenaSize: UInt64 = 0
    var provenance = Provenance()
    var testVectors: [TestVector] = []
    var sharedRefs: [SharedReference] = []
    var digest: [UInt8] = []
    var contentHash: [UInt8] = []

    /// Byte range of each known section, by kind.
    private var known: [SectionKind: (offset: UInt64, length: UInt64)] = [:]

    /// SHA-256 of bytes `0..<n-32` and of all `n` bytes, when the caller computed them over these very bytes
    /// (the writer, which hashed its own output a moment ago); `nil` makes the verifier hash the file.
    let knownHashes: (prefix: [UInt8], whole: [UInt8])?

    init(reader: ByteReader, limits: FormatLimits, knownHashes: (prefix: [UInt8], whole: [UInt8])? = nil) {
        self.reader = reader
        self.limits = limits
        self.knownHashes = knownHashes
    }

    mutating func run() throws(FormatError) {
        try verifyHeader()
        try verifySectionTable()
        try verifyStrings()
        try verifySharedRefs()
        try verifyProgramsHeader()
        try verifyTensors()
        try verifyMetadata()
        try verifyPrograms()
        try verifyProvenance()
        try verifyTestVectors()
    }

    // MARK: Header and digest

    private mutating func verifyHeader() throws(FormatError) {
        let n = reader.count
        let magicCount = min(n, Layout.magic.count)
        let prefix = try reader.bytes(0, UInt64(magicCount), "magic")
        guard prefix == Array(Layout.magic.prefix(magicCount)) else {
            throw FormatError(.badMagic, "not a .vla file: the first bytes are not 89 56 4C 41 0D 0A 1A 0A", offset: 0)
        }
        guard n >= Layout.headerSize + Layout.digestSize else {
            throw FormatError(.truncated, "file has \(n) bytes, a .vla file has at least \(Layout.headerSize + Layout.digestSize)", offset: UInt64(n))
        }
        header.major = try reader.u16(8, "major version")
        header.minor = try reader.u16(10, "minor version")
        guard header.major == Layout.majorVersion else {
            throw FormatError(
                .unsupportedVersion,
                "file is format \(header.major).\(header.minor); this vlac reads \(Layout.majorVersion).x (use a vlac that reads major \(header.major))",
                offset: 8)
        }
        header.flags = try reader.u32(12, "flags")
        header.fileSize = try reader.u64(16, "file size")
        guard header.fileSize <= limits.maxFileSize else {
            throw FormatError(.limitExceeded, "file size \(header.fileSize) exceeds the limit \(limits.maxFileSize)", offset: 16)
        }
        guard header.fileSize == UInt64(n) else {
            let code: FormatError.Code = header.fileSize > UInt64(n) ? .truncated : .invalidValue
            throw FormatError(code, "header says the file has \(header.fileSize) bytes, it has \(n)", offset: 16)
        }
        let end = n - Layout.digestSize
        digest = try reader.bytes(UInt64(end), UInt64(Layout.digestSize), "digest")
        let hashes = knownHashes ?? reader.sha256(upTo: end)
        contentHash = hashes.whole
        guard hashes.prefix == digest else {
            throw FormatError(
                .digestMismatch,
                "the SHA-256 of bytes 0..<\(end) does not match the trailing digest: the file is corrupt or was modified",
                offset: UInt64(end))
        }
        let unknownRequired = header.flags & Layout.requiredFlagMask & ~Layout.knownRequiredFlags
        guard unknownRequired == 0 else {
            throw FormatError(.invalidValue, "unknown required flag bits 0x\(String(unknownRequired, radix: 16)) (written by a newer vlac?)", offset: 12)
        }
        header.sectionTableOffset = try reader.u64(24, "section table offset")
        header.sectionCount = try reader.u32(32, "section count")
        let headerSize = try reader.u32(36, "header size")
        guard headerSize >= UInt32(Layout.headerSize), headerSize % 8 == 0, headerSize <= 4096 else {
            throw FormatError(.invalidValue, "header size \(headerSize) is not a multiple of 8 in 64...4096", offset: 36)
        }
    }

    private var payloadEnd: UInt64 { header.fileSize - UInt64(Layout.digestSize) }

    // MARK: Section table

    private mutating func verifySectionTable() throws(FormatError) {
        let count = header.sectionCount
        guard count <= limits.maxSections else {
            throw FormatError(.limitExceeded, "section count \(count) exceeds the limit \(limits.maxSections)", offset: 32)
        }
        let tableOffset = header.sectionTableOffset
        let headerSize = UInt64(try reader.u32(36, "header size"))
        guard tableOffset % 8 == 0 else {
            throw FormatError(.misaligned, "section table offset \(tableOffset) is not a multiple of 8", offset: 24)
        }
        let tableLength = UInt64(count) * UInt64(Layout.sectionEntrySize)
        let (tableEnd, overflow) = tableOffset.addingReportingOverflow(tableLength)
        guard !overflow, tableOffset >= headerSize, tableEnd <= payloadEnd else {
            throw FormatError(.outOfBounds, "section table \(tableOffset)..<\(tableOffset &+ tableLength) is outside \(headerSize)..<\(payloadEnd)", offset: 24)
        }
        var ranges: [(start: UInt64, end: UInt64, index: Int)] = []
        for i in 0..<Int(count) {
            let e = tableOffset + UInt64(i * Layout.sectionEntrySize)
            let kind = SectionKind(rawValue: try reader.u32(e, "section \(i) kind"))
            let flags = try reader.u32(e + 4, "section \(i) flags")
            let offset = try reader.u64(e + 8, "section \(i) offset")
            let length = try reader.u64(e + 16, "section \(i) length")
            let alignment = try reader.u32(e + 24, "section \(i) alignment")
            guard flags & ~1 == 0 else {
                throw FormatError(.invalidValue, "section \(i) (\(kind)) has unknown flag bits \(flags)", offset: e + 4)
            }
            guard alignment >= 8, alignment <= 4096, alignment & (alignment - 1) == 0 else {
                throw FormatError(.invalidValue, "section \(i) (\(kind)) alignment \(alignment) is not a power of two in 8...4096", offset: e + 24)
            }
            guard offset % UInt64(alignment) == 0 else {
                throw FormatError(.misaligned, "section \(i) (\(kind)) offset \(offset) is not a multiple of its alignment \(alignment)", offset: e + 8)
            }
            let (end, o) = offset.addingReportingOverflow(length)
            guard !o, offset >= headerSize, end <= payloadEnd else {
                throw FormatError(.outOfBounds, "section \(i) (\(kind)) \(offset)..<\(offset &+ length) is outside \(headerSize)..<\(payloadEnd)", offset: e + 8)
            }
            if end > tableOffset && offset < tableEnd && length > 0 {
                throw FormatError(.overlap, "section \(i) (\(kind)) \(offset)..<\(end) overlaps the section table", offset: e + 8)
            }
            let section = VLAFile.Section(kind: kind, isRequired: flags & 1 != 0, offset: offset, length: length, alignment: alignment)
            if section.isKnown {
                guard known[kind] == nil else {
                    throw FormatError(.badSection, "section \(i): a second \(kind) section", offset: e)
                }
                if kind == .data && alignment < UInt32(Layout.payloadAlignment) {
                    throw FormatError(.misaligned, "data section alignment \(alignment) is below \(Layout.payloadAlignment)", offset: e + 24)
                }
                known[kind] = (offset, length)
            } else if section.isRequired {
                throw FormatError(
                    .badSection, "section \(i) has unknown kind \(kind.rawValue) and is marked required: written by a newer vlac; upgrade to read it",
                    offset: e)
            }
            sections.append(section)
            if length > 0 { ranges.append((offset, end, i)) }
        }
        ranges.sort { $0.start < $1.start }
        for j in ranges.indices.dropFirst() where ranges[j].start < ranges[j - 1].end {
            throw FormatError(
                .overlap, "section \(ranges[j].index) overlaps section \(ranges[j - 1].index)",
                offset: tableOffset + UInt64(ranges[j].index * Layout.sectionEntrySize) + 8)
        }
        for kind in [SectionKind.strings, .tensors, .metadata, .provenance] where known[kind] == nil {
            throw FormatError(.badSection, "the required \(kind) section is missing", offset: 24)
        }
    }

    /// The (offset, length) of a known section, or an empty range at 0.
    private func range(_ kind: SectionKind) -> (offset: UInt64, length: UInt64) { known[kind] ?? (0, 0) }

    /// Checks that a table of `count` records of at least `minimum` declared bytes each fits in a section.
    private func table(
        _ name: String, count: UInt32, limit: UInt32, entrySize: UInt32, minimum: Int,
        start: UInt64, sectionEnd: UInt64, countOffset: UInt64
    ) throws(FormatError) -> UInt64 {
        guard count <= limit else {
            throw FormatError(.limitExceeded, "\(name) count \(count) exceeds the limit \(limit)", offset: countOffset)
        }
        guard entrySize >= UInt32(minimum), entrySize % 4 == 0, entrySize <= 4096 else {
            throw FormatError(.invalidValue, "\(name) entry size \(entrySize) is below \(minimum) or not a multiple of 4", offset: countOffset + 4)
        }
        let bytes = UInt64(count) * UInt64(entrySize)
        let (end, o) = start.addingReportingOverflow(bytes)
        guard !o, end <= sectionEnd else {
            throw FormatError(.truncated, "\(count) \(name) entries of \(entrySize) bytes need \(start)..<\(start &+ bytes), the section ends at \(sectionEnd)", offset: countOffset)
        }
        return end
    }

    // MARK: Strings

    private var stringsRange: (offset: UInt64, length: UInt64) = (0, 0)

    private mutating func verifyStrings() throws(FormatError) {
        stringsRange = range(.strings)
        guard stringsRange.length <= limits.maxStringTableBytes else {
            throw FormatError(.limitExceeded, "string table of \(stringsRange.length) bytes exceeds the limit \(limits.maxStringTableBytes)", offset: stringsRange.offset)
        }
    }

    /// Strings already decoded, by (offset << 32 | length): a repeated reference (the writer interns strings)
    /// costs a lookup, not another copy.
    private var decodedStrings: [UInt64: String] = [:]
    /// Bytes of the distinct strings decoded so far; at most the string table's length (see ``string(at:_:)``).
    private var decodedStringBytes: UInt64 = 0

    /// Reads a string reference (u32 offset, u32 length) at `at`.
    ///
    /// Budget: the distinct strings a file references add up to at most its string table's length, so that the
    /// bytes decoded, hashed and escaped are linear in the file's size. The writer stores each distinct string
    /// once; only strings that overlap in the table (thousands of names that are windows of one long run of
    /// bytes) can exceed it.
    private mutating func string(at position: UInt64, _ field: @autoclosure () -> String) throws(FormatError) -> String {
        let at = position
        let offset = UInt64(try reader.u32(at, field()))
        let length = try reader.u32(at + 4, field())
        guard length <= limits.maxStringBytes else {
            throw FormatError(.limitExceeded, "\(field()): string length \(length) exceeds the limit \(limits.maxStringBytes)", offset: at + 4)
        }
        guard offset + UInt64(length) <= stringsRange.length else {
            throw FormatError(.outOfBounds, "\(field()): string \(offset)..<\(offset + UInt64(length)) is outside the string table (\(stringsRange.length) bytes)", offset: at)
        }
        let key = offset << 32 | UInt64(length)
        if let known = decodedStrings[key] { return known }
        decodedStringBytes += UInt64(length)
        guard decodedStringBytes <= stringsRange.length else {
            throw FormatError(
                .limitExceeded,
                "\(field()): string \(offset)..<\(offset + UInt64(length)) brings the distinct strings read to \(decodedStringBytes) bytes, more than the \(stringsRange.length)-byte string table: strings overlap in the table (string budget)",
                offset: at)
        }
        let bytes = try reader.bytes(stringsRange.offset + offset, UInt64(length), field())
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw FormatError(.badString, "\(field()): string at string-table offset \(offset) is not valid UTF-8", offset: stringsRange.offset + offset)
        }
        decodedStrings[key] = s
        return s
    }

    // MARK: Shared references

    private mutating func verifySharedRefs() throws(FormatError) {
        guard let (start, length) = known[.sharedRefs] else { return }
        let end = start + length
        let count = try reader.u32(start, "shared_refs count")
        let entrySize = try reader.u32(start + 4, "shared_refs entry size")
        _ = try table("shared reference", count: count, limit: limits.maxSharedRefs, entrySize: entrySize,
                      minimum: VLAWriter.sharedRefEntrySize, start: start + 8, sectionEnd: end, countOffset: start)
        if header.isSharedBlob && count > 0 {
            throw FormatError(.invalidValue, "a shared blob cannot reference other shared blobs", offset: start)
        }
        var seen = Set<[UInt8]>()
        for i in 0..<UInt64(count) {
            let e = start + 8 + i * UInt64(entrySize)
            let sha = try reader.bytes(e, 32, "shared reference \(i) digest")
            let role = try string(at: e + 32, "shared reference \(i) role")
            let size = try reader.u64(e + 40, "shared reference \(i) size")
            guard seen.insert(sha).inserted else {
                throw FormatError(.invalidValue, "shared reference \(i) repeats blob \(hexString(sha))", offset: e)
            }
            sharedRefs.append(SharedReference(sha256: sha, role: role, size: size))
        }
    }

    // MARK: Programs header (needed for the arena size before tensors)

    private var programsStart: UInt64 = 0
    private var programsEnd: UInt64 = 0
    private var programCount: UInt32 = 0
    private var programEntrySize: UInt32 = 0
    private var opCount: UInt32 = 0
    private var opRecordSize: UInt32 = 0
    private var poolWords: UInt32 = 0

    private mutating func verifyProgramsHeader() throws(FormatError) {
        guard let (start, length) = known[.programs] else { return }
        programsStart = start
        programsEnd = start + length
        guard length >= UInt64(VLAWriter.programsHeaderSize) else {
            throw FormatError(.truncated, "programs section has \(length) bytes, its header needs \(VLAWriter.programsHeaderSize)", offset: start)
        }
        programCount = try reader.u32(start, "program count")
        programEntrySize = try reader.u32(start + 4, "program entry size")
        opCount = try reader.u32(start + 8, "op count")
        opRecordSize = try reader.u32(start + 12, "op record size")
        poolWords = try reader.u32(start + 16, "operand pool size")
        arenaSize = try reader.u64(start + 24, "arena size")
        guard arenaSize <= limits.maxArenaBytes else {
            throw FormatError(.limitExceeded, "arena size \(arenaSize) exceeds the limit \(limits.maxArenaBytes)", offset: start + 24)
        }
        guard arenaSize % UInt64(Layout.arenaAlignment) == 0 else {
            throw FormatError(.misaligned, "arena size \(arenaSize) is not a multiple of \(Layout.arenaAlignment)", offset: start + 24)
        }
        let afterPrograms = try table(
            "program", count: programCount, limit: limits.maxPrograms, entrySize: programEntrySize,
            minimum: Layout.programEntrySize, start: start + 32, sectionEnd: programsEnd, countOffset: start)
        let afterOps = try table(
            "op", count: opCount, limit: limits.maxOps, entrySize: opRecordSize, minimum: Layout.opRecordSize,
            start: afterPrograms, sectionEnd: programsEnd, countOffset: start + 8)
        _ = try table(
            "operand pool", count: poolWords, limit: limits.maxPoolWords, entrySize: 4, minimum: 4,
            start: afterOps, sectionEnd: programsEnd, countOffset: start + 16)
    }

    // MARK: Tensors

    private mutating func verifyTensors() throws(FormatError) {
        let (start, length) = range(.tensors)
        let end = start + length
        let count = try reader.u32(start, "tensor count")
        let entrySize = try reader.u32(start + 4, "tensor entry size")
        _ = try table("tensor", count: count, limit: limits.maxTensors, entrySize: entrySize,
                      minimum: Layout.tensorEntrySize, start: start + 8, sectionEnd: end, countOffset: start)
        let data = known[.data]
        var names = Set<String>()
        var inlineRanges: [(start: UInt64, end: UInt64, id: Int)] = []
        var scaleFields: [(id: Int, scale: Int, at: UInt64)] = []
        for i in 0..<Int(count) {
            let e = start + 8 + UInt64(i) * UInt64(entrySize)
            let what = "tensor \(i)"
            let name = try string(at: e, "\(what) name")
            guard !name.isEmpty else { throw FormatError(.badString, "\(what) has an empty name", offset: e) }
            guard names.insert(name).inserted else {
                throw FormatError(.badString, "\(what) repeats the name \"\(escaped(name))\"", offset: e)
            }
            let label = "tensor \(i) \"\(escaped(name))\""
            let rawDType = try reader.u8(e + 8, "\(label) dtype")
            guard let dtype = DType(rawValue: rawDType) else {
                throw FormatError(.invalidValue, "\(label) has unknown dtype \(rawDType)", offset: e + 8)
            }
            let rank = Int(try reader.u8(e + 9, "\(label) rank"))
            guard rank <= Layout.maxRank else {
                throw FormatError(.limitExceeded, "\(label) has rank \(rank), the limit is \(Layout.maxRank)", offset: e + 9)
            }
            let storageKind = try reader.u8(e + 10, "\(label) storage")
            guard try reader.u8(e + 11, "\(label) reserved") == 0 else {
                throw FormatError(.invalidValue, "\(label) has a non-zero reserved byte", offset: e + 11)
            }
            let scale = try reader.u32(e + 12, "\(label) scale tensor")
            var shape: [Int] = []
            var elements: UInt64 = 1
            for axis in 0..<Layout.maxRank {
                let at = e + 16 + UInt64(4 * axis)
                let d = try reader.u32(at, "\(label) dimension \(axis)")
                if axis < rank {
                    guard d >= 1, d <= limits.maxDimension else {
                        throw FormatError(.invalidValue, "\(label) dimension \(axis) is \(d), must be in 1...\(limits.maxDimension)", offset: at)
                    }
                    let (p, o) = elements.multipliedReportingOverflow(by: UInt64(d))
                    guard !o else { throw FormatError(.limitExceeded, "\(label): element count overflows", offset: at) }
                    elements = p
                    shape.append(Int(d))
                } else if d != 0 {
                    throw FormatError(.invalidValue, "\(label) dimension \(axis) is \(d) beyond rank \(rank), must be 0", offset: at)
                }
            }
            let location = try reader.u64(e + 40, "\(label) location")
            let byteLength = try reader.u64(e + 48, "\(label) byte length")
            let (expected, o) = elements.multipliedReportingOverflow(by: UInt64(dtype.byteWidth))
            guard !o, expected <= limits.maxTensorBytes else {
                throw FormatError(.limitExceeded, "\(label): \(elements) elements of \(dtype) exceed the tensor size limit \(limits.maxTensorBytes)", offset: e + 16)
            }
            guard byteLength == expected else {
                throw FormatError(.invalidValue, "\(label): byte length \(byteLength) differs from \(dtype)\(shape) = \(expected) bytes", offset: e + 48)
            }
            let ref = try reader.u32(e + 56, "\(label) shared reference")
            guard try reader.u32(e + 60, "\(label) reserved") == 0 else {
                throw FormatError(.invalidValue, "\(label) has a non-zero reserved field", offset: e + 60)
            }
            let storage: VLAFile.Tensor.Storage
            switch storageKind {
            case 0:
                guard let data else {
                    throw FormatError(.badSection, "\(label) is inline but the file has no data section", offset: e + 10)
                }
                guard location % UInt64(Layout.payloadAlignment) == 0 else {
                    throw FormatError(.misaligned, "\(label): payload offset \(location) is not a multiple of \(Layout.payloadAlignment)", offset: e + 40)
                }
                let (pend, po) = location.addingReportingOverflow(byteLength)
                guard !po, pend <= data.length else {
                    throw FormatError(.outOfBounds, "\(label): payload \(location)..<\(location &+ byteLength) exceeds the data section (\(data.length) bytes)", offset: e + 40)
                }
                storage = .inline(fileOffset: data.offset + location)
                if byteLength > 0 { inlineRanges.append((location, pend, i)) }
            case 1:
                guard Int(ref) < sharedRefs.count else {
                    throw FormatError(.badReference, "\(label) refers to shared blob \(ref), the file has \(sharedRefs.count)", offset: e + 56)
                }
                guard location < UInt64(limits.maxTensors) else {
                    throw FormatError(.badReference, "\(label): index \(location) in the shared blob exceeds the tensor limit", offset: e + 40)
                }
                storage = .external(ref: Int(ref), index: Int(location))
            case 2:
                guard location % UInt64(Layout.arenaAlignment) == 0 else {
                    throw FormatError(.misaligned, "\(label): arena offset \(location) is not a multiple of \(Layout.arenaAlignment)", offset: e + 40)
                }
                let (aend, ao) = location.addingReportingOverflow(byteLength)
                guard !ao, aend <= arenaSize else {
                    throw FormatError(.outOfBounds, "\(label): arena bytes \(location)..<\(location &+ byteLength) exceed the arena (\(arenaSize) bytes)", offset: e + 40)
                }
                storage = .arena(offset: location)
            default:
                throw FormatError(.invalidValue, "\(label) has unknown storage kind \(storageKind)", offset: e + 10)
            }
            if storageKind != 1 && ref != Layout.none {
                throw FormatError(.invalidValue, "\(label) is not external but names shared blob \(ref)", offset: e + 56)
            }
            var scaleTensor: Int?
            if dtype == .i8 {
                guard scale != Layout.none else {
                    throw FormatError(.badReference, "\(label) is i8 but has no scale tensor", offset: e + 12)
                }
                scaleTensor = Int(scale)
                scaleFields.append((i, Int(scale), e + 12))
            } else if scale != Layout.none {
                throw FormatError(.invalidValue, "\(label) is \(dtype) but names a scale tensor", offset: e + 12)
            }
            tensors.append(VLAFile.Tensor(name: name, type: TensorType(dtype, shape), storage: storage, scaleTensor: scaleTensor, byteCount: byteLength))
        }
        inlineRanges.sort { $0.start < $1.start }
        for j in inlineRanges.indices.dropFirst() where inlineRanges[j].start < inlineRanges[j - 1].end {
            let a = inlineRanges[j - 1].id, b = inlineRanges[j].id
            throw FormatError(
                .overlap, "tensor \(b) \"\(escaped(tensors[b].name))\" overlaps tensor \(a) \"\(escaped(tensors[a].name))\" in the data section",
                offset: start + 8 + UInt64(b) * UInt64(entrySize) + 40)
        }
        for (id, scale, at) in scaleFields {
            guard scale < tensors.count else {
                throw FormatError(.badReference, "tensor \(id): scale tensor \(scale) does not exist", offset: at)
            }
            let s = tensors[scale], t = tensors[id]
            guard s.type.dtype == .f32, s.type.shape == [t.type.shape.last ?? 1] else {
                throw FormatError(.badReference, "tensor \(id): scale tensor \(scale) is \(s.type), needs f32[\(t.type.shape.last ?? 1)]", offset: at)
            }
            if case .arena = s.storage {
                throw FormatError(.badReference, "tensor \(id): scale tensor \(scale) is an arena tensor", offset: at)
            }
            // Scales are finite and positive: a zero, negative, infinite or NaN scale would turn every product
            // with this tensor into zero, a sign flip or NaN. External scales are checked in their blob.
            if case .inline(let offset) = s.storage {
                for j in 0..<UInt64(s.type.elementCount) {
                    let v = try reader.f32(offset + 4 * j, "scale tensor \(scale) element \(j)")
                    guard v.isFinite, v > 0 else {
                        throw FormatError(
                            .invalidValue, "tensor \(id) \"\(escaped(t.name))\": scale \(j) of scale tensor \(scale) is \(v); scales must be finite and positive",
                            offset: offset + 4 * j)
                    }
                }
            }
        }
        // A blob has no shared references, so the storage check above already refuses its external tensors;
        // from 1.1 on it may hold arena tensors for its programs.
        if header.isSharedBlob, tensors.contains(where: { if case .external = $0.storage { true } else { false } }) {
            throw FormatError(.invalidValue, "a shared blob holds no external tensors", offset: start)
        }
    }

    // MARK: Metadata

    private mutating func verifyMetadata() throws(FormatError) {
        let (start, length) = range(.metadata)
        let fixed = try reader.u32(start, "metadata fixed size")
        guard fixed >= UInt32(VLAWriter.metadataFixedSize), fixed % 4 == 0, UInt64(fixed) <= length else {
            throw FormatError(.invalidValue, "metadata fixed size \(fixed) is below \(VLAWriter.metadataFixedSize) or exceeds the section (\(length) bytes)", offset: start)
        }
        var m = Metadata()
        m.instruction = try string(at: start + 8, "instruction")
        m.model.name = try string(at: start + 16, "model name")
        m.role = try string(at: start + 24, "role")
        m.model.digest = try reader.bytes(start + 32, 32, "model digest")
        var a = ActionContract()
        let at = start + 64
        a.actionDim = try reader.u32(at, "action_dim")
        a.horizon = try reader.u32(at + 4, "horizon")
        a.squashedDims = try reader.u32(at + 8, "squashed dims")
        a.squashBound = try reader.f32(at + 12, "squash bound")
        a.gripper = GripperRule(rawValue: try reader.u32(at + 16, "gripper rule"))
        a.gripperDim = try reader.u32(at + 20, "gripper dim")
        a.normalization = Normalization(rawValue: try reader.u32(at + 24, "normalization"))
        a.ensembling = Ensembling(rawValue: try reader.u32(at + 28, "ensembling"))
        a.ensembleWindow = try reader.u32(at + 32, "ensemble window")
        a.robot = RobotMapping(rawValue: try reader.u32(at + 36, "robot mapping"))
        var im = ImageContract()
        im.height = try reader.u32(at + 40, "image height")
        im.width = try reader.u32(at + 44, "image width")
        im.resize = ResizeMethod(rawValue: try reader.u32(at + 48, "image resize"))
        im.crop = CropMethod(rawValue: try reader.u32(at + 52, "image crop"))
        im.cropArea = try reader.f32(at + 56, "crop area")
        im.mean = [try reader.f32(at + 60, "image mean"), try reader.f32(at + 64, "image mean"), try reader.f32(at + 68, "image mean")]
        im.std = [try reader.f32(at + 72, "image std"), try reader.f32(at + 76, "image std"), try reader.f32(at + 80, "image std")]
        a.rotation = RotationMapping(rawValue: try reader.u32(at + 84, "rotation"))

        func bad(_ message: String, _ o: UInt64) -> FormatError { FormatError(.invalidValue, "metadata: \(message)", offset: o) }
        guard a.actionDim <= limits.maxActionDim else {
            throw FormatError(.limitExceeded, "metadata: action_dim \(a.actionDim) exceeds the limit \(limits.maxActionDim)", offset: at)
        }
        guard a.horizon <= limits.maxHorizon else {
            throw FormatError(.limitExceeded, "metadata: horizon \(a.horizon) exceeds the limit \(limits.maxHorizon)", offset: at + 4)
        }
        guard a.squashedDims <= a.actionDim else { throw bad("squashed dims \(a.squashedDims) exceed action_dim \(a.actionDim)", at + 8) }
        guard a.squashBound.isFinite, a.squashBound >= 0, (a.squashedDims == 0) == (a.squashBound == 0) || a.squashedDims == 0 else {
            throw bad("squash bound \(a.squashBound) must be finite and positive when dims are squashed", at + 12)
        }
        if a.squashedDims > 0 && a.squashBound <= 0 { throw bad("squash bound \(a.squashBound) must be positive", at + 12) }
        // 1.3: with the SQUASH_SCALE flag, offset 4 is the squash scale; without it, zero.
        if header.flags & Layout.flagSquashScale != 0 {
            let scale = try reader.f32(start + 4, "squash scale")
            guard a.squashedDims > 0, scale.isFinite, scale > 0, scale != a.squashBound else {
                throw bad("squash scale \(scale) (SQUASH_SCALE flag) must be finite, positive, other than the bound \(a.squashBound), and dims must be squashed (squashed dims \(a.squashedDims))", start + 4)
            }
            a.squashScale = scale
        } else {
            guard try reader.u32(start + 4, "metadata reserved") == 0 else {
                throw bad("reserved word at offset 4 is not zero (and the SQUASH_SCALE flag is not set)", start + 4)
            }
        }
        for (value, o) in [(a.gripper as any ContractValue, at + 16), (a.normalization, at + 24), (a.ensembling, at + 28),
                           (a.robot, at + 36), (im.resize, at + 48), (im.crop, at + 52), (a.rotation, at + 84)] where !value.isKnown {
            throw bad("\(type(of: value)) value \(value.rawValue) is unknown (written by a newer vlac?)", o)
        }
        if a.gripper != .none && a.gripperDim >= a.actionDim { throw bad("gripper dim \(a.gripperDim) is not below action_dim \(a.actionDim)", at + 20) }
        if a.ensembling != .none && (a.ensembleWindow < 1 || a.ensembleWindow > a.horizon) {
            throw bad("ensemble window \(a.ensembleWindow) is not in 1...horizon (\(a.horizon))", at + 32)
        }
        if a.rotation != .none && a.actionDim < 6 { throw bad("rotation mapping needs action_dim ≥ 6, has \(a.actionDim)", at + 84) }
        guard (im.height == 0) == (im.width == 0) else {
            throw bad("image size \(im.height)×\(im.width) must be both zero or both positive", at + 40)
        }
        let pixels = UInt64(im.height) * UInt64(im.width)
        guard im.height <= limits.maxImageSide, im.width <= limits.maxImageSide, pixels <= limits.maxImagePixels else {
            throw FormatError(
                .limitExceeded,
                "metadata: image size \(im.height)×\(im.width) exceeds the image budget (each side ≤ \(limits.maxImageSide), at most \(limits.maxImagePixels) pixels)",
                offset: at + 40)
        }
        if im.crop != .none && !(im.cropArea > 0 && im.cropArea <= 1) { throw bad("crop area \(im.cropArea) is not in (0, 1]", at + 56) }
        for c in 0..<3 {
            let mean = im.mean[c], std = im.std[c]
            guard mean.isFinite, abs(mean) <= limits.maxImageMean else {
                throw bad("image mean of channel \(c) is \(mean); it must be finite with |mean| ≤ \(limits.maxImageMean)", at + 60 + 4 * UInt64(c))
            }
            guard std.isFinite, std >= limits.minImageStd, std <= limits.maxImageStd else {
                throw bad("image std of channel \(c) is \(std); it must be in \(limits.minImageStd)...\(limits.maxImageStd)", at + 72 + 4 * UInt64(c))
            }
        }
        let n = UInt64(a.actionDim)
        let arrays = start + UInt64(fixed)
        guard arrays + 9 * n <= start + length else {
            throw FormatError(.truncated, "metadata: \(n) action dims need \(9 * n) bytes of mean/std/mask after the fixed part", offset: arrays)
        }
        for i in 0..<n {
            let mean = try reader.f32(arrays + 4 * i, "action mean")
            let std = try reader.f32(arrays + 4 * n + 4 * i, "action std")
            let mask = try reader.u8(arrays + 8 * n + i, "action mask")
            guard mean.isFinite else { throw bad("action mean of dim \(i) is \(mean), not finite", arrays + 4 * i) }
            guard std.isFinite else { throw bad("action std of dim \(i) is \(std), not finite", arrays + 4 * n + 4 * i) }
            guard mask <= 1 else { throw bad("action mask of dim \(i) is \(mask), must be 0 or 1", arrays + 8 * n + i) }
            // A dim the runtime unnormalizes (a · std + mean) needs sane statistics; the others are never applied.
            if a.normalization == .bounds && mask == 1 {
                // low (p01) and high (p99) in the mean and std slots.
                guard abs(mean) <= limits.maxActionMean, abs(std) <= limits.maxActionMean, std >= mean else {
                    throw bad(
                        "action bounds of dim \(i) are low \(mean), high \(std); an unnormalized dim needs |low|, |high| ≤ \(limits.maxActionMean) and high ≥ low",
                        arrays + 4 * i)
                }
            }
            if a.normalization == .meanStd && mask == 1 {
                guard abs(mean) <= limits.maxActionMean else {
                    throw bad("action mean of dim \(i) is \(mean); an unnormalized dim needs |mean| ≤ \(limits.maxActionMean)", arrays + 4 * i)
                }
                guard std >= limits.minActionStd, std <= limits.maxActionStd else {
                    throw bad(
                        "action std of dim \(i) is \(std); an unnormalized dim needs std in \(limits.minActionStd)...\(limits.maxActionStd) (not zero, negative or subnormal)",
                        arrays + 4 * n + 4 * i)
                }
            }
            a.mean.append(mean)
            a.std.append(std)
            a.mask.append(mask == 1)
        }
        m.action = a
        m.image = im
        metadata = m
    }

    // MARK: Programs

    private func tensorID(_ raw: UInt32, _ what: @autoclosure () -> String, at: UInt64) throws(FormatError) -> Int {
        guard Int(raw) < tensors.count else {
            throw FormatError(.badReference, "\(what()): tensor \(raw) does not exist (the file has \(tensors.count))", offset: at)
        }
        return Int(raw)
    }

    private func arenaRange(_ id: Int) -> Range<UInt64>? {
        guard case .arena(let o) = tensors[id].storage else { return nil }
        return o..<(o + tensors[id].byteCount)
    }

    private mutating func verifyPrograms() throws(FormatError) {
        guard programsEnd > 0 else { return }
        let entries = programsStart + 32
        let ops = entries + UInt64(programCount) * UInt64(programEntrySize)
        let pool = ops + UInt64(opCount) * UInt64(opRecordSize)
        func word(_ index: UInt64, _ what: @autoclosure () -> String, at: UInt64) throws(FormatError) -> UInt32 {
            guard index < UInt64(poolWords) else {
                throw FormatError(.outOfBounds, "\(what()): operand pool index \(index) is past its \(poolWords) words", offset: at)
            }
            return try reader.u32(pool + 4 * index, what())
        }
        var names = Set<String>()
        // Budget: every op record and every operand-pool word is used once on average (the writer lays both
        // out in order, unshared), so verifying and preparing programs is linear in the section's size.
        var opsUsed: UInt64 = 0, wordsUsed: UInt64 = 0
        for p in 0..<UInt64(programCount) {
            let e = entries + p * UInt64(programEntrySize)
            let name = try string(at: e, "program \(p) name")
            guard !name.isEmpty, names.insert(name).inserted else {
                throw FormatError(.badString, "program \(p) name \"\(escaped(name))\" is empty or repeated", offset: e)
            }
            let label = "program \"\(escaped(name))\""
            let firstOp = UInt64(try reader.u32(e + 8, "\(label) first op"))
            let count = UInt64(try reader.u32(e + 12, "\(label) op count"))
            guard firstOp + count <= UInt64(opCount) else {
                throw FormatError(.outOfBounds, "\(label): ops \(firstOp)..<\(firstOp + count) exceed the \(opCount) op records", offset: e + 8)
            }
            opsUsed += count
            guard opsUsed <= UInt64(opCount) else {
                throw FormatError(
                    .limitExceeded, "\(label): the programs run \(opsUsed) op records so far, more than the \(opCount) stored: programs share op records (op budget)",
                    offset: e + 12)
            }
            let io = UInt64(try reader.u32(e + 16, "\(label) io start"))
            let inCount = UInt64(try reader.u32(e + 20, "\(label) input count"))
            let outCount = UInt64(try reader.u32(e + 24, "\(label) output count"))
            guard inCount <= UInt64(limits.maxOperandsPerOp), outCount <= UInt64(limits.maxOperandsPerOp) else {
                throw FormatError(.limitExceeded, "\(label) has \(inCount) inputs and \(outCount) outputs, the limit is \(limits.maxOperandsPerOp) each", offset: e + 20)
            }
            wordsUsed += inCount + outCount
            var inputs: [Int] = [], outputs: [Int] = []
            for i in 0..<(inCount + outCount) {
                let id = try tensorID(try word(io + i, "\(label) io", at: e + 16), "\(label) io \(i)", at: e + 16)
                guard arenaRange(id) != nil else {
                    throw FormatError(.badReference, "\(label): input/output tensor \(id) \"\(escaped(tensors[id].name))\" is not an arena tensor", offset: e + 16)
                }
                if i < inCount { inputs.append(id) } else { outputs.append(id) }
            }
            var operations: [Operation] = []
            var work: UInt64 = 0
            for k in firstOp..<(firstOp + count) {
                let r = ops + k * UInt64(opRecordSize)
                let operandCount = UInt64(try reader.u16(r + 8, "op \(k) input count")) + UInt64(try reader.u16(r + 10, "op \(k) output count"))
                    + UInt64(try reader.u16(r + 12, "op \(k) attribute count"))
                wordsUsed += operandCount
                guard wordsUsed <= UInt64(poolWords) else {
                    throw FormatError(
                        .limitExceeded,
                        "\(label) op \(k): the ops and programs use \(wordsUsed) operand words so far, more than the \(poolWords) in the pool: operand lists are shared (operand budget)",
                        offset: r + 4)
                }
                let (operation, opWork) = try operation(at: r, index: k, program: label, pool: pool, word: word)
                operations.append(operation)
                work = OpWork.add(work, opWork)
                guard work <= limits.maxProgramWork else {
                    throw FormatError(
                        .limitExceeded,
                        "\(label): the work of ops \(firstOp)...\(k) is \(work) FLOP-equivalents, over the work budget of \(limits.maxProgramWork) per run (FormatLimits.maxProgramWork)",
                        offset: r)
                }
            }
            programs.append(Program(name: name, inputs: inputs, outputs: outputs, operations: operations))
            programWork.append(work)
        }
    }

    private func operation(
        at r: UInt64, index k: UInt64, program label: String, pool: UInt64,
        word: (UInt64, @autoclosure () -> String, UInt64) throws(FormatError) -> UInt32
    ) throws(FormatError) -> (Operation, work: UInt64) {
        let opcode = OpCode(rawValue: try reader.u16(r, "op \(k) code"))
        let what = "\(label) op \(k) (\(opcode))"
        guard opcode.isKnown else {
            throw FormatError(.badOperation, "\(what): unknown op code \(opcode.rawValue) (written by a newer vlac?)", offset: r)
        }
        guard try reader.u16(r + 2, "\(what) flags") == 0 else {
            throw FormatError(.invalidValue, "\(what) has non-zero flags", offset: r + 2)
        }
        let start = UInt64(try reader.u32(r + 4, "\(what) operand start"))
        let nIn = UInt64(try reader.u16(r + 8, "\(what) input count"))
        let nOut = UInt64(try reader.u16(r + 10, "\(what) output count"))
        let nAttr = UInt64(try reader.u16(r + 12, "\(what) attribute count"))
        guard nIn + nOut + nAttr <= UInt64(limits.maxOperandsPerOp) else {
            throw FormatError(.limitExceeded, "\(what) has \(nIn + nOut + nAttr) operands, the limit is \(limits.maxOperandsPerOp)", offset: r + 8)
        }
        var ids: [Int] = []
        for i in 0..<(nIn + nOut) {
            ids.append(try tensorID(try word(start + i, "\(what) operand \(i)", r + 4), "\(what) operand \(i)", at: r + 4))
        }
        var attributes: [UInt32] = []
        for i in 0..<nAttr { attributes.append(try word(start + nIn + nOut + i, "\(what) attribute \(i)", r + 4)) }
        let inputs = Array(ids[0..<Int(nIn)]), outputs = Array(ids[Int(nIn)...])
        let inputTypes = inputs.map { tensors[$0].type }, outputTypes = outputs.map { tensors[$0].type }
        if let problem = opcode.signatureProblem(inputs: inputTypes, outputs: outputTypes, attributes: attributes) {
            throw FormatError(.badOperation, "\(what): \(problem)", offset: r)
        }
        let work = OpWork.estimate(opcode, inputs: inputTypes, outputs: outputTypes, attributes: attributes)
        var written: [Range<UInt64>] = []
        for id in outputs {
            guard let out = arenaRange(id) else {
                throw FormatError(.badOperation, "\(what): output tensor \(id) \"\(escaped(tensors[id].name))\" is not an arena tensor", offset: r + 4)
            }
            for other in written + inputs.compactMap(arenaRange) where other.overlaps(out) {
                throw FormatError(.overlap, "\(what): output tensor \(id) \"\(escaped(tensors[id].name))\" overlaps another operand in the arena", offset: r + 4)
            }
            written.append(out)
        }
        if opcode == .linearI8 && !attributes.isEmpty && header.minor < 4 {
            throw FormatError(
                .badOperation, "\(what): linear_i8's flags word (zero-point activations) needs format 1.4, the file declares 1.\(header.minor)",
                offset: pool + 4 * (start + nIn + nOut))
        }
        if opcode == .attention, attributes[1] & AttentionFlags.bf16Products != 0, header.minor < 4 {
            throw FormatError(
                .badOperation, "\(what): attention flag bit 2 (bf16 products) needs format 1.4, the file declares 1.\(header.minor)",
                offset: pool + 4 * (start + nIn + nOut + 1))
        }
        if opcode.isReducedPrecisionLinear {
            try verifyReducedPrecisionWeights(inputs[1], int8: opcode == .linearI8, what: what, at: r)
        }
        if opcode == .gather {
            try verifyGatherIDs(ids: inputs[1], rows: tensors[inputs[0]].type.shape[0], what: what, at: r)
        }
        if opcode == .call {
            // The callee's existence and signature are checked at resolution (SharedBlobResolver).
            let attributesAt = pool + 4 * (start + nIn + nOut)
            guard !header.isSharedBlob else {
                throw FormatError(.badOperation, "\(what): a shared blob cannot contain call ops (blobs have no shared references)", offset: r)
            }
            guard Int(attributes[0]) < sharedRefs.count else {
                throw FormatError(
                    .badReference, "\(what): shared reference \(attributes[0]) does not exist (the file has \(sharedRefs.count))", offset: attributesAt)
            }
            guard attributes[1] < limits.maxPrograms else {
                throw FormatError(
                    .badReference, "\(what): program \(attributes[1]) exceeds the limit of \(limits.maxPrograms) programs per file", offset: attributesAt + 4)
            }
        }
        return (Operation(opcode, inputs: inputs, outputs: outputs, attributes: attributes), work)
    }

    /// The weights of `linear_i8` and `linear_bf16` are inline constants (the runtime packs them once when it
    /// prepares the program); int8 weights hold no −128, so that |w| ≤ 127 and no kernel's 16-bit pair sum can
    /// saturate (§8.2).
    private func verifyReducedPrecisionWeights(_ w: Int, int8: Bool, what: String, at r: UInt64) throws(FormatError) {
        guard case .inline(let offset) = tensors[w].storage else {
            throw FormatError(.badOperation, "\(what): weight tensor \(w) \"\(escaped(tensors[w].name))\" must be an inline constant", offset: r + 4)
        }
        guard int8 else { return }
        if let bad = try reader.firstOffset(of: 0x80, offset, UInt64(tensors[w].byteCount), "weight tensor \(w)") {
            throw FormatError(
                .badOperation, "\(what): weight tensor \(w) \"\(escaped(tensors[w].name))\" holds −128 at element \(bad - offset); linear_i8 weights are in [−127, 127]",
                offset: bad)
        }
    }

    /// The ids of a gather must be an inline constant whose values index the table's rows.
    private func verifyGatherIDs(ids: Int, rows: Int, what: String, at r: UInt64) throws(FormatError) {
        guard case .inline(let offset) = tensors[ids].storage else {
            throw FormatError(.badOperation, "\(what): ids tensor \(ids) must be an inline constant", offset: r + 4)
        }
        for i in 0..<UInt64(tensors[ids].type.elementCount) {
            let v = Int32(bitPattern: try reader.u32(offset + 4 * i, "gather id"))
            guard v >= 0, Int(v) < rows else {
                throw FormatError(.badOperation, "\(what): id \(v) at position \(i) is outside the table's \(rows) rows", offset: offset + 4 * i)
            }
        }
    }

    // MARK: Provenance

    private mutating func verifyProvenance() throws(FormatError) {
        let (start, length) = range(.provenance)
        let end = start + length
        guard length >= UInt64(VLAWriter.provenanceHeaderSize) else {
            throw FormatError(.truncated, "provenance section has \(length) bytes, its header needs \(VLAWriter.provenanceHeaderSize)", offset: start)
        }
        provenance.compiler = try string(at: start, "compiler")
        let sources = try reader.u32(start + 8, "provenance source count")
        let sourceSize = try reader.u32(start + 12, "provenance source entry size")
        let options = try reader.u32(start + 16, "provenance option count")
        let optionSize = try reader.u32(start + 20, "provenance option entry size")
        let afterSources = try table(
            "provenance source", count: sources, limit: limits.maxProvenanceEntries, entrySize: sourceSize,
            minimum: VLAWriter.sourceEntrySize, start: start + 24, sectionEnd: end, countOffset: start + 8)
        _ = try table(
            "provenance option", count: options, limit: limits.maxProvenanceEntries, entrySize: optionSize,
            minimum: VLAWriter.optionEntrySize, start: afterSources, sectionEnd: end, countOffset: start + 16)
        for i in 0..<UInt64(sources) {
            let e = start + 24 + i * UInt64(sourceSize)
            let name = try string(at: e, "provenance source \(i) name")
            provenance.sources.append(Provenance.Source(
                name: name, sha256: try reader.bytes(e + 8, 32, "provenance source \(i) digest"),
                size: try reader.u64(e + 40, "provenance source \(i) size")))
        }
        for i in 0..<UInt64(options) {
            let e = afterSources + i * UInt64(optionSize)
            provenance.options.append(Provenance.Option(
                key: try string(at: e, "provenance option \(i) key"), value: try string(at: e + 8, "provenance option \(i) value")))
        }
    }

    // MARK: Test vectors

    private mutating func verifyTestVectors() throws(FormatError) {
        guard let (start, length) = known[.testVectors] else { return }
        var testVectorWork: UInt64 = 0
        let end = start + length
        let count = try reader.u32(start, "test vector count")
        let entrySize = try reader.u32(start + 4, "test vector entry size")
        let bindings = try reader.u32(start + 8, "test vector binding count")
        let bindingSize = try reader.u32(start + 12, "test vector binding size")
        let afterEntries = try table(
            "test vector", count: count, limit: limits.maxTestVectors, entrySize: entrySize,
            minimum: VLAWriter.testVectorEntrySize, start: start + 16, sectionEnd: end, countOffset: start)
        _ = try table(
            "test vector binding", count: bindings, limit: limits.maxPoolWords, entrySize: bindingSize,
            minimum: VLAWriter.bindingSize, start: afterEntries, sectionEnd: end, countOffset: start + 8)
        for i in 0..<UInt64(count) {
            let e = start + 16 + i * UInt64(entrySize)
            let program = Int(try reader.u32(e, "test vector \(i) program"))
            guard program < programs.count else {
                throw FormatError(.badReference, "test vector \(i) names program \(program), the file has \(programs.count)", offset: e)
            }
            let first = UInt64(try reader.u32(e + 4, "test vector \(i) first binding"))
            let nIn = UInt64(try reader.u16(e + 8, "test vector \(i) input count"))
            let nOut = UInt64(try reader.u16(e + 10, "test vector \(i) expected count"))
            let tolerance = try reader.f32(e + 12, "test vector \(i) tolerance")
            guard tolerance.isFinite, tolerance >= 0 else {
                throw FormatError(.invalidValue, "test vector \(i) tolerance \(tolerance) must be finite and non-negative", offset: e + 12)
            }
            testVectorWork = OpWork.add(testVectorWork, programWork[program])
            guard testVectorWork <= limits.maxTestVectorWork else {
                throw FormatError(
                    .limitExceeded,
                    "test vector \(i) (program \"\(escaped(programs[program].name))\") brings the test vectors' work to \(testVectorWork) FLOP-equivalents, over the budget of \(limits.maxTestVectorWork) (FormatLimits.maxTestVectorWork)",
                    offset: e)
            }
            guard first + nIn + nOut <= UInt64(bindings) else {
                throw FormatError(.outOfBounds, "test vector \(i): bindings \(first)..<\(first + nIn + nOut) exceed the \(bindings) bindings", offset: e + 4)
            }
            var vector = TestVector(program: program, inputs: [], expected: [], tolerance: tolerance)
            for j in 0..<(nIn + nOut) {
                let b = afterEntries + (first + j) * UInt64(bindingSize)
                let target = try tensorID(try reader.u32(b, "binding target"), "test vector \(i) binding \(j)", at: b)
                let value = try tensorID(try reader.u32(b + 4, "binding value"), "test vector \(i) binding \(j)", at: b + 4)
                let isInput = j < nIn
                let allowed = isInput ? programs[program].inputs : programs[program].outputs
                guard allowed.contains(target) else {
                    throw FormatError(
                        .badReference, "test vector \(i): tensor \(target) is not an \(isInput ? "input" : "output") of program \"\(escaped(programs[program].name))\"", offset: b)
                }
                // Inline, or (1.1) external: a tensor of a shared blob, checked like every external tensor at resolution.
                let storedValue: Bool
                switch tensors[value].storage {
                case .inline, .external: storedValue = true
                case .arena: storedValue = false
                }
                guard storedValue, tensors[value].type == tensors[target].type else {
                    throw FormatError(
                        .badReference, "test vector \(i): value tensor \(value) must be inline or external and of type \(tensors[target].type)", offset: b + 4)
                }
                let binding = TestVector.Binding(target: target, value: value)
                if isInput { vector.inputs.append(binding) } else { vector.expected.append(binding) }
            }
            testVectors.append(vector)
        }
    }
}

/// A string with control characters, backslashes and quotes escaped, for messages and `vlac dump`.
///
/// Printable characters (including non-ASCII letters) are kept; C0/C1 controls, DEL, and the Unicode
/// bidirectional controls are written as `\u{…}` so a hostile name cannot move the cursor or reorder text.
public func escaped(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        let v = scalar.value
        switch v {
        case 0x5C: out += "\\\\"
        case 0x22: out += "\\\""
        case 0x0A: out += "\\n"
        case 0x09: out += "\\t"
        case 0x0D: out += "\\r"
        case 0x00..<0x20, 0x7F..<0xA0, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF:
            out += "\\u{\(String(v, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
