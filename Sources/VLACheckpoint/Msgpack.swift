/// Flax msgpack checkpoints, as `flax.serialization.to_bytes` / `msgpack_serialize` write them:
///
/// ```
/// map { "params": map { "Dense_0": map { "kernel": ext(1, msgpack([shape...], "float32", bin(data))), ... } } }
/// ```
///
/// Nested maps are flattened to `/`-joined names. Arrays are ext type 1 (ndarray) or 3 (numpy scalar),
/// whose payload is a msgpack array `[shape, dtype name, C-order little-endian bytes]`; the bytes are a
/// zero-copy view. Plain msgpack numbers and booleans become scalar tensors (I64, F32/F64, BOOL); nil
/// and strings are skipped; msgpack arrays are treated as maps keyed "0", "1", .... Flax's chunked
/// arrays (single arrays over 1 GiB) and complex numbers are refused.
enum MsgpackReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits) throws -> CheckpointContents {
        var reader = MsgpackReader.Walker(file: file, path: path, limits: limits)
        let end = try reader.value(at: 0, name: nil, depth: 0)
        guard end == file.count else {
            throw CheckpointError(.malformed, "msgpack: \(file.count - end) bytes after the top-level value", offset: end)
        }
        return CheckpointContents(tensors: reader.finish())
    }

    static let dtypeNames: [String: DType] = [
        "float64": .f64, "float32": .f32, "float16": .f16, "bfloat16": .bf16,
        "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2,
        "int64": .i64, "int32": .i32, "int16": .i16, "int8": .i8,
        "uint64": .u64, "uint32": .u32, "uint16": .u16, "uint8": .u8, "bool": .bool,
    ]

    /// What one msgpack item is, without its contents read.
    enum Head {
        case int(Int64), uint(UInt64), float32(UInt32), float64(UInt64), bool(Bool), nil_
        case string(offset: Int, length: Int), binary(offset: Int, length: Int)
        case array(count: Int, first: Int), map(count: Int, first: Int)
        case ext(type: Int8, offset: Int, length: Int)
    }

    /// Walks the tree once. Names are built once per map key (the parent's joined name + `/` + key),
    /// capped at ``ReaderLimits/maxNameBytes`` and, with every tensor's bookkeeping, charged to the
    /// expansion budget; scalars share one storage made at the end.
    struct Walker {
        let file: ByteView
        let path: String
        let limits: ReaderLimits
        /// A tensor, or a plain scalar whose bytes are at `offset` in ``scalarBytes``.
        enum Item { case tensor(Tensor), scalar(name: String, dtype: DType, offset: Int) }
        var items: [Item] = []
        /// The bytes of every plain scalar, little-endian, in one buffer.
        var scalarBytes: [UInt8] = []
        /// Names and tensors built, against ``ReaderLimits/expansionBudget(forInput:)``.
        var budget: ExpansionBudget
        /// Bytes charged per tensor besides its name.
        static let tensorCost = MemoryLayout<Tensor>.stride + MemoryLayout<Item>.stride + 64

        init(file: ByteView, path: String, limits: ReaderLimits) {
            self.file = file
            self.path = path
            self.limits = limits
            self.budget = ExpansionBudget(limits, input: file.count, what: "msgpack: tensor names and records")
        }

        /// The tensors in file order; scalars become views of one shared storage.
        func finish() -> [Tensor] {
            let shared = ByteStorage(copying: scalarBytes)
            return items.map { item in
                switch item {
                case .tensor(let t): return t
                case .scalar(let name, let dtype, let offset):
                    let view = ByteView(storage: shared, start: offset, count: dtype.byteWidth)
                    return Tensor(name: name, dtype: dtype, shape: [], data: view, file: path)
                }
            }
        }

        /// Decodes the head of the item at `o`; for scalars, strings, binaries and exts also returns its end.
        func head(_ o: Int) throws -> (Head, end: Int) {
            let b = try file.u8(o, "msgpack item")
            func len<T: FixedWidthInteger>(_ t: T.Type) throws -> Int { Int(try file.be(o + 1, as: T.self, "msgpack length")) }
            func span(_ start: Int, _ n: Int) throws -> Int { try file.checkedRange(start, n, "msgpack item at \(o)").upperBound }
            switch b {
            case 0x00 ... 0x7F: return (.int(Int64(b)), o + 1)
            case 0x80 ... 0x8F: return (.map(count: Int(b & 0x0F), first: o + 1), o + 1)
            case 0x90 ... 0x9F: return (.array(count: Int(b & 0x0F), first: o + 1), o + 1)
            case 0xA0 ... 0xBF: let n = Int(b & 0x1F); return (.string(offset: o + 1, length: n), try span(o + 1, n))
            case 0xC0: return (.nil_, o + 1)
            case 0xC2: return (.bool(false), o + 1)
            case 0xC3: return (.bool(true), o + 1)
            case 0xC4: let n = try len(UInt8.self); return (.binary(offset: o + 2, length: n), try span(o + 2, n))
            case 0xC5: let n = try len(UInt16.self); return (.binary(offset: o + 3, length: n), try span(o + 3, n))
            case 0xC6: let n = try len(UInt32.self); return (.binary(offset: o + 5, length: n), try span(o + 5, n))
            case 0xC7: let n = try len(UInt8.self); return (.ext(type: Int8(bitPattern: try file.u8(o + 2)), offset: o + 3, length: n), try span(o + 3, n))
            case 0xC8: let n = try len(UInt16.self); return (.ext(type: Int8(bitPattern: try file.u8(o + 3)), offset: o + 4, length: n), try span(o + 4, n))
            case 0xC9: let n = try len(UInt32.self); return (.ext(type: Int8(bitPattern: try file.u8(o + 5)), offset: o + 6, length: n), try span(o + 6, n))
            case 0xCA: return (.float32(try file.be(o + 1, as: UInt32.self)), o + 5)
            case 0xCB: return (.float64(try file.be(o + 1, as: UInt64.self)), o + 9)
            case 0xCC: return (.uint(UInt64(try file.u8(o + 1))), o + 2)
            case 0xCD: return (.uint(UInt64(try file.be(o + 1, as: UInt16.self))), o + 3)
            case 0xCE: return (.uint(UInt64(try file.be(o + 1, as: UInt32.self))), o + 5)
            case 0xCF: return (.uint(try file.be(o + 1, as: UInt64.self)), o + 9)
            case 0xD0: return (.int(Int64(Int8(bitPattern: try file.u8(o + 1)))), o + 2)
            case 0xD1: return (.int(Int64(try file.be(o + 1, as: Int16.self))), o + 3)
            case 0xD2: return (.int(Int64(try file.be(o + 1, as: Int32.self))), o + 5)
            case 0xD3: return (.int(try file.be(o + 1, as: Int64.self)), o + 9)
            case 0xD4 ... 0xD8:
                let n = 1 << Int(b - 0xD4)
                return (.ext(type: Int8(bitPattern: try file.u8(o + 1)), offset: o + 2, length: n), try span(o + 2, n))
            case 0xD9: let n = try len(UInt8.self); return (.string(offset: o + 2, length: n), try span(o + 2, n))
            case 0xDA: let n = try len(UInt16.self); return (.string(offset: o + 3, length: n), try span(o + 3, n))
            case 0xDB: let n = try len(UInt32.self); return (.string(offset: o + 5, length: n), try span(o + 5, n))
            case 0xDC: return (.array(count: try len(UInt16.self), first: o + 3), o + 3)
            case 0xDD: return (.array(count: try len(UInt32.self), first: o + 5), o + 5)
            case 0xDE: return (.map(count: try len(UInt16.self), first: o + 3), o + 3)
            case 0xDF: return (.map(count: try len(UInt32.self), first: o + 5), o + 5)
            case 0xE0 ... 0xFF: return (.int(Int64(Int8(bitPattern: b))), o + 1)
            default: throw CheckpointError(.malformed, "msgpack: reserved type byte 0xc1", offset: o)
            }
        }

        func string(_ offset: Int, _ length: Int) throws -> String {
            guard length <= limits.maxNameBytes else {
                throw CheckpointError(.limitExceeded, "msgpack: string of \(length) bytes exceeds the limit \(limits.maxNameBytes)", offset: offset)
            }
            guard let s = String(validating: try file.copyBytes(offset, length, "msgpack string"), as: UTF8.self) else {
                throw CheckpointError(.malformed, "msgpack: string is not UTF-8", offset: offset)
            }
            return s
        }

        /// Checks a container's count against what the remaining bytes could hold (each item ≥ 1 byte).
        func checkCount(_ count: Int, _ itemsPer: Int, at o: Int) throws {
            let (need, over) = count.multipliedReportingOverflow(by: itemsPer)
            guard !over, need <= file.count - o else {
                throw CheckpointError(.truncated, "msgpack: container of \(count) items cannot fit in the \(file.count - o) bytes left", offset: o)
            }
        }

        /// A scalar tensor from a plain msgpack number or boolean, its bytes in the shared scalar buffer.
        mutating func scalar(_ name: String?, _ dtype: DType, _ bits: UInt64, at o: Int) throws {
            try reserve(at: o)
            try budget.charge(dtype.byteWidth, offset: o)
            let offset = scalarBytes.count
            for k in 0 ..< dtype.byteWidth { scalarBytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
            items.append(.scalar(name: name ?? "", dtype: dtype, offset: offset))
        }

        /// Checks the tensor count and charges one tensor's bookkeeping.
        mutating func reserve(at o: Int) throws {
            guard items.count < limits.maxTensors else {
                throw CheckpointError(.limitExceeded, "msgpack: more than \(limits.maxTensors) tensors", offset: o)
            }
            try budget.charge(Walker.tensorCost, offset: o)
        }

        /// The joined name of `key` under `parent`, checked against the name limit and charged.
        mutating func child(_ parent: String?, _ key: String, at o: Int) throws -> String {
            let full = parent.map { $0 + "/" + key } ?? key
            guard full.utf8.count <= limits.maxNameBytes else {
                throw CheckpointError(.limitExceeded, "msgpack: the name \"\(full.prefix(80))…\" is longer than \(limits.maxNameBytes) bytes", offset: o)
            }
            try budget.charge(full.utf8.count + 16, offset: o)
            return full
        }

        /// The name for messages.
        static func label(_ name: String?) -> String { name.map { "\"\($0)\"" } ?? "top-level value" }

        /// Reads the value at `o` under `name`, adding tensors; returns the offset after it.
        mutating func value(at o: Int, name: String?, depth: Int) throws -> Int {
            guard depth <= limits.maxDepth else {
                throw CheckpointError(.limitExceeded, "msgpack: nesting deeper than \(limits.maxDepth)", offset: o)
            }
            let (h, end) = try head(o)
            switch h {
            case .int(let v): try scalar(name, .i64, UInt64(bitPattern: v), at: o); return end
            case .uint(let v): try scalar(name, v > UInt64(Int64.max) ? .u64 : .i64, v, at: o); return end
            case .float32(let v): try scalar(name, .f32, UInt64(v), at: o); return end
            case .float64(let v): try scalar(name, .f64, v, at: o); return end
            case .bool(let v): try scalar(name, .bool, v ? 1 : 0, at: o); return end
            case .nil_, .string, .binary: return end
            case .map(let count, let first):
                try checkCount(count, 2, at: first)
                var p = first
                var keys = Set<String>()
                for _ in 0 ..< count {
                    let (kh, kend) = try head(p)
                    let key: String
                    switch kh {
                    case .string(let so, let sl): key = try string(so, sl)
                    case .int(let v): key = String(v)
                    case .uint(let v): key = String(v)
                    default: throw CheckpointError(.malformed, "msgpack: map \(Walker.label(name)) has a key that is not a string or integer", offset: p)
                    }
                    guard keys.insert(key).inserted else {
                        throw CheckpointError(.duplicateName, "msgpack: map \(Walker.label(name)) has the key \"\(key)\" twice", offset: p)
                    }
                    if key == "__msgpack_chunked_array__" {
                        throw CheckpointError(.unsupportedFormat, "msgpack: \(Walker.label(name)) is a Flax chunked array (over 1 GiB); re-save it as safetensors", offset: p)
                    }
                    p = try value(at: kend, name: try child(name, key, at: p), depth: depth + 1)
                }
                return p
            case .array(let count, let first):
                try checkCount(count, 1, at: first)
                var p = first
                for i in 0 ..< count { p = try value(at: p, name: try child(name, String(i), at: p), depth: depth + 1) }
                return p
            case .ext(let type, let offset, let length):
                guard type == 1 || type == 3 else {
                    let kind = type == 2 ? "a complex number" : "ext type \(type)"
                    throw CheckpointError(.unsupportedDType, "msgpack: \(Walker.label(name)) is \(kind), not an ndarray", offset: o)
                }
                try reserve(at: o)
                items.append(.tensor(try ndarray(offset, length, name: name ?? "", label: Walker.label(name))))
                return end
            }
        }

        /// Decodes an ndarray ext payload `[shape, dtype, bytes]`.
        func ndarray(_ offset: Int, _ length: Int, name: String, label: String) throws -> Tensor {
            let payloadEnd = offset + length
            guard case (.array(3, let first), _) = try head(offset) else {
                throw CheckpointError(.malformed, "msgpack: \(label): ndarray payload is not [shape, dtype, data]", offset: offset)
            }
            guard case (.array(let rank, let dimsStart), _) = try head(first) else {
                throw CheckpointError(.malformed, "msgpack: \(label): ndarray shape is not an array", offset: first)
            }
            guard rank <= limits.maxRank else {
                throw CheckpointError(.limitExceeded, "msgpack: \(label): rank \(rank) exceeds the limit \(limits.maxRank)", offset: first)
            }
            var shape: [Int] = []
            var p = dimsStart
            for _ in 0 ..< rank {
                let (dh, dend) = try head(p)
                switch dh {
                case .int(let v) where v >= 0: shape.append(Int(v))
                case .uint(let v) where v <= UInt64(Int.max): shape.append(Int(v))
                default: throw CheckpointError(.malformed, "msgpack: \(label): shape entry is not a non-negative integer", offset: p)
                }
                p = dend
            }
            guard case (.string(let so, let sl), let send) = try head(p) else {
                throw CheckpointError(.malformed, "msgpack: \(label): ndarray dtype is not a string", offset: p)
            }
            let dtypeName = try string(so, sl)
            guard let dtype = MsgpackReader.dtypeNames[dtypeName] else {
                throw CheckpointError(.unsupportedDType, "msgpack: \(label): dtype \"\(dtypeName)\" is not supported", offset: so)
            }
            guard case (.binary(let bo, let bl), let bend) = try head(send) else {
                throw CheckpointError(.malformed, "msgpack: \(label): ndarray data is not binary", offset: send)
            }
            guard bend == payloadEnd else {
                throw CheckpointError(.malformed, "msgpack: \(label): ndarray payload ends at \(bend), its ext ends at \(payloadEnd)", offset: bend)
            }
            let n = try ShapeMath.byteCount(shape: shape, width: dtype.byteWidth, limits: limits, "msgpack: \(label)", offset: first)
            guard n == bl else {
                throw CheckpointError(.malformed, "msgpack: \(label): \(bl) data bytes but \(dtype) × \(shape) needs \(n)", offset: bo)
            }
            return Tensor(name: name, dtype: dtype, shape: shape, data: try file.slice(bo, bl, label), file: path)
        }
    }
}
