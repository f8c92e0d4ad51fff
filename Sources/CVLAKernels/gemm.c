// vlac's matrix-product kernels; see include/vla_kernels.h for the contract.
#include <math.h>
#include "vla_kernels.h"
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#include "arm_features.h"
#endif

// MARK: portable C (the reference every other path must equal bit for bit)

static void gemm_portable(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                          long ldc, int accumulate, float scale) {
    for (long i = 0; i < m; i++) {
        float *crow = c + i * ldc;
        const float *arow = a + i * lda;
        // Row of C as the accumulator: for each p, crow[j] = fma(a[i,p], b[p,j], crow[j]) (j-contiguous loop).
        if (!accumulate)
            for (long j = 0; j < n; j++) crow[j] = 0;
        for (long p = 0; p < k; p++) {
            const float x = arow[p];
            const float *brow = b + p * ldb;
            for (long j = 0; j < n; j++) crow[j] = fmaf(x, brow[j], crow[j]);
        }
        if (scale != 1.0f)
            for (long j = 0; j < n; j++) crow[j] = crow[j] * scale;
    }
}

#if defined(__x86_64__)

// MARK: AVX-512F: tiles of up to 8 rows × 32 columns held in 16 zmm accumulators

__attribute__((target("avx512f"), always_inline)) static inline void
tile512(const int mr, const int nv, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
        __mmask16 m0, __mmask16 m1, int accumulate, float scale) {
    __m512 acc[8][2];
    for (int r = 0; r < mr; r++) {
        if (accumulate) {
            acc[r][0] = _mm512_maskz_loadu_ps(m0, c + r * ldc);
            if (nv == 2) acc[r][1] = _mm512_maskz_loadu_ps(m1, c + r * ldc + 16);
        } else {
            acc[r][0] = _mm512_setzero_ps();
            if (nv == 2) acc[r][1] = _mm512_setzero_ps();
        }
    }
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
        __m512 b1 = _mm512_setzero_ps();
        if (nv == 2) b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
        for (int r = 0; r < mr; r++) {
            const __m512 x = _mm512_set1_ps(a[r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            if (nv == 2) acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    const __m512 s = _mm512_set1_ps(scale);
    for (int r = 0; r < mr; r++) {
        if (scale != 1.0f) {
            acc[r][0] = _mm512_mul_ps(acc[r][0], s);
            if (nv == 2) acc[r][1] = _mm512_mul_ps(acc[r][1], s);
        }
        _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
        if (nv == 2) _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
    }
}

#define TILE512(MR, NV) \
    tile512(MR, NV, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, m0, m1, accumulate, scale)

#define KC 128

__attribute__((target("avx512f"))) static void panel512(long m, long cols, long k, const float *a, long lda,
                                                        const float *b, long ldb, float *c, long ldc, int accumulate,
                                                        float scale) {
    const int nv = cols > 16 ? 2 : 1;
    const __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
    const __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
    const long j = 0;
    for (long i = 0; i < m; i += 8) {
        const long rows = m - i < 8 ? m - i : 8;
        switch (rows * 2 + nv - 1) {
        case 2: TILE512(1, 1); break;
        case 3: TILE512(1, 2); break;
        case 4: TILE512(2, 1); break;
        case 5: TILE512(2, 2); break;
        case 6: TILE512(3, 1); break;
        case 7: TILE512(3, 2); break;
        case 8: TILE512(4, 1); break;
        case 9: TILE512(4, 2); break;
        case 10: TILE512(5, 1); break;
        case 11: TILE512(5, 2); break;
        case 12: TILE512(6, 1); break;
        case 13: TILE512(6, 2); break;
        case 14: TILE512(7, 1); break;
        case 15: TILE512(7, 2); break;
        case 16: TILE512(8, 1); break;
        default: TILE512(8, 2); break;
        }
    }
}

// Column panels of 32. With more than one row tile and a panel that would not stay in L1, the panel is
// copied in blocks of KC rows to a contiguous buffer on the stack and the row tiles run block after block
// (C holds the running sums between blocks: the same fma sequence per element, so the same bits).
__attribute__((target("avx512f"))) static void gemm512(long m, long n, long k, const float *a, long lda,
                                                       const float *b, long ldb, float *c, long ldc, int accumulate,
                                                       float scale) {
    float packed[KC * 32] __attribute__((aligned(64)));
    for (long j = 0; j < n; j += 32) {
        const long cols = n - j < 32 ? n - j : 32;
        if (m <= 8 || k <= KC) {
            panel512(m, cols, k, a, lda, b + j, ldb, c + j, ldc, accumulate, scale);
            continue;
        }
        const __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        const __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
        for (long p0 = 0; p0 < k; p0 += KC) {
            const long kc = k - p0 < KC ? k - p0 : KC;
            for (long p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j;
                _mm512_store_ps(packed + p * 32, _mm512_maskz_loadu_ps(m0, src));
                _mm512_store_ps(packed + p * 32 + 16, _mm512_maskz_loadu_ps(m1, src + 16));
            }
            const int last = p0 + kc == k;
            panel512(m, cols, kc, a + p0, lda, packed, 32, c + j, ldc, accumulate || p0 > 0, last ? scale : 1.0f);
        }
    }
}

// MARK: AVX2 + FMA: tiles of up to 6 rows × 16 columns held in 12 ymm accumulators
//
// A full tile (16 columns: `full`, a constant in each inlined copy) reads B and reads and writes C with plain
// loads and stores (f32_load8, f32_store8 in internal.h).

__attribute__((target("avx2,fma"), always_inline)) static inline void
tile256(const int mr, const int nv, const int full, long k, const float *a, long lda, const float *b, long ldb,
        float *c, long ldc, __m256i m0, __m256i m1, int accumulate, float scale) {
    __m256 acc[6][2];
    for (int r = 0; r < mr; r++) {
        if (accumulate) {
            acc[r][0] = f32_load8(full, c + r * ldc, m0);
            if (nv == 2) acc[r][1] = f32_load8(full, c + r * ldc + 8, m1);
        } else {
            acc[r][0] = _mm256_setzero_ps();
            if (nv == 2) acc[r][1] = _mm256_setzero_ps();
        }
    }
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        const __m256 b0 = f32_load8(full, bp, m0);
        __m256 b1 = _mm256_setzero_ps();
        if (nv == 2) b1 = f32_load8(full, bp + 8, m1);
        for (int r = 0; r < mr; r++) {
            const __m256 x = _mm256_broadcast_ss(a + r * lda + p);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            if (nv == 2) acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    const __m256 s = _mm256_set1_ps(scale);
    for (int r = 0; r < mr; r++) {
        if (scale != 1.0f) {
            acc[r][0] = _mm256_mul_ps(acc[r][0], s);
            if (nv == 2) acc[r][1] = _mm256_mul_ps(acc[r][1], s);
        }
        f32_store8(full, c + r * ldc, m0, acc[r][0]);
        if (nv == 2) f32_store8(full, c + r * ldc + 8, m1, acc[r][1]);
    }
}

#define TILE256_AT(MR, NV, FULL) \
    tile256(MR, NV, FULL, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, m0, m1, accumulate, scale)
#define TILE256(MR, NV)                          \
    if (NV == 2 && cols == 16) TILE256_AT(MR, NV, 1); \
    else TILE256_AT(MR, NV, 0)

__attribute__((target("avx2,fma"))) static void gemm256(long m, long n, long k, const float *a, long lda,
                                                        const float *b, long ldb, float *c, long ldc, int accumulate,
                                                        float scale) {
    for (long j = 0; j < n; j += 16) {
        const long cols = n - j < 16 ? n - j : 16;
        const int nv = cols > 8 ? 2 : 1;
        const __m256i m0 = lanes_below8(cols), m1 = lanes_below8(cols - 8);
        for (long i = 0; i < m; i += 6) {
            const long rows = m - i < 6 ? m - i : 6;
            switch (rows * 2 + nv - 1) {
            case 2: TILE256(1, 1); break;
            case 3: TILE256(1, 2); break;
            case 4: TILE256(2, 1); break;
            case 5: TILE256(2, 2); break;
            case 6: TILE256(3, 1); break;
            case 7: TILE256(3, 2); break;
            case 8: TILE256(4, 1); break;
            case 9: TILE256(4, 2); break;
            case 10: TILE256(5, 1); break;
            case 11: TILE256(5, 2); break;
            case 12: TILE256(6, 1); break;
            default: TILE256(6, 2); break;
            }
        }
    }
}

static int supported_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
#elif defined(__aarch64__)

// MARK: aarch64 Advanced SIMD: tiles of up to 5 rows × 16 columns held in 20 of the 32 q registers
//
// Each accumulator lane is one output element's chain: fmla (vfmaq_f32, or by element: vfmaq_laneq_f32) is one
// fused multiply-add, the same rounding as fmaf, so the bits equal gemm_portable's. Per four steps of k, five q
// registers hold the rows' next four values of a (used by lane), four the row of b; a last k % 4 steps
// broadcast a. (Six rows, 24 accumulators, leave too few registers for that and counted more instructions.)
// Column tails of 4 to 12 use fewer vectors; the last 1 to 3 columns run the portable chain in scalar fmaf.

__attribute__((always_inline)) static inline void tile_neon(const int mr, const int nv, long k, const float *a,
                                                            long lda, const float *b, long ldb, float *c, long ldc,
                                                            int accumulate, float scale) {
    float32x4_t acc[5][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = accumulate ? vld1q_f32(c + r * ldc + 4 * v) : vdupq_n_f32(0);
    long p = 0;
    for (; p + 4 <= k; p += 4) {  // each row's next four values in one register, used by lane
        float32x4_t x4[5];
        for (int r = 0; r < mr; r++) x4[r] = vld1q_f32(a + r * lda + p);
#define GEMM_LANE(L)                                                                                            \
    do {                                                                                                       \
        const float *bp = b + (p + L) * ldb;                                                                   \
        float32x4_t bv[4];                                                                                     \
        for (int v = 0; v < nv; v++) bv[v] = vld1q_f32(bp + 4 * v);                                            \
        for (int r = 0; r < mr; r++)                                                                           \
            for (int v = 0; v < nv; v++) acc[r][v] = vfmaq_laneq_f32(acc[r][v], bv[v], x4[r], L);              \
    } while (0)
        GEMM_LANE(0);
        GEMM_LANE(1);
        GEMM_LANE(2);
        GEMM_LANE(3);
#undef GEMM_LANE
    }
    for (; p < k; p++) {
        const float *bp = b + p * ldb;
        float32x4_t bv[4];
        for (int v = 0; v < nv; v++) bv[v] = vld1q_f32(bp + 4 * v);
        for (int r = 0; r < mr; r++) {
            const float32x4_t x = vld1q_dup_f32(a + r * lda + p);
            for (int v = 0; v < nv; v++) acc[r][v] = vfmaq_f32(acc[r][v], x, bv[v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            vst1q_f32(c + r * ldc + 4 * v, scale != 1.0f ? vmulq_n_f32(acc[r][v], scale) : acc[r][v]);
}

#define TILE_NEON(MR, NV) \
    tile_neon(MR, NV, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate, scale)
#define TILE_NEON_NVS(MR)          \
    case MR:                       \
        switch (nv) {              \
        case 1: TILE_NEON(MR, 1); break; \
        case 2: TILE_NEON(MR, 2); break; \
        case 3: TILE_NEON(MR, 3); break; \
        default: TILE_NEON(MR, 4); break; \
        }                          \
        break;

static void gemm_neon(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                      int accumulate, float scale) {
    for (long j = 0; j < n; j += 16) {
        const long cols = n - j < 16 ? n - j : 16;
        const int nv = (int)(cols / 4);
        if (nv > 0)
            for (long i = 0; i < m; i += 5) {
                switch (m - i < 5 ? m - i : 5) { TILE_NEON_NVS(1) TILE_NEON_NVS(2) TILE_NEON_NVS(3)
                    TILE_NEON_NVS(4) default: TILE_NEON_NVS(5) }
            }
        for (long jj = j + 4 * nv; jj < j + cols; jj++)
            for (long i = 0; i < m; i++) {
                float acc = accumulate ? c[i * ldc + jj] : 0.0f;
                for (long p = 0; p < k; p++) acc = fmaf(a[i * lda + p], b[p * ldb + jj], acc);
                c[i * ldc + jj] = scale != 1.0f ? acc * scale : acc;
            }
    }
}

// 1 = Advanced SIMD (every AArch64 core with the kernel's ASIMD capability bit).
static int supported_isa(void) { return vla_arm_features() & VLA_ARM_ASIMD ? 1 : 0; }
#else
static int supported_isa(void) { return 0; }
#endif

// -1 until first use; then the chosen path. A plain int: every thread computes the same value, so a race
// between first uses only writes the same number twice.
static volatile int chosen = -1;

int vla_kernels_isa(void) {
    int isa = chosen;
    if (isa < 0) {
        isa = supported_isa();
        chosen = isa;
    }
    return isa;
}

int vla_kernels_supported_isa(void) { return supported_isa(); }

int vla_kernels_force_isa(int isa) {
    const int best = supported_isa();
    chosen = isa < 0 ? 0 : isa > best ? best : isa;
    return chosen;
}

void vla_gemm(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
              int accumulate, float scale) {
    if (m <= 0 || n <= 0) return;
    switch (vla_kernels_isa()) {
#if defined(__x86_64__)
    case 2: gemm512(m, n, k, a, lda, b, ldb, c, ldc, accumulate, scale); return;
    case 1: gemm256(m, n, k, a, lda, b, ldb, c, ldc, accumulate, scale); return;
#elif defined(__aarch64__)
    case 1: gemm_neon(m, n, k, a, lda, b, ldb, c, ldc, accumulate, scale); return;
#endif
    default: gemm_portable(m, n, k, a, lda, b, ldb, c, ldc, accumulate, scale); return;
    }
}

void vla_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

void vla_transpose(long rows, long cols, const float *src, long lds, float *dst, long ldd) {
    // 8×8 blocks keep both the reads and the writes within a few cache lines.
    for (long i0 = 0; i0 < rows; i0 += 8) {
        const long i1 = i0 + 8 < rows ? i0 + 8 : rows;
        for (long j0 = 0; j0 < cols; j0 += 8) {
            const long j1 = j0 + 8 < cols ? j0 + 8 : cols;
            for (long i = i0; i < i1; i++)
                for (long j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
        }
    }
}
