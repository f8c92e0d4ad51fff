import CVLAKernels
import VLAFormat

/// Turns a program's ops into resolved steps, checking every op first.
@safe struct Planner {
    unowned let interpreter: Interpreter
    var sharedScratchFloats = 0
    var threadScratchFloats = 0
    /// Constant weights already converted to f32, by tensor id.
    var converted: [Int: ConstFloatPointer] = unsafe [:]
    /// Constant weights of `linear_i8` / `linear_bf16` already packed, by tensor id.
    var packedWeights: [Int: UnsafeRawPointer] = unsafe [:]
    /// Constant weights of `linear` / `patch_embed` already packed for vla_f32_gemm_packed, by tensor id.
    var packedF32: [Int: UnsafeRawPointer] = unsafe [:]

    init(interpreter: Interpreter) { self.interpreter = interpreter }

    var tensors: [TensorBinding] { unsafe interpreter.tensors }

    /// Byte range of an arena tensor, nil for a constant.
    func arenaRange(_ id: Int) -> Range<Int>? {
        let t = unsafe tensors[id]
        if case .arena(let offset) = unsafe t.storage {
            return unsafe offset..<(offset + TensorSize.bytes(t.type).count)
        }
        return nil
    }

    func address(_ id: Int) -> UnsafeRawPointer {
        switch unsafe tensors[id].storage {
        case .constant(let p): return unsafe p
        case .arena(let offset): return unsafe UnsafeRawPointer(interpreter.arena + offset)
        }
    }

    /// The tensor's data as f32. Rebinding is sound here: `Interpreter.checkTensors` has verified the alignment
    /// of every constant and arena offset, and the host is little-endian (see Interpreter+Unsafe.swift).
    func floats(_ id: Int) -> ConstFloatPointer {
        unsafe address(id).assumingMemoryBound(to: Float.self)
    }

    func mutableFloats(_ id: Int) -> FloatPointer {
        unsafe FloatPointer(mutating: floats(id))
    }

    mutating func plan(program: Program, index: Int) throws(RuntimeError) -> [Step] {
        let where_ = "program \(index) \"\(program.name)\""
        for id in program.inputs + program.outputs {
            guard id >= 0, unsafe id < tensors.count, arenaRange(id) != nil else {
                throw RuntimeError(.invalidProgram, "\(where_): input/output tensor \(id) is not an arena tensor")
            }
        }
        var steps: [Step] = unsafe []
        var reads: [[Range<Int>]] = []
        for (opIndex, op) in program.operations.enumerated() {
            let at = "\(where_), op \(opIndex) (\(op.opcode))"
            guard op.opcode.isKnown else { throw RuntimeError(.invalidProgram, "\(at): unknown op code \(op.opcode.rawValue)") }
            for id in op.inputs + op.outputs where unsafe id < 0 || id >= tensors.count {
                throw RuntimeError(.invalidProgram, unsafe "\(at): tensor id \(id) is outside 0..<\(tensors.count)")
            }
            for id in op.outputs where arenaRange(id) == nil {
                throw RuntimeError(.invalidProgram, unsafe "\(at): output tensor \(id) \"\(tensors[id].name)\" is a constant")
            }
            let types = (op.inputs.map { unsafe tensors[$0].type }, op.outputs.map { unsafe tensors[$0].type })
            if let problem = op.opcode.signatureProblem(inputs: types.0, outputs: types.1, attributes: op.attributes) {
                throw RuntimeError(.invalidProgram, "\(at): \(problem)")
            }
            try checkOverlap(op, at)
            reads.append(op.inputs.compactMap { arenaRange($0) })
            unsafe steps.append(Step(kernel: try kernel(op, at), op: opIndex))
        }
        if interpreter.options.fuse { unsafe fuse(&steps, program: program, reads: reads) }
        return unsafe steps
    }

    /// Outputs may not overlap inputs, except that element-wise ops may write exactly over an input.
    func checkOverlap(_ op: Operation, _ at: String) throws(RuntimeError) {
        let inPlaceOK: Bool
        switch op.opcode {
        case .relu, .geluErf, .geluTanh, .tanh, .scaledTanh, .threshold, .add, .mul, .layerNorm, .rmsNorm,
            .softmax, .l2Normalize, .reshape:
            inPlaceOK = true
        default:
            inPlaceOK = false
        }
        for out in op.outputs {
            guard let o = arenaRange(out) else { continue }
            for (position, input) in op.inputs.enumerated() {
                guard let i = arenaRange(input), i.overlaps(o) else { continue }
                let firstOperand = position == 0 || op.opcode == .add || op.opcode == .mul
                if unsafe inPlaceOK && firstOperand && i == o && tensors[input].type.dtype == tensors[out].type.dtype { continue }
                throw RuntimeError(
                    .invalidProgram,
                    unsafe "\(at): output \"\(tensors[out].name)\" (arena \(o)) overlaps input \"\(tensors[input].name)\" (arena \(i))")
            }
        }
    }

    func rows(_ t: TensorType) -> Int { t.shape.dropLast().reduce(1, *) }

