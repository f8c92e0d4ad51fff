/// Zero-copy ONNX: before protobuf-c sees the model, the wire-format walker here copies its
/// *structure* and leaves out every `raw_data` payload (the weights), recording where each lies in the
/// file. protobuf-c then decodes only the structure, and each tensor's `raw_data` is a view of the
/// mapped file. Payload pages are never read while walking, so opening a 100 MB model reads little
/// more than its graph.
///
/// The walk descends only through the fields that can hold tensors, with a fixed depth:
/// `ModelProto.graph (7) → GraphProto.initializer (5) | GraphProto.node (1) → NodeProto.attribute (5) →
/// AttributeProto.t (5) → TensorProto.raw_data (9)`. Every other field is copied unchanged. Every key,
/// varint and length is checked against its enclosing message.
///
/// The walk also counts before anything is decoded: more than ``ReaderLimits/maxNodes`` nodes or
/// ``ReaderLimits/maxTensors`` initializers are refused here, and every walked record (node, attribute,
/// tensor) is charged what protobuf-c will allocate for it (``recordCost``) against the expansion budget
/// of the file's size, so a file of ten million empty nodes is refused before protobuf-c builds them.
struct ONNXLayout {
    /// The model with every walked `raw_data` emptied (re-encoded lengths).
    var structure: [UInt8] = []
    /// File ranges of the `raw_data` of each graph initializer, by initializer index.
    var initializerRaw: [Int: Range<Int>] = [:]
    /// File ranges of the `raw_data` of tensor attributes, by node index and attribute index.
    var attributeRaw: [Int: [Int: Range<Int>]] = [:]
    /// Graph nodes counted on the wire.
    private(set) var nodeCount = 0
    /// Graph initializers counted on the wire.
    private(set) var initializerCount = 0
    /// What protobuf-c will allocate for the walked records, estimated and charged.
    private(set) var budget: ExpansionBudget
    private let limits: ReaderLimits

    /// Bytes charged per walked record: protobuf-c's struct for it (at most about 200 bytes for the
    /// ONNX subset), its slot in the parent's pointer array, and allocator overhead.
    static let recordCost = 256

    private enum Kind { case model, graph, node, attribute, tensor }
    private enum Owner { case none, initializer(Int), attribute(node: Int, index: Int) }

    /// Walks `file` as a ModelProto.
    /// - Throws: `.limitExceeded` if the nodes, initializers or estimated decoded size are over the limits.
    init(_ file: ByteView, limits: ReaderLimits) throws {
        self.limits = limits
        budget = ExpansionBudget(limits, input: file.count, what: "ONNX: decoded graph records")
        structure = try walk(file, 0 ..< file.count, .model, owner: .none, node: -1)
    }

    private static func varintBytes(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            let b = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? b : b | 0x80)
        } while v != 0
        return out
    }

    private static func name(_ k: Kind) -> String {
        switch k {
        case .model: "ModelProto"
        case .graph: "GraphProto"
        case .node: "NodeProto"
        case .attribute: "AttributeProto"
        case .tensor: "TensorProto"
        }
    }

    /// Reads a varint at `p` inside `range`, advancing `p`.
    private static func varint(_ file: ByteView, _ p: inout Int, _ range: Range<Int>, _ what: String) throws -> UInt64 {
        var v: UInt64 = 0
        let start = p
        for shift in stride(from: 0, to: 70, by: 7) {
            guard p < range.upperBound else {
                throw CheckpointError(.truncated, "ONNX: \(what): varint runs past the end of its message", offset: start)
            }
            let b = try file.u8(p)
            p += 1
            if shift == 63, b > 1 { throw CheckpointError(.malformed, "ONNX: \(what): varint longer than 64 bits", offset: start) }
            v |= UInt64(b & 0x7F) << UInt64(shift)
            if b & 0x80 == 0 { return v }
        }
        throw CheckpointError(.malformed, "ONNX: \(what): varint longer than 10 bytes", offset: start)
    }

    private mutating func walk(_ file: ByteView, _ range: Range<Int>, _ kind: Kind, owner: Owner, node: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var p = range.lowerBound
        var initializers = 0, nodes = 0, attributes = 0
        let what = ONNXLayout.name(kind)
        while p < range.upperBound {
            let start = p
            let key = try ONNXLayout.varint(file, &p, range, what)
            let field = key >> 3
            guard field != 0 else { throw CheckpointError(.malformed, "ONNX: \(what): field number 0", offset: start) }
            switch key & 7 {
            case 0: _ = try ONNXLayout.varint(file, &p, range, "\(what) field \(field)")
            case 1, 5:
                let n = key & 7 == 1 ? 8 : 4
                guard range.upperBound - p >= n else {
                    throw CheckpointError(.truncated, "ONNX: \(what) field \(field): runs past the end of its message", offset: start)
                }
                p += n
            case 2:
                let length = try ONNXLayout.varint(file, &p, range, "\(what) field \(field) length")
                guard length <= UInt64(range.upperBound - p) else {
                    throw CheckpointError(.truncated, "ONNX: \(what) field \(field): length \(length) runs past the end of its \(kind == .model ? "file" : "message")", offset: start)
                }
                let payload = p ..< p + Int(length)
                p = payload.upperBound
                var sub: [UInt8]? = nil
                switch (kind, field) {
                case (.graph, 5), (.graph, 1), (.node, 5), (.attribute, 5):
                    try budget.charge(ONNXLayout.recordCost, offset: start)
                default: break
                }
                switch (kind, field) {
                case (.model, 7): sub = try walk(file, payload, .graph, owner: .none, node: -1)
                case (.graph, 5):
                    guard initializerCount < limits.maxTensors else {
                        throw CheckpointError(.limitExceeded, "ONNX: more than \(limits.maxTensors) initializers", offset: start)
                    }
                    initializerCount += 1
                    sub = try walk(file, payload, .tensor, owner: .initializer(initializers), node: -1)
                    initializers += 1
                case (.graph, 1):
                    guard nodeCount < limits.maxNodes else {
                        throw CheckpointError(.limitExceeded, "ONNX: more than \(limits.maxNodes) nodes (counted before decoding)", offset: start)
                    }
                    nodeCount += 1
                    sub = try walk(file, payload, .node, owner: .none, node: nodes)
                    nodes += 1
                case (.node, 5):
                    sub = try walk(file, payload, .attribute, owner: .attribute(node: node, index: attributes), node: node)
                    attributes += 1
                case (.attribute, 5): sub = try walk(file, payload, .tensor, owner: owner, node: node)
                case (.tensor, 9):
                    switch owner {
                    case .initializer(let i): initializerRaw[i] = payload
                    case .attribute(let n, let a): attributeRaw[n, default: [:]][a] = payload
                    case .none: break
                    }
                    sub = []
                default: break
                }
                if let sub {
                    out += ONNXLayout.varintBytes(key)
                    out += ONNXLayout.varintBytes(UInt64(sub.count))
                    out += sub
                    continue
                }
            default:
                throw CheckpointError(.malformed, "ONNX: \(what) field \(field): unsupported wire type \(key & 7)", offset: start)
            }
            out += try file.copyBytes(start, p - start, "ONNX: \(what) field \(field)")
        }
        return out
    }
}
