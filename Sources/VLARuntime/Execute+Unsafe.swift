import CVLAKernels
import VLAFormat

/// Loop contexts: each parallel loop passes the address of one of these to its task (see `WorkerPool.Task`).
@unsafe private struct UnaryLoop { var f: Unary; var x: ConstFloatPointer; var y: FloatPointer; var count: Int; var per: Int }
@unsafe private struct BinaryLoop {
    var multiply: Bool; var a: ConstFloatPointer; var b: ConstFloatPointer; var y: FloatPointer
    var count: Int; var bCount: Int; var per: Int
}
@unsafe private struct RowLoop {
    enum Kind { case norm, softmax, l2 }
    var kind: Kind
    var x: ConstFloatPointer; var y: FloatPointer; var gamma: ConstFloatPointer?; var beta: ConstFloatPointer?
    var rows: Int; var d: Int; var eps: Float; var center: Bool; var per: Int
}
@unsafe private struct LinearLoop { var step: LinearStep; var x: ConstFloatPointer; var w: ConstFloatPointer; var shared: FloatPointer }
@unsafe private struct AttentionLoop { var step: AttentionStep; var scratch: FloatPointer; var perThread: Int }

extension Interpreter {
    /// Elements per task of element-wise and row-wise loops.
    static var elementsPerTask: Int { 1 << 15 }

    /// Runs `task` over `0..<n` with the address of `context`.
    @inline(__always)
    private func loop<C>(_ n: Int, _ context: C, _ task: WorkerPool.Task) {
        var c = context
        unsafe withUnsafePointer(to: &c) { p in unsafe pool.parallelFor(n, UnsafeRawPointer(p), task) }
    }

    /// Runs one step.
    func execute(_ step: Step, program: Int) throws(RuntimeError) {
        switch unsafe step.kernel {
        case .nothing:
            return
        case .linear(let s):
            unsafe linear(s)
        case .reducedLinear(let s):
            unsafe reducedLinear(s)
        case .norm(let x, let gamma, let beta, let y, let rows, let d, let eps, let center):
            unsafe rowLoop(RowLoop(kind: .norm, x: x, y: y, gamma: gamma, beta: beta, rows: rows, d: d, eps: eps, center: center, per: 0))
        case .softmax(let x, let y, let rows, let n):
            unsafe rowLoop(RowLoop(kind: .softmax, x: x, y: y, gamma: nil, beta: nil, rows: rows, d: n, eps: 0, center: false, per: 0))
        case .l2Normalize(let x, let y, let rows, let d, let eps):
            unsafe rowLoop(RowLoop(kind: .l2, x: x, y: y, gamma: nil, beta: nil, rows: rows, d: d, eps: eps, center: false, per: 0))
        case .unary(let f, let x, let y, let count):
            let per = Interpreter.elementsPerTask
            let tasks = pool.threadCount == 1 ? 1 : (count + per - 1) / per
            unsafe loop(tasks, UnaryLoop(f: f, x: x, y: y, count: count, per: tasks == 1 ? count : per)) { raw, t, _ in
                let c = unsafe raw.assumingMemoryBound(to: UnaryLoop.self).pointee
                let from = unsafe t * c.per
                unsafe Kernels.unary(c.f, c.x, c.y, from: from, to: min(c.count, from + c.per))
            }
        case .binary(let multiply, let a, let b, let y, let count, let bCount):
            if count == 0 { return }
            var per = max(Interpreter.elementsPerTask / max(bCount, 1), 1) * bCount
            let tasks = pool.threadCount == 1 ? 1 : (count + per - 1) / per
            if tasks == 1 { per = count }
            unsafe loop(tasks, BinaryLoop(multiply: multiply, a: a, b: b, y: y, count: count, bCount: bCount, per: per)) { raw, t, _ in
                let c = unsafe raw.assumingMemoryBound(to: BinaryLoop.self).pointee
                let from = unsafe t * c.per
                unsafe Kernels.binary(multiply: c.multiply, c.a, c.b, c.y, bCount: c.bCount, from: from, to: min(c.count, from + c.per))
            }
        case .attention(let s):
            unsafe attention(s)
        case .gather(let table, let ids, let y, let t, let v, let d, let checked, let tensor):
            for i in 0..<t {
                let id = unsafe ids[i]
                if !checked && (id < 0 || Int(id) >= v) {
                    throw RuntimeError(
                        .outOfBounds,
                        "program \(program) \"\(programs[program].name)\", op \(unsafe step.op) (gather): id \(id) at position \(i) of \"\(unsafe tensors[tensor].name)\" is outside the table's 0..<\(v) rows")
                }
                unsafe (y + i * d).update(from: table + Int(id) * d, count: d)
            }
        case .meanPool(let x, let mask, let y, let t, let d):
            unsafe y.update(repeating: 0, count: d)
            var total: Float = 0
            for i in 0..<t {
                let w = Float(unsafe mask[i])
                if w == 0 { continue }
                total += w
                for j in 0..<d { unsafe y[j] += w * x[i * d + j] }
            }
            let inv = 1 / max(total, 1e-9)
            for j in 0..<d { unsafe y[j] *= inv }
        case .concat(let sources, let partBytes, let parts, let outer, let y, let rowBytes):
            for o in 0..<outer {
                var at = o * rowBytes
                for p in 0..<parts {
                    let bytes = unsafe partBytes[p]
                    unsafe (y + at).copyMemory(from: sources[p] + o * bytes, byteCount: bytes)
                    at += bytes
                }
            }
        case .slice(let x, let y, let outer, let inRowBytes, let startBytes, let lengthBytes):
            for o in 0..<outer {
                unsafe (y + o * lengthBytes).copyMemory(from: x + o * inRowBytes + startBytes, byteCount: lengthBytes)
            }
        case .copy(let from, let to, let bytes):
            unsafe to.copyMemory(from: from, byteCount: bytes)
        case .convert(let c, let y):
            unsafe Kernels.convert(c, into: y, from: 0, to: c.count)
        }
    }