    mutating func kernel(_ op: Operation, _ at: String) throws(RuntimeError) -> Kernel {
        let ins = op.inputs, out = op.outputs[0]
        let outType = unsafe tensors[out].type
        let y = unsafe mutableFloats(out)
        func attr(_ i: Int) -> Float { Float(bitPattern: op.attributes[i]) }
        switch op.opcode {
        case .linear:
            let xt = unsafe tensors[ins[0]].type, wt = unsafe tensors[ins[1]].type
            let m = rows(xt), k = wt.shape[0], n = wt.shape[1]
            try checkBLASSize(m, n, k, at)
            let route = productRoute(m: m, n: n, k: k, constantWeights: arenaRange(ins[1]) == nil)
            var step = unsafe LinearStep(
                x: floats(ins[0]), w: nil, bias: ins.count == 3 ? floats(ins[2]) : nil, y: y, m: m, k: k, n: n,
                conversion: nil, im2col: nil, epilogue: nil, blas: route == .openBLAS, chunk: 0, byRows: false)
            if route == .packed {
                unsafe step.packed = try packedF32Weights(ins[1], k: k, n: n, at)
            } else {
                unsafe step.w = try weights(ins[1], &step, at)
            }
            unsafe setChunks(&step)
            return unsafe .linear(step)
        case .linearI8, .linearBF16:
            return unsafe .reducedLinear(try reducedLinear(op, at))
        case .patchEmbed:
            let it = unsafe tensors[ins[0]].type, kt = unsafe tensors[ins[1]].type
            let p = Int(op.attributes[0]), c = it.shape[2], d = kt.shape[3]
            let gh = it.shape[0] / p, gw = it.shape[1] / p
            let m = gh * gw, k = p * p * c
            try checkBLASSize(m, d, k, at)
            let (need, o) = m.multipliedReportingOverflow(by: k)
            try reserveShared(o ? Int.max : need, at)
            // The kernel [P, P, C, D] is the row-major [P·P·C, D] weight of the product.
            let route = productRoute(m: m, n: d, k: k, constantWeights: arenaRange(ins[1]) == nil)
            var step = unsafe LinearStep(
                x: nil, w: floats(ins[1]), bias: floats(ins[2]), y: y, m: m, k: k, n: d,
                conversion: nil,
                im2col: Im2Col(image: floats(ins[0]), height: it.shape[0], width: it.shape[1], channels: c, patch: p, gridH: gh, gridW: gw),
                epilogue: nil, blas: route == .openBLAS, chunk: 0, byRows: false)
            if route == .packed {
                unsafe step.packed = try packedF32Weights(ins[1], k: k, n: d, at)
                unsafe step.w = nil
            }
            unsafe setChunks(&step)
            return unsafe .linear(step)
        case .layerNorm, .rmsNorm:
            let xt = unsafe tensors[ins[0]].type
            let center = op.opcode == .layerNorm
            return unsafe .norm(
                x: floats(ins[0]), gamma: floats(ins[1]), beta: center ? floats(ins[2]) : nil, y: y,
                rows: rows(xt), d: xt.shape.last ?? 1, eps: attr(0), center: center)
        case .softmax:
            let xt = unsafe tensors[ins[0]].type
            return unsafe .softmax(x: floats(ins[0]), y: y, rows: rows(xt), n: xt.shape.last ?? 1)
        case .l2Normalize:
            let xt = unsafe tensors[ins[0]].type
            return unsafe .l2Normalize(x: floats(ins[0]), y: y, rows: rows(xt), d: xt.shape.last ?? 1, eps: attr(0))
        case .relu, .geluTanh, .geluErf, .tanh, .scaledTanh, .threshold:
            let f: Unary
            switch op.opcode {
            case .relu: f = .relu
            case .geluTanh: f = .geluTanh
            case .geluErf: f = .geluErf
            case .tanh: f = .tanh
            case .scaledTanh: f = .scaledTanh(bound: attr(0))
            default: f = .threshold(attr(0))
            }
            return unsafe .unary(f, x: floats(ins[0]), y: y, count: outType.elementCount)
        case .add, .mul:
            return unsafe .binary(
                multiply: op.opcode == .mul, a: floats(ins[0]), b: floats(ins[1]), y: y,
                count: outType.elementCount, bCount: tensors[ins[1]].type.elementCount)
        case .attention:
            return unsafe .attention(try attention(op, at))
        case .gather:
            let tt = unsafe tensors[ins[0]].type, it = unsafe tensors[ins[1]].type
            var ids = unsafe address(ins[1]).assumingMemoryBound(to: Int32.self)
            var checked = false
            if arenaRange(ins[1]) == nil {
                // Constant ids are checked once, here, so run reads them unchecked: read a private copy, which a
                // file rewritten in place under its mapping cannot change into an out-of-range row afterwards.
                let copy = try unsafe interpreter.owned.allocate(bytes: it.elementCount * 4, "\(at): gather ids")
                    .bindMemory(to: Int32.self, capacity: max(it.elementCount, 16))
                unsafe copy.update(from: ids, count: it.elementCount)
                unsafe ids = UnsafePointer(copy)
                for i in 0..<it.elementCount {
                    let id = unsafe ids[i]
                    if id < 0 || Int(id) >= tt.shape[0] {
                        throw RuntimeError(.outOfBounds, unsafe "\(at): id \(id) at position \(i) of \"\(tensors[ins[1]].name)\" is outside the table's 0..<\(tt.shape[0]) rows")
                    }
                }
                checked = true
            }
            return unsafe .gather(
                table: floats(ins[0]), ids: ids, y: y, t: it.shape[0], v: tt.shape[0], d: tt.shape[1], checked: checked, tensor: ins[1])
        case .meanPool:
            let xt = unsafe tensors[ins[0]].type
            return unsafe .meanPool(
                x: floats(ins[0]), mask: address(ins[1]).assumingMemoryBound(to: UInt8.self), y: y, t: xt.shape[0], d: xt.shape[1])
        case .concat:
            let axis = Int(op.attributes[0])
            let outer = outType.shape[..<axis].reduce(1, *)
            let inner = outType.shape[(axis + 1)...].reduce(1, *)
            // Part addresses and sizes live in memory owned by the interpreter, so run iterates no array.
            let sources = try unsafe interpreter.owned.allocate(bytes: ins.count * 8).bindMemory(to: UnsafeRawPointer.self, capacity: ins.count)
            let sizes = try unsafe interpreter.owned.allocate(bytes: ins.count * 8).bindMemory(to: Int.self, capacity: ins.count)
            for (i, id) in ins.enumerated() {
                unsafe (sources + i).initialize(to: address(id))
                unsafe (sizes + i).initialize(to: tensors[id].type.shape[axis] * inner * 4)
            }
            return unsafe .concat(
                sources: sources, partBytes: sizes, parts: ins.count, outer: outer, y: UnsafeMutableRawPointer(y),
                rowBytes: outType.shape[axis] * inner * 4)
        case .slice:
            let xt = unsafe tensors[ins[0]].type
            let axis = Int(op.attributes[0]), start = Int(op.attributes[1]), length = Int(op.attributes[2])
            let outer = xt.shape[..<axis].reduce(1, *)
            let inner = xt.shape[(axis + 1)...].reduce(1, *)
            return unsafe .slice(
                x: address(ins[0]), y: UnsafeMutableRawPointer(y), outer: outer, inRowBytes: xt.shape[axis] * inner * 4,
                startBytes: start * inner * 4, lengthBytes: length * inner * 4)
        case .reshape:
            if arenaRange(ins[0]) == arenaRange(out) { return unsafe .nothing }
            return unsafe .copy(from: address(ins[0]), to: UnsafeMutableRawPointer(y), bytes: TensorSize.bytes(outType).count)
        case .convert:
            let xt = unsafe tensors[ins[0]].type
            let c = unsafe Conversion(
                source: address(ins[0]), dtype: xt.dtype, scale: ins.count == 2 ? floats(ins[1]) : nil,
                count: xt.elementCount, lastAxis: xt.shape.last ?? 1)
            return unsafe .convert(c, y: y)
        default:
            throw RuntimeError(.invalidProgram, "\(at): unknown op code \(op.opcode.rawValue)")
        }
    }

