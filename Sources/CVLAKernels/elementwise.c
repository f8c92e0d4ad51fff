// Element-wise and row-wise kernels with AVX-512: the same operations, in the same order, as the Swift kernels
// of VLARuntime (VectorMath+Unsafe.swift, Kernels+Unsafe.swift), so results are bit-identical to them. No
// floating-point contraction here: every product and sum below is a separate IEEE operation, like Swift's.
#include <stdint.h>
#include <string.h>
#include "vla_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f"), always_inline)) static inline

// The f32 constants of VectorMath, by bit pattern (Swift rounds its decimal literals the same way once).
static inline float bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

T512 __m512 splat(float f) { return _mm512_set1_ps(f); }
T512 __m512 neg(__m512 x) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))); }
T512 __m512 madd(__m512 p, __m512 r, float c) { return _mm512_add_ps(_mm512_mul_ps(p, r), splat(c)); }

T512 __m512 exp16(__m512 x) {
    const float log2e = bits(0x3fb8aa3b), ln2Hi = bits(0x3f317200), ln2Lo = bits(0x35bfbe8e);
    const float lo = bits(0xc2aeac50), hi = bits(0x42b17218), magic = 12582912.0f;
    __m512 xc = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, splat(lo), _CMP_LT_OQ), splat(lo));
    xc = _mm512_mask_mov_ps(xc, _mm512_cmp_ps_mask(xc, splat(hi), _CMP_GT_OQ), splat(hi));
    const __m512 shifted = _mm512_add_ps(_mm512_mul_ps(xc, splat(log2e)), splat(magic));
    const __m512 n = _mm512_sub_ps(shifted, splat(magic));
    __m512 r = _mm512_sub_ps(xc, _mm512_mul_ps(n, splat(ln2Hi)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, splat(ln2Lo)));
    __m512 p = splat(1.0f / 5040);
    p = madd(p, r, 1.0f / 720);
    p = madd(p, r, 1.0f / 120);
    p = madd(p, r, 1.0f / 24);
    p = madd(p, r, 1.0f / 6);
    p = madd(p, r, 0.5f);
    p = madd(p, r, 1.0f);
    p = madd(p, r, 1.0f);
    const __m512i ni = _mm512_srai_epi32(_mm512_slli_epi32(_mm512_castps_si512(shifted), 10), 10);
    const __m512i half = _mm512_srai_epi32(ni, 1);
    const __m512i k127 = _mm512_set1_epi32(127);
    const __m512 f1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, k127), 23));
    const __m512 f2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), k127), 23));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f1), f2);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, splat(lo), _CMP_LT_OQ), _mm512_setzero_ps());
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, splat(hi), _CMP_GT_OQ), splat(__builtin_inff()));
    return y;
}

T512 __m512 abs16(__m512 x) {
    return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), neg(x));
}

T512 __m512 tanh16(__m512 x) {
    const __m512 a = abs16(x);
    const __m512 t = exp16(_mm512_mul_ps(splat(-2.0f), a));
    __m512 big = _mm512_div_ps(_mm512_sub_ps(splat(1.0f), t), _mm512_add_ps(splat(1.0f), t));
    big = _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(a, splat(bits(0x4111999a)), _CMP_GT_OQ), splat(1.0f));
    const __m512 s = _mm512_mul_ps(x, x);
    __m512 p = splat((float)(-929569.0 / 638512875.0));
    p = madd(p, s, 21844.0f / 6081075);
    p = madd(p, s, -1382.0f / 155925);
    p = madd(p, s, 62.0f / 2835);
    p = madd(p, s, -17.0f / 315);
    p = madd(p, s, 2.0f / 15);
    p = madd(p, s, -1.0f / 3);
    const __m512 small = _mm512_add_ps(x, _mm512_mul_ps(_mm512_mul_ps(x, s), p));
    __m512 y = _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), neg(big));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(a, splat(bits(0x3ecccccd)), _CMP_LT_OQ), small);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_NEQ_UQ), x);
    return y;
}

