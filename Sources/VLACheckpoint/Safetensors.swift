import VLAJSON

/// The safetensors reader, strict to the format's specification:
///
/// ```
/// offset 0      u64 little-endian  n, the JSON header length (≤ ReaderLimits.maxHeaderBytes)
/// offset 8      n bytes            UTF-8 JSON object: name → {"dtype", "shape", "data_offsets": [begin, end]},
///                                  plus an optional "__metadata__": {string: string}; may end in spaces
/// offset 8 + n  data               every tensor's bytes at data_offsets (relative to 8 + n)
/// ```
///
/// Offsets must tile the data section exactly: sorted by `begin`, the first starts at 0, each starts
/// where the previous ended (no holes, no overlaps) and the last ends at the end of the file;
/// `end - begin` must equal the element count × dtype width. Tensors are zero-copy views of the file.
enum SafetensorsReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits) throws -> CheckpointContents {
        let n64 = try file.le(0, as: UInt64.self, "header length")
        guard n64 <= UInt64(limits.maxHeaderBytes) else {
            throw CheckpointError(.limitExceeded, "header length \(n64) exceeds the limit \(limits.maxHeaderBytes)", offset: 0)
        }
        let n = Int(n64)
        let headerBytes = try file.copyBytes(8, n, "header of \(n) bytes")
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw CheckpointError(.malformed, "header does not start with '{'", offset: 8)
        }
        let header = try ExpansionBudget.parseJSON(headerBytes, base: 8, limits: limits, what: "header")
        guard let members = header.object else { throw CheckpointError(.malformed, "header is not a JSON object", offset: 8) }
        let dataStart = 8 + n
        let dataSize = file.count - dataStart

        var metadata: [(key: String, value: String)] = []
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        guard members.count <= limits.maxTensors + 1 else {
            throw CheckpointError(.limitExceeded, "\(members.count) header entries exceed the limit \(limits.maxTensors)", offset: 8)
        }
        for (name, value) in members {
            if name == "__metadata__" {
                guard let meta = value.object else { throw CheckpointError(.malformed, "__metadata__ is not an object", offset: 8) }
                for (k, v) in meta {
                    guard let s = v.string else {
                        throw CheckpointError(.malformed, "__metadata__ \"\(k)\" is not a string", offset: 8)
                    }
                    metadata.append((k, s))
                }
                continue
            }
            let what = "tensor \"\(name)\""
            guard name.utf8.count <= limits.maxNameBytes else {
                throw CheckpointError(.limitExceeded, "\(what.prefix(80))…: name longer than \(limits.maxNameBytes) bytes", offset: 8)
            }
            guard let fields = value.object else { throw CheckpointError(.malformed, "\(what): entry is not an object", offset: 8) }
            for (k, _) in fields where !["dtype", "shape", "data_offsets"].contains(k) {
                throw CheckpointError(.malformed, "\(what): unknown field \"\(k)\"", offset: 8)
            }
            guard let dtypeName = value["dtype"]?.string else { throw CheckpointError(.malformed, "\(what): missing dtype", offset: 8) }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw CheckpointError(.unsupportedDType, "\(what): dtype \"\(dtypeName)\" is not supported", offset: 8)
            }
            guard let dims = value["shape"]?.array else { throw CheckpointError(.malformed, "\(what): missing shape", offset: 8) }
            guard dims.count <= limits.maxRank else {
                throw CheckpointError(.limitExceeded, "\(what): rank \(dims.count) exceeds the limit \(limits.maxRank)", offset: 8)
            }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.int, v >= 0 else { throw CheckpointError(.malformed, "\(what): shape is not a list of non-negative integers", offset: 8) }
                shape.append(v)
            }
            guard let offs = value["data_offsets"]?.array, offs.count == 2,
                  let begin = offs[0].int, let end = offs[1].int, begin >= 0, end >= 0
            else { throw CheckpointError(.malformed, "\(what): data_offsets is not [begin, end] with non-negative integers", offset: 8) }
            guard begin <= end, end <= dataSize else {
                throw CheckpointError(.outOfBounds, "\(what): data \(begin)..<\(end) is outside the data section of \(dataSize) bytes", offset: dataStart &+ begin)
            }
            let expected = try ShapeMath.byteCount(shape: shape, width: dtype.byteWidth, limits: limits, what, offset: 8)
            guard end - begin == expected else {
                throw CheckpointError(.malformed, "\(what): \(end - begin) data bytes but \(dtype) × \(shape) needs \(expected)", offset: dataStart + begin)
            }
            entries.append((name, dtype, shape, begin, end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for e in entries {
            if e.begin > cursor {
                throw CheckpointError(.outOfBounds, "tensor \"\(e.name)\": hole in the data section before it (bytes \(cursor)..<\(e.begin) unused)", offset: dataStart + cursor)
            }
            if e.begin < cursor {
                throw CheckpointError(.outOfBounds, "tensor \"\(e.name)\": data \(e.begin)..<\(e.end) overlaps the previous tensor, which ends at \(cursor)", offset: dataStart + e.begin)
            }
            cursor = e.end
        }
        guard cursor == dataSize else {
            throw CheckpointError(.outOfBounds, "data section has \(dataSize - cursor) bytes after the last tensor", offset: dataStart + cursor)
        }
        var tensors: [Tensor] = []
        for e in entries {
            let data = try file.slice(dataStart + e.begin, e.end - e.begin, "tensor \"\(e.name)\"")
            tensors.append(Tensor(name: e.name, dtype: e.dtype, shape: e.shape, data: data, file: path))
        }
        return CheckpointContents(tensors: tensors, metadata: metadata)
    }
}