    /// Where a `linear` / `patch_embed` product runs (Docs/Interpreter.md, "Matrix products").
    enum ProductRoute { case openBLAS, own, packed }

    /// ``RuntimeOptions/smallProductRows`` `Int.max` forces the own unpacked kernel (`vla_gemm`) and 0 forces
    /// OpenBLAS, for every product (tests compare the paths). Otherwise a product whose weight is a constant
    /// runs the packed kernel (weights packed here, once) where the own kernel has SIMD paths (AVX2 + FMA or
    /// AVX-512; aarch64 Advanced SIMD where ``packedProducts`` says so), and the others (weights in the arena, or
    /// portable C) follow ``useBLAS(m:n:k:)``.
    func productRoute(m: Int, n: Int, k: Int, constantWeights: Bool) -> ProductRoute {
        let small = interpreter.options.smallProductRows
        if small == Int.max { return .own }
        if small == 0 { return .openBLAS }
        if constantWeights && Planner.packedProducts { return .packed }
        return useBLAS(m: m, n: n, k: k) ? .openBLAS : .own
    }

    /// Whether constant weights are packed for vla_f32_gemm_packed: on x86 with AVX2 + FMA or AVX-512, where it
    /// is faster than the unpacked kernel and than OpenBLAS's FMA kernels at every row count measured
    /// (`vlac-kernel-bench crossover`). On aarch64 with Advanced SIMD where OpenBLAS's kernel family counted
    /// more instructions than the own kernels (``Gemm/openBLASIsFast`` false): OpenBLAS counts 1.1–2.8× the
    /// packed 5 × 16 tiles' instructions at every row count of DINOv2's linears (Docs/Deploying.md: an estimate
    /// from instruction counts under qemu, not a timing); elsewhere on aarch64 OpenBLAS keeps the large products.
    #if arch(arm64)
    static let packedProducts: Bool = vla_kernels_supported_isa() >= 1 && !Gemm.openBLASIsFast
    #else
    static let packedProducts: Bool = vla_kernels_supported_isa() >= 1
    #endif

    /// Whether a product goes to OpenBLAS: at least ``RuntimeOptions/smallProductRows`` rows, and more than
    /// 2²⁴ (about 16.8 M) multiply-adds. Below that the own kernel (Sources/CVLAKernels) is as fast or faster
    /// (`vlac-kernel-bench crossover`), splits by rows over the threads, and never allocates; OpenBLAS ≥ 0.3.16
    /// sends products of at most 100³ multiply-adds to its "small matrix" kernels, which on AVX-512 machines
    /// `malloc` a buffer on every call for some shapes, so those must stay away from it in any case.
    func useBLAS(m: Int, n: Int, k: Int) -> Bool {
        let small = interpreter.options.smallProductRows
        if m < small { return false }
        if small == 0 { return true }  // forced (tests compare both paths)
        if !Gemm.openBLASIsFast { return false }
        return Double(m) * Double(n) * Double(k) > Double(1 << 24)
    }

    func checkBLASSize(_ m: Int, _ n: Int, _ k: Int, _ at: String) throws(RuntimeError) {
        if m > Int(Int32.max) || n > Int(Int32.max) || k > Int(Int32.max) {
            throw RuntimeError(.limitExceeded, "\(at): matrix product \(m)×\(k)·\(k)×\(n) has a dimension over 2³¹−1")
        }
    }

    mutating func reserveShared(_ floats: Int, _ at: String) throws(RuntimeError) {
        if floats > interpreter.options.limits.maxScratchBytes / 4 {
            throw RuntimeError(.limitExceeded, "\(at): needs \(floats) floats of scratch, over the limit of \(interpreter.options.limits.maxScratchBytes) bytes")
        }
        sharedScratchFloats = max(sharedScratchFloats, floats)
    }

