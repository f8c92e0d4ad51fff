import VLAFormat

extension Interpreter {
    /// Prepares the programs of a verified file, binding its inline tensors and the external tensors of its
    /// shared blobs in place (zero copy).
    ///
    /// - Parameters:
    ///   - file: A verified policy or blob.
    ///   - blobs: The file's shared blobs, resolved and checked (``VLAFormat/SharedBlobResolver/resolve(for:)``),
    ///     in the order of `file.sharedRefs`.
    ///   - options: Threads, crossover and limits.
    /// - Throws: ``RuntimeError`` when a blob is missing from `blobs` or preparing fails.
    public convenience init(file: VLAFile, blobs: [VLAFile], options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) {
        guard blobs.count == file.sharedRefs.count else {
            throw RuntimeError(.invalidInput, "the file references \(file.sharedRefs.count) shared blobs, \(blobs.count) were given")
        }
        var bindings: [TensorBinding] = unsafe []
        for (id, tensor) in file.tensors.enumerated() {
            let storage: TensorStorage
            switch tensor.storage {
            case .inline:
                guard let p = unsafe file.unsafePayloadAddress(ofTensor: id) else {
                    throw RuntimeError(.invalidProgram, "tensor \(id) \"\(tensor.name)\" has no payload")
                }
                unsafe storage = .constant(p)
            case .external(let ref, let index):
                guard let p = unsafe blobs[ref].unsafePayloadAddress(ofTensor: index),
                      blobs[ref].tensors[index].type == tensor.type
                else {
                    throw RuntimeError(.invalidInput, "tensor \(id) \"\(tensor.name)\" is not tensor \(index) of shared blob \(ref); resolve blobs with SharedBlobResolver")
                }
                unsafe storage = .constant(p)
            case .arena(let offset):
                unsafe storage = .arena(offset: Int(offset))
            }
            unsafe bindings.append(TensorBinding(name: tensor.name, type: tensor.type, storage: storage, scale: tensor.scaleTensor))
        }
        guard file.arenaSize <= UInt64(options.limits.maxArenaBytes) else {
            throw RuntimeError(.limitExceeded, "arena of \(file.arenaSize) bytes exceeds the limit of \(options.limits.maxArenaBytes)")
        }
        let linked = try unsafe Interpreter.link(file: file, blobs: blobs, bindings: &bindings, limits: options.limits)
        unsafe try self.init(
            tensors: bindings, programs: file.programs, arenaSize: linked.arenaSize,
            keepAlive: [file] + blobs as AnyObject, owned: OwnedBuffers(), options: options,
            planned: linked.programs, origins: linked.origins)
    }

