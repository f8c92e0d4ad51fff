// The packed fp32 product (vla_f32_pack / vla_f32_gemm_packed); see include/vla_kernels.h for the contract.
//
// A constant weight [k, n] is packed once into column panels of 16: panel q holds columns 16q ..< 16q + 16, its
// k rows one after another (16 floats, 64 bytes each), columns beyond n zero. A tile of the product keeps
// MR rows × NV panels of accumulators in registers for the whole of k and streams its panels front to back,
// so every element is the chain of vla_gemm: acc = bias[j] (or +0); acc = fma(a[i, p], w[p, j], acc) for
// p = 0 ..< k in order; y[i, j] = acc. Paths: AVX-512F (up to 8 rows × 3 panels), AVX2 + FMA (6 rows × one
// panel, two ymm halves), portable C; chosen by vla_kernels_isa(), like vla_gemm. k is never split.
#include <math.h>
#include <string.h>
#include "vla_kernels.h"
#include "internal.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#define PW 16  // panel width (columns)

static inline long pk_min(long a, long b) { return a < b ? a : b; }
static inline long pk_panels(long n) { return (n + PW - 1) / PW; }

size_t vla_f32_packed_bytes(long k, long n) {
    if (k <= 0 || n <= 0) return 64;  // nothing to hold; a valid buffer all the same
    return (size_t)(pk_panels(n) * k * PW) * sizeof(float);
}

void vla_f32_pack(long k, long n, const float *w, long ldw, void *packed) {
    float *dst = packed;
    const long pstride = k * PW;
    for (long q = 0; q < pk_panels(n); q++) {
        const long j0 = q * PW, cols = pk_min(PW, n - j0);
        float *panel = dst + q * pstride;
        for (long p = 0; p < k; p++) {
            float *row = panel + p * PW;
            memcpy(row, w + p * ldw + j0, (size_t)cols * sizeof(float));
            for (long c = cols; c < PW; c++) row[c] = 0;
        }
    }
}

#if defined(__x86_64__)
static void pack_transposed256(long k, long n, const float *wt, long ldwt, float *dst);
#endif

void vla_f32_pack_transposed(long k, long n, const float *wt, long ldwt, void *packed) {
    float *dst = packed;
#if defined(__x86_64__)
    if (vla_kernels_isa() >= 1) {  // the same bytes, moved 8 × 8 at a time
        pack_transposed256(k, n, wt, ldwt, dst);
        return;
    }
#endif
    const long pstride = k * PW;
    for (long q = 0; q < pk_panels(n); q++) {
        const long j0 = q * PW, cols = pk_min(PW, n - j0);
        float *panel = dst + q * pstride;
        for (long c = 0; c < cols; c++) {
            const float *src = wt + (j0 + c) * ldwt;
            for (long p = 0; p < k; p++) panel[p * PW + c] = src[p];
        }
        for (long c = cols; c < PW; c++)
            for (long p = 0; p < k; p++) panel[p * PW + c] = 0;
    }
}

// MARK: portable C (the same chain per element as gemm_portable)

static void packed_portable(long m, long n0, long n1, long k, const float *a, long lda, const float *packed,
                            const float *bias, float *y, long ldy) {
    const long pstride = k * PW;
    for (long j0 = n0; j0 < n1; j0 += PW) {
        const float *panel = packed + (j0 / PW) * pstride;
        const long cols = pk_min(PW, n1 - j0);
        for (long i = 0; i < m; i++) {
            const float *arow = a + i * lda;
            float acc[PW];
            for (int c = 0; c < PW; c++) acc[c] = bias && c < cols ? bias[j0 + c] : 0.0f;
            for (long p = 0; p < k; p++) {
                const float x = arow[p];
                const float *wp = panel + p * PW;
                for (int c = 0; c < PW; c++) acc[c] = fmaf(x, wp[c], acc[c]);
            }
            for (long c = 0; c < cols; c++) y[i * ldy + j0 + c] = acc[c];
        }
    }
}

#if defined(__x86_64__)

// MARK: AVX-512F: tiles of up to 8 rows × 3 panels (48 columns) in 24 zmm accumulators
//
// Measured on the Intel Xeon (family 6, model 207), one thread, m = 257 and DINOv2-base's (k, n): tiles of
// 8 × 3, 7 × 3, 6 × 4 and 5 × 5 panels all run at ~0.9 of the fp32 FMA peak; 12 × 2 and 14 × 2 at half that (the
// compiler runs out of general registers for the row addresses); copying blocks of 128 or 256 rows of k into L1
// (C holding the running sums between blocks) was 5–10 % slower. 8 × 3 is the fastest at 8 rows. With one step of
// p per iteration the row addresses cost 8 integer instructions a step, which share ports 0 and 5 with the FMAs:
// in a clang -O2 harness 53–84 % of the peak measured in the same run (2026-12-06, the same Xeon), with four
// steps per iteration 87–90 % (in the package's build, 85 % before, a few percent more after).