    /// The f32 weights of a linear: the tensor itself, a copy converted at prepare time (constants), or nil
    /// with a run-time conversion into shared scratch (arena weights).
    mutating func weights(_ id: Int, _ step: inout LinearStep, _ at: String) throws(RuntimeError) -> ConstFloatPointer? {
        let t = unsafe tensors[id]
        if unsafe t.type.dtype == .f32 { return unsafe floats(id) }
        let count = unsafe t.type.elementCount
        let c = try unsafe conversion(of: id, at)
        if arenaRange(id) == nil {
            if let done = unsafe converted[id] { return unsafe done }
            let p = try unsafe interpreter.owned.allocate(bytes: count * 4, "\(at): f32 weights").bindMemory(to: Float.self, capacity: count)
            unsafe Kernels.convert(c, into: p, from: 0, to: count)
            unsafe converted[id] = ConstFloatPointer(p)
            return unsafe ConstFloatPointer(p)
        }
        try reserveShared(count, at)
        unsafe step.conversion = unsafe c
        return nil
    }

    /// The conversion of a narrow weight tensor to f32 (i8 needs its scale tensor).
    func conversion(of id: Int, _ at: String) throws(RuntimeError) -> Conversion {
        let t = unsafe tensors[id]
        if unsafe t.type.dtype == .i8 && t.scale == nil {
            throw RuntimeError(.invalidProgram, unsafe "\(at): i8 weights \"\(t.name)\" have no scale tensor")
        }
        return unsafe Conversion(
            source: address(id), dtype: t.type.dtype, scale: t.scale.map { unsafe floats($0) }, count: t.type.elementCount,
            lastAxis: t.type.shape.last ?? 1)
    }

    /// A constant `[k, n]` weight packed once per interpreter for vla_f32_gemm_packed. f16, bf16 and i8 weights are
    /// converted to f32 first, into a temporary copy (kept only if an unpacked product already made it).
    mutating func packedF32Weights(_ id: Int, k: Int, n: Int, _ at: String) throws(RuntimeError) -> UnsafeRawPointer {
        if let done = unsafe packedF32[id] { return unsafe done }
        let t = unsafe tensors[id]
        let packed = try unsafe interpreter.owned.allocate(bytes: vla_f32_packed_bytes(k, n), "\(at): packed weights")
        if unsafe t.type.dtype == .f32 {
            unsafe vla_f32_pack(k, n, floats(id), n, packed)
        } else if let done = unsafe converted[id] {
            unsafe vla_f32_pack(k, n, done, n, packed)
        } else {
            let count = unsafe t.type.elementCount
            let c = try unsafe conversion(of: id, at)
            let temporary = OwnedBuffers()  // freed when this returns
            let f32 = try unsafe temporary.allocate(bytes: count * 4, "\(at): f32 weights to pack").bindMemory(to: Float.self, capacity: max(count, 1))
            unsafe Kernels.convert(c, into: f32, from: 0, to: count)
            unsafe vla_f32_pack(k, n, f32, n, packed)
        }
        unsafe packedF32[id] = UnsafeRawPointer(packed)
        return UnsafeRawPointer(packed)
    }

    /// A `linear_i8` or `linear_bf16`: packs the constant weights once (per interpreter), reserves the scratch
    /// for the quantized rows and splits the product into tasks.
    mutating func reducedLinear(_ op: Operation, _ at: String) throws(RuntimeError) -> ReducedLinearStep {
        let ins = op.inputs
        let int8 = op.opcode == .linearI8
        let xt = unsafe tensors[ins[0]].type, w = unsafe tensors[ins[1]]
        let m = rows(xt), k = unsafe w.type.shape[0], n = unsafe w.type.shape[1]
        try checkBLASSize(m, n, k, at)
        guard arenaRange(ins[1]) == nil else {
            throw RuntimeError(.invalidProgram, unsafe "\(at): weights \"\(w.name)\" must be a constant")
        }
        var wscale: ConstFloatPointer? = nil
        if int8 {
            guard let scale = unsafe w.scale else {
                throw RuntimeError(.invalidProgram, unsafe "\(at): i8 weights \"\(w.name)\" have no scale tensor")
            }
            unsafe wscale = unsafe floats(scale)
        }
        let packed: UnsafeRawPointer
        if let done = unsafe packedWeights[ins[1]] {
            unsafe packed = unsafe done
        } else {
            let source = unsafe address(ins[1])
            if int8 {
                let bytes = unsafe source.assumingMemoryBound(to: Int8.self)
                for i in 0..<(k * n) where unsafe bytes[i] == Int8.min {
                    throw RuntimeError(.invalidProgram, unsafe "\(at): weights \"\(w.name)\" hold −128 at element \(i); linear_i8 weights are in [−127, 127]")
                }
                let p = try unsafe interpreter.owned.allocate(bytes: vla_q8_packed_bytes(k, n), "\(at): packed int8 weights")
                unsafe vla_q8_pack(k, n, bytes, n, p)
                unsafe packed = UnsafeRawPointer(p)
            } else {
                let p = try unsafe interpreter.owned.allocate(bytes: vla_bf16_packed_bytes(k, n), "\(at): packed bf16 weights")
                unsafe vla_bf16_pack(k, n, source.assumingMemoryBound(to: UInt16.self), n, p)
                unsafe packed = UnsafeRawPointer(p)
            }
            unsafe packedWeights[ins[1]] = unsafe packed
        }
        // Scratch: the quantized rows (int8: bytes, then m f32 row scales, then m int32 zero-point corrections;
        // bf16: 2-byte elements).
        let zeroPoint = int8 && (op.attributes.first ?? 0) & Layout.linearI8ZeroPoint != 0
        let stride = int8 ? vla_q8_row_stride(k) : vla_bf16_row_stride(k)
        let (rowsBytes, o1) = m.multipliedReportingOverflow(by: int8 ? stride : stride * 2)
        let (need, o2) = rowsBytes.addingReportingOverflow(int8 ? 8 * m + 64 : 0)
        try reserveShared(o1 || o2 ? Int.max : (need + 3) / 4, at)
        var step = unsafe ReducedLinearStep(
            int8: int8, x: floats(ins[0]), packed: packed, wscale: wscale, bias: ins.count == 3 ? floats(ins[2]) : nil,
            mul: nil, add: nil, y: mutableFloats(op.outputs[0]), m: m, k: k, n: n, rowStride: stride, epilogue: nil,
            chunk: max(n, 1), byRows: false)
        unsafe step.zeroPoint = zeroPoint
        let threads = interpreter.threadCount
        if threads > 1 && Double(m) * Double(n) * Double(k) >= 65_536 {
            let tasks = 2 * threads
            if let chunk = Self.columnChunk(n: n, block: 64, threads: threads) {
                unsafe step.chunk = chunk
            } else if n >= 16 * tasks || m < 8 * threads {
                unsafe step.chunk = max(16, ((n + tasks - 1) / tasks + 15) & ~15)
            } else {
                unsafe step.byRows = true
                unsafe step.chunk = max(1, (m + tasks - 1) / tasks)
            }
        }
        return unsafe step
    }

