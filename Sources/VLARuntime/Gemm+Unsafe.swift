import COpenBLAS

/// Row-major matrix products: OpenBLAS for large ones, an own register-blocked kernel for small ones.
enum Gemm {
    /// `C[m, n] = alpha · Σ_k A[m, k] · B'[k, n] + beta · C[m, n]`, where `B' = B` (`B` is `[k, n]`, row
    /// stride `ldb`) or, with `transB`, `B' = Bᵀ` (`B` is `[n, k]`).
    ///
    /// `beta` must be 0 or 1 (0 ignores C's old contents, even NaN).
    @inline(__always)
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, blas: Bool
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { unsafe (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        if blas {
            unsafe cblas_sgemm(
                CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        } else if transB {
            unsafe ownTransposed(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            unsafe own(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    typealias V = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V {
        unsafe UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        unsafe UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The own kernel for `B` in `[k, n]` layout: C's rows are accumulated in place, `C[i, :] += (alpha·A[i, p])·B[p, :]`
    /// for p increasing, so B streams row by row (contiguous, prefetch-friendly) and each C row stays in L1.
    /// Four rows of A share each pass over a row of B.
    static func own(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if beta == 0 { for i in 0..<m { unsafe (c + i * ldc).update(repeating: 0, count: n) } }
        var i = 0
        while i < m {
            let rows = min(4, m - i)
            let c0 = unsafe c + i * ldc
            let a0 = unsafe a + i * lda
            for p in 0..<k {
                let brow = unsafe b + p * ldb
                if rows == 4 {
                    let x0 = V(repeating: unsafe alpha * a0[p]), x1 = V(repeating: unsafe alpha * a0[lda + p])
                    let x2 = V(repeating: unsafe alpha * a0[2 * lda + p]), x3 = V(repeating: unsafe alpha * a0[3 * lda + p])
                    var j = 0
                    while j + 16 <= n {
                        let w = unsafe load(brow + j)
                        unsafe store(load(c0 + j) + x0 * w, c0 + j)
                        unsafe store(load(c0 + ldc + j) + x1 * w, c0 + ldc + j)
                        unsafe store(load(c0 + 2 * ldc + j) + x2 * w, c0 + 2 * ldc + j)
                        unsafe store(load(c0 + 3 * ldc + j) + x3 * w, c0 + 3 * ldc + j)
                        j += 16
                    }
                    while j < n {
                        let w = unsafe brow[j]
                        unsafe c0[j] += x0[0] * w
                        unsafe c0[ldc + j] += x1[0] * w
                        unsafe c0[2 * ldc + j] += x2[0] * w
                        unsafe c0[3 * ldc + j] += x3[0] * w
                        j += 1
                    }
                } else {
                    for r in 0..<rows {
                        let xs = unsafe alpha * a0[r * lda + p]
                        let x = V(repeating: xs)
                        let crow = unsafe c0 + r * ldc
                        var j = 0
                        while j + 16 <= n {
                            unsafe store(load(crow + j) + x * load(brow + j), crow + j)
                            j += 16
                        }
                        while j < n {
                            unsafe crow[j] += xs * brow[j]
                            j += 1
                        }
                    }
                }
            }
            i += rows
        }
    }

    /// The own kernel for `B` in `[n, k]` layout: one dot product per element of C, 16 lanes at a time.
    static func ownTransposed(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            let arow = unsafe a + i * lda
            for j in 0..<n {
                let brow = unsafe b + j * ldb
                var acc = V()
                var p = 0
                while p + 16 <= k {
                    acc = unsafe acc + load(arow + p) * load(brow + p)
                    p += 16
                }
                var s = acc.sum()
                while p < k {
                    s += unsafe arow[p] * brow[p]
                    p += 1
                }
                unsafe c[i * ldc + j] = beta == 0 ? s * alpha : s * alpha + c[i * ldc + j]
            }
        }
    }
}
