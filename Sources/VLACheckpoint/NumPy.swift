/// NumPy `.npy` arrays and `.npz` archives (what `np.save`, `np.savez` and `np.savez_compressed` write).
///
/// ```
/// offset 0   "\x93NUMPY"  major (1, 2 or 3)  minor
/// offset 8   header length: u16 little-endian (v1) or u32 (v2, v3)
/// then       a Python dict literal, ASCII (v1, v2) or UTF-8 (v3), padded with spaces and '\n':
///            {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
/// then       the data: product(shape) × itemsize bytes
/// ```
///
/// Little-endian C-order arrays are zero-copy views; big-endian ('>') and Fortran-order arrays are
/// converted into memory the checkpoint owns. Structured, object, string and complex dtypes are refused.
enum NumPyReader {
    struct Header {
        var dtype: DType
        var bigEndian: Bool
        var fortran: Bool
        var shape: [Int]
        var dataOffset: Int
    }

    /// Reads a whole .npy file as one tensor named `name`.
    static func readNpy(_ file: ByteView, name: String, path: String, limits: ReaderLimits) throws -> Tensor {
        let h = try header(file, limits: limits)
        let what = name.isEmpty ? "array" : "array \"\(name)\""
        let n = try ShapeMath.byteCount(shape: h.shape, width: h.dtype.byteWidth, limits: limits, what, offset: 8)
        let available = file.count - h.dataOffset
        guard available >= n else {
            throw CheckpointError(.truncated, "\(what): \(h.dtype) × \(h.shape) needs \(n) data bytes but \(available) follow the header", offset: h.dataOffset)
        }
        guard available == n else {
            throw CheckpointError(.malformed, "\(what): \(available - n) bytes after the data", offset: h.dataOffset + n)
        }
        var data = try file.slice(h.dataOffset, n, what)
        if h.bigEndian || (h.fortran && h.shape.count > 1) {
            data = NumPyReader.toLittleEndianCOrder(data, width: h.dtype.byteWidth, shape: h.shape, swap: h.bigEndian, fortran: h.fortran)
        }
        return Tensor(name: name, dtype: h.dtype, shape: h.shape, data: data, file: path)
    }

    /// Where the header ends (the data starts), from the first 12 bytes; checks the magic, version and
    /// header length limit.
    static func headerEnd(_ file: ByteView, limits: ReaderLimits) throws -> Int {
        let (start, length) = try headerSpan(file, limits: limits)
        return start + length
    }

    /// The header text's start and length.
    static func headerSpan(_ file: ByteView, limits: ReaderLimits) throws -> (start: Int, length: Int) {
        guard file.hasPrefix([0x93] + Array("NUMPY".utf8)) else {
            throw CheckpointError(file.count < 6 ? .truncated : .malformed, "npy: missing the \\x93NUMPY magic", offset: 0)
        }
        let major = try file.u8(6, "npy version")
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(try file.le(8, as: UInt16.self, "npy header length"))
            headerStart = 10
        case 2, 3:
            headerLength = Int(try file.le(8, as: UInt32.self, "npy header length"))
            headerStart = 12
        default:
            throw CheckpointError(.unsupportedFormat, "npy: format version \(major) is not 1, 2 or 3", offset: 6)
        }
        guard headerLength <= limits.maxHeaderBytes else {
            throw CheckpointError(.limitExceeded, "npy: header length \(headerLength) exceeds the limit \(limits.maxHeaderBytes)", offset: 8)
        }
        return (headerStart, headerLength)
    }

    static func header(_ file: ByteView, limits: ReaderLimits) throws -> Header {
        let (headerStart, headerLength) = try headerSpan(file, limits: limits)
        let text = try file.copyBytes(headerStart, headerLength, "npy header")
        var p = PyLiteralParser(bytes: text, base: headerStart)
        let dict = try p.parseDict(allowed: ["descr", "fortran_order", "shape"])
        guard case .string(let descr)? = dict["descr"] else {
            throw CheckpointError(.unsupportedDType, "npy: descr is missing or not a simple type string (structured dtypes are not supported)", offset: headerStart)
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw CheckpointError(.malformed, "npy: fortran_order is missing or not True/False", offset: headerStart)
        }
        guard case .tuple(let shape)? = dict["shape"] else {
            throw CheckpointError(.malformed, "npy: shape is missing or not a tuple of integers", offset: headerStart)
        }
        guard shape.count <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "npy: rank \(shape.count) exceeds the limit \(limits.maxRank)", offset: headerStart)
        }
        let order = descr.first
        guard let order, "<>|=".contains(order), let dtype = DType(numpyCode: String(descr.dropFirst())) else {
            throw CheckpointError(.unsupportedDType, "npy: dtype '\(descr)' is not supported", offset: headerStart)
        }
        return Header(dtype: dtype, bigEndian: order == ">" && dtype.byteWidth > 1, fortran: fortran, shape: shape,
                      dataOffset: headerStart + headerLength)
    }

    /// Copies `data` into a new buffer in little-endian C order.
    static func toLittleEndianCOrder(_ data: ByteView, width: Int, shape: [Int], swap: Bool, fortran: Bool) -> ByteView {
        let storage = ByteStorage.filling(count: data.count) { out in
            data.withUnsafeBytes { src in
                if fortran && shape.count > 1 {
                    NumPyReader.transposeFortran(src, into: out, width: width, shape: shape)
                } else {
                    out.copyMemory(from: src)
                }
            }
            if swap { FloatConversion.swapBytes(out, width: width) }
        }
        return storage.view
    }
}

