/// A zip archive read from a mapped file: the central directory (with ZIP64), local headers, stored
/// entries as zero-copy views and deflated entries inflated with zlib.
///
/// ```
/// [local header 0x04034b50, name, extra][data][optional data descriptor] ... per entry
/// [central directory: 0x02014b50 per entry, with sizes, CRC, local header offset, ZIP64 extra 0x0001]
/// [ZIP64 end record 0x06064b50][ZIP64 locator 0x07064b50]   (only when counts or offsets need 64 bits)
/// [end of central directory 0x06054b50, comment ≤ 65535 bytes]
/// ```
///
/// Checks: every entry's local header and data lie inside the file and before the central directory,
/// entries do not overlap, names are relative without `..` components, encrypted entries and methods
/// other than stored (0) and deflate (8) are refused, declared sizes are capped and the inflate ratio
/// is capped (``ReaderLimits/maxCompressionRatio``), inflated size and CRC-32 must match the directory,
/// and the CRC-32 of a stored entry is checked whenever it is read.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
        var dataOffset: Int
        /// Offset of this entry's central directory record, for messages.
        var directoryOffset: Int
    }

    let file: ByteView
    let entries: [Entry]
    let limits: ReaderLimits
    /// Entry index by name (names are unique: duplicates are refused).
    private let index: [String: Int]

    /// Whether `file` is a zip with a `*/data.pkl` or `data.pkl` entry (a PyTorch checkpoint).
    static func looksLikePyTorch(_ file: ByteView) -> Bool {
        guard let zip = try? ZipArchive(file, limits: ReaderLimits()) else { return false }
        return zip.entries.contains { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
    }

    init(_ file: ByteView, limits: ReaderLimits) throws {
        self.file = file
        self.limits = limits
        // Find the end-of-central-directory record, searching back over a comment of up to 65535 bytes.
        guard file.count >= 22 else { throw CheckpointError(.truncated, "zip: file of \(file.count) bytes is too short for an end-of-central-directory record", offset: 0) }
        let lowest = max(0, file.count - 22 - 65535)
        let eocd = file.lastOffset(of: 0x0605_4B50, in: lowest ... file.count - 22) { p in
            // The comment length must account exactly for the bytes after the record.
            guard let commentLength = try? file.le(p + 20, as: UInt16.self) else { return false }
            return p + 22 + Int(commentLength) == file.count
        } ?? -1
        guard eocd >= 0 else { throw CheckpointError(.malformed, "zip: no end-of-central-directory record", offset: file.count) }
        var count = Int(try file.le(eocd + 10, as: UInt16.self))
        var cdSize = Int(try file.le(eocd + 12, as: UInt32.self))
        var cdOffset = Int(try file.le(eocd + 16, as: UInt32.self))
        var cdLimit = eocd
        if eocd >= 20, try file.le(eocd - 20, as: UInt32.self) == 0x0706_4B50 {
            let recordOffset64 = try file.le(eocd - 20 + 8, as: UInt64.self)
            guard recordOffset64 < UInt64(eocd - 20) else {
                throw CheckpointError(.outOfBounds, "zip: ZIP64 end record offset \(recordOffset64) is past its locator", offset: eocd - 20)
            }
            let r = Int(recordOffset64)
            guard try file.le(r, as: UInt32.self) == 0x0606_4B50 else {
                throw CheckpointError(.malformed, "zip: no ZIP64 end record at offset \(r)", offset: r)
            }
            let count64 = try file.le(r + 32, as: UInt64.self)
            let size64 = try file.le(r + 40, as: UInt64.self)
            let offset64 = try file.le(r + 48, as: UInt64.self)
            guard count64 <= UInt64(limits.maxZipEntries) else {
                throw CheckpointError(.limitExceeded, "zip: \(count64) entries exceed the limit \(limits.maxZipEntries)", offset: r + 32)
            }
            guard size64 <= UInt64(file.count), offset64 <= UInt64(file.count) else {
                throw CheckpointError(.outOfBounds, "zip: ZIP64 central directory \(offset64)+\(size64) is outside the file of \(file.count) bytes", offset: r + 40)
            }
            count = Int(count64); cdSize = Int(size64); cdOffset = Int(offset64)
            cdLimit = r
        }
        guard count <= limits.maxZipEntries else {
            throw CheckpointError(.limitExceeded, "zip: \(count) entries exceed the limit \(limits.maxZipEntries)", offset: eocd + 10)
        }
        let (cdEnd, o) = cdOffset.addingReportingOverflow(cdSize)
        guard !o, cdEnd <= cdLimit else {
            throw CheckpointError(.outOfBounds, "zip: central directory \(cdOffset)..<\(cdOffset &+ cdSize) runs past its end record at \(cdLimit)", offset: eocd + 16)
        }
        var entries: [Entry] = []
        var names = Set<String>()
        var q = cdOffset
        for index in 0 ..< count {
            guard q + 46 <= cdEnd else {
                throw CheckpointError(.truncated, "zip: central directory ends inside entry \(index)", offset: q)
            }
            guard try file.le(q, as: UInt32.self) == 0x0201_4B50 else {
                throw CheckpointError(.malformed, "zip: entry \(index): bad central directory signature", offset: q)
            }
            let flags = try file.le(q + 8, as: UInt16.self)
            let method = try file.le(q + 10, as: UInt16.self)
            let crc = try file.le(q + 16, as: UInt32.self)
            var csize = UInt64(try file.le(q + 20, as: UInt32.self))
            var usize = UInt64(try file.le(q + 24, as: UInt32.self))
            let nameLength = Int(try file.le(q + 28, as: UInt16.self))
            let extraLength = Int(try file.le(q + 30, as: UInt16.self))
            let commentLength = Int(try file.le(q + 32, as: UInt16.self))
            var local = UInt64(try file.le(q + 42, as: UInt32.self))
            let nameBytes = try file.copyBytes(q + 46, nameLength, "zip entry \(index) name")
            guard q + 46 + nameLength + extraLength + commentLength <= cdEnd else {
                throw CheckpointError(.truncated, "zip: entry \(index): record runs past the central directory", offset: q)
            }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw CheckpointError(.malformed, "zip: entry \(index): name is not UTF-8", offset: q + 46)
            }
            let what = "zip entry \"\(name)\""
            // ZIP64 extended information: the 64-bit values, in order, for the fields that are 0xFFFFFFFF.
            var e = q + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = try file.le(e, as: UInt16.self)
                let size = Int(try file.le(e + 2, as: UInt16.self))
                guard e + 4 + size <= extraEnd else {
                    throw CheckpointError(.malformed, "\(what): extra field runs past its record", offset: e)
                }
                if tag == 0x0001 {
                    var f = e + 4
                    func next() throws -> UInt64 {
                        guard f + 8 <= e + 4 + size else {
                            throw CheckpointError(.malformed, "\(what): ZIP64 extra field too short", offset: f)
                        }
                        defer { f += 8 }
                        return try file.le(f, as: UInt64.self)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + size
            }
            guard usize <= UInt64(limits.maxInflatedBytes) else {
                throw CheckpointError(.limitExceeded, "\(what): declared size \(usize) exceeds the limit \(limits.maxInflatedBytes)", offset: q + 24)
            }
            guard csize <= UInt64(file.count), local <= UInt64(file.count) else {
                throw CheckpointError(.outOfBounds, "\(what): compressed size \(csize) or local header offset \(local) is past the end of the file", offset: q + 20)
            }
            guard names.insert(name).inserted else {
                throw CheckpointError(.duplicateName, "\(what) appears twice", offset: q)
            }
            try ZipArchive.checkName(name, what: what, offset: q + 46)
            guard flags & 0x0001 == 0 else {
                throw CheckpointError(.unsupportedFormat, "\(what) is encrypted", offset: q + 8)
            }
            guard method == 0 || method == 8 else {
                throw CheckpointError(.unsupportedFormat, "\(what): compression method \(method) is not stored (0) or deflate (8)", offset: q + 10)
            }
            if method == 0, csize != usize {
                throw CheckpointError(.malformed, "\(what): stored entry with compressed size \(csize) ≠ size \(usize)", offset: q + 20)
            }
            if method == 8, usize > 0 {
                let (cap, o) = max(csize, 1).multipliedReportingOverflow(by: UInt64(limits.maxCompressionRatio))
                guard o || usize <= cap else {
                    throw CheckpointError(.limitExceeded, "\(what): declared size \(usize) is over \(limits.maxCompressionRatio)× its compressed size \(csize) (deflate bomb?)", offset: q + 24)
                }
            }
            // The local header: its own name and extra lengths decide where the data starts.
            let lh = Int(local)
            guard try file.le(lh, as: UInt32.self, "\(what) local header") == 0x0403_4B50 else {
                throw CheckpointError(.malformed, "\(what): bad local header signature", offset: lh)
            }
            let localName = Int(try file.le(lh + 26, as: UInt16.self, "\(what) local header"))
            let localExtra = Int(try file.le(lh + 28, as: UInt16.self, "\(what) local header"))
            let dataOffset = lh + 30 + localName + localExtra
            let range = try file.checkedRange(dataOffset, Int(csize), "\(what) data")
            guard range.upperBound <= cdOffset else {
                throw CheckpointError(.outOfBounds, "\(what): data \(range) runs into the central directory at \(cdOffset)", offset: dataOffset)
            }
            entries.append(Entry(name: name, method: method, flags: flags, crc: crc, compressedSize: Int(csize), size: Int(usize),
                                 localHeaderOffset: lh, dataOffset: dataOffset, directoryOffset: q))
            q += 46 + nameLength + extraLength + commentLength
        }
        // No two entries may share bytes (overlapping entries are how some zip bombs multiply data).
        let sorted = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.dataOffset + a.compressedSize > b.localHeaderOffset {
            throw CheckpointError(.outOfBounds, "zip entry \"\(b.name)\" overlaps entry \"\(a.name)\"", offset: b.localHeaderOffset)
        }
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
    }

    /// Refuses absolute paths, `..` components, backslashes and NUL in entry names.
    static func checkName(_ name: String, what: String, offset: Int) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0"), !parts.contains("..") else {
            throw CheckpointError(.unsafePath, "\(what): path is absolute or climbs out with '..'", offset: offset)
        }
    }

    /// The entry named `name`, or nil.
    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of `entry`: a zero-copy view if stored, an inflated buffer if deflated. Either way the
    /// CRC-32 of the bytes must match the directory's (for a stored entry this reads every page of it).
    /// A deflated entry's buffer grows as bytes arrive (``Inflate``), so a declared size larger than
    /// what the entry holds costs no more than twice what it holds.
    /// - Throws: `.decompression` naming the entry and both CRCs if they differ.
    func contents(_ entry: Entry) throws -> ByteView {
        let what = "zip entry \"\(entry.name)\""
        let raw = try file.slice(entry.dataOffset, entry.compressedSize, "\(what) data")
        if entry.method == 0 {
            let got = raw.withUnsafeBytes { Inflate.crc32(of: $0) }
            guard got == entry.crc else {
                throw CheckpointError(.decompression, "\(what): CRC-32 of the stored bytes is \(Inflate.hex(got)), the directory says \(Inflate.hex(entry.crc))", offset: entry.dataOffset)
            }
            return raw
        }
        let storage = try Inflate.inflate(raw, size: entry.size, crc: entry.crc, what: what, offset: entry.dataOffset,
                                          initialCapacity: limits.inflateInitialCapacity)
        return storage.view
    }

    /// At most the first `count` bytes of `entry`, for reading a header: a view if stored, only that
    /// many inflated bytes if deflated. Nothing is CRC-checked (the rest of the entry is not read).
    func prefix(_ entry: Entry, count: Int) throws -> ByteView {
        let what = "zip entry \"\(entry.name)\""
        let raw = try file.slice(entry.dataOffset, entry.compressedSize, "\(what) data")
        if entry.method == 0 { return raw.prefix(count) }
        return try Inflate.inflatePrefix(raw, count: min(count, entry.size), what: what, offset: entry.dataOffset).view
    }
}