    /// Output-column chunks of whole `block`s for `n` columns: as many tasks as there are blocks, up to eight per
    /// thread; nil when there are fewer than two whole blocks per thread. Threads claim tasks from a counter, so the
    /// last task decides when the op ends: on a core shared with other work (a robot's other processes, a busy
    /// host), small tasks let the other threads take over what a slowed one would have done (measured in
    /// Docs/Interpreter.md, "Threads"; TaskSplitTests).
    static func columnChunk(n: Int, block: Int, threads: Int) -> Int? {
        if n / block < 2 * threads { return nil }
        let blocks = (n + block - 1) / block  // the last one may be partial
        let tasks = min(blocks, 8 * threads)
        return (blocks + tasks - 1) / tasks * block
    }

    /// Splits a linear into tasks for the worker threads, at least two per thread so that a slowed core takes
    /// fewer. The packed kernel splits by columns in whole blocks of 48 (its tile width) when there are at least
    /// two per thread (up to eight tasks per thread: `columnChunk`), else by rows in multiples of 8, else by
    /// columns in multiples of 16. The own kernel splits by rows in
    /// multiples of its 8-row tile (columns in multiples of 32 when there are too few rows); OpenBLAS by columns
    /// in multiples of 16, each call keeping more than 10⁶ multiply-adds so that it never takes OpenBLAS's
    /// small-matrix path (which allocates). Products under 2¹⁶ multiply-adds are one task: waking a worker costs
    /// more than they do.
    func setChunks(_ step: inout LinearStep) {
        let threads = interpreter.threadCount
        let m = unsafe step.m, n = unsafe step.n, k = unsafe step.k
        let macs = Double(m) * Double(n) * Double(k)
        unsafe step.byRows = false
        unsafe step.chunk = max(1, n)
        if threads == 1 || macs < 65_536 { return }
        let tasks = 2 * threads
        if unsafe step.packed != nil {
            if let chunk = Self.columnChunk(n: n, block: 48, threads: threads) {
                unsafe step.chunk = chunk
            } else if m >= 8 * threads {
                unsafe step.byRows = true
                unsafe step.chunk = max(8, ((m + tasks - 1) / tasks + 7) & ~7)
            } else {
                let per = (n + tasks - 1) / tasks
                unsafe step.chunk = min(max(16, n), max(16, (per + 15) & ~15))
            }
        } else if unsafe step.blas {
            let minimum = Int(1e6 / Double(max(m * k, 1))) + 1
            let per = max((n + tasks - 1) / tasks, minimum)
            var chunk = min(max(1, n), max(16, (per + 15) & ~15))
            // The last task gets what is left: widen the chunks until that, too, stays above 10⁶ multiply-adds
            // (or there is only one task).
            while chunk < n {
                let rest = n % chunk
                if rest == 0 || Double(m) * Double(k) * Double(rest) > 1e6 { break }
                chunk = min(n, chunk + 16)
            }
            unsafe step.chunk = chunk
        } else if m >= 8 * threads {
            unsafe step.byRows = true
            let per = (m + tasks - 1) / tasks
            unsafe step.chunk = max(8, (per + 7) & ~7)
        } else {
            let per = (n + tasks - 1) / tasks
            unsafe step.chunk = min(max(1, n), max(32, (per + 31) & ~31))
        }
    }

