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

    /// The kernel family OpenBLAS chose for this CPU at load time (`openblas_get_corename`, lowercased).
    static let openBLASCore: String = {
        guard let name = unsafe openblas_get_corename() else { return "unknown" }
        return unsafe String(cString: name).lowercased()
    }()

    /// Whether OpenBLAS's kernels are worth calling here. On x86, where the own kernel has AVX2 + FMA or
    /// AVX-512 paths, only OpenBLAS's FMA kernel families are: an OpenBLAS that does not know the CPU (0.3.21
    /// takes an Intel Xeon of family 6, model 207 for "Prescott") runs SSE3 kernels at a fifth of the speed, so
    /// every product then goes to the own kernel. Where the own kernel is portable C OpenBLAS always is.
    /// On aarch64 (Advanced SIMD) not for the kernel families whose instructions were counted under qemu
    /// (Docs/Deploying.md; an estimate, not a timing): Debian 12's OpenBLAS 0.3.21 runs `armv8` (also on
    /// Cortex-A76 and A78AE, which it does not know), `neoversen1`, `cortexa72` or `cortexa53` kernels, and
    /// those execute more instructions per product than the own kernels at every row count of DINOv2's
    /// linears: `armv8`, `neoversen1` and `cortexa72` 10–21% more than the packed kernel from 8 rows (10% from
    /// 64), 1.4–2.8× at 1–4 rows, and 7–9% more than the unpacked one from 16 rows; `cortexa53` 1.5–2.6× the
    /// packed kernel's. Other families (SVE: `neoversev1`, `neoversen2`; `cortexa55/57/73`, not counted) keep
    /// the large products.
    static let openBLASIsFast: Bool = {
        // The CPU's best path, not the current one: tests force paths while other suites run.
        if vla_kernels_supported_isa() == 0 { return true }
        #if arch(arm64)
        return !openBLASCountedSlower.contains(openBLASCore)
        #else
        return ["haswell", "skylakex", "cooperlake", "sapphirerapids", "zen"].contains(openBLASCore)
        #endif
    }()

    /// aarch64: OpenBLAS core families whose products counted more instructions than the own Advanced SIMD
    /// kernels (`Tests/aarch64/count-openblas.sh`, Docs/Deploying.md).
    static let openBLASCountedSlower: Set<String> = ["armv8", "neoversen1", "cortexa72", "cortexa53"]

    /// `dst[j, i] = src[i, j]` for a `rows × cols` block (row strides `lds`, `ldd`).
    @inline(__always)
    static func transpose(rows: Int, cols: Int, _ src: UnsafePointer<Float>, lds: Int, _ dst: UnsafeMutablePointer<Float>, ldd: Int) {
        unsafe vla_transpose(rows, cols, src, lds, dst, ldd)
    }
}