T512 __m512 erf16(__m512 x) {
    const __m512 a = abs16(x);
    const __m512 t = _mm512_div_ps(splat(1.0f), _mm512_add_ps(splat(1.0f), _mm512_mul_ps(splat(bits(0x3ea7ba05)), a)));
    __m512 p = splat(bits(0x3f87dc22));
    p = madd(p, t, bits(0xbfba00e3));
    p = madd(p, t, bits(0x3fb5f0e3));
    p = madd(p, t, bits(0xbe91a98e));
    p = madd(p, t, bits(0x3e827906));
    p = _mm512_mul_ps(p, t);
    __m512 y = _mm512_sub_ps(splat(1.0f), _mm512_mul_ps(p, exp16(neg(_mm512_mul_ps(a, a)))));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), neg(y));
    const __m512 s = _mm512_mul_ps(x, x);
    __m512 q = splat(-1.0f / 75600);
    q = madd(q, s, 1.0f / 9360);
    q = madd(q, s, -1.0f / 1320);
    q = madd(q, s, 1.0f / 216);
    q = madd(q, s, -1.0f / 42);
    q = madd(q, s, 1.0f / 10);
    q = madd(q, s, -1.0f / 3);
    q = madd(q, s, 1.0f);
    const __m512 series = _mm512_mul_ps(_mm512_mul_ps(splat(bits(0x3f906ebb)), x), q);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(a, splat(bits(0x3f19999a)), _CMP_LT_OQ), series);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_NEQ_UQ), x);
    return y;
}

T512 __m512 apply16(int kind, float param, __m512 x) {
    switch (kind) {
    case VLA_GELU_TANH: {
        const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        const __m512 inner = _mm512_mul_ps(splat(bits(0x3f4c422a)), _mm512_add_ps(x, _mm512_mul_ps(splat(bits(0x3d372713)), cube)));
        return _mm512_mul_ps(_mm512_mul_ps(splat(0.5f), x), _mm512_add_ps(splat(1.0f), tanh16(inner)));
    }
    case VLA_GELU_ERF:
        return _mm512_mul_ps(_mm512_mul_ps(splat(0.5f), x),
                             _mm512_add_ps(splat(1.0f), erf16(_mm512_mul_ps(x, splat(bits(0x3f3504f3))))));
    case VLA_TANH: return tanh16(x);
    default: /* VLA_SCALED_TANH */ return _mm512_mul_ps(splat(param), tanh16(_mm512_div_ps(x, splat(param))));
    }
}

__attribute__((target("avx512f"))) static void unary512(int kind, float param, const float *x, float *y, long n) {
    long i = 0;
    switch (kind) {  // one loop per kind, so the switch is outside the loop
    case VLA_GELU_TANH: for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply16(VLA_GELU_TANH, param, _mm512_loadu_ps(x + i))); break;
    case VLA_GELU_ERF: for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply16(VLA_GELU_ERF, param, _mm512_loadu_ps(x + i))); break;
    case VLA_TANH: for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply16(VLA_TANH, param, _mm512_loadu_ps(x + i))); break;
    default: for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply16(kind, param, _mm512_loadu_ps(x + i))); break;
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, apply16(kind, param, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

// Lane sum in lane order starting from −0, as Swift's SIMD16.sum().
// (Lanes read as vector elements, not through a store and 16 loads, which stalls on store forwarding.)
T512 float lanes_sum(__m512 v) {
    float s = -0.0f;
    for (int i = 0; i < 16; i++) s += v[i];
    return s;
}

__attribute__((target("avx512f"))) static void softmax512(const float *x, float *y, long n) {
    __m512 mx = splat(-__builtin_inff());
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        mx = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(v, mx, _CMP_GT_OQ), v);
    }
    const __mmask16 tail = (__mmask16)(i < n ? (1u << (n - i)) - 1 : 0);
    if (i < n) {
        const __m512 v = _mm512_mask_loadu_ps(splat(-__builtin_inff()), tail, x + i);
        mx = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(v, mx, _CMP_GT_OQ), v);
    }
    float top = mx[0];
    for (int k = 1; k < 16; k++)
        if (mx[k] > top) top = mx[k];
    const __m512 m = splat(top);
    __m512 acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
        _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        const __m512 e = _mm512_maskz_mov_ps(tail, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), m)));
        _mm512_mask_storeu_ps(y + i, tail, e);
        acc = _mm512_add_ps(acc, e);
    }
    const __m512 inv = splat(1.0f / lanes_sum(acc));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (i < n) _mm512_mask_storeu_ps(y + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + i), inv));
}
#endif

int vla_unary(int kind, float param, const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        unary512(kind, param, x, y, n);
        return 1;
    }
#endif
    (void)kind, (void)param, (void)x, (void)y, (void)n;
    return 0;
}

int vla_softmax_row(const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        softmax512(x, y, n);
        return 1;
    }
#endif
    (void)x, (void)y, (void)n;
    return 0;
}