    /// Row-wise ops in tasks of about ``elementsPerTask`` elements.
    private func rowLoop(_ context: RowLoop) {
        var c = unsafe context
        let small = unsafe pool.threadCount == 1 || c.rows * c.d < 2 * Interpreter.elementsPerTask
        if unsafe c.rows == 0 { return }
        unsafe c.per = unsafe small ? c.rows : max(1, Interpreter.elementsPerTask / max(c.d, 1))
        let tasks = unsafe (c.rows + c.per - 1) / c.per
        unsafe loop(tasks, c) { raw, t, _ in
            let c = unsafe raw.assumingMemoryBound(to: RowLoop.self).pointee
            let d = unsafe c.d
            let first = unsafe t * c.per, end = unsafe min(c.rows, t * c.per + c.per)
            if unsafe c.kind == .norm,
                unsafe vla_norm_rows(c.x + first * d, d, c.gamma!, c.beta, c.y + first * d, d, end - first, d, c.eps, c.center ? 1 : 0) != 0
            {
                return  // AVX-512 or AVX2: Kernels.normRow's bits, several rows side by side (elementwise.c)
            }
            for r in first..<end {
                switch unsafe c.kind {
                case .norm:
                    unsafe Kernels.normRow(c.x + r * d, c.gamma!, c.beta, c.y + r * d, d: d, eps: c.eps, center: c.center)
                case .softmax:
                    unsafe Kernels.softmaxRow(c.x + r * d, c.y + r * d, n: d)
                case .l2:
                    unsafe Kernels.l2Row(c.x + r * d, c.y + r * d, d: d, eps: c.eps)
                }
            }
        }
    }

