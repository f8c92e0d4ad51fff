import VLAFormat

// Kernels read f32, i32 and u8 tensor data in place (constants after prepare has checked their alignment), so
// the host must be little-endian like the format. No untested byte-swapping arm: refuse to build instead.
#if _endian(big)
#error("VLARuntime reads little-endian tensor data in place and supports little-endian hosts only")
#endif

/// Where a prepared tensor's bytes are: constant bytes that outlive the interpreter, or an arena offset.
@unsafe public enum TensorStorage {
    /// Read-only bytes owned by someone else (an mmap'd verified file, or the interpreter's own copy).
    /// - Warning: The memory must stay valid and unchanged for the interpreter's lifetime; pass its owner
    ///   as `keepAlive` to ``Interpreter/init(tensors:programs:arenaSize:keepAlive:options:)``.
    case constant(UnsafeRawPointer)
    /// At this byte offset in the interpreter's arena.
    case arena(offset: Int)
}

/// One tensor as the interpreter sees it: name (for messages), type, storage, and the scale of an i8 tensor.
@unsafe public struct TensorBinding {
    /// The tensor's name, used in error messages.
    public var name: String
    /// Element type and shape.
    public var type: TensorType
    /// Where its bytes are.
    public var storage: TensorStorage
    /// For `i8`: the id of its f32 scale tensor (one scale per element of the last axis).
    public var scale: Int?

    /// Creates a binding.
    public init(name: String, type: TensorType, storage: TensorStorage, scale: Int? = nil) {
        unsafe self.name = name
        unsafe self.type = type
        unsafe self.storage = unsafe storage
        unsafe self.scale = scale
    }
}

/// Owns memory allocated for an interpreter (the arena, scratch, the in-memory document's constants, converted
/// and packed weights).
///
/// Every allocation is failable: sizes come from files, and a refused allocation is a ``RuntimeError`` with
/// code `.outOfMemory`, never a trap (Swift's own `allocate` aborts the process when `malloc` fails).
@safe final class OwnedBuffers {
    var buffers: [UnsafeMutableRawPointer] = unsafe []

    /// 64-byte aligned memory of at least `bytes` bytes (64 for smaller requests), freed with the owner.
    /// - Parameter what: What the memory is for, named in the error.
    /// - Throws: `.outOfMemory` when the system refuses the allocation or `bytes` is negative.
    func allocate(bytes: Int, _ what: @autoclosure () -> String = "scratch") throws(RuntimeError) -> UnsafeMutableRawPointer {
        guard bytes >= 0, let p = unsafe FailableAllocation.aligned(bytes: max(bytes, 64)) else {
            throw RuntimeError(.outOfMemory, "cannot allocate \(bytes) bytes for \(what()); the system refused the allocation (free memory, or raise the process's memory limit)")
        }
        unsafe buffers.append(p)
        return unsafe p
    }

    deinit { for unsafe p in unsafe buffers { unsafe FailableAllocation.free(p) } }
}

/// Runs the programs of a `.vla` document or file: prepared once, then run any number of times.
///
/// Preparing checks every op against its signature (``VLAFormat/OpCode/signatureProblem(inputs:outputs:attributes:)``),
/// every tensor against the arena and every operand id, allocates the arena (64-byte aligned, zeroed) and all
/// scratch memory, converts constant f16/bf16/i8 weights of `linear` to f32 once, resolves every operand to an
/// address and starts the worker threads. ``run(_:)`` then allocates nothing and re-checks no shapes.
///
/// ```swift
/// let interpreter = try Interpreter(document: document, options: RuntimeOptions(threads: 2))
/// try interpreter.setFloats(imageTensor, pixels)
/// try interpreter.run(interpreter.program(named: "step")!)
/// let features = try interpreter.floats(outputTensor)
/// ```
///
/// Not `Sendable`: it owns one arena that `run` writes, so use one interpreter from one thread at a time
/// (prepare one per thread to run in parallel).
///
/// > Note: Formulas of every op: `Schemas/vla-format.md` §8.1–8.2; threads, crossover and limits: `Docs/Interpreter.md`.
@safe public final class Interpreter {
    /// The options it was prepared with.
    public let options: RuntimeOptions
    /// The tensor table as prepared.
    public let tensors: [TensorBinding]
    /// The programs, in document order.
    public let programs: [Program]
    /// Bytes of the arena.
    public let arenaSize: Int
    /// `origins[program][k]`: where op `k` of the planned program came from. Without `call` ops the planned
    /// programs are ``programs`` and `origins[p][k]` is op `k` itself; a linked `call` expands to its copies
    /// in, the called blob program's ops and its copies out, all with the `call`'s index as ``OpOrigin/op``.
    public let origins: [[OpOrigin]]
    let arena: UnsafeMutableRawPointer
    var steps: [[Step]] = unsafe []
    let pool: WorkerPool
    let owned: OwnedBuffers
    let keepAlive: AnyObject?
    /// Per-thread scratch (attention scores), `threadScratchCount` floats each.
    var threadScratch: UnsafeMutablePointer<Float>
    var threadScratchCount = 0
    /// Scratch shared by all threads of one op (im2col, arena weight conversion).
    var sharedScratch: UnsafeMutablePointer<Float>