#define PK_MR 8
#define PK_NV 3

__attribute__((target("avx512f"), always_inline)) static inline void
tile_packed512(const int MR, const int NV, long k, const float *a, long lda, const float *w, long pstride, long cols,
               const float *bias, float *y, long ldy) {
    __m512 acc[PK_MR][PK_NV];
    __mmask16 mk[PK_NV];
    for (int v = 0; v < NV; v++) {
        const long c = cols - v * 16;
        mk[v] = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mk[v], bias + v * 16) : _mm512_setzero_ps();
        for (int r = 0; r < MR; r++) acc[r][v] = b;
    }
    // The tile's output lines are written once, at its end: fetching them into L2 now keeps those stores from
    // missing.
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(y + r * ldy + v * 16), _MM_HINT_T1);
    // Four steps of p per iteration: the rows' addresses are computed once for the four (offsets in the
    // broadcasts' addressing), so fewer integer instructions compete with the FMAs for ports 0 and 5.
    long p = 0;
#define PK_STEP512(P)                                                                                         \
    {                                                                                                         \
        __m512 wv[PK_NV];                                                                                     \
        for (int v = 0; v < NV; v++) wv[v] = _mm512_load_ps(w + v * pstride + (P) * PW);                      \
        for (int r = 0; r < MR; r++) {                                                                        \
            const __m512 x = _mm512_set1_ps(a[r * lda + (P)]);                                                \
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);                    \
        }                                                                                                     \
    }
    for (; p + 4 <= k; p += 4) {
        PK_STEP512(p)
        PK_STEP512(p + 1)
        PK_STEP512(p + 2)
        PK_STEP512(p + 3)
    }
    for (; p < k; p++) PK_STEP512(p)
#undef PK_STEP512
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(y + r * ldy + v * 16, mk[v], acc[r][v]);
}

#define PK_TILE(MR, NV)                                                                                       \
    tile_packed512(MR, NV, k, a + i * lda, lda, packed + (j / PW) * pstride, pstride, cols,                   \
                   bias ? bias + j : NULL, y + i * ldy + j, ldy)
#define PK_NVS(R)                                                                                             \
    case R:                                                                                                   \
        switch (nv) {                                                                                         \
        case 1: PK_TILE(R, 1); break;                                                                         \
        case 2: PK_TILE(R, 2); break;                                                                         \
        default: PK_TILE(R, 3); break;                                                                        \
        }                                                                                                     \
        break;

__attribute__((target("avx512f"))) static void packed512(long m, long n0, long n1, long k, const float *a, long lda,
                                                          const float *packed, const float *bias, float *y,
                                                          long ldy) {
    const long pstride = k * PW;
    // Column blocks of 48 outside, row tiles inside: a block's panels (k × 48 floats) stay in L2 while every row
    // tile passes over them, and are read from memory once per call.
    for (long j = n0; j < n1; j += PW * PK_NV) {
        const long cols = pk_min(PW * PK_NV, n1 - j);
        const int nv = (int)((cols + PW - 1) / PW);
        for (long i = 0; i < m; i += PK_MR) {
            switch (pk_min(PK_MR, m - i)) {
                PK_NVS(1) PK_NVS(2) PK_NVS(3) PK_NVS(4) PK_NVS(5) PK_NVS(6) PK_NVS(7) default : PK_NVS(8)
            }
        }
    }
}

// MARK: AVX2 + FMA: tiles of up to 6 rows × one panel (two ymm halves)

