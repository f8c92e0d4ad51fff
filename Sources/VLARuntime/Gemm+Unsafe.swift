import COpenBLAS
import CVLAKernels

/// Row-major matrix products: OpenBLAS for large ones, vlac's own kernels (Sources/CVLAKernels) for the others.
enum Gemm {
    /// `C[m, n] = alpha · Σ_k A[m, k] · B[k, n] + beta · C[m, n]` (`B` is `[k, n]`, row stride `ldb`).
    ///
    /// `beta` must be 0 or 1 (0 ignores C's old contents, even NaN). The own kernel (`blas == false`) computes
    /// each element as `acc = beta == 1 ? C : 0; acc = fma(A[i, p], B[p, j], acc)` for p increasing, then
    /// `acc · alpha` (skipped when alpha is 1), bit-identically on every instruction set (vla_kernels.h).
    @inline(__always)
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, blas: Bool
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { unsafe (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        if blas {
            unsafe cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        } else {
            unsafe vla_gemm(m, n, k, a, lda, b, ldb, c, ldc, beta == 0 ? 0 : 1, alpha)
        }
    }

    /// `dst[j, i] = src[i, j]` for a `rows × cols` block (row strides `lds`, `ldd`).
    @inline(__always)
    static func transpose(rows: Int, cols: Int, _ src: UnsafePointer<Float>, lds: Int, _ dst: UnsafeMutablePointer<Float>, ldd: Int) {
        unsafe vla_transpose(rows, cols, src, lds, dst, ldd)
    }
}