    /// Links the `call` ops of `file` (format 1.1) to the blob programs they run.
    ///
    /// The session's one arena is the file's arena (rounded up to 64 bytes), followed by one region that every
    /// called blob's arena overlays (its size is the largest called blob's arena, rounded up to 64): calls run one
    /// at a time and copy their outputs out, so no blob needs its region after its call. Each called blob's
    /// tensors are appended to `bindings` once: its inline tensors as constants in the mapped blob (shared by every
    /// session), its arena tensors at their offset plus the blob's base. A `call` becomes a copy (`reshape`) of each
    /// input to the callee's input (or, for the inputs ``inputsByReference(blobs:calls:firstTensor:bindings:)``
    /// picks, the callee's input bound to the caller's tensor itself), the callee's ops over the appended tensors,
    /// and a copy of each callee output to the op's output. Messages keep the file's op indices (every expanded op
    /// counts as its `call`); each planned op's ``OpOrigin`` also says where inside the call it came from (profiles
    /// use these).
    ///
    /// - Returns: The expanded programs, the origin of each expanded op, and the total arena size.
    static func link(
        file: VLAFile, blobs: [VLAFile], bindings: inout [TensorBinding], limits: RuntimeLimits
    ) throws(RuntimeError) -> (programs: [Program], origins: [[OpOrigin]], arenaSize: Int) {
        let calls = file.programs.flatMap { $0.operations.filter { $0.opcode == .call } }
        guard !calls.isEmpty else {
            return (file.programs, file.programs.map { $0.operations.indices.map { OpOrigin(op: $0) } }, Int(file.arenaSize))
        }
        do { try SharedBlobResolver.checkCalls(of: file, blobs: blobs) } catch {
            // The budgets of the expanded programs (FormatLimits) are the verifier's; the rest is a wrong blob.
            if error.code == .limitExceeded { throw RuntimeError(.limitExceeded, error.message) }
            throw RuntimeError(.invalidInput, "\(error.message); resolve blobs with SharedBlobResolver")
        }
        // Expansion multiplies: every call becomes its callee's ops plus copies, and a hostile pair of files can
        // point thousands of calls at a long blob program. Count first, refuse above the limit, then build.
        // The count is the verifier's (one function); checkCalls already refused more than FormatLimits.maxOps.
        var planned = 0
        for (p, program) in file.programs.enumerated() {
            planned += SharedBlobResolver.expansion(of: p, in: file, blobs: blobs).ops
            guard planned <= limits.maxPlannedOps else {
                throw RuntimeError(
                    .limitExceeded,
                    "program \"\(program.name)\" expands to more than \(limits.maxPlannedOps) ops with its calls into shared blob programs (RuntimeLimits.maxPlannedOps)")
            }
        }
        let base = (Int(file.arenaSize) + 63) & ~63
        var arenaSize = base
        var firstTensor: [Int: Int] = [:]
        for r in Set(calls.map { Int($0.attributes[0]) }).sorted() {
            let blob = blobs[r]
            guard blob.arenaSize <= UInt64(limits.maxArenaBytes) else {
                throw RuntimeError(.limitExceeded, "shared blob \(r) has an arena of \(blob.arenaSize) bytes, the limit is \(limits.maxArenaBytes)")
            }
            let (end, overflow) = base.addingReportingOverflow((Int(blob.arenaSize) + 63) & ~63)
            guard !overflow, end <= limits.maxArenaBytes else {
                throw RuntimeError(.limitExceeded, "the arena with called blob programs exceeds the limit of \(limits.maxArenaBytes) bytes")
            }
            arenaSize = max(arenaSize, end)
            firstTensor[r] = unsafe bindings.count
            for (id, tensor) in blob.tensors.enumerated() {
                let storage: TensorStorage
                switch tensor.storage {
                case .inline:
                    guard let p = unsafe blob.unsafePayloadAddress(ofTensor: id) else {
                        throw RuntimeError(.invalidProgram, "blob \(r) tensor \(id) \"\(tensor.name)\" has no payload")
                    }
                    unsafe storage = .constant(p)
                case .arena(let offset):
                    unsafe storage = .arena(offset: base + Int(offset))
                case .external:
                    throw RuntimeError(.invalidProgram, "blob \(r) tensor \(id) \"\(tensor.name)\" is external")
                }
                unsafe bindings.append(TensorBinding(name: tensor.name, type: tensor.type, storage: storage, scale: tensor.scaleTensor.map { $0 + (firstTensor[r] ?? 0) }))
            }
        }
        let byReference = unsafe inputsByReference(blobs: blobs, calls: calls, firstTensor: firstTensor, bindings: bindings)
        var programs: [Program] = []
        var origins: [[OpOrigin]] = []
        for program in file.programs {
            var ops: [Operation] = []
            var origin: [OpOrigin] = []
            for (k, op) in program.operations.enumerated() {
                guard op.opcode == .call else {
                    ops.append(op)
                    origin.append(OpOrigin(op: k))
                    continue
                }
                let r = Int(op.attributes[0]), p = Int(op.attributes[1])
                let first = firstTensor[r] ?? 0
                let callee = blobs[r].programs[p]
                let at = { (part: OpOrigin.Part) in OpOrigin(op: k, callee: OpOrigin.Callee(blob: r, program: p, part: part)) }
                for (i, (a, b)) in zip(op.inputs, callee.inputs).enumerated() {
                    if byReference.contains(first + b) {
                        unsafe bindings[first + b].storage = unsafe bindings[a].storage
                        continue
                    }
                    ops.append(Operation(.reshape, inputs: [a], outputs: [first + b]))
                    origin.append(at(.copyIn(i)))
                }
                for (j, c) in callee.operations.enumerated() {
                    ops.append(Operation(c.opcode, inputs: c.inputs.map { $0 + first }, outputs: c.outputs.map { $0 + first }, attributes: c.attributes))
                    origin.append(at(.op(j)))
                }
                for (i, (a, b)) in zip(op.outputs, callee.outputs).enumerated() {
                    ops.append(Operation(.reshape, inputs: [first + b], outputs: [a]))
                    origin.append(at(.copyOut(i)))
                }
            }
            programs.append(Program(name: program.name, inputs: program.inputs, outputs: program.outputs, operations: ops))
            origins.append(origin)
        }
        return (programs, origins, arenaSize)
    }