/// The npz reader: a zip of `.npy` entries; each becomes a tensor named after its entry without `.npy`.
enum NpzReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits, mode: ReadMode = .tensors) throws -> CheckpointContents {
        let zip = try ZipArchive(file, limits: limits)
        guard zip.entries.count <= limits.maxTensors else {
            throw CheckpointError(.limitExceeded, "npz: \(zip.entries.count) entries exceed the limit \(limits.maxTensors)", offset: 0)
        }
        var tensors: [Tensor] = []
        var listed: [TensorInfo] = []
        var inflated = 0
        for entry in zip.entries where !entry.name.hasSuffix("/") {
            guard entry.name.hasSuffix(".npy") else {
                throw CheckpointError(.malformed, "npz: entry \"\(entry.name)\" is not a .npy array", offset: entry.localHeaderOffset)
            }
            let name = String(entry.name.dropLast(4))
            if entry.method == 8 && mode == .headers {
                // Only the npy header is inflated: 12 bytes for its length, then the header itself.
                let first = try zip.prefix(entry, count: 12)
                let end = try inEntry(entry) { try NumPyReader.headerEnd(first, limits: limits) }
                let head = try zip.prefix(entry, count: end)
                listed.append(try inEntry(entry) { try listHeader(head, entry: entry, name: name, path: path, limits: limits) })
                continue
            }
            if entry.method == 8 {
                inflated += entry.size
                guard inflated <= limits.maxInflatedBytes else {
                    throw CheckpointError(.limitExceeded, "npz: entries inflate to more than \(limits.maxInflatedBytes) bytes in total", offset: entry.directoryOffset)
                }
            }
            let bytes = try zip.contents(entry)
            let t = try inEntry(entry) { try NumPyReader.readNpy(bytes, name: name, path: path, limits: limits) }
            if mode == .headers { listed.append(TensorInfo(t)) } else { tensors.append(t) }
        }
        return CheckpointContents(tensors: tensors, listed: mode == .headers ? listed : nil)
    }

    /// Runs `body` on an entry's bytes, naming the entry in its errors. Offsets inside a deflated entry
    /// are relative to the inflated entry (the message says so); inside a stored one they become file offsets.
    static func inEntry<R>(_ entry: ZipArchive.Entry, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as CheckpointError {
            var e = e.prefixed("entry \"\(entry.name)\"\(entry.method == 8 ? " (inflated)" : ""): ")
            if entry.method == 0, let o = e.offset { e.offset = entry.dataOffset + o }
            throw e
        }
    }

    /// A deflated entry's tensor from its npy header alone (`head`: the inflated bytes up to the end of
    /// the header), checking the entry's declared size against what the header needs.
    static func listHeader(_ head: ByteView, entry: ZipArchive.Entry, name: String, path: String, limits: ReaderLimits) throws -> TensorInfo {
        let h = try NumPyReader.header(head, limits: limits)
        let what = "array \"\(name)\""
        let n = try ShapeMath.byteCount(shape: h.shape, width: h.dtype.byteWidth, limits: limits, what, offset: 8)
        let (need, o) = h.dataOffset.addingReportingOverflow(n)
        guard !o, need == entry.size else {
            throw CheckpointError(.malformed, "\(what): \(h.dtype) × \(h.shape) needs \(n) data bytes after a header of \(h.dataOffset), but the entry declares \(entry.size) bytes", offset: h.dataOffset)
        }
        return TensorInfo(name: name, dtype: h.dtype, shape: h.shape, byteCount: n, file: path)
    }
}