// A full panel (16 columns: `FULL`, a constant in each inlined copy) is written with plain stores (f32_store8).
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_packed256(const int MR, const int FULL, long k, const float *a, long lda, const float *w, long cols,
               const float *bias, float *y, long ldy) {
    __m256 acc[6][2];
    __m256i mk[2];
    for (int h = 0; h < 2; h++) {
        mk[h] = lanes_below8(cols - h * 8);
        const __m256 b = bias ? _mm256_maskload_ps(bias + h * 8, mk[h]) : _mm256_setzero_ps();
        for (int r = 0; r < MR; r++) acc[r][h] = b;
    }
    for (long p = 0; p < k; p++) {
        const __m256 w0 = _mm256_load_ps(w + p * PW), w1 = _mm256_load_ps(w + p * PW + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(a + r * lda + p);
            acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < 2; h++) f32_store8(FULL, y + r * ldy + h * 8, mk[h], acc[r][h]);
}

__attribute__((target("avx2,fma"))) static void packed256(long m, long n0, long n1, long k, const float *a, long lda,
                                                           const float *packed, const float *bias, float *y,
                                                           long ldy) {
    const long pstride = k * PW;
    for (long j = n0; j < n1; j += PW) {
        const long cols = pk_min(PW, n1 - j);
        const float *w = packed + (j / PW) * pstride;
        for (long i = 0; i < m; i += 6) {
#define PK_TILE256_AT(MR, FULL) tile_packed256(MR, FULL, k, a + i * lda, lda, w, cols, bias ? bias + j : NULL, y + i * ldy + j, ldy)
#define PK_TILE256(MR)                     \
    if (cols == PW) PK_TILE256_AT(MR, 1); \
    else PK_TILE256_AT(MR, 0)
            switch (pk_min(6, m - i)) {
            case 1: PK_TILE256(1); break;
            case 2: PK_TILE256(2); break;
            case 3: PK_TILE256(3); break;
            case 4: PK_TILE256(4); break;
            case 5: PK_TILE256(5); break;
            default: PK_TILE256(6); break;
            }
#undef PK_TILE256
#undef PK_TILE256_AT
        }
    }
}

#elif defined(__aarch64__)

// MARK: aarch64 Advanced SIMD: tiles of up to 5 rows × one panel (four q registers per row: 20 accumulators)
//
// Per four steps of k: one 16-byte load of a per row (its four values, used by lane), four 16-byte loads of each
// panel row, 80 fmla by element (each one fused multiply-add, as fmaf); a last k % 4 steps broadcast a instead.
// Five rows leave registers for the five rows of a and the panel row; six (24 accumulators) would not, and
// counted more instructions (spills). The panel is zero-padded, so whole vectors are read; only the columns
// below n1 are stored.

__attribute__((always_inline)) static inline void tile_packed_neon(const int MR, long k, const float *a, long lda,
                                                                   const float *w, long cols, const float *bias,
                                                                   float *y, long ldy) {
    float32x4_t acc[5][4];
    for (int v = 0; v < 4; v++) {
        float b[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            if (bias && 4 * v + c < cols) b[c] = bias[4 * v + c];
        for (int r = 0; r < MR; r++) acc[r][v] = vld1q_f32(b);
    }
    long p = 0;
    // Four steps of k at a time: each row's next four values in one register, used by lane (fmla by element:
    // the same fused multiply-add per element, with no broadcast per step).
    for (; p + 4 <= k; p += 4) {
        float32x4_t x4[5];
        for (int r = 0; r < MR; r++) x4[r] = vld1q_f32(a + r * lda + p);
#define PK_LANE(L)                                                                                              \
    do {                                                                                                       \
        const float *wp = w + (p + L) * PW;                                                                    \
        const float32x4_t w0 = vld1q_f32(wp), w1 = vld1q_f32(wp + 4);                                          \
        for (int r = 0; r < MR; r++) {                                                                         \
            acc[r][0] = vfmaq_laneq_f32(acc[r][0], w0, x4[r], L);                                              \
            acc[r][1] = vfmaq_laneq_f32(acc[r][1], w1, x4[r], L);                                              \
        }                                                                                                      \
        const float32x4_t w2 = vld1q_f32(wp + 8), w3 = vld1q_f32(wp + 12);                                     \
        for (int r = 0; r < MR; r++) {                                                                         \
            acc[r][2] = vfmaq_laneq_f32(acc[r][2], w2, x4[r], L);                                              \
            acc[r][3] = vfmaq_laneq_f32(acc[r][3], w3, x4[r], L);                                              \
        }                                                                                                      \
    } while (0)
        PK_LANE(0);
        PK_LANE(1);
        PK_LANE(2);
        PK_LANE(3);
#undef PK_LANE
    }
    for (; p < k; p++) {
        const float *wp = w + p * PW;
        const float32x4_t w0 = vld1q_f32(wp), w1 = vld1q_f32(wp + 4), w2 = vld1q_f32(wp + 8),
                          w3 = vld1q_f32(wp + 12);
        for (int r = 0; r < MR; r++) {
            const float32x4_t x = vld1q_dup_f32(a + r * lda + p);
            acc[r][0] = vfmaq_f32(acc[r][0], x, w0);
            acc[r][1] = vfmaq_f32(acc[r][1], x, w1);
            acc[r][2] = vfmaq_f32(acc[r][2], x, w2);
            acc[r][3] = vfmaq_f32(acc[r][3], x, w3);
        }
    }
    for (int r = 0; r < MR; r++) {
        if (cols == PW) {
            for (int v = 0; v < 4; v++) vst1q_f32(y + r * ldy + 4 * v, acc[r][v]);
        } else {
            float out[PW];
            for (int v = 0; v < 4; v++) vst1q_f32(out + 4 * v, acc[r][v]);
            memcpy(y + r * ldy, out, (size_t)cols * sizeof(float));
        }
    }
}

static void packed_neon(long m, long n0, long n1, long k, const float *a, long lda, const float *packed,
                        const float *bias, float *y, long ldy) {
    const long pstride = k * PW;
    for (long j = n0; j < n1; j += PW) {
        const long cols = pk_min(PW, n1 - j);
        const float *w = packed + (j / PW) * pstride;
        for (long i = 0; i < m; i += 5) {
#define PK_TILE_NEON(MR) \
    tile_packed_neon(MR, k, a + i * lda, lda, w, cols, bias ? bias + j : NULL, y + i * ldy + j, ldy)
            switch (pk_min(5, m - i)) {
            case 1: PK_TILE_NEON(1); break;
            case 2: PK_TILE_NEON(2); break;
            case 3: PK_TILE_NEON(3); break;
            case 4: PK_TILE_NEON(4); break;
            default: PK_TILE_NEON(5); break;
            }
#undef PK_TILE_NEON
        }
    }
}

#endif  // __x86_64__, __aarch64__

// MARK: attention's products for a few query rows, without packing (vla_f32_attn_scores_direct,
// vla_f32_attn_values_direct): each element the same chain as the packed kernel's, from +0 (no bias). The values
// run each block of 16 columns' chains side by side over the keys.

static void attn_scores_portable(long tq, long tk, long d, const float *q, long ldq, const float *k, long ldk,
                                 float *s, long lds) {
    for (long i = 0; i < tq; i++) {
        const float *qi = q + i * ldq;
        for (long j = 0; j < tk; j++) {
            float acc = 0;
            for (long c = 0; c < d; c++) acc = fmaf(qi[c], k[j * ldk + c], acc);
            s[i * lds + j] = acc;
        }
    }
}

#define ATTN_VALUES(SUFFIX, ATTR)                                                                             \
    ATTR static void attn_values_##SUFFIX(long tq, long tk, long dv, const float *p, long ldp, const float *v, \
                                          long ldv, float *y, long ldy) {                                     \
        for (long i = 0; i < tq; i++)                                                                         \
            for (long c0 = 0; c0 < dv; c0 += PW) {                                                            \
                const long cols = pk_min(PW, dv - c0);                                                        \
                float acc[PW] = {0};                                                                          \
                if (cols == PW)                                                                               \
                    for (long j = 0; j < tk; j++)                                                             \
                        for (int c = 0; c < PW; c++) acc[c] = fmaf(p[i * ldp + j], v[j * ldv + c0 + c], acc[c]); \
                else                                                                                          \
                    for (long j = 0; j < tk; j++)                                                             \
                        for (long c = 0; c < cols; c++) acc[c] = fmaf(p[i * ldp + j], v[j * ldv + c0 + c], acc[c]); \
                for (long c = 0; c < cols; c++) y[i * ldy + c0 + c] = acc[c];                                 \
            }                                                                                                 \
    }

ATTN_VALUES(portable, )
#if defined(__x86_64__)
ATTN_VALUES(fma, __attribute__((target("avx2,fma"))))

// r[u] lane c -> r[c] lane u for 8 rows of 8 floats: pairs interleaved by 32 and 64 bits within each 128-bit half,
// then the halves exchanged.
__attribute__((target("avx2"), always_inline)) static inline void transpose8(__m256 r[8]) {
    const __m256 a0 = _mm256_unpacklo_ps(r[0], r[1]), a1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 a2 = _mm256_unpacklo_ps(r[2], r[3]), a3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 a4 = _mm256_unpacklo_ps(r[4], r[5]), a5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 a6 = _mm256_unpacklo_ps(r[6], r[7]), a7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xEE);
    const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xEE);
    const __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xEE);
    const __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xEE);
    r[0] = _mm256_permute2f128_ps(b0, b4, 0x20);
    r[1] = _mm256_permute2f128_ps(b1, b5, 0x20);
    r[2] = _mm256_permute2f128_ps(b2, b6, 0x20);
    r[3] = _mm256_permute2f128_ps(b3, b7, 0x20);
    r[4] = _mm256_permute2f128_ps(b0, b4, 0x31);
    r[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
    r[6] = _mm256_permute2f128_ps(b2, b6, 0x31);
    r[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}

// Rows [0, rows) of 8 (row stride ld; rows past them as zeros), cols ≤ 8 floats each (the rest of a row as
// zeros), transposed: r[c] lane u = src[u·ld + c].
__attribute__((target("avx2"), always_inline)) static inline void load_transposed8(const float *src, long ld, long rows,
                                                                                    long cols, __m256 r[8]) {
    const __m256i mask = lanes_below8(cols);
    for (int u = 0; u < 8; u++) r[u] = u < rows ? f32_load8(cols == 8, src + u * ld, mask) : _mm256_setzero_ps();
    transpose8(r);
}

// vla_f32_pack_transposed on AVX2: blocks of 8 keys × 8 values of p read as rows, transposed in registers and
// stored as 8 panel lines of 8 columns (keys past n read as zero rows, so the panel's padding is zeros).
__attribute__((target("avx2"))) static void pack_transposed256(long k, long n, const float *wt, long ldwt, float *dst) {
    const long pstride = k * PW;
    for (long q = 0; q < pk_panels(n); q++) {
        const long j0 = q * PW, cols = pk_min(PW, n - j0);
        float *panel = dst + q * pstride;
        for (long c0 = 0; c0 < PW; c0 += 8) {
            const long keys = cols - c0;
            for (long p0 = 0; p0 < k; p0 += 8) {
                const long pc = pk_min(8, k - p0);
                __m256 r[8];
                load_transposed8(wt + (j0 + c0) * ldwt + p0, ldwt, keys, pc, r);
                for (int i = 0; i < pc; i++) _mm256_storeu_ps(panel + (p0 + i) * PW + c0, r[i]);
            }
        }
    }
}

// The scores on AVX2: eight keys' rows, eight columns at a time, transposed in registers so that one ymm holds
// column c of the eight keys; then the eight chains step through c in order, as attn_scores_portable's do.
__attribute__((target("avx2,fma"))) static void attn_scores256(long tq, long tk, long d, const float *q, long ldq,
                                                                const float *k, long ldk, float *s, long lds) {
    for (long j = 0; j < tk; j += 8) {
        const long keys = pk_min(8, tk - j);
        const __m256i kmask = lanes_below8(keys);
        for (long i = 0; i < tq; i++) {
            const float *qi = q + i * ldq;
            __m256 acc = _mm256_setzero_ps();
            for (long c0 = 0; c0 < d; c0 += 8) {
                const long cols = pk_min(8, d - c0);
                __m256 r[8];
                load_transposed8(k + j * ldk + c0, ldk, keys, cols, r);  // r[c] lane u: key j + u, column c0 + c
                for (int c = 0; c < cols; c++) acc = _mm256_fmadd_ps(_mm256_set1_ps(qi[c0 + c]), r[c], acc);
            }
            f32_store8(keys == 8, s + i * lds + j, kmask, acc);
        }
    }
}
#endif
#undef ATTN_VALUES

void vla_f32_attn_scores_direct(long tq, long tk, long d, const float *q, long ldq, const float *k, long ldk, float *s,
                                long lds) {
#if defined(__x86_64__)
    if (vla_kernels_isa() >= 1) {
        attn_scores256(tq, tk, d, q, ldq, k, ldk, s, lds);
        return;
    }
#endif
    attn_scores_portable(tq, tk, d, q, ldq, k, ldk, s, lds);
}

void vla_f32_attn_values_direct(long tq, long tk, long dv, const float *p, long ldp, const float *v, long ldv, float *y,
                                long ldy) {
#if defined(__x86_64__)
    if (vla_kernels_isa() >= 1) {
        attn_values_fma(tq, tk, dv, p, ldp, v, ldv, y, ldy);
        return;
    }
#endif
    attn_values_portable(tq, tk, dv, p, ldp, v, ldv, y, ldy);
}

void vla_f32_gemm_packed(long m, long n0, long n1, long k, const float *a, long lda, const void *packed, long n,
                         const float *bias, float *y, long ldy) {
    (void)n;
    if (m <= 0 || n1 <= n0) return;
    switch (vla_kernels_isa()) {
#if defined(__x86_64__)
    case 2: packed512(m, n0, n1, k, a, lda, packed, bias, y, ldy); return;
    case 1: packed256(m, n0, n1, k, a, lda, packed, bias, y, ldy); return;
#elif defined(__aarch64__)
    case 1: packed_neon(m, n0, n1, k, a, lda, packed, bias, y, ldy); return;
#endif
    default: packed_portable(m, n0, n1, k, a, lda, packed, bias, y, ldy); return;
    }
}
