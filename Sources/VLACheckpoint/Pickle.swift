/// A pickle *interpreter* that never executes anything: it rebuilds only plain data (None, bools,
/// ints, floats, strings, bytes, tuples, lists, dicts, sets) and the few globals on an allow-list
/// (`collections.OrderedDict`, torch's tensor-rebuilding functions and storage types), which it
/// represents as data. Any other global is refused at the opcode that names it, with its name.
///
/// Supports the opcodes `torch.save` emits (protocol 2) and the rest of protocols 2–5's data opcodes.
struct PickleMachine {
    struct StorageRef {
        var dtype: DType
        var key: String
        var elementCount: Int
        /// Offset of the BINPERSID opcode that loaded it, for messages.
        var offset: Int
    }

    struct TensorRef {
        var storage: StorageRef
        var storageOffset: Int
        var shape: [Int]
        var stride: [Int]
        var offset: Int
    }

    /// A pickled value. Containers are indices into ``sequences`` (tuples, lists, sets) and
    /// ``dictionaries``, never nested Swift values: a hostile pickle can nest containers a million deep
    /// or make cycles through the memo, and freeing a flat arena cannot recurse. Storages and tensors
    /// are indices into ``storageRefs`` and ``tensorRefs`` too, so a value stays small (a pickle that
    /// DUPs a value millions of times copies an index, not a tensor description).
    enum Value {
        case none, bool(Bool), int(Int64), float(Double), string(String), bytes([UInt8])
        case tuple(Int), list(Int), set(Int), dict(Int)
        case global(String)
        case storage(Int), tensor(Int)
    }

    /// Every storage a persistent id loaded, by index.
    var storageRefs: [StorageRef] = []
    /// Every tensor `_rebuild_tensor_v2` made, by index.
    var tensorRefs: [TensorRef] = []
    /// What the machine builds (stack values, memo entries, container items, strings) is charged here
    /// against ``ReaderLimits/expansionBudget(forInput:)`` of the checkpoint file's size.
    var budget: ExpansionBudget
    /// Bytes charged per value placed on the stack, in the memo or in a container.
    static let valueCost = MemoryLayout<Value>.stride

    /// Items of every tuple, list and set, by index.
    var sequences: [[Value]] = []
    /// Key/value pairs of every dict, by index.
    var dictionaries: [[(Value, Value)]] = []

    /// The globals a pickle may name, and what each becomes.
    static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .f32, "torch.DoubleStorage": .f64, "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16,
        "torch.LongStorage": .i64, "torch.IntStorage": .i32, "torch.ShortStorage": .i16, "torch.CharStorage": .i8,
        "torch.ByteStorage": .u8, "torch.BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ]

    let bytes: ByteView
    let limits: ReaderLimits
    var stack: [Value] = []
    var marks: [Int] = []
    var memo: [Int: Value] = [:]
    var pc = 0

    /// A machine for the pickle `bytes` of a checkpoint file of `fileBytes` bytes (its budget's input).
    init(_ bytes: ByteView, limits: ReaderLimits, fileBytes: Int) {
        self.bytes = bytes
        self.limits = limits
        self.budget = ExpansionBudget(limits, input: fileBytes, what: "data.pkl: values built")
    }

    func fail(_ code: CheckpointError.Code, _ m: String, at o: Int) -> CheckpointError {
        CheckpointError(code, "data.pkl: " + m, offset: o)
    }

    func fail(_ m: String, at o: Int) -> CheckpointError { fail(.malformed, m, at: o) }

    mutating func pop(_ at: Int) throws -> Value {
        guard let v = stack.popLast() else { throw fail("stack underflow", at: at) }
        if let m = marks.last, stack.count < m { throw fail("stack underflow past a mark", at: at) }
        return v
    }