    mutating func attention(_ op: Operation, _ at: String) throws(RuntimeError) -> AttentionStep {
        let ins = op.inputs
        let qt = unsafe tensors[ins[0]].type, kt = unsafe tensors[ins[1]].type, vt = unsafe tensors[ins[2]].type
        let r = qt.shape.count
        let batch = r == 4 ? qt.shape[0] : 1
        let tq = qt.shape[r - 3], h = qt.shape[r - 2], d = qt.shape[r - 1]
        let tk = kt.shape[r - 3], dv = vt.shape[r - 1]
        let flags = op.attributes[1]
        var next = 3
        var mask: UnsafePointer<UInt8>? = nil
        var batchStride = 0, rowStride = 0
        if flags & AttentionFlags.hasMask != 0 {
            let ms = unsafe tensors[ins[next]].type.shape
            unsafe mask = address(ins[next]).assumingMemoryBound(to: UInt8.self)
            // A rank-2 mask on a batched q is [B, Tk] (one key mask per batch item), also when B == Tq.
            if r == 4 && ms.count == 3 {
                batchStride = tq * tk; rowStride = tk
            } else if r == 4 && ms.count == 2 && ms == [batch, tk] {
                batchStride = tk; rowStride = 0
            } else if ms.count == 2 {
                rowStride = tk
            }
            next += 1
        }
        let bias: ConstFloatPointer? = flags & AttentionFlags.hasBias != 0 ? unsafe floats(ins[next]) : nil
        // Per thread: the packed Kᵀ and V blocks of one head (column panels of 16, so at most 16 columns of padding
        // each), then its tq × tk scores.
        let (scores, o1) = tq.multipliedReportingOverflow(by: tk)
        let (keys, o2) = (tk &+ 16).multipliedReportingOverflow(by: max(d, 1))
        let (values, o4) = (dv &+ 16).multipliedReportingOverflow(by: max(tk, 1))
        let (need, o3) = scores.addingReportingOverflow(keys &+ values &+ 32)
        if o1 || o2 || o3 || o4 || keys < 0 || values < 0
            || need > interpreter.options.limits.maxScratchBytes / 4 / interpreter.pool.threadCount
        {
            throw RuntimeError(.limitExceeded, "\(at): \(tq)×\(tk) attention scores exceed the scratch limit")
        }
        let bf16 = flags & AttentionFlags.bf16Products != 0
        if bf16 {
            // The scores, then the bf16 products' scratch (vla_attn_bf16_scratch_bytes): checked first against a bound
            // in floats computed without overflow (each of its blocks with both sizes padded by 32), plus 512 floats of
            // alignment.
            let bound = [(tq, d), (tk, d), (tk, d), (tq, tk), (tk, dv), (tq, tk)].reduce((0, false)) { acc, pair in
                let (p, o1) = (pair.0 &+ 32).multipliedReportingOverflow(by: pair.1 &+ 32)
                let (sum, o2) = acc.0.addingReportingOverflow(p)
                return (sum, acc.1 || o1 || o2 || pair.0 < 0 || pair.1 < 0)
            }
            if bound.1 || bound.0 > interpreter.options.limits.maxScratchBytes / 4 / interpreter.pool.threadCount - 512 {
                throw RuntimeError(.limitExceeded, "\(at): \(tq)×\(tk) attention scores exceed the scratch limit")
            }
            threadScratchFloats = max(threadScratchFloats, unsafe AttentionStep.bf16ScratchFloats(tq: tq, tk: tk, d: d, dv: dv))
        } else {
            threadScratchFloats = max(
                threadScratchFloats, unsafe AttentionStep.keysFloats(tk: tk, d: d) + AttentionStep.valuesFloats(tk: tk, dv: dv) + scores)
        }
        return unsafe AttentionStep(
            q: floats(ins[0]), k: floats(ins[1]), v: floats(ins[2]), y: mutableFloats(op.outputs[0]),
            batch: batch, tq: tq, tk: tk, heads: h, d: d, dv: dv, scale: Float(bitPattern: op.attributes[0]),
            mask: mask, maskBatchStride: batchStride, maskRowStride: rowStride, bias: bias, bf16: bf16)
    }

    /// Fuses `linear` followed by an element-wise op on its output into one step, when the intermediate
    /// tensor is written in place, or is dead after the element-wise op (``isDead(_:after:in:reads:outside:)``)
    /// and the element-wise op's output is not in the bytes of the product's inputs (the product reads them while
    /// it writes its blocks).
    func fuse(_ steps: inout [Step], program: Program, reads: [[Range<Int>]]) {
        let ops = program.operations
        let outside = ReadIntervals(outsideOf: program, planner: self)
        unsafe fuseReduced(&steps, program: program, reads: reads, outside: outside)
        var i = 0
        while unsafe i + 1 < steps.count {
            defer { i += 1 }
            guard case .linear(var lin) = unsafe steps[i].kernel, unsafe lin.epilogue == nil,
                case .unary(let f, let x, let y, let count) = unsafe steps[i + 1].kernel,
                unsafe x == ConstFloatPointer(lin.y), unsafe count == lin.m * lin.n
            else { continue }
            if unsafe y != lin.y {
                guard let range = arenaRange(ops[i].outputs[0]), isDead(range, after: i + 1, in: program, reads: reads, outside: outside) else { continue }
                // The product reads x (and an arena w) while it writes y block by block: y must not be their bytes.
                guard let out = arenaRange(ops[i + 1].outputs[0]), !ops[i].inputs.contains(where: { arenaRange($0)?.overlaps(out) ?? false }) else { continue }
            }
            unsafe lin.y = y
            unsafe lin.epilogue = f
            unsafe steps[i].kernel = unsafe .linear(lin)
            unsafe steps[i + 1].kernel = unsafe .nothing
        }
    }

