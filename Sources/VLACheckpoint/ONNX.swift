/// ONNX models, decoded with protobuf-c from the subset in `Schemas/onnx.proto`.
///
/// Tensors come from graph initializers and from `Constant` nodes (their `value`, `value_float(s)` or
/// `value_int(s)` attribute, named after the node's output). A tensor's bytes come from, in order:
/// - external data (`data_location = EXTERNAL`): `location` (a file in the model's folder or below;
///   resolved with symbolic links and refused if it leaves the folder), `offset`, `length`; a zero-copy
///   view of that file's mapping;
/// - `raw_data`: little-endian bytes, a zero-copy view of the mapped file (``ONNXLayout`` hands
///   protobuf-c the model without its `raw_data` payloads and records where they are);
/// - the typed fields (`float_data`, `int32_data`, `int64_data`, `double_data`, `uint64_data`),
///   converted to little-endian bytes.
/// Subgraphs (If/Loop bodies), sparse initializers and string tensors are not read.
enum ONNXReader {
    /// ONNX `TensorProto.DataType` → ``DType``.
    static func dtype(_ code: Int32) -> DType? {
        switch code {
        case 1: .f32
        case 2: .u8
        case 3: .i8
        case 4: .u16
        case 5: .i16
        case 6: .i32
        case 7: .i64
        case 9: .bool
        case 10: .f16
        case 11: .f64
        case 12: .u32
        case 13: .u64
        case 16: .bf16
        case 17: .f8e4m3
        case 19: .f8e5m2
        default: nil
        }
    }

    /// Resolves an external-data `location` against the model's folder, refusing anything that
    /// leaves it (absolute paths, `..`, symbolic links pointing out).
    static func externalPath(_ location: String, modelPath: String, what: String) throws -> String {
        let parent = modelPath.lastIndex(of: "/").map { String(modelPath[..<$0]) } ?? "."
        let dir = parent.isEmpty ? "/" : parent
        guard !location.isEmpty, !location.hasPrefix("/"), !location.contains("\\"),
              !location.split(separator: "/").contains("..") else {
            throw CheckpointError(.unsafePath, "\(what): external data location \"\(location)\" is outside the model's folder")
        }
        let candidate = dir + "/" + location
        guard let realDir = FileSystem.realPath(dir), let real = FileSystem.realPath(candidate) else {
            throw CheckpointError(.io, "\(what): external data file \"\(location)\" does not exist next to the model")
        }
        guard real.hasPrefix(realDir == "/" ? "/" : realDir + "/") else {
            throw CheckpointError(.unsafePath, "\(what): external data location \"\(location)\" resolves outside the model's folder")
        }
        return real
    }
}

/// A minimal protobuf wire-format walker, used only to report *where* a file protobuf-c refused is
/// broken (protobuf-c says only that it failed).
enum ProtobufWire {
    /// Nested message fields of the ONNX subset: message name → field number → nested message name.
    static let nested: [String: [UInt64: String]] = [
        "ModelProto": [7: "GraphProto", 8: "OperatorSetIdProto", 14: "StringStringEntryProto"],
        "GraphProto": [1: "NodeProto", 5: "TensorProto", 11: "ValueInfoProto", 12: "ValueInfoProto"],
        "NodeProto": [5: "AttributeProto"],
        "AttributeProto": [5: "TensorProto"],
        "TensorProto": [13: "StringStringEntryProto"],
    ]

    /// The first structural problem in `bytes[range]` read as `message`, as (offset, description).
    static func firstProblem(_ bytes: ByteView, _ range: Range<Int>, message: String, depth: Int = 0) -> (Int, String)? {
        var p = range.lowerBound
        func varint() -> UInt64? {
            var v: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                guard p < range.upperBound, let b = try? bytes.u8(p) else { return nil }
                p += 1
                if shift == 63, b > 1 { return nil }
                v |= UInt64(b & 0x7F) << UInt64(shift)
                if b & 0x80 == 0 { return v }
            }
            return nil
        }
        while p < range.upperBound {
            let start = p
            guard let key = varint() else { return (start, "\(message): truncated or overlong field key") }
            let field = key >> 3
            guard field != 0 else { return (start, "\(message): field number 0") }
            switch key & 7 {
            case 0: guard varint() != nil else { return (start, "\(message): field \(field): truncated varint") }
            case 1: p += 8
            case 5: p += 4
            case 2:
                guard let n = varint(), n <= UInt64(range.upperBound - p) else {
                    return (start, "\(message): field \(field): length runs past the end of its \(depth == 0 ? "file" : "enclosing message")")
                }
                let sub = p ..< p + Int(n)
                if let inner = nested[message]?[field], depth < 16,
                   let problem = firstProblem(bytes, sub, message: inner, depth: depth + 1) { return problem }
                p = sub.upperBound
            default:
                return (start, "\(message): field \(field): unsupported wire type \(key & 7)")
            }
            guard p <= range.upperBound else { return (start, "\(message): field \(field): runs past the end") }
        }
        return nil
    }
}

extension ProtobufWire {
    /// Byte offsets of each graph initializer and each node record, in file order, for error
    /// messages about a tensor protobuf-c has already decoded (it keeps no offsets).
    static func locate(_ file: ByteView) -> (initializers: [Int], nodes: [Int]) {
        var initializers: [Int] = [], nodes: [Int] = []
        func fields(_ range: Range<Int>, _ body: (UInt64, Range<Int>, Int) -> Void) {
            var p = range.lowerBound
            func varint() -> UInt64? {
                var v: UInt64 = 0
                for shift in stride(from: 0, to: 64, by: 7) {
                    guard p < range.upperBound, let b = try? file.u8(p) else { return nil }
                    p += 1
                    v |= UInt64(b & 0x7F) << UInt64(shift)
                    if b & 0x80 == 0 { return v }
                }
                return nil
            }
            while p < range.upperBound {
                let start = p
                guard let key = varint() else { return }
                switch key & 7 {
                case 0: guard varint() != nil else { return }
                case 1: p += 8
                case 5: p += 4
                case 2:
                    guard let n = varint(), n <= UInt64(range.upperBound - p) else { return }
                    body(key >> 3, p ..< p + Int(n), start)
                    p += Int(n)
                default: return
                }
            }
        }
        fields(0 ..< file.count) { field, graph, _ in
            guard field == 7 else { return }
            fields(graph) { f, _, start in
                if f == 5 { initializers.append(start) }
                if f == 1 { nodes.append(start) }
            }
        }
        return (initializers, nodes)
    }
}