    mutating func popToMark(_ at: Int) throws -> [Value] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no mark on the stack", at: at) }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    mutating func push(_ v: Value, _ at: Int) throws {
        guard stack.count < limits.maxPickleStack else { throw fail(.limitExceeded, "stack deeper than \(limits.maxPickleStack)", at: at) }
        try charge(PickleMachine.valueCost, at)
        stack.append(v)
    }

    /// Charges `bytes` to the budget, as an error at `at` if it is spent.
    mutating func charge(_ bytes: Int, _ at: Int) throws {
        try budget.charge(bytes, offset: at)
    }

    mutating func newSequence(_ items: [Value], _ at: Int) throws -> Int {
        guard sequences.count + dictionaries.count < limits.maxPickleStack else {
            throw fail(.limitExceeded, "more than \(limits.maxPickleStack) containers", at: at)
        }
        sequences.append(items)
        return sequences.count - 1
    }

    mutating func newDictionary(_ at: Int) throws -> Int {
        guard sequences.count + dictionaries.count < limits.maxPickleStack else {
            throw fail(.limitExceeded, "more than \(limits.maxPickleStack) containers", at: at)
        }
        dictionaries.append([])
        return dictionaries.count - 1
    }

    mutating func tuple(_ items: [Value], _ at: Int) throws -> Value { .tuple(try newSequence(items, at)) }

    mutating func arg(_ n: Int, _ what: String) throws -> ByteView {
        defer { pc += n }
        return try bytes.slice(pc, n, "data.pkl: \(what) argument")
    }

    mutating func line(_ at: Int) throws -> String {
        var end = pc
        while try bytes.u8(end, "data.pkl: GLOBAL argument") != 0x0A {
            end += 1
            guard end - pc <= 1024 else { throw fail("GLOBAL name longer than 1024 bytes", at: at) }
        }
        defer { pc = end + 1 }
        guard let s = String(validating: try bytes.copyBytes(pc, end - pc, "data.pkl: GLOBAL"), as: UTF8.self) else {
            throw fail("GLOBAL name is not UTF-8", at: at)
        }
        return s
    }

    mutating func string(_ v: ByteView, _ at: Int) throws -> String {
        guard v.count <= limits.maxNameBytes else { throw fail(.limitExceeded, "string of \(v.count) bytes exceeds the limit \(limits.maxNameBytes)", at: at) }
        try charge(v.count, at)
        guard let s = String(validating: v.bytes, as: UTF8.self) else { throw fail("string is not UTF-8", at: at) }
        return s
    }

    /// Checks a global against the allow-list.
    func global(_ module: String, _ name: String, _ at: Int) throws -> Value {
        let full = module + "." + name
        guard PickleMachine.callables.contains(full) || PickleMachine.storageTypes[full] != nil else {
            throw fail(.refusedGlobal, "global \(full) is not on the allow-list (only tensors, storages and ordered dicts are rebuilt; nothing is executed)", at: at)
        }
        return .global(full)
    }

    func int(_ v: Value, _ what: String, _ at: Int) throws -> Int {
        guard case .int(let i) = v, let n = Int(exactly: i) else { throw fail("\(what) is not an integer", at: at) }
        return n
    }

    func ints(_ v: Value, _ what: String, _ at: Int) throws -> [Int] {
        guard case .tuple(let index) = v else { throw fail("\(what) is not a tuple", at: at) }
        let items = sequences[index]
        guard items.count <= limits.maxRank else { throw fail(.limitExceeded, "\(what) has rank \(items.count), over the limit \(limits.maxRank)", at: at) }
        return try items.map { try int($0, what, at) }
    }

    /// Applies an allow-listed callable.
    mutating func call(_ name: String, _ args: [Value], _ at: Int) throws -> Value {
        switch name {
        case "collections.OrderedDict":
            return .dict(try newDictionary(at))
        case "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4, case .storage(let s) = args[0] else {
                throw fail("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)", at: at)
            }
            let offset = try int(args[1], "storage offset", at)
            let shape = try ints(args[2], "size", at)
            let stride = try ints(args[3], "stride", at)
            guard shape.count == stride.count else { throw fail("size \(shape) and stride \(stride) differ in rank", at: at) }
            try charge(MemoryLayout<TensorRef>.stride + 16 * shape.count, at)
            tensorRefs.append(TensorRef(storage: storageRefs[s], storageOffset: offset, shape: shape, stride: stride, offset: at))
            return .tensor(tensorRefs.count - 1)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = args.first, case .tensor = first else { throw fail("\(name) needs a tensor", at: at) }
            return first
        default:
            throw fail(.refusedGlobal, "global \(name) cannot be called", at: at)
        }
    }

    /// `BINPERSID`: `('storage', storage type, key, location, element count)`.
    mutating func persistent(_ pid: Value, _ at: Int) throws -> Value {
        guard case .tuple(let index) = pid, case let t = sequences[index], t.count == 5, case .string("storage") = t[0] else {
            throw fail("persistent id is not ('storage', type, key, location, count)", at: at)
        }
        guard case .global(let type) = t[1], let dtype = PickleMachine.storageTypes[type] else {
            throw fail(.unsupportedDType, "persistent id names an unsupported storage type", at: at)
        }
        guard case .string(let key) = t[2] else { throw fail("storage key is not a string", at: at) }
        let n = try int(t[4], "storage element count", at)
        guard n >= 0 else { throw fail("negative storage element count \(n)", at: at) }
        try charge(MemoryLayout<StorageRef>.stride, at)
        storageRefs.append(StorageRef(dtype: dtype, key: key, elementCount: n, offset: at))
        return .storage(storageRefs.count - 1)
    }

    /// Runs the pickle to its STOP and returns the value it built.
    mutating func run() throws -> Value {
        var ops = 0
        while true {
            ops += 1
            guard ops <= limits.maxPickleOps else { throw fail(.limitExceeded, "more than \(limits.maxPickleOps) opcodes", at: pc) }
            let at = pc
            let op = try bytes.u8(pc, "data.pkl: opcode")
            pc += 1
            switch op {
            case 0x80: _ = try arg(1, "PROTO")
            case 0x95: _ = try arg(8, "FRAME")
            case 0x2E:  // STOP
                let v = try pop(at)
                guard stack.isEmpty, marks.isEmpty else { throw fail("STOP with \(stack.count) values left on the stack", at: at) }
                return v
            case 0x28:  // MARK
                guard marks.count < limits.maxPickleStack else { throw fail(.limitExceeded, "too many marks", at: at) }
                marks.append(stack.count)
            case 0x7D: try push(.dict(try newDictionary(at)), at)
            case 0x5D: try push(.list(try newSequence([], at)), at)
            case 0x29: try push(try tuple([], at), at)
            case 0x8F: try push(.set(try newSequence([], at)), at)
            case 0x74: let items = try popToMark(at); try push(try tuple(items, at), at)
            case 0x85: let a = try pop(at); try push(try tuple([a], at), at)
            case 0x86: let b = try pop(at), a = try pop(at); try push(try tuple([a, b], at), at)
            case 0x87: let c = try pop(at), b = try pop(at), a = try pop(at); try push(try tuple([a, b, c], at), at)
            case 0x91: let items = try popToMark(at); try push(try tuple(items, at), at)  // FROZENSET as a tuple
            case 0x63:  // GLOBAL
                let module = try line(at)
                let name = try line(at)
                try push(try global(module, name, at), at)
            case 0x93:  // STACK_GLOBAL
                let n = try pop(at), m = try pop(at)
                guard case .string(let module) = m, case .string(let name) = n else { throw fail("STACK_GLOBAL needs two strings", at: at) }
                try push(try global(module, name, at), at)
            case 0x71: let i = Int(try arg(1, "BINPUT").bytes[0]); try memoize(i, at)
            case 0x72: let i = Int(try arg(4, "LONG_BINPUT").le(0, as: UInt32.self)); try memoize(i, at)
            case 0x94: try memoize(memo.count, at)
            case 0x68: let i = Int(try arg(1, "BINGET").bytes[0]); try push(try recall(i, at), at)
            case 0x6A: let i = Int(try arg(4, "LONG_BINGET").le(0, as: UInt32.self)); try push(try recall(i, at), at)
            case 0x58: let n = Int(try arg(4, "BINUNICODE").le(0, as: UInt32.self)); try push(.string(try string(try arg(n, "BINUNICODE"), at)), at)
            case 0x8C: let n = Int(try arg(1, "SHORT_BINUNICODE").bytes[0]); try push(.string(try string(try arg(n, "SHORT_BINUNICODE"), at)), at)
            case 0x8D:
                let n64 = try arg(8, "BINUNICODE8").le(0, as: UInt64.self)
                guard n64 <= UInt64(limits.maxNameBytes) else { throw fail(.limitExceeded, "string of \(n64) bytes", at: at) }
                try push(.string(try string(try arg(Int(n64), "BINUNICODE8"), at)), at)
            case 0x42, 0x43, 0x8E:  // BINBYTES, SHORT_BINBYTES, BINBYTES8
                let width = op == 0x43 ? 1 : op == 0x42 ? 4 : 8
                let lv = try arg(width, "BINBYTES")
                let n64: UInt64 = width == 1 ? UInt64(lv.bytes[0]) : width == 4 ? UInt64(try lv.le(0, as: UInt32.self)) : try lv.le(0, as: UInt64.self)
                guard n64 <= UInt64(limits.maxNameBytes) else { throw fail(.limitExceeded, "bytes object of \(n64) bytes", at: at) }
                let payload = try arg(Int(n64), "BINBYTES")
                try charge(payload.count, at)
                try push(.bytes(payload.bytes), at)
            case 0x4A: try push(.int(Int64(try arg(4, "BININT").le(0, as: Int32.self))), at)
            case 0x4B: try push(.int(Int64(try arg(1, "BININT1").bytes[0])), at)
            case 0x4D: try push(.int(Int64(try arg(2, "BININT2").le(0, as: UInt16.self))), at)
            case 0x8A, 0x8B:  // LONG1, LONG4
                let n = op == 0x8A ? Int(try arg(1, "LONG1").bytes[0]) : Int(try arg(4, "LONG4").le(0, as: Int32.self))
                guard n >= 0, n <= 8 else { throw fail(.limitExceeded, "integer of \(n) bytes does not fit 64 bits", at: at) }
                let b = try arg(n, "LONG").bytes
                var v: UInt64 = 0
                for (k, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(k)) }
                if n > 0, n < 8, b[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
                try push(.int(Int64(bitPattern: v)), at)
            case 0x4E: try push(.none, at)
            case 0x88: try push(.bool(true), at)
            case 0x89: try push(.bool(false), at)
            case 0x47: try push(.float(Double(bitPattern: try arg(8, "BINFLOAT").be(0, as: UInt64.self))), at)
            case 0x52:  // REDUCE
                let args = try pop(at), callable = try pop(at)
                guard case .global(let name) = callable, case .tuple(let a) = args else { throw fail("REDUCE needs a global and a tuple", at: at) }
                try push(try call(name, sequences[a], at), at)
            case 0x81:  // NEWOBJ
                let args = try pop(at), cls = try pop(at)
                guard case .global(let name) = cls, case .tuple(let a) = args else { throw fail("NEWOBJ needs a class and a tuple", at: at) }
                try push(try call(name, sequences[a], at), at)
            case 0x62:  // BUILD: state for an ordered dict (its _metadata) or a parameter; ignored.
                _ = try pop(at)
                guard let top = stack.last else { throw fail("BUILD on an empty stack", at: at) }
                switch top {
                case .dict, .tensor: break
                default: throw fail("BUILD on something other than a dict or tensor", at: at)
                }
            case 0x73:  // SETITEM
                let v = try pop(at), k = try pop(at)
                guard case .dict(let d)? = stack.last else { throw fail("SETITEM on a non-dict", at: at) }
                dictionaries[d].append((k, v))
            case 0x75:  // SETITEMS
                let items = try popToMark(at)
                guard items.count % 2 == 0, case .dict(let d)? = stack.last else { throw fail("SETITEMS needs a dict and key/value pairs", at: at) }
                for i in stride(from: 0, to: items.count, by: 2) { dictionaries[d].append((items[i], items[i + 1])) }
            case 0x61:  // APPEND
                let v = try pop(at)
                guard case .list(let l)? = stack.last else { throw fail("APPEND on a non-list", at: at) }
                sequences[l].append(v)
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let items = try popToMark(at)
                switch stack.last {
                case .list(let l)?, .set(let l)?: sequences[l] += items
                default: throw fail("APPENDS on a non-list", at: at)
                }
            case 0x51:  // BINPERSID
                try push(try persistent(try pop(at), at), at)
            case 0x30: _ = try pop(at)
            case 0x31: _ = try popToMark(at)
            case 0x32:
                guard let top = stack.last else { throw fail("DUP on an empty stack", at: at) }
                try push(top, at)
            default:
                throw fail(.unsupportedFormat, "unsupported pickle opcode 0x\(String(op, radix: 16))", at: at)
            }
        }
    }

    mutating func memoize(_ i: Int, _ at: Int) throws {
        guard let top = stack.last else { throw fail("memo store from an empty stack", at: at) }
        guard memo.count < limits.maxPickleStack else { throw fail(.limitExceeded, "memo larger than \(limits.maxPickleStack)", at: at) }
        try charge(PickleMachine.valueCost + 16, at)
        memo[i] = top
    }

    func recall(_ i: Int, _ at: Int) throws -> Value {
        guard let v = memo[i] else { throw fail("memo entry \(i) was never stored", at: at) }
        return v
    }
}