    func linear(_ s: LinearStep) {
        if unsafe s.m == 0 || s.n == 0 { return }  // empty output (k = 0 is handled by the product)
        let shared = unsafe sharedScratch
        if let c = unsafe s.conversion {
            let per = Interpreter.elementsPerTask
            let tasks = unsafe (c.count + per - 1) / per
            unsafe loop(tasks, (c, shared)) { raw, t, _ in
                let (c, shared) = unsafe raw.assumingMemoryBound(to: (Conversion, FloatPointer).self).pointee
                let per = Interpreter.elementsPerTask
                unsafe Kernels.convert(c, into: shared, from: t * per, to: min(c.count, t * per + per))
            }
        }
        if let g = unsafe s.im2col {
            unsafe loop(g.gridH, (g, shared)) { raw, gi, _ in
                let (g, shared) = unsafe raw.assumingMemoryBound(to: (Im2Col, FloatPointer).self).pointee
                let rowLength = unsafe g.patch * g.channels
                let k = unsafe g.patch * rowLength
                for gj in unsafe 0..<g.gridW {
                    let dst = unsafe shared + (gi * g.gridW + gj) * k
                    for py in unsafe 0..<g.patch {
                        let src = unsafe g.image + ((gi * g.patch + py) * g.width + gj * g.patch) * g.channels
                        unsafe (dst + py * rowLength).update(from: src, count: rowLength)
                    }
                }
            }
        }
        let context = unsafe LinearLoop(step: s, x: s.x ?? ConstFloatPointer(shared), w: s.w ?? ConstFloatPointer(shared), shared: shared)
        if unsafe options.openBLASThreads && s.blas && pool.threadCount > 1 {
            // One call; OpenBLAS splits it over its own threads while the interpreter's workers sleep.
            Threading.setBLASThreads(pool.threadCount)
            unsafe Interpreter.linearBlock(s, x: context.x, w: context.w, row: 0, rows: s.m, col: 0, cols: s.n)
            Threading.useSingleThreadedBLAS()
            return
        }
        if unsafe s.byRows {
            unsafe loop((s.m + s.chunk - 1) / s.chunk, context) { raw, t, _ in
                let c = unsafe raw.assumingMemoryBound(to: LinearLoop.self).pointee
                let s = unsafe c.step
                let r0 = unsafe t * s.chunk, rows = unsafe min(s.chunk, s.m - r0)
                unsafe Interpreter.linearBlock(s, x: c.x, w: c.w, row: r0, rows: rows, col: 0, cols: s.n)
            }
        } else {
            unsafe loop((s.n + s.chunk - 1) / s.chunk, context) { raw, t, _ in
                let c = unsafe raw.assumingMemoryBound(to: LinearLoop.self).pointee
                let s = unsafe c.step
                let c0 = unsafe t * s.chunk, cols = unsafe min(s.chunk, s.n - c0)
                unsafe Interpreter.linearBlock(s, x: c.x, w: c.w, row: 0, rows: s.m, col: c0, cols: cols)
            }
        }
    }

