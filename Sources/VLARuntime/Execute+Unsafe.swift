import VLAFormat

extension Interpreter {
    /// Elements per task of element-wise and row-wise loops.
    static var elementsPerTask: Int { 1 << 15 }

    /// Runs one step.
    func execute(_ step: Step, program: Int) throws(RuntimeError) {
        switch unsafe step.kernel {
        case .nothing:
            return
        case .linear(let s):
            unsafe linear(s)
        case .norm(let x, let gamma, let beta, let y, let rows, let d, let eps, let center):
            rowsParallel(rows, d) { r in
                unsafe Kernels.normRow(x + r * d, gamma, beta, y + r * d, d: d, eps: eps, center: center)
            }
        case .softmax(let x, let y, let rows, let n):
            rowsParallel(rows, n) { r in unsafe Kernels.softmaxRow(x + r * n, y + r * n, n: n) }
        case .l2Normalize(let x, let y, let rows, let d, let eps):
            rowsParallel(rows, d) { r in unsafe Kernels.l2Row(x + r * d, y + r * d, d: d, eps: eps) }
        case .unary(let f, let x, let y, let count):
            let per = Interpreter.elementsPerTask
            let tasks = pool.threadCount == 1 ? 1 : (count + per - 1) / per
            pool.parallelFor(tasks) { t, _ in
                let from = tasks == 1 ? 0 : t * per
                unsafe Kernels.unary(f, x, y, from: from, to: tasks == 1 ? count : min(count, from + per))
            }
        case .binary(let multiply, let a, let b, let y, let count, let bCount):
            let per = max(Interpreter.elementsPerTask / max(bCount, 1), 1) * bCount
            let tasks = pool.threadCount == 1 ? 1 : (count + per - 1) / per
            pool.parallelFor(tasks) { t, _ in
                let from = tasks == 1 ? 0 : t * per
                unsafe Kernels.binary(multiply: multiply, a, b, y, bCount: bCount, from: from, to: tasks == 1 ? count : min(count, from + per))
            }
        case .attention(let s):
            unsafe attention(s)
        case .gather(let table, let ids, let y, let t, let v, let d, let checked, let tensor):
            for i in 0..<t {
                let id = unsafe ids[i]
                if !checked && (id < 0 || Int(id) >= v) {
                    throw RuntimeError(
                        .outOfBounds,
                        unsafe "program \(program) \"\(programs[program].name)\", op \(step.op) (gather): id \(id) at position \(i) of \"\(tensors[tensor].name)\" is outside the table's 0..<\(v) rows")
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
        case .concat(let parts, let outer, let y, let rowBytes):
            for o in 0..<outer {
                var at = o * rowBytes
                for unsafe (p, bytes) in unsafe parts {
                    unsafe (y + at).copyMemory(from: p + o * bytes, byteCount: bytes)
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

    /// Runs `body(row)` for every row, in tasks of about ``elementsPerTask`` elements.
    func rowsParallel(_ rows: Int, _ width: Int, _ body: (Int) -> Void) {
        if pool.threadCount == 1 || rows * width < 2 * Interpreter.elementsPerTask {
            for r in 0..<rows { body(r) }
            return
        }
        let per = max(1, Interpreter.elementsPerTask / max(width, 1))
        let tasks = (rows + per - 1) / per
        pool.parallelFor(tasks) { t, _ in
            for r in (t * per)..<min(rows, t * per + per) { body(r) }
        }
    }

    func linear(_ s: LinearStep) {
        let shared = unsafe sharedScratch
        if let c = unsafe s.conversion {
            let per = Interpreter.elementsPerTask
            let tasks = unsafe (c.count + per - 1) / per
            pool.parallelFor(tasks) { t, _ in unsafe Kernels.convert(c, into: shared, from: t * per, to: min(c.count, t * per + per)) }
        }
        if let g = unsafe s.im2col {
            let rowLength = unsafe g.patch * g.channels
            let k = unsafe g.patch * rowLength
            unsafe pool.parallelFor(g.gridH) { gi, _ in
                for gj in unsafe 0..<g.gridW {
                    let dst = unsafe shared + (gi * g.gridW + gj) * k
                    for py in unsafe 0..<g.patch {
                        let src = unsafe g.image + ((gi * g.patch + py) * g.width + gj * g.patch) * g.channels
                        unsafe (dst + py * rowLength).update(from: src, count: rowLength)
                    }
                }
            }
        }
        let x = unsafe s.x ?? ConstFloatPointer(shared)
        let w = unsafe s.w ?? ConstFloatPointer(shared)
        let m = unsafe s.m, n = unsafe s.n, k = unsafe s.k
        if unsafe s.byRows {
            let tasks = unsafe (m + s.chunk - 1) / s.chunk
            pool.parallelFor(tasks) { t, _ in
                let r0 = unsafe t * s.chunk, rows = unsafe min(s.chunk, m - r0)
                unsafe Interpreter.linearBlock(s, x: x + r0 * k, w: w, y: s.y + r0 * n, rows: rows, col: 0, cols: n)
            }
        } else {
            let tasks = unsafe (n + s.chunk - 1) / s.chunk
            pool.parallelFor(tasks) { t, _ in
                let c0 = unsafe t * s.chunk, cols = unsafe min(s.chunk, n - c0)
                unsafe Interpreter.linearBlock(s, x: x, w: w + c0, y: s.y + c0, rows: m, col: c0, cols: cols)
            }
        }
    }

    /// One block of a linear: `rows` rows of x against columns `col..<col+cols` (w and y already offset).
    static func linearBlock(_ s: LinearStep, x: ConstFloatPointer, w: ConstFloatPointer, y: FloatPointer, rows: Int, col: Int, cols: Int) {
        let n = unsafe s.n
        var beta: Float = 0
        if let b = unsafe s.bias {
            for r in 0..<rows { unsafe (y + r * n).update(from: b + col, count: cols) }
            beta = 1
        }
        unsafe Gemm.multiply(
            m: rows, n: cols, k: s.k, alpha: 1, a: x, lda: s.k, b: w, ldb: n, transB: false,
            beta: beta, c: y, ldc: n, blas: s.blas)
        if let f = unsafe s.epilogue {
            for r in 0..<rows { unsafe Kernels.unary(f, y + r * n, y + r * n, from: 0, to: cols) }
        }
    }

    func attention(_ s: AttentionStep) {
        let scratch = unsafe threadScratch, per = threadScratchCount
        let h = unsafe s.heads, tq = unsafe s.tq, tk = unsafe s.tk, d = unsafe s.d, dv = unsafe s.dv
        unsafe pool.parallelFor(s.batch * h) { task, thread in
            let b = task / h, head = task % h
            let scores = unsafe scratch + thread * per
            let q = unsafe s.q + (b * tq * h + head) * d
            let k = unsafe s.k + (b * tk * h + head) * d
            let v = unsafe s.v + (b * tk * h + head) * dv
            let y = unsafe s.y + (b * tq * h + head) * dv
            unsafe Gemm.multiply(
                m: tq, n: tk, k: d, alpha: s.scale, a: q, lda: h * d, b: k, ldb: h * d, transB: true,
                beta: 0, c: scores, ldc: tk, blas: s.blas)
            if let bias = unsafe s.bias {
                unsafe Kernels.binary(multiply: false, scores, bias + head * tq * tk, scores, bCount: tq * tk, from: 0, to: tq * tk)
            }
            for i in 0..<tq {
                let row = unsafe scores + i * tk
                if let mask = unsafe s.mask {
                    let mrow = unsafe mask + b * s.maskBatchStride + i * s.maskRowStride
                    for j in 0..<tk where unsafe mrow[j] == 0 { unsafe row[j] = -Float.greatestFiniteMagnitude }
                }
                unsafe Kernels.softmaxRow(row, row, n: tk)
            }
            unsafe Gemm.multiply(
                m: tq, n: dv, k: tk, alpha: 1, a: scores, lda: tk, b: v, ldb: h * dv, transB: false,
                beta: 0, c: y, ldc: h * dv, blas: s.blas)
        }
    }
}