    /// Prepares every program of an in-memory document.
    ///
    /// Inline tensors are copied once into 64-byte aligned memory that the interpreter owns, or, with a
    /// ``ConstantPool``, that the pool owns and shares with every other interpreter prepared with it.
    /// - Parameters:
    ///   - document: The document; its external tensors are not supported here (prepare from a verified file).
    ///   - options: Threads, crossover and limits.
    ///   - constants: A pool to take the constants' copies from (nil: the interpreter copies them itself).
    /// - Throws: ``RuntimeError`` naming the program, op and tensor of the first problem found.
    public convenience init(document: VLADocument, options: RuntimeOptions = RuntimeOptions(), constants pool: ConstantPool? = nil) throws(RuntimeError) {
        let owned = OwnedBuffers()
        var bindings: [TensorBinding] = unsafe []
        var total = 0
        for entry in document.tensors {
            if case .inline(let bytes) = entry.location {
                total = total &+ ((bytes.count + 63) & ~63)
                if total > options.limits.maxConstantBytes || total < 0 {
                    throw RuntimeError(.limitExceeded, "inline tensors exceed \(options.limits.maxConstantBytes) bytes")
                }
            }
        }
        let base = try unsafe owned.allocate(bytes: pool == nil ? total : 0, "the document's constants")
        var cursor = 0
        for (id, entry) in document.tensors.enumerated() {
            switch entry.location {
            case .inline(let bytes):
                let (count, overflow) = TensorSize.bytes(entry.type)
                if overflow || count != bytes.count {
                    throw RuntimeError(
                        .invalidProgram,
                        "tensor \(id) \"\(entry.name)\": \(bytes.count) payload bytes for type \(entry.type)")
                }
                if let pool {
                    let p = try unsafe pool.copy(of: bytes)
                    unsafe bindings.append(TensorBinding(name: entry.name, type: entry.type, storage: .constant(p), scale: entry.scaleTensor))
                    continue
                }
                let p = unsafe base + cursor
                unsafe bytes.withUnsafeBytes { src in
                    if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) }
                }
                cursor += (bytes.count + 63) & ~63
                unsafe bindings.append(TensorBinding(name: entry.name, type: entry.type, storage: .constant(UnsafeRawPointer(p)), scale: entry.scaleTensor))
            case .arena(let offset):
                guard offset <= UInt64(Int.max) else {
                    throw RuntimeError(.outOfBounds, "tensor \(id) \"\(entry.name)\": arena offset \(offset) is too large")
                }
                unsafe bindings.append(TensorBinding(name: entry.name, type: entry.type, storage: .arena(offset: Int(offset)), scale: entry.scaleTensor))
            case .external(let ref, let index):
                throw RuntimeError(
                    .unsupported,
                    "tensor \(id) \"\(entry.name)\" lives in shared blob \(ref) (tensor \(index)); prepare from the verified file instead")
            }
        }
        if document.programs.contains(where: { $0.operations.contains { $0.opcode == .call } }) {
            throw RuntimeError(.unsupported, "the document has call ops, which run programs of shared blobs; prepare from the verified file instead")
        }
        guard document.arenaSize <= UInt64(options.limits.maxArenaBytes) else {
            throw RuntimeError(.limitExceeded, "arena of \(document.arenaSize) bytes exceeds the limit of \(options.limits.maxArenaBytes)")
        }
        unsafe try self.init(
            tensors: bindings, programs: document.programs, arenaSize: Int(document.arenaSize),
            keepAlive: pool, owned: owned, options: options)
    }

    /// Prepares programs over tensors that are already resolved to memory (the verified-file path).
    ///
    /// - Parameters:
    ///   - tensors: The tensor table: constants as pointers, everything else as arena offsets.
    ///   - programs: The programs; op operand ids index `tensors`.
    ///   - arenaSize: Bytes of the arena to allocate.
    ///   - keepAlive: The owner of the constants' memory (for example the mapped file), kept until deinit.
    ///   - options: Threads, crossover and limits.
    /// - Throws: ``RuntimeError`` naming the program, op and tensor of the first problem found.
    public convenience init(
        tensors: [TensorBinding], programs: [Program], arenaSize: Int, keepAlive: AnyObject?,
        options: RuntimeOptions = RuntimeOptions()
    ) throws(RuntimeError) {
        unsafe try self.init(
            tensors: tensors, programs: programs, arenaSize: arenaSize, keepAlive: keepAlive,
            owned: OwnedBuffers(), options: options)
    }

    /// - Parameters:
    ///   - planned: The programs actually planned (a file's programs with `call` ops linked), nil: `programs`.
    ///   - origins: For each planned op, the op of `programs` it came from (nil: the identity; profiles use these).
    init(
        tensors: [TensorBinding], programs: [Program], arenaSize: Int, keepAlive: AnyObject?,
        owned: OwnedBuffers, options: RuntimeOptions, planned: [Program]? = nil, origins: [[OpOrigin]]? = nil
    ) throws(RuntimeError) {
        guard arenaSize >= 0, arenaSize <= options.limits.maxArenaBytes else {
            throw RuntimeError(.limitExceeded, "arena of \(arenaSize) bytes is outside 0...\(options.limits.maxArenaBytes)")
        }
        self.options = options
        unsafe self.tensors = unsafe tensors
        self.programs = programs
        self.arenaSize = arenaSize
        let origins = origins ?? (planned ?? programs).map { $0.operations.indices.map { OpOrigin(op: $0) } }
        self.origins = origins
        self.keepAlive = keepAlive
        self.owned = owned
        unsafe try Interpreter.checkTensors(tensors, arenaSize: arenaSize)
        let arena = try unsafe owned.allocate(bytes: arenaSize, "the arena (RuntimeLimits.maxArenaBytes is \(options.limits.maxArenaBytes))")
        unsafe arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(arenaSize, 64))
        unsafe self.arena = arena
        unsafe self.threadScratch = try owned.allocate(bytes: 64).bindMemory(to: Float.self, capacity: 16)
        unsafe self.sharedScratch = try owned.allocate(bytes: 64).bindMemory(to: Float.self, capacity: 16)
        self.pool = WorkerPool(threadCount: options.threads)
        Threading.useSingleThreadedBLAS()
        var planner = Planner(interpreter: self)
        var all: [[Step]] = unsafe []
        for (index, program) in (planned ?? programs).enumerated() {
            var steps = try unsafe planner.plan(program: program, index: index)
            for k in unsafe steps.indices {
                unsafe steps[k].planned = steps[k].op
                if index < origins.count, unsafe steps[k].op < origins[index].count {
                    unsafe steps[k].op = origins[index][steps[k].op].op
                }
            }
            unsafe all.append(steps)
        }
        try planner.allocateScratch()
        unsafe self.steps = unsafe all
    }

    /// The index of the program with this name.
    public func program(named name: String) -> Int? {
        programs.firstIndex { $0.name == name }
    }

    /// The id of the first tensor with this name.
    public func tensor(named name: String) -> Int? {
        unsafe tensors.firstIndex { unsafe $0.name == name }
    }

    /// Threads actually running kernels (the caller plus started workers).
    public var threadCount: Int { pool.liveWorkers + 1 }

    /// Runs one program on the arena.
    ///
    /// Allocates nothing and checks no shapes (prepare did). The only run-time checks are on values read from
    /// the arena that prepare could not see: `gather` ids in an arena tensor.
    /// - Parameter program: An index into ``programs``.
    /// - Throws: ``RuntimeError`` with code `.invalidInput` for a bad program index, `.outOfBounds` for a
    ///   gather id outside its table (the arena then holds partial results).
    public func run(_ program: Int) throws(RuntimeError) {
        guard program >= 0, program < programs.count else {
            throw RuntimeError(.invalidInput, "program index \(program) is outside 0..<\(programs.count)")
        }
        for index in unsafe steps[program].indices {
            unsafe try execute(steps[program][index], program: program)
        }
    }

    /// Runs one program and returns the wall-clock seconds each op took (op order; 0 for ops fused into the op
    /// before them). For profiling: unlike ``run(_:)`` it allocates the result.
    /// - Throws: As ``run(_:)``.
    public func runProfiled(_ program: Int) throws(RuntimeError) -> [Double] {
        guard program >= 0, program < programs.count else {
            throw RuntimeError(.invalidInput, "program index \(program) is outside 0..<\(programs.count)")
        }
        var times = [Double](repeating: 0, count: programs[program].operations.count)
        let clock = ContinuousClock()
        for index in unsafe steps[program].indices {
            let start = clock.now
            try unsafe execute(unsafe steps[program][index], program: program)
            let c = (clock.now - start).components
            unsafe times[steps[program][index].op] += Double(c.seconds) + Double(c.attoseconds) * 1e-18
        }
        return times
    }

    /// The arena address of an arena tensor of the given dtype with exactly `count` elements.
    func arenaAddress(_ tensor: Int, dtype: DType, count: Int?, _ what: String) throws(RuntimeError) -> UnsafeMutableRawPointer {
        guard tensor >= 0, unsafe tensor < tensors.count else {
            throw RuntimeError(.invalidInput, unsafe "\(what): tensor id \(tensor) is outside 0..<\(tensors.count)")
        }
        let t = unsafe tensors[tensor]
        guard unsafe t.type.dtype == dtype else {
            throw RuntimeError(.invalidInput, unsafe "\(what): tensor \(tensor) \"\(t.name)\" is \(t.type), not \(dtype)")
        }
        if let count, unsafe count != t.type.elementCount {
            throw RuntimeError(.invalidInput, unsafe "\(what): tensor \(tensor) \"\(t.name)\" has \(t.type.elementCount) elements, got \(count)")
        }
        switch unsafe t.storage {
        case .arena(let offset): return unsafe arena + offset
        case .constant:
            throw RuntimeError(.invalidInput, unsafe "\(what): tensor \(tensor) \"\(t.name)\" is a constant, not an arena tensor")
        }
    }

    /// Copies `values` into an f32 arena tensor (a program input).
    /// - Throws: `.invalidInput` when the tensor is not an f32 arena tensor of `values.count` elements.
    public func setFloats(_ tensor: Int, _ values: [Float]) throws(RuntimeError) {
        let p = try unsafe arenaAddress(tensor, dtype: .f32, count: values.count, "setFloats")
        unsafe values.withUnsafeBytes { src in if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) } }
    }

    /// Copies `values` into a u8 arena tensor (a mask or an image).
    /// - Throws: `.invalidInput` when the tensor is not a u8 arena tensor of `values.count` elements.
    public func setBytes(_ tensor: Int, _ values: [UInt8]) throws(RuntimeError) {
        let p = try unsafe arenaAddress(tensor, dtype: .u8, count: values.count, "setBytes")
        unsafe values.withUnsafeBytes { src in if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) } }
    }

    /// Copies `values` into an i32 arena tensor (token ids).
    /// - Throws: `.invalidInput` when the tensor is not an i32 arena tensor of `values.count` elements.
    public func setInt32s(_ tensor: Int, _ values: [Int32]) throws(RuntimeError) {
        let p = try unsafe arenaAddress(tensor, dtype: .i32, count: values.count, "setInt32s")
        unsafe values.withUnsafeBytes { src in if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) } }
    }

    /// Copies raw little-endian bytes into an arena tensor of any dtype (for example f16 or i8 weights that a
    /// program takes as inputs).
    /// - Throws: `.invalidInput` when the tensor is not an arena tensor of exactly `bytes.count` bytes.
    public func setRaw(_ tensor: Int, _ bytes: [UInt8]) throws(RuntimeError) {
        guard tensor >= 0, unsafe tensor < tensors.count else {
            throw RuntimeError(.invalidInput, "setRaw: tensor id \(tensor) is outside 0..<\(unsafe tensors.count)")
        }
        let t = unsafe tensors[tensor]
        let p = try unsafe arenaAddress(tensor, dtype: t.type.dtype, count: nil, "setRaw")
        guard unsafe TensorSize.bytes(t.type).count == bytes.count else {
            throw RuntimeError(.invalidInput, unsafe "setRaw: tensor \(tensor) \"\(t.name)\" is \(t.type) (\(TensorSize.bytes(t.type).count) bytes), got \(bytes.count) bytes")
        }
        unsafe bytes.withUnsafeBytes { src in if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) } }
    }

    /// A copy of an f32 tensor's values (arena or constant).
    /// - Throws: `.invalidInput` for a bad id or a tensor that is not f32.
    public func floats(_ tensor: Int) throws(RuntimeError) -> [Float] {
        guard tensor >= 0, unsafe tensor < tensors.count else {
            throw RuntimeError(.invalidInput, unsafe "floats: tensor id \(tensor) is outside 0..<\(tensors.count)")
        }
        let t = unsafe tensors[tensor]
        guard unsafe t.type.dtype == .f32 else {
            throw RuntimeError(.invalidInput, unsafe "floats: tensor \(tensor) \"\(t.name)\" is \(t.type), not f32")
        }
        let base: UnsafeRawPointer
        switch unsafe t.storage {
        case .arena(let offset): unsafe base = UnsafeRawPointer(arena + offset)
        case .constant(let p): unsafe base = p
        }
        let n = unsafe t.type.elementCount
        return unsafe [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            for i in 0..<n { unsafe buffer[i] = base.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
            initialized = n
        }
    }

    /// Calls `body` with an f32 arena tensor's memory, for zero-copy reading or writing (no allocation).
    /// - Warning: Do not escape the pointer; it is valid only during `body`, and no program may run meanwhile.
    /// - Throws: `.invalidInput` when the tensor is not an f32 arena tensor.
    public func withArenaFloats<R>(_ tensor: Int, _ body: (UnsafeMutableBufferPointer<Float>) -> R) throws(RuntimeError) -> R {
        let p = try unsafe arenaAddress(tensor, dtype: .f32, count: nil, "withArenaFloats")
        let n = unsafe tensors[tensor].type.elementCount
        return unsafe body(UnsafeMutableBufferPointer(start: p.bindMemory(to: Float.self, capacity: n), count: n))
    }
}