/// A parser for the Python literal in an npy header: a dict of str keys to str, bool, or int tuples.
struct PyLiteralParser {
    enum Value { case string(String), bool(Bool), tuple([Int]) }
    let bytes: [UInt8]
    let base: Int
    var i = 0

    init(bytes: [UInt8], base: Int) {
        self.bytes = bytes
        self.base = base
    }

    func fail(_ m: String) -> CheckpointError { CheckpointError(.malformed, "npy: header: " + m, offset: base + i) }

    mutating func space() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }

    mutating func eat(_ c: UInt8) -> Bool {
        space()
        if i < bytes.count, bytes[i] == c { i += 1; return true }
        return false
    }

    /// Parses the dict, refusing a key not in `allowed` as soon as it is read.
    mutating func parseDict(allowed: Set<String>) throws -> [String: Value] {
        guard eat(UInt8(ascii: "{")) else { throw fail("expected '{'") }
        var out: [String: Value] = [:]
        while !eat(UInt8(ascii: "}")) {
            space()
            let key = try string()
            guard allowed.contains(key) else {
                throw CheckpointError(.malformed, "npy: unknown header key '\(key)'", offset: base)
            }
            guard eat(UInt8(ascii: ":")) else { throw fail("expected ':'") }
            space()
            guard out.updateValue(try value(), forKey: key) == nil else { throw fail("duplicate key '\(key)'") }
            if eat(UInt8(ascii: ",")) { continue }
            guard eat(UInt8(ascii: "}")) else { throw fail("expected ',' or '}'") }
            break
        }
        space()
        guard i == bytes.count else { throw fail("bytes after the dict") }
        return out
    }

    mutating func string() throws -> String {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        let q = bytes[i]
        i += 1
        let start = i
        while i < bytes.count, bytes[i] != q {
            guard bytes[i] != UInt8(ascii: "\\") else { throw fail("escapes in strings are not supported") }
            i += 1
        }
        guard i < bytes.count else { throw fail("unterminated string") }
        defer { i += 1 }
        guard let s = String(validating: bytes[start ..< i], as: UTF8.self) else { throw fail("string is not UTF-8") }
        return s
    }

    mutating func value() throws -> Value {
        guard i < bytes.count else { throw fail("unexpected end") }
        if bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") { return .string(try string()) }
        if bytes[i...].starts(with: Array("True".utf8)) { i += 4; return .bool(true) }
        if bytes[i...].starts(with: Array("False".utf8)) { i += 5; return .bool(false) }
        guard eat(UInt8(ascii: "(")) else { throw fail("expected a string, True, False or a tuple") }
        var dims: [Int] = []
        while !eat(UInt8(ascii: ")")) {
            space()
            let start = i
            while i < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            if i < bytes.count, bytes[i] == UInt8(ascii: "L") { i += 1 }  // Python 2 longs
            guard i > start, let d = Int(String(decoding: bytes[start ..< i], as: UTF8.self).filter { $0 != "L" }) else {
                throw fail("shape entries must be non-negative integers")
            }
            guard dims.count < 64 else { throw fail("shape has more than 64 dimensions") }
            dims.append(d)
            if eat(UInt8(ascii: ",")) { continue }
            guard eat(UInt8(ascii: ")")) else { throw fail("expected ',' or ')'") }
            break
        }
        return .tuple(dims)
    }
}