    /// `linear_i8` / `linear_bf16`: quantizes (or rounds) x's rows into shared scratch in row tasks, then runs the
    /// packed product in column (or row) tasks, each applying the element-wise epilogue to its own block.
    func reducedLinear(_ s: ReducedLinearStep) {
        if unsafe s.m == 0 || s.n == 0 { return }
        let shared = unsafe UnsafeMutableRawPointer(sharedScratch)
        let perRows = max(1, Interpreter.elementsPerTask / max(unsafe s.k, 1))
        let rowTasks = unsafe s.reuseRows ? 0 : pool.threadCount == 1 ? 1 : unsafe (s.m + perRows - 1) / perRows
        unsafe loop(rowTasks, (s, shared, rowTasks == 1 ? s.m : perRows)) { raw, t, _ in
            let (s, shared, per) = unsafe raw.assumingMemoryBound(to: (ReducedLinearStep, UnsafeMutableRawPointer, Int).self).pointee
            let r0 = t * per, rows = unsafe min(per, s.m - r0)
            if unsafe s.int8 {
                let q = unsafe shared.assumingMemoryBound(to: Int8.self)
                let scales = unsafe (shared + s.m * s.rowStride).assumingMemoryBound(to: Float.self)
                if unsafe s.zeroPoint {
                    let zc = unsafe (shared + s.m * s.rowStride + 4 * s.m).assumingMemoryBound(to: Int32.self)
                    unsafe vla_q8_quantize_zp(
                        rows, s.k, s.x + r0 * s.k, s.k, q + r0 * s.rowStride, s.rowStride, scales + r0, zc + r0)
                } else {
                    unsafe vla_q8_quantize(rows, s.k, s.x + r0 * s.k, s.k, q + r0 * s.rowStride, s.rowStride, scales + r0)
                }
            } else {
                let xb = unsafe shared.assumingMemoryBound(to: UInt16.self)
                unsafe vla_bf16_round(rows, s.k, s.x + r0 * s.k, s.k, xb + r0 * s.rowStride, s.rowStride)
            }
        }
        let tasks = unsafe s.byRows ? (s.m + s.chunk - 1) / s.chunk : (s.n + s.chunk - 1) / s.chunk
        unsafe loop(tasks, (s, shared)) { raw, t, _ in
            let (s, shared) = unsafe raw.assumingMemoryBound(to: (ReducedLinearStep, UnsafeMutableRawPointer).self).pointee
            var r0 = 0, rows = unsafe s.m, c0 = 0, c1 = unsafe s.n
            if unsafe s.byRows {
                r0 = unsafe t * s.chunk
                rows = unsafe min(s.chunk, s.m - r0)
            } else {
                c0 = unsafe t * s.chunk
                c1 = unsafe min(s.n, c0 + s.chunk)
            }
            let y = unsafe s.y + r0 * s.n
            let add = unsafe s.add.map { unsafe $0 + r0 * s.n }
            // The C kernel applies a transcendental epilogue inside its blocks where it can (AMX), else here.
            let (act, param) = unsafe s.epilogue.map(Kernels.unaryKind) ?? (0, 0)
            let applied: Int32
            if unsafe s.int8 {
                let q = unsafe shared.assumingMemoryBound(to: Int8.self) + r0 * s.rowStride
                let scales = unsafe (shared + s.m * s.rowStride).assumingMemoryBound(to: Float.self) + r0
                let zc: UnsafePointer<Int32>? =
                    unsafe s.zeroPoint
                    ? unsafe UnsafePointer((shared + s.m * s.rowStride + 4 * s.m).assumingMemoryBound(to: Int32.self) + r0) : nil
                applied = unsafe vla_q8_gemm_zp_act(
                    rows, c0, c1, s.k, q, s.rowStride, scales, zc, s.packed, s.n, s.wscale, s.bias, s.mul, add, s.n, y,
                    s.n, act, param)
            } else {
                let xb = unsafe shared.assumingMemoryBound(to: UInt16.self) + r0 * s.rowStride
                applied = unsafe vla_bf16_gemm_act(
                    rows, c0, c1, s.k, xb, s.rowStride, s.packed, s.n, s.bias, s.mul, add, s.n, y, s.n, act, param)
            }
            if let f = unsafe s.epilogue, applied == 0 {
                for r in 0..<rows { unsafe Kernels.unary(f, y + r * s.n + c0, y + r * s.n + c0, from: 0, to: c1 - c0) }
            }
        }
    }

    /// One block of a linear: rows `row..<row+rows` of x against columns `col..<col+cols` of w (x and w: the
    /// whole operands).
    static func linearBlock(_ s: LinearStep, x: ConstFloatPointer, w: ConstFloatPointer, row: Int, rows: Int, col: Int, cols: Int) {
        let n = unsafe s.n
        let x = unsafe x + row * s.k
        let yRows = unsafe s.y + row * n, y = unsafe yRows + col
        if let packed = unsafe s.packed {
            // The bias is the accumulators' start inside the kernel (as below: C pre-filled, beta 1).
            unsafe vla_f32_gemm_packed(rows, col, col + cols, s.k, x, s.k, packed, n, s.bias, yRows, n)
        } else {
            var beta: Float = 0
            if let b = unsafe s.bias {
                for r in 0..<rows { unsafe (y + r * n).update(from: b + col, count: cols) }
                beta = 1
            }
            unsafe Gemm.multiply(
                m: rows, n: cols, k: s.k, alpha: 1, a: x, lda: s.k, b: w + col, ldb: n,
                beta: beta, c: y, ldc: n, blas: s.blas)
        }
        if let f = unsafe s.epilogue {
            for r in 0..<rows { unsafe Kernels.unary(f, y + r * n, y + r * n, from: 0, to: cols) }
        }
    }

