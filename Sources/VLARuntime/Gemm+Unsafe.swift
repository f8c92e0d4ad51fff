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

    /// The own kernel for `B` in `[k, n]` layout: for each row of A, 64 columns of C at a time are kept in
    /// four 16-lane accumulators while k runs; k is summed in increasing order.
    static func own(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            let arow = unsafe a + i * lda
            let crow = unsafe c + i * ldc
            var j = 0
            while j + 64 <= n {
                var s0 = V(), s1 = V(), s2 = V(), s3 = V()
                for p in 0..<k {
                    let x = V(repeating: unsafe arow[p])
                    let brow = unsafe b + p * ldb + j
                    s0 = unsafe s0 + x * load(brow)
                    s1 = unsafe s1 + x * load(brow + 16)
                    s2 = unsafe s2 + x * load(brow + 32)
                    s3 = unsafe s3 + x * load(brow + 48)
                }
                if beta == 0 {
                    unsafe store(s0 * alpha, crow + j)
                    unsafe store(s1 * alpha, crow + j + 16)
                    unsafe store(s2 * alpha, crow + j + 32)
                    unsafe store(s3 * alpha, crow + j + 48)
                } else {
                    unsafe store(s0 * alpha + load(crow + j), crow + j)
                    unsafe store(s1 * alpha + load(crow + j + 16), crow + j + 16)
                    unsafe store(s2 * alpha + load(crow + j + 32), crow + j + 32)
                    unsafe store(s3 * alpha + load(crow + j + 48), crow + j + 48)
                }
                j += 64
            }
            while j + 16 <= n {
                var s0 = V()
                for p in 0..<k { s0 = unsafe s0 + V(repeating: arow[p]) * load(b + p * ldb + j) }
                if beta == 0 { unsafe store(s0 * alpha, crow + j) } else { unsafe store(s0 * alpha + load(crow + j), crow + j) }
                j += 16
            }
            while j < n {
                var s: Float = 0
                for p in 0..<k { s += unsafe arow[p] * b[p * ldb + j] }
                unsafe crow[j] = beta == 0 ? s * alpha : s * alpha + crow[j]
                j += 1
            }
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
