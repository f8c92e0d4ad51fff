// Entry points shared between the kernel files; not part of the module's API (include/vla_kernels.h).
#ifndef VLA_KERNELS_INTERNAL_H
#define VLA_KERNELS_INTERNAL_H

#if defined(__x86_64__)
#include <immintrin.h>

// f32 -> bf16 bits in the low half of each lane, as f32_to_bf16 (half to even, a NaN quieted).
__attribute__((target("avx512f"), always_inline)) static inline __m512i bf16_round16(__m512 x) {
    const __m512i b = _mm512_castps_si512(x);
    const __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7fff)), _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
}

// Lanes [0, n) of eight set (none for n ≤ 0, all for n ≥ 8): the mask of the AVX2 kernels' maskload and
// maskstore (masked-off lanes load as +0).
__attribute__((target("avx2"), always_inline)) static inline __m256i lanes_below8(long n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Eight floats at p with the lanes of m, or (full, a constant where the caller inlines this) all eight with a plain
// load or store: vmaskmovps costs an extra µop on the FMA ports on Intel and its stores are microcoded on AMD's
// Zen 1–3, and most tiles of the AVX2 f32 kernels are full. The values are the same.
__attribute__((target("avx2"), always_inline)) static inline __m256 f32_load8(const int full, const float *p, __m256i m) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

__attribute__((target("avx2"), always_inline)) static inline void f32_store8(const int full, float *p, __m256i m, __m256 v) {
    if (full) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, m, v);
}

// vla_unary_rows on AVX-512F whatever level is chosen: for the AMX kernels, which run only where AVX-512F exists
// and must apply their activation even if a test forces another level while they run (vla_unary's bits on every
// level, so the choice changes no result).
void vla_unary_rows_avx512(int kind, float param, float *y, long ldy, long rows, long cols);

// vla_attention_row on AVX-512F whatever level is chosen (its bits on every level), for the fused AMX attention
// head, on `rows` rows of x (row stride ldx; bias and mask row strides ldbias, ldmask): each row's n scores get
// the scale, bias and mask in place, then their softmax (e, then e·(1/Σe)) is rounded to bf16 (vla_bf16_round's
// rounding) into out[0, n) of its out row (stride ldout) and out[n, padded) is zeroed; x is left holding e.
void vla_attention_rows_bf16_avx512(float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias,
                                    const uint8_t *mask, long ldmask, uint16_t *out, long ldout, long padded);
#endif

#endif