    /// Per batch item and head (one task each): `Kᵀ` and `V` packed into the thread's scratch (not for heads of
    /// at most ``AttentionStep/directQueryRows`` query rows, whose products read k and v in place), `S = Q·Kᵀ`, then
    /// each row's `·scale`, `+ bias`, mask and softmax in one pass (`vla_attention_row`), `Y = S·V`, both products
    /// with the packed own kernel (the own kernel's bits; no OpenBLAS: its small-matrix path allocates, and these
    /// products are small). With bf16 products (flag bit 2) the two products are `vla_attn_bf16_scores` and
    /// `vla_attn_bf16_values` (AMX where the bf16 kernels use it, else the packed kernel on bf16-rounded values),
    /// the rows in between the same.
    func attention(_ s: AttentionStep) {
        unsafe loop(s.batch * s.heads, AttentionLoop(step: s, scratch: threadScratch, perThread: threadScratchCount)) { raw, task, thread in
            let c = unsafe raw.assumingMemoryBound(to: AttentionLoop.self).pointee
            if unsafe c.step.bf16 {
                unsafe Interpreter.attentionHeadBF16(c, task: task, thread: thread)
            } else {
                unsafe Interpreter.attentionHead(c, task: task, thread: thread)
            }
        }
    }

    /// Task `task`'s batch item and head, and where its rows of q, k, v and y start (each row `heads·d` or
    /// `heads·dv` floats apart).
    fileprivate static func head(_ s: AttentionStep, task: Int) -> (
        b: Int, head: Int, q: ConstFloatPointer, k: ConstFloatPointer, v: ConstFloatPointer, y: FloatPointer
    ) {
        let h = unsafe s.heads, tq = unsafe s.tq, tk = unsafe s.tk, d = unsafe s.d, dv = unsafe s.dv
        let b = task / h, head = task % h
        return unsafe (
            b, head, s.q + (b * tq * h + head) * d, s.k + (b * tk * h + head) * d, s.v + (b * tk * h + head) * dv,
            s.y + (b * tq * h + head) * dv
        )
    }

    /// One batch item and head with f32 products.
    fileprivate static func attentionHead(_ c: AttentionLoop, task: Int, thread: Int) {
        let s = unsafe c.step
        let h = unsafe s.heads, tq = unsafe s.tq, tk = unsafe s.tk, d = unsafe s.d, dv = unsafe s.dv
        let (b, head, q, k, v, y) = unsafe Interpreter.head(s, task: task)
        // Kᵀ and V of the head packed into the thread's scratch as the packed kernel's column panels, then the
        // scores; both products are the packed kernel's chains, the bits of the own kernel's.
        let keys = unsafe c.scratch + thread * c.perThread
        let values = unsafe keys + AttentionStep.keysFloats(tk: tk, d: d)
        let scores = unsafe values + AttentionStep.valuesFloats(tk: tk, dv: dv)
        if unsafe tq <= AttentionStep.directQueryRows {  // the same chains without packing k and v (a query token's head)
            unsafe vla_f32_attn_scores_direct(tq, tk, d, q, h * d, k, h * d, scores, tk)
            unsafe attentionRows(s, scores: scores, batch: b, head: head)
            unsafe vla_f32_attn_values_direct(tq, tk, dv, scores, tk, v, h * dv, y, h * dv)
            return
        }
        unsafe vla_f32_pack_transposed(d, tk, k, h * d, keys)
        unsafe vla_f32_gemm_packed(tq, 0, tk, d, q, h * d, keys, tk, nil, scores, tk)
        unsafe attentionRows(s, scores: scores, batch: b, head: head)
        unsafe vla_f32_pack(tk, dv, v, h * dv, values)
        unsafe vla_f32_gemm_packed(tq, 0, dv, tk, scores, tk, values, dv, nil, y, h * dv)
    }