    /// The called programs' inputs (as tensor ids after `firstTensor`) that read the caller's tensor in place
    /// instead of a copy of it: those that one call input alone feeds, that no op of their blob writes and no
    /// program of it returns, whose bytes no other tensor their program names shares (``inputsSharingBytes(_:of:)``:
    /// a view the compiler placed over them, such as the reduced-precision backbone's `pixel_values.patch_rows`),
    /// whose caller tensor has the same element type and byte size (and neither has a scale), and whose caller
    /// tensor is in the arena, or is a constant read there only by `slice`, `reshape` and `concat` (which copy it,
    /// so no product or lookup plans differently for a constant operand). The
    /// caller's tensor is not written while the call runs (the callee writes only the call region, its outputs
    /// are copied out after its last op), and the planner sees the callee's reads of it, so lifetimes and
    /// fusions stay right; the results are those of the copies (`Schemas/vla-format.md` §8.3).
    static func inputsByReference(
        blobs: [VLAFile], calls: [Operation], firstTensor: [Int: Int], bindings: [TensorBinding]
    ) -> Set<Int> {
        var feeds: [Int: Int] = [:]
        var fedBy: [Int: Int] = [:]
        var called: Set<[Int]> = []  // (blob, program)
        for op in calls {
            let r = Int(op.attributes[0]), p = Int(op.attributes[1]), first = firstTensor[r] ?? 0
            called.insert([r, p])
            for (a, b) in zip(op.inputs, blobs[r].programs[p].inputs) {
                feeds[first + b, default: 0] += 1
                fedBy[first + b] = a
            }
        }
        var aliased: Set<Int> = []
        for rp in called {
            let first = firstTensor[rp[0]] ?? 0
            for b in inputsSharingBytes(blobs[rp[0]].programs[rp[1]], of: blobs[rp[0]]) { aliased.insert(first + b) }
        }
        var written: Set<Int> = []
        var readers: [Int: Set<OpCode>] = [:]
        for (r, first) in firstTensor {
            for program in blobs[r].programs {
                for id in program.outputs { written.insert(first + id) }
                for op in program.operations {
                    for id in op.outputs { written.insert(first + id) }
                    for id in op.inputs { readers[first + id, default: []].insert(op.opcode) }
                }
            }
        }
        let copying: Set<OpCode> = [.slice, .reshape, .concat]
        var chosen: Set<Int> = []
        for (key, count) in feeds where count == 1 && !written.contains(key) && !aliased.contains(key) {
            guard let a = fedBy[key] else { continue }
            let caller = unsafe bindings[a], callee = unsafe bindings[key]
            guard unsafe caller.scale == nil && callee.scale == nil && caller.type.dtype == callee.type.dtype,
                unsafe TensorSize.bytes(caller.type) == TensorSize.bytes(callee.type)
            else { continue }
            switch unsafe caller.storage {
            case .arena: chosen.insert(key)
            case .constant: if readers[key, default: []].isSubset(of: copying) { chosen.insert(key) }
            }
        }
        return chosen
    }

    /// The inputs of `program` whose arena bytes another tensor that the program names (an operand of one of its
    /// ops, an input or an output) overlaps: a view the compiler placed over an input, or any other layout that
    /// reads or writes an input's bytes under another id. Such an input keeps its copy. Sorted by start, each
    /// range is checked against the furthest end before it and the next start: O(n log n) in the names.
    static func inputsSharingBytes(_ program: Program, of blob: VLAFile) -> Set<Int> {
        var named = Set(program.inputs)
        named.formUnion(program.outputs)
        for op in program.operations {
            named.formUnion(op.inputs)
            named.formUnion(op.outputs)
        }
        let ranges = named.compactMap { id -> (id: Int, start: Int, end: Int)? in
            guard case .arena(let offset) = blob.tensors[id].storage else { return nil }
            let start = Int(offset), end = start + TensorSize.bytes(blob.tensors[id].type).count
            return end > start ? (id, start, end) : nil
        }.sorted { ($0.start, $0.end, $0.id) < ($1.start, $1.end, $1.id) }
        let inputs = Set(program.inputs)
        var shared: Set<Int> = []
        var furthest = Int.min
        for (i, t) in ranges.enumerated() {
            let overlapsBefore = furthest > t.start
            let overlapsAfter = i + 1 < ranges.count && ranges[i + 1].start < t.end
            if (overlapsBefore || overlapsAfter) && inputs.contains(t.id) { shared.insert(t.id) }
            furthest = max(furthest, t.end)
        }
        return shared
    }
}

/// The stored bytes of an inline tensor of `file` or of an external one in its resolved `blobs`.
func storedBytes(_ file: VLAFile, blobs: [VLAFile], tensor id: Int) -> [UInt8]? {
    guard file.tensors.indices.contains(id) else { return nil }
    switch file.tensors[id].storage {
    case .inline: return file.payload(ofTensor: id)
    case .external(let ref, let index): return ref < blobs.count ? blobs[ref].payload(ofTensor: index) : nil
    case .arena: return nil
    }
}