    /// Fuses into a `linear_i8` / `linear_bf16` step what follows it on its output: a `mul` by an `[n]` vector
    /// then an `add` of an `[m, n]` tensor (layer scale and residual: both become the product's epilogue,
    /// with the same roundings), or an element-wise op (applied to each block after the product). Each
    /// intermediate must be written in place or be dead afterwards, as for ``fuse(_:program:reads:)``.
    func fuseReduced(_ steps: inout [Step], program: Program, reads: [[Range<Int>]], outside: ReadIntervals) {
        let ops = program.operations
        func consumable(_ produced: Int, by consumer: Int, writingTo y: FloatPointer, over output: FloatPointer) -> Bool {
            if unsafe y == output { return true }
            guard let range = arenaRange(ops[produced].outputs[0]) else { return false }
            return isDead(range, after: consumer, in: program, reads: reads, outside: outside)
        }
        var i = 0
        while unsafe i + 1 < steps.count {
            defer { i += 1 }
            guard case .reducedLinear(var lin) = unsafe steps[i].kernel, unsafe lin.epilogue == nil, unsafe lin.mul == nil else { continue }
            let mn = unsafe lin.m * lin.n
            if unsafe i + 2 < steps.count,
                case .binary(true, let a1, let scale, let y1, let c1, let b1) = unsafe steps[i + 1].kernel,
                unsafe a1 == ConstFloatPointer(lin.y), c1 == mn, unsafe b1 == lin.n,
                case .binary(false, let a2, let b2, let y2, let c2, let bc2) = unsafe steps[i + 2].kernel,
                c2 == mn, bc2 == mn, unsafe a2 == ConstFloatPointer(y1) || b2 == ConstFloatPointer(y1),
                unsafe consumable(i, by: i + 1, writingTo: y1, over: lin.y),
                unsafe consumable(i + 1, by: i + 2, writingTo: y2, over: y1)
            {
                unsafe lin.mul = scale
                unsafe lin.add = unsafe a2 == ConstFloatPointer(y1) ? b2 : a2
                unsafe lin.y = y2
                unsafe steps[i].kernel = unsafe .reducedLinear(lin)
                unsafe steps[i + 1].kernel = unsafe .nothing
                unsafe steps[i + 2].kernel = unsafe .nothing
                continue
            }
            if case .unary(let f, let x, let y, let count) = unsafe steps[i + 1].kernel,
                unsafe x == ConstFloatPointer(lin.y), count == mn, unsafe consumable(i, by: i + 1, writingTo: y, over: lin.y)
            {
                unsafe lin.y = y
                unsafe lin.epilogue = f
                unsafe steps[i].kernel = unsafe .reducedLinear(lin)
                unsafe steps[i + 1].kernel = unsafe .nothing
            }
        }
        // Consecutive products of one x (q, k, v): the later ones reuse the rows the first one quantized, unless
        // a step in between writes x's bytes (no other step uses the shared scratch in between).
        var previous: ReducedLinearStep?
        for j in unsafe steps.indices {
            switch unsafe steps[j].kernel {
            case .nothing:
                continue
            case .reducedLinear(var lin):
                if let p = unsafe previous, unsafe p.x == lin.x, unsafe p.m == lin.m, unsafe p.k == lin.k, unsafe p.int8 == lin.int8,
                    unsafe p.zeroPoint == lin.zeroPoint, unsafe p.rowStride == lin.rowStride
                {
                    let xStart = unsafe UnsafeRawPointer(lin.x), xEnd = unsafe xStart + lin.m * lin.k * 4
                    let yStart = unsafe UnsafeRawPointer(p.y), yEnd = unsafe yStart + p.m * p.n * 4
                    if unsafe yEnd <= xStart || xEnd <= yStart {
                        unsafe lin.reuseRows = true
                        unsafe steps[j].kernel = unsafe .reducedLinear(lin)
                    }
                }
                unsafe previous = unsafe lin
            default:
                unsafe previous = nil
            }
        }
    }

    /// How many ops ``isDead(_:after:in:reads:outside:)`` looks ahead before it answers "not dead" (not fusing
    /// is always correct). Compiled programs are far shorter (the full-size HyperVLA step expands to about 400
    /// ops), so this changes no fusion of theirs; it keeps planning a long hostile program (16,000 tiny ops)
    /// linear in its length instead of quadratic.
    static let deadScanLimit = 1024
    /// How many disjoint overwritten parts of a range ``isDead(_:after:in:reads:outside:)`` tracks before it
    /// answers "not dead" (a compiled program's reuse gives a few; this bounds a hostile program's cost).
    static let deadScanParts = 64

    /// Whether a fusion may leave op `j`'s output unwritten: a product followed by an element-wise op (or, for
    /// `linear_i8` / `linear_bf16`, a `mul`) that reads its output, or the `mul` of a layer scale between such a
    /// product and an `add`. Decided from the ops alone, so such a write never counts as overwriting bytes,
    /// whichever fusions are then made: one fusion's check must not rest on a write that another removes.
    static func mayLoseItsWrite(_ j: Int, in ops: [Operation]) -> Bool {
        let out = ops[j].outputs.first
        let next = j + 1 < ops.count ? ops[j + 1] : nil
        let nextReads = next?.inputs.first == out
        switch ops[j].opcode {
        case .linear, .patchEmbed, .linearI8, .linearBF16:
            guard nextReads, let next else { return false }
            switch next.opcode {
            case .relu, .geluErf, .geluTanh, .tanh, .scaledTanh, .threshold: return true
            case .mul: return ops[j].opcode.isReducedPrecisionLinear
            default: return false
            }
        case .mul:
            return j > 0 && ops[j - 1].opcode.isReducedPrecisionLinear && ops[j].inputs.first == ops[j - 1].outputs.first
                && next?.opcode == .add
        default:
            return false
        }
    }

    /// Whether op `j`'s first input is the output of an op before it that ``mayLoseItsWrite(_:in:)``: that read
    /// never sees stale bytes (fused, it is gone with the write; not fused, the write is made), so it is not checked.
    static func readsWhatALostWriteHeld(_ j: Int, in ops: [Operation]) -> Bool {
        j > 0 && ops[j].inputs.first != nil && ops[j].inputs.first == ops[j - 1].outputs.first && mayLoseItsWrite(j - 1, in: ops)
    }