    /// One batch item and head with bf16 products: the scores first in the thread's block, the products' scratch
    /// after them (64-byte aligned: both offsets are multiples of 16 floats). On path 4 the fused head
    /// (`vla_attn_bf16_head`) does all of it in the scratch.
    fileprivate static func attentionHeadBF16(_ c: AttentionLoop, task: Int, thread: Int) {
        let s = unsafe c.step
        let h = unsafe s.heads, tq = unsafe s.tq, tk = unsafe s.tk, d = unsafe s.d, dv = unsafe s.dv
        let (b, head, q, k, v, y) = unsafe Interpreter.head(s, task: task)
        let scores = unsafe c.scratch + thread * c.perThread
        let work = unsafe UnsafeMutableRawPointer(scores + AttentionStep.scoresFloats(tq: tq, tk: tk))
        // Path 4 (AMX): the whole head fused, in blocks of 32 rows that stay in L1 (the same bits as below).
        let bias = unsafe s.bias.map { unsafe $0 + head * tq * tk }
        let mask = unsafe s.mask.map { unsafe $0 + b * s.maskBatchStride }
        if unsafe vla_attn_bf16_head(
            tq, tk, d, dv, q, h * d, k, h * d, v, h * dv, s.scale, bias, tk, mask, s.maskRowStride, work, y, h * dv) != 0
        {
            return
        }
        unsafe vla_attn_bf16_scores(tq, tk, d, q, h * d, k, h * d, work, scores, tk)
        // The fallback (path 0) reads p as bf16 values in f32: each row is rounded right after its softmax, in L1.
        let roundRows = vla_attn_bf16_path() == 0
        unsafe attentionRows(s, scores: scores, batch: b, head: head, roundRows: roundRows)
        unsafe vla_attn_bf16_values(tq, tk, dv, scores, tk, roundRows ? 1 : 0, v, h * dv, work, y, h * dv)
    }

    /// Each row of one head's scores: ·scale, + bias, −greatestFiniteMagnitude where masked, softmax (in C where
    /// the CPU has a fast path, four rows at a time, the same bits as the Swift below).
    /// With `roundRows`, the rows are then rounded to bf16 values in place (vla_attn_bf16_round_rows), four at a
    /// time while they are in L1.
    static func attentionRows(_ s: AttentionStep, scores: FloatPointer, batch b: Int, head: Int, roundRows: Bool = false) {
        let tq = unsafe s.tq, tk = unsafe s.tk, scale = unsafe s.scale
        var i = 0
        while i < tq {
            let rows = min(4, tq - i)
            let first = unsafe scores + i * tk
            let bias = unsafe s.bias.map { unsafe $0 + (head * tq + i) * tk }
            let mask = unsafe s.mask.map { unsafe $0 + b * s.maskBatchStride + i * s.maskRowStride }
            if unsafe vla_attention_rows(first, tk, rows, tk, scale, bias, tk, mask, s.maskRowStride) == 0 {
                for r in 0..<rows {
                    let row = unsafe first + r * tk
                    if scale != 1 { for j in 0..<tk { unsafe row[j] = row[j] * scale } }
                    if let brow = unsafe bias.map({ unsafe $0 + r * tk }) {
                        unsafe Kernels.binary(multiply: false, row, brow, row, bCount: tk, from: 0, to: tk)
                    }
                    if let mrow = unsafe mask.map({ unsafe $0 + r * s.maskRowStride }) {
                        for j in 0..<tk where unsafe mrow[j] == 0 { unsafe row[j] = -Float.greatestFiniteMagnitude }
                    }
                    unsafe Kernels.softmaxRow(row, row, n: tk)
                }
            }
            if roundRows { unsafe vla_attn_bf16_round_rows(rows, tk, first, tk) }
            i += rows
        }
    }
}

extension AttentionStep {
    /// Heads with at most this many query rows run their f32 products without packing (vla_f32_attn_scores_direct
    /// and vla_f32_attn_values_direct, the same bits): packing moves every key and value once, which costs more
    /// than it saves for one or two rows (measured in Docs/Benchmarks.md).
    static let directQueryRows = 2
    /// Floats of the packed `Kᵀ` block at the start of a thread's attention scratch (rounded to 16).
    static func keysFloats(tk: Int, d: Int) -> Int { vla_f32_packed_bytes(d, tk) / 4 }
    /// Floats of the packed V block that follows it.
    static func valuesFloats(tk: Int, dv: Int) -> Int { vla_f32_packed_bytes(tk, dv) / 4 }
    /// Floats of the scores block of the bf16 products (rounded to 16, so the scratch after it is 64-byte aligned).
    static func scoresFloats(tq: Int, tk: Int) -> Int { (tq * tk + 15) & ~15 }
    /// Floats of a thread's block for the bf16 products: the scores, then vla_attn_bf16_scratch_bytes.
    static func bf16ScratchFloats(tq: Int, tk: Int, d: Int, dv: Int) -> Int {
        unsafe scoresFloats(tq: tq, tk: tk) + (vla_attn_bf16_scratch_bytes(tq, tk, d, dv) + 3) / 4
    }
}