/// The outcome of one embedded test vector.
public struct TestVectorResult: Sendable, Hashable {
    /// Index of the vector in the file.
    public var index: Int
    /// The program it ran.
    public var program: String
    /// Largest absolute difference between an output and its expected value (∞ where either is NaN or
    /// infinite and they differ).
    public var maxAbsDifference: Float
    /// The tolerance the file allows.
    public var tolerance: Float
    /// f32 output values that are NaN or infinite. Any makes the vector fail, even where the expected value is
    /// the same NaN: a self-test must not pass a policy whose actions would be refused.
    public var nonFiniteOutputs: Int = 0
    /// Whether the vector holds: every output finite and within the tolerance.
    public var passed: Bool { nonFiniteOutputs == 0 && maxAbsDifference <= tolerance }

    /// Creates a result.
    public init(index: Int, program: String, maxAbsDifference: Float, tolerance: Float, nonFiniteOutputs: Int = 0) {
        self.index = index
        self.program = program
        self.maxAbsDifference = maxAbsDifference
        self.tolerance = tolerance
        self.nonFiniteOutputs = nonFiniteOutputs
    }

    /// Why the vector fails, as a lowercase clause (nil when it passes).
    public var failure: String? {
        if nonFiniteOutputs > 0 {
            return "\(nonFiniteOutputs) output value\(nonFiniteOutputs == 1 ? " is" : "s are") NaN or infinite"
        }
        if maxAbsDifference > tolerance || maxAbsDifference.isNaN {
            return "largest difference \(maxAbsDifference) exceeds the tolerance \(tolerance)"
        }
        return nil
    }
}

/// Runs a file's embedded test vectors.
public enum TestVectors {
    /// Runs every test vector of `file` in order on one interpreter, whose arena starts zeroed and persists
    /// between vectors (so a `reset` vector can prepare a `step` vector).
    ///
    /// - Returns: One result per vector. Failing vectors are results, not errors.
    /// - Throws: ``RuntimeError`` when the programs cannot be prepared or run.
    public static func run(file: VLAFile, blobs: [VLAFile], options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) -> [TestVectorResult] {
        guard !file.testVectors.isEmpty else { return [] }
        let interpreter = try Interpreter(file: file, blobs: blobs, options: options)
        var results: [TestVectorResult] = []
        for (i, vector) in file.testVectors.enumerated() {
            for binding in vector.inputs {
                try interpreter.setRaw(binding.target, storedBytes(file, blobs: blobs, tensor: binding.value) ?? [])
            }
            try interpreter.run(vector.program)
            var worst: Float = 0
            var nonFinite = 0
            for binding in vector.expected {
                let expected = storedBytes(file, blobs: blobs, tensor: binding.value) ?? []
                let type = file.tensors[binding.target].type
                if type.dtype == .f32 {
                    let got = try interpreter.floats(binding.target)
                    for value in got where !value.isFinite { nonFinite += 1 }
                    for (k, want) in floats(expected).enumerated() where k < got.count {
                        worst = max(worst, difference(got[k], want))
                    }
                } else {
                    let got = try interpreter.rawBytes(binding.target)
                    if got != expected { worst = .infinity }
                }
            }
            results.append(TestVectorResult(
                index: i, program: file.programs[vector.program].name, maxAbsDifference: worst, tolerance: vector.tolerance,
                nonFiniteOutputs: nonFinite))
        }
        return results
    }

    static func difference(_ a: Float, _ b: Float) -> Float {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
        if a == b { return 0 }
        return abs(a - b)
    }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        var out: [Float] = []
        var o = 0
        while o + 4 <= bytes.count {
            var bits = UInt32(bytes[o])
            bits |= UInt32(bytes[o + 1]) << 8
            bits |= UInt32(bytes[o + 2]) << 16
            bits |= UInt32(bytes[o + 3]) << 24
            out.append(Float(bitPattern: bits))
            o += 4
        }
        return out
    }
}

extension Interpreter {
    /// A copy of a tensor's bytes (arena or constant), whatever its dtype.
    /// - Throws: `.invalidInput` for a bad id.
    public func rawBytes(_ tensor: Int) throws(RuntimeError) -> [UInt8] {
        guard tensor >= 0, unsafe tensor < tensors.count else {
            throw RuntimeError(.invalidInput, unsafe "rawBytes: tensor id \(tensor) is outside 0..<\(tensors.count)")
        }
        let t = unsafe tensors[tensor]
        let base: UnsafeRawPointer
        switch unsafe t.storage {
        case .arena(let offset): unsafe base = UnsafeRawPointer(arena + offset)
        case .constant(let p): unsafe base = p
        }
        let n = unsafe TensorSize.bytes(t.type).count
        return unsafe Array(UnsafeRawBufferPointer(start: base, count: n))
    }
}