    /// Whether the bytes op `index` wrote in `range` are never read again: every later read of them (going round
    /// the program, as a step program runs again and again, back to the op that wrote them) comes after ops that
    /// have overwritten exactly the bytes it reads (writes that a fusion may remove do not count). A later write of only part of the range counts for that part (the arena reuses a large
    /// intermediate's bytes for smaller tensors: the MLP's hidden layer, then the next layer's q, k and v).
    ///
    /// - Complexity: O(log m) for the reads outside the program (`outside`), then at most
    ///   ``deadScanLimit`` ops of the program, each O(log w + w) for the w disjoint overwritten parts.
    func isDead(_ range: Range<Int>, after index: Int, in program: Program, reads: [[Range<Int>]], outside: ReadIntervals) -> Bool {
        if outside.overlaps(range) { return false }
        let n = program.operations.count
        var written = ByteIntervals()
        for step in 1..<max(n, 1) {
            if step > Self.deadScanLimit { return false }
            let j = (index + step) % n
            let paired = Self.readsWhatALostWriteHeld(j, in: program.operations) ? arenaRange(program.operations[j].inputs[0]) : nil
            for r in reads[j] where r.overlaps(range) && r != paired {
                if !written.covers(r.clamped(to: range)) { return false }
            }
            if !Self.mayLoseItsWrite(j, in: program.operations), let w = arenaRange(program.operations[j].outputs[0]), w.overlaps(range) {
                if written.count >= Self.deadScanParts { return false }
                written.insert(w.clamped(to: range))
                if written.covers(range) { return true }
            }
        }
        // Round the whole program back to the fused pair without a read of those bytes: nothing reads them.
        return true
    }

    /// Allocates the scratch sizes found while planning.
    func allocateScratch() throws(RuntimeError) {
        let threads = interpreter.pool.threadCount  // thread indices go up to the requested count, even if a worker failed to start
        unsafe interpreter.sharedScratch = try interpreter.owned.allocate(bytes: sharedScratchFloats * 4, "shared scratch")
            .bindMemory(to: Float.self, capacity: max(sharedScratchFloats, 16))
        let per = (threadScratchFloats + 15) & ~15
        unsafe interpreter.threadScratch = try interpreter.owned.allocate(bytes: per * threads * 4, "per-thread scratch")
            .bindMemory(to: Float.self, capacity: max(per * threads, 16))
        interpreter.threadScratchCount = per
    }
}

/// The arena bytes read from outside one program: every program's inputs and outputs, and the inputs of the
/// ops of every other program that the other program has not written earlier in its run, merged into sorted
/// disjoint intervals so that a fusion's dead-range check is a binary search instead of a walk over all ops
/// (which made planning quadratic in the number of ops).
struct ReadIntervals {
    private var intervals: [Range<Int>] = []

    init(outsideOf program: Program, planner: Planner) {
        var ranges: [Range<Int>] = []
        for p in planner.interpreter.programs {
            for id in p.outputs + p.inputs { if let r = planner.arenaRange(id) { ranges.append(r) } }
            if p != program {
                // Only the reads of bytes that p has not itself written before (in the same run) see what another
                // program left; after ByteIntervals.limit disjoint writes every read counts (cautious, and linear).
                var written = ByteIntervals()
                for (j, o) in p.operations.enumerated() {
                    let paired = Planner.readsWhatALostWriteHeld(j, in: p.operations)
                    for (position, id) in o.inputs.enumerated() where !(paired && position == 0) {
                        if let r = planner.arenaRange(id), !written.covers(r) { ranges.append(r) }
                    }
                    if Planner.mayLoseItsWrite(j, in: p.operations) { continue }
                    for id in o.outputs {
                        if let w = planner.arenaRange(id), written.count < ByteIntervals.limit { written.insert(w) }
                    }
                }
            }
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        for r in ranges where !r.isEmpty {
            if let last = intervals.last, r.lowerBound <= last.upperBound {
                intervals[intervals.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                intervals.append(r)
            }
        }
    }

    /// Whether any interval overlaps `range`.
    func overlaps(_ range: Range<Int>) -> Bool {
        // The first interval ending after range's start; intervals are sorted and disjoint.
        var low = 0, high = intervals.count
        while low < high {
            let mid = (low + high) / 2
            if intervals[mid].upperBound <= range.lowerBound { low = mid + 1 } else { high = mid }
        }
        return low < intervals.count && intervals[low].overlaps(range)
    }
}

/// Sorted, disjoint, non-touching byte ranges: the overwritten parts of a range in a fusion's dead-range check.
struct ByteIntervals {
    /// Past this many disjoint parts, callers stop adding (a hostile program's scattered writes stay linear).
    static let limit = 1024
    private var ranges: [Range<Int>] = []

    var count: Int { ranges.count }

    /// The index of the first part that ends at or after `x`.
    private func first(endingAtOrAfter x: Int) -> Int {
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < x { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Whether every byte of `r` is in a part (an empty `r` is covered).
    func covers(_ r: Range<Int>) -> Bool {
        if r.isEmpty { return true }
        let i = first(endingAtOrAfter: r.lowerBound + 1)
        return i < ranges.count && ranges[i].lowerBound <= r.lowerBound && ranges[i].upperBound >= r.upperBound
    }

    /// Adds `r`, merging it with the parts it overlaps or touches.
    mutating func insert(_ r: Range<Int>) {
        if r.isEmpty { return }
        var low = r.lowerBound, high = r.upperBound
        let i = first(endingAtOrAfter: low)
        var j = i
        while j < ranges.count, ranges[j].lowerBound <= high {
            low = min(low, ranges[j].lowerBound)
            high = max(high, ranges[j].upperBound)
            j += 1
        }
        ranges.replaceSubrange(i..<j, with: CollectionOfOne(low..<high))
    }
}