/// Overflow-checked sizes of tensor types.
enum TensorSize {
    /// Element count and byte count of a type; `overflow` when either does not fit in Int.
    static func bytes(_ type: TensorType) -> (count: Int, overflow: Bool) {
        var n = 1
        for d in type.shape {
            if d < 0 { return (0, true) }
            let (r, o) = n.multipliedReportingOverflow(by: d)
            if o { return (0, true) }
            n = r
        }
        let (b, o) = n.multipliedReportingOverflow(by: type.dtype.byteWidth)
        return (b, o)
    }
}

extension Interpreter {
    static func checkTensors(_ tensors: [TensorBinding], arenaSize: Int) throws(RuntimeError) {
        for unsafe (id, t) in unsafe tensors.enumerated() {
            let (bytes, overflow) = unsafe TensorSize.bytes(t.type)
            if unsafe overflow || t.type.shape.count > Layout.maxRank {
                throw RuntimeError(.limitExceeded, unsafe "tensor \(id) \"\(t.name)\": type \(t.type) is too large")
            }
            switch unsafe t.storage {
            case .arena(let offset):
                let (end, o) = offset.addingReportingOverflow(bytes)
                if offset < 0 || o || end > arenaSize {
                    throw RuntimeError(
                        .outOfBounds, unsafe "tensor \(id) \"\(t.name)\": arena bytes \(offset)..<\(offset &+ bytes) exceed the arena of \(arenaSize) bytes")
                }
                if unsafe offset % t.type.dtype.byteWidth != 0 {
                    throw RuntimeError(.invalidProgram, unsafe "tensor \(id) \"\(t.name)\": arena offset \(offset) is not aligned to \(t.type.dtype.byteWidth) bytes")
                }
            case .constant(let p):
                if unsafe Int(bitPattern: p) % t.type.dtype.byteWidth != 0 {
                    throw RuntimeError(.invalidProgram, unsafe "tensor \(id) \"\(t.name)\": constant data is not aligned to \(t.type.dtype.byteWidth) bytes")
                }
            }
            if let s = unsafe t.scale {
                guard s >= 0, unsafe s < tensors.count else {
                    throw RuntimeError(.invalidProgram, unsafe "tensor \(id) \"\(t.name)\": scale tensor id \(s) is outside 0..<\(tensors.count)")
                }
                let st = unsafe tensors[s].type
                if unsafe t.type.dtype != .i8 || st.dtype != .f32 || st.shape != [t.type.shape.last ?? 1] {
                    throw RuntimeError(
                        .invalidProgram,
                        unsafe "tensor \(id) \"\(t.name)\": scale tensor \(s) is \(st), expected f32[\(t.type.shape.last ?? 1)] for an i8 tensor")
                }
            }
        }
    }
}
