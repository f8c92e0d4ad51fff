// Element-wise and row-wise kernels with AVX-512 or AVX2 + FMA (x86) or Advanced SIMD (aarch64): the same operations,
// in the same order, as the Swift kernels of VLARuntime (VectorMath+Unsafe.swift, Kernels+Unsafe.swift), so results
// are bit-identical to them. No floating-point contraction here: every product and sum below is a separate IEEE
// operation, like Swift's (the pragma for clang; gcc builds of this file need -ffp-contract=off, as
// Tests/aarch64/Makefile passes), except the explicit fused multiply-adds (fmadd, vfmaq), which are VectorMath's
// `fma` (one rounding) in the same places.
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "vla_kernels.h"
#include "internal.h"

#pragma clang fp contract(off)

// The f32 constants of VectorMath, by bit pattern (Swift rounds its decimal literals the same way once).
static inline float bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

// VectorMath.exp's constants: log2(e), ln 2 in two parts, the clamps (lo ≈ −87.336545, hi = 89), 1.5·2²³, and the
// polynomial's c₆ … c₂ (c₁ = c₀ = 1).
#define EXP_LOG2E 0x3fb8aa3bu
#define EXP_LN2HI 0x3f317200u
#define EXP_LN2LO 0x35bfbe8eu
#define EXP_LO 0xc2aeac50u
#define EXP_HI 0x42b20000u
#define EXP_C6 0x3ab428c4u
#define EXP_C5 0x3c091defu
#define EXP_C4 0x3d2aadccu
#define EXP_C3 0x3e2aaa47u
#define EXP_C2 0x3efffffcu
#define MAGIC 12582912.0f

// VectorMath.erfCoefficients: erf_c[j][k] is c_j of interval k (k < 8; lanes 8–15 repeat 0–7 so a 16-lane permute
// reads a coefficient whatever its index's fourth bit, which only a NaN input sets).
#define ERF_ROW(a, b, c, d, e, f, g, h) {a, b, c, d, e, f, g, h, a, b, c, d, e, f, g, h}
static const uint32_t erf_c[7][16] __attribute__((aligned(64))) = {
    ERF_ROW(0x00000000u, 0x3f053f7bu, 0x3f57bb3du, 0x3f7752abu, 0x3f7ecd71u, 0x3f7fe554u, 0x3f7ffe8du, 0x3f7ffff4u),
    ERF_ROW(0x3f906ebbu, 0x3f60f7e8u, 0x3ed48906u, 0x3df391a8u, 0x3ca94d9cu, 0x3b0ec1c9u, 0x39120768u, 0x36b38ea8u),
    ERF_ROW(0xb6b1889eu, 0xbee0f7f4u, 0xbed488c7u, 0xbe36addfu, 0xbd2950a5u, 0xbbb253b5u, 0xb9d98597u, 0xb7a9d0cau),
    ERF_ROW(0xbec08169u, 0xbe15ffbau, 0x3e0da2f2u, 0x3e0e193du, 0x3d459200u, 0x3c08c732u, 0x3a4e7ecfu, 0x3841c792u),
    ERF_ROW(0xbad07c88u, 0x3e3b7511u, 0x3d8d9fd6u, 0xbd365ce9u, 0xbd0cc1deu, 0xbc0f2439u, 0xba94aeb9u, 0xb872b397u),
    ERF_ROW(0x3df9749au, 0x3c01bfdeu, 0xbd8a497cu, 0xbc7bf708u, 0x3c50496fu, 0x3bca5a82u, 0x3a8af22au, 0x37fe9c3bu),
    ERF_ROW(0xbcca01cfu, 0xbd490f95u, 0x3b940519u, 0x3c9715d1u, 0xb90e5f2bu, 0xbae5287eu, 0x387de412u, 0xb5c6a22bu),
};
#undef ERF_ROW

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f"), always_inline)) static inline

T512 __m512 splat(float f) { return _mm512_set1_ps(f); }
T512 __m512 madd(__m512 p, __m512 r, float c) { return _mm512_add_ps(_mm512_mul_ps(p, r), splat(c)); }

T512 __m512 fma16(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }

// VectorMath.exp. The clamps as max/min: _mm512_max_ps(lo, x) is `lo > x ? lo : x`, which keeps a NaN x, as
// Swift's replacing(with: lo, where: x .< lo) does.
T512 __m512 exp16(__m512 x) {
    const __mmask16 under = _mm512_cmp_ps_mask(x, splat(bits(EXP_LO)), _CMP_LT_OQ);
    const __m512 xc = _mm512_min_ps(splat(bits(EXP_HI)), _mm512_max_ps(splat(bits(EXP_LO)), x));
    const __m512 shifted = fma16(xc, splat(bits(EXP_LOG2E)), splat(MAGIC));
    const __m512 n = _mm512_sub_ps(shifted, splat(MAGIC));
    __m512 r = fma16(n, splat(-bits(EXP_LN2HI)), xc);
    r = fma16(n, splat(-bits(EXP_LN2LO)), r);
    __m512 p = splat(bits(EXP_C6));
    p = fma16(p, r, splat(bits(EXP_C5)));
    p = fma16(p, r, splat(bits(EXP_C4)));
    p = fma16(p, r, splat(bits(EXP_C3)));
    p = fma16(p, r, splat(bits(EXP_C2)));
    p = fma16(p, r, splat(1.0f));
    p = fma16(p, r, splat(1.0f));
    // p·2ⁿ in one instruction: vscalefps rounds the exact p·2ⁿ once, as Swift's (p·2^⌊n/2⌋)·2^(n−⌊n/2⌋) does (the
    // first product is exact), so the bits are the same, subnormal and overflowing results included.
    return _mm512_maskz_scalef_ps((__mmask16)~under, p, n);
}

// VectorMath.tanh, as tanh8 (below) computes it: |x| by clearing the sign, no clamp above 9.1, the sign or-ed in.
T512 __m512 tanh16(__m512 x) {
    const __m512i signbit = _mm512_set1_epi32((int)0x80000000u);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(signbit, _mm512_castps_si512(x)));
    const __m512 t = exp16(_mm512_mul_ps(splat(-2.0f), a));
    const __m512 big = _mm512_div_ps(_mm512_sub_ps(splat(1.0f), t), _mm512_add_ps(splat(1.0f), t));
    const __m512 s = _mm512_mul_ps(x, x);
    __m512 p = splat((float)(-929569.0 / 638512875.0));
    p = madd(p, s, 21844.0f / 6081075);
    p = madd(p, s, -1382.0f / 155925);
    p = madd(p, s, 62.0f / 2835);
    p = madd(p, s, -17.0f / 315);
    p = madd(p, s, 2.0f / 15);
    p = madd(p, s, -1.0f / 3);
    const __m512 small = _mm512_add_ps(x, _mm512_mul_ps(_mm512_mul_ps(x, s), p));
    __m512 y = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(big), _mm512_and_si512(_mm512_castps_si512(x), signbit)));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(a, splat(bits(0x3ecccccd)), _CMP_LT_OQ), small);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_NEQ_UQ), x);
    return y;
}

// VectorMath.erf: the interval's coefficients by a 16-lane permute (lanes 8–15 of each row repeat 0–7).
T512 __m512 erf16(__m512 x) {
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(_mm512_set1_epi32((int)0x80000000u), _mm512_castps_si512(x)));
    const __m512 ac = _mm512_min_ps(splat(4.0f), a);
    const __m512 shifted = _mm512_min_ps(splat(MAGIC + 7), fma16(ac, splat(2.0f), splat(MAGIC)));
    const __m512 t = fma16(_mm512_sub_ps(shifted, splat(MAGIC)), splat(-0.5f), ac);
    const __m512i k = _mm512_castps_si512(shifted);
#define C16(j) _mm512_permutexvar_ps(k, _mm512_load_ps((const float *)erf_c[j]))
    __m512 p = C16(6);
    p = fma16(p, t, C16(5));
    p = fma16(p, t, C16(4));
    p = fma16(p, t, C16(3));
    p = fma16(p, t, C16(2));
    p = fma16(p, t, C16(1));
    p = fma16(p, t, C16(0));
#undef C16
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(p), sign));
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

// A block of rows (row stride ldy) in place, the function's switch outside the loops: what the AMX products call
// on each block (vla_unary_rows), where one vla_unary call per 32-float row cost a quarter more than the GELU.
#define UNARY_ROWS(KIND)                                                                                      \
    for (long r = 0; r < rows; r++) {                                                                         \
        float *yr = y + r * ldy;                                                                              \
        long i = 0;                                                                                           \
        for (; i + 16 <= cols; i += 16) _mm512_storeu_ps(yr + i, apply16(KIND, param, _mm512_loadu_ps(yr + i))); \
        if (i < cols) {                                                                                       \
            const __mmask16 m = (__mmask16)((1u << (cols - i)) - 1);                                          \
            _mm512_mask_storeu_ps(yr + i, m, apply16(KIND, param, _mm512_maskz_loadu_ps(m, yr + i)));          \
        }                                                                                                     \
    }
__attribute__((target("avx512f"))) static void unary_rows512(int kind, float param, float *y, long ldy, long rows,
                                                              long cols) {
    switch (kind) {
    case VLA_GELU_TANH: UNARY_ROWS(VLA_GELU_TANH) break;
    case VLA_GELU_ERF: UNARY_ROWS(VLA_GELU_ERF) break;
    case VLA_TANH: UNARY_ROWS(VLA_TANH) break;
    default: UNARY_ROWS(kind) break;
    }
}
#undef UNARY_ROWS

// Lane sum in lane order starting from −0, as Swift's SIMD16.sum().
// (Lanes read as vector elements, not through a store and 16 loads, which stalls on store forwarding.)
T512 float lanes_sum(__m512 v) {
    float s = -0.0f;
    for (int i = 0; i < 16; i++) s += v[i];
    return s;
}

// The max of the lanes (NaN lanes skipped, as the Swift loop).
T512 float lanes_max(__m512 mx) {
    float top = mx[0];
    for (int k = 1; k < 16; k++)
        if (mx[k] > top) top = mx[k];
    return top;
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
    const __m512 m = splat(lanes_max(mx));
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
// MARK: AVX2 + FMA: VectorMath's functions on 8 lanes (each lane on its own, as in Swift's 16), for x86 CPUs
// without AVX-512 (vla_kernels_isa() 1). Selects are blends of compare masks; the clamps are max/min with the
// operand order that keeps a NaN, as above.

#define T256 __attribute__((target("avx2,fma"), always_inline)) static inline
#define F256 __attribute__((target("avx2,fma")))
typedef __m256 v8;

T256 v8 splat8(float f) { return _mm256_set1_ps(f); }
T256 v8 madd8(v8 p, v8 r, float c) { return _mm256_add_ps(_mm256_mul_ps(p, r), splat8(c)); }
T256 v8 fma8(v8 a, v8 b, v8 c) { return _mm256_fmadd_ps(a, b, c); }
// where8(mask, a, b): a in the lanes where mask is set, else b.
T256 v8 where8(v8 mask, v8 a, v8 b) { return _mm256_blendv_ps(b, a, mask); }

// VectorMath.exp for x ≤ 0 or NaN, its only uses here: tanh's exp(−2|x|) and softmax's exp(x − max). There
// xc ≤ 0 needs no upper clamp, and n ∈ [−126, 0], so 2ⁿ is a normal float: the low 9 bits of s's bits, shifted
// into the exponent field, are n (two's complement), + 127 the bias. p·2ⁿ is then the spec's p·2^⌊n/2⌋·2^(n−⌊n/2⌋)
// in one rounding, the same bits (subnormal results included).
T256 v8 exp8_nonpositive(v8 x) {
    const v8 under = _mm256_cmp_ps(x, splat8(bits(EXP_LO)), _CMP_LT_OQ);
    const v8 xc = _mm256_max_ps(splat8(bits(EXP_LO)), x);
    const v8 shifted = fma8(xc, splat8(bits(EXP_LOG2E)), splat8(MAGIC));
    const v8 n = _mm256_sub_ps(shifted, splat8(MAGIC));
    v8 r = fma8(n, splat8(-bits(EXP_LN2HI)), xc);
    r = fma8(n, splat8(-bits(EXP_LN2LO)), r);
    v8 p = splat8(bits(EXP_C6));
    p = fma8(p, r, splat8(bits(EXP_C5)));
    p = fma8(p, r, splat8(bits(EXP_C4)));
    p = fma8(p, r, splat8(bits(EXP_C3)));
    p = fma8(p, r, splat8(bits(EXP_C2)));
    p = fma8(p, r, splat8(1.0f));
    p = fma8(p, r, splat8(1.0f));
    const __m256i e = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(shifted), 23), _mm256_set1_epi32(127 << 23));
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// VectorMath.tanh with three selects fewer, the same bits: |x| by clearing the sign (−0 becomes +0: exp(∓0) is
// 1 either way, and x = ±0 takes the series); no clamp to 1 above |x| = 9.1 (there t < 3·10⁻⁸, so 1 − t and 1 + t
// round to 1 and the quotient is 1); the sign restored by or-ing x's sign into big ≥ +0 (x ≠ 0 wherever big is
// kept). NaN lanes return x at the end, as before.
T256 v8 tanh8(v8 x) {
    const v8 a = _mm256_andnot_ps(splat8(-0.0f), x);
    const v8 t = exp8_nonpositive(_mm256_mul_ps(splat8(-2.0f), a));
    const v8 big = _mm256_div_ps(_mm256_sub_ps(splat8(1.0f), t), _mm256_add_ps(splat8(1.0f), t));
    const v8 s = _mm256_mul_ps(x, x);
    v8 p = splat8((float)(-929569.0 / 638512875.0));
    p = madd8(p, s, 21844.0f / 6081075);
    p = madd8(p, s, -1382.0f / 155925);
    p = madd8(p, s, 62.0f / 2835);
    p = madd8(p, s, -17.0f / 315);
    p = madd8(p, s, 2.0f / 15);
    p = madd8(p, s, -1.0f / 3);
    const v8 small = _mm256_add_ps(x, _mm256_mul_ps(_mm256_mul_ps(x, s), p));
    v8 y = _mm256_or_ps(big, _mm256_and_ps(x, splat8(-0.0f)));
    y = where8(_mm256_cmp_ps(a, splat8(bits(0x3ecccccd)), _CMP_LT_OQ), small, y);
    return where8(_mm256_cmp_ps(x, x, _CMP_NEQ_UQ), x, y);
}

// VectorMath.erf: the interval's coefficients by an 8-lane permute (vpermps reads the index's low 3 bits).
T256 v8 erf8(v8 x) {
    const v8 sign = _mm256_and_ps(x, splat8(-0.0f));
    const v8 a = _mm256_andnot_ps(splat8(-0.0f), x);
    const v8 ac = _mm256_min_ps(splat8(4.0f), a);
    const v8 shifted = _mm256_min_ps(splat8(MAGIC + 7), fma8(ac, splat8(2.0f), splat8(MAGIC)));
    const v8 t = fma8(_mm256_sub_ps(shifted, splat8(MAGIC)), splat8(-0.5f), ac);
    const __m256i k = _mm256_castps_si256(shifted);
#define C8(j) _mm256_permutevar8x32_ps(_mm256_load_ps((const float *)erf_c[j]), k)
    v8 p = C8(6);
    p = fma8(p, t, C8(5));
    p = fma8(p, t, C8(4));
    p = fma8(p, t, C8(3));
    p = fma8(p, t, C8(2));
    p = fma8(p, t, C8(1));
    p = fma8(p, t, C8(0));
#undef C8
    return _mm256_or_ps(p, sign);
}

T256 v8 apply8(int kind, float param, v8 x) {
    switch (kind) {
    case VLA_GELU_TANH: {
        const v8 cube = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        const v8 inner = _mm256_mul_ps(splat8(bits(0x3f4c422a)), _mm256_add_ps(x, _mm256_mul_ps(splat8(bits(0x3d372713)), cube)));
        return _mm256_mul_ps(_mm256_mul_ps(splat8(0.5f), x), _mm256_add_ps(splat8(1.0f), tanh8(inner)));
    }
    case VLA_GELU_ERF:
        return _mm256_mul_ps(_mm256_mul_ps(splat8(0.5f), x),
                             _mm256_add_ps(splat8(1.0f), erf8(_mm256_mul_ps(x, splat8(bits(0x3f3504f3))))));
    case VLA_TANH: return tanh8(x);
    default: /* VLA_SCALED_TANH */ return _mm256_mul_ps(splat8(param), tanh8(_mm256_div_ps(x, splat8(param))));
    }
}

// Swift's 16 lanes held as two halves (lanes 0–7, 8–15), added in lane order from −0 (SIMD16.sum(), lanes_sum).
T256 float lanes_sum16(v8 lo, v8 hi) {
    float sum = -0.0f;
    for (int k = 0; k < 8; k++) sum += lo[k];
    for (int k = 0; k < 8; k++) sum += hi[k];
    return sum;
}

#define UNARY_LOOP8(KIND, X, Y, N)                                                                            \
    {                                                                                                         \
        long i = 0;                                                                                           \
        for (; i + 8 <= (N); i += 8) _mm256_storeu_ps((Y) + i, apply8(KIND, param, _mm256_loadu_ps((X) + i))); \
        if (i < (N)) {                                                                                        \
            const __m256i m = lanes_below8((N) - i);                                                          \
            _mm256_maskstore_ps((Y) + i, m, apply8(KIND, param, _mm256_maskload_ps((X) + i, m)));             \
        }                                                                                                     \
    }
F256 static void unary256(int kind, float param, const float *x, float *y, long n) {
    switch (kind) {  // one loop per kind, so the switch is outside the loop
    case VLA_GELU_TANH: UNARY_LOOP8(VLA_GELU_TANH, x, y, n) break;
    case VLA_GELU_ERF: UNARY_LOOP8(VLA_GELU_ERF, x, y, n) break;
    case VLA_TANH: UNARY_LOOP8(VLA_TANH, x, y, n) break;
    default: UNARY_LOOP8(kind, x, y, n) break;
    }
}

F256 static void unary_rows256(int kind, float param, float *y, long ldy, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *yr = y + r * ldy;
        switch (kind) {
        case VLA_GELU_TANH: UNARY_LOOP8(VLA_GELU_TANH, yr, yr, cols) break;
        case VLA_GELU_ERF: UNARY_LOOP8(VLA_GELU_ERF, yr, yr, cols) break;
        case VLA_TANH: UNARY_LOOP8(VLA_TANH, yr, yr, cols) break;
        default: UNARY_LOOP8(kind, yr, yr, cols) break;
        }
    }
}
#undef UNARY_LOOP8

static void attention_prep(float *x, long n, float scale, const float *bias, const uint8_t *mask);

// attention_prep's operations on the 8 lanes at x (bias and mask the lanes' own), stored back and returned.
T256 v8 attention_prep8(float *x, float scale, const float *bias, const uint8_t *mask) {
    v8 v = _mm256_loadu_ps(x);
    if (scale != 1) v = _mm256_mul_ps(v, splat8(scale));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    if (mask) {
        const __m256i m = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)mask));
        v = where8(_mm256_castsi256_ps(_mm256_cmpeq_epi32(m, _mm256_setzero_si256())), splat8(-__FLT_MAX__), v);
    }
    _mm256_storeu_ps(x, v);
    return v;
}

// Softmax with Swift's 16-lane structure in two ymm halves: lo holds lanes 0–7 (elements i ≡ 0…7 mod 16), hi
// lanes 8–15; the lanes are reduced in lane order as Swift's (max: lane 0 first; sum: from −0, lane 0 to 15).
// _mm256_max_ps(v, m) is `v > m ? v : m`, Swift's m.replace(with: v, where: v .> m).
// NR rows (x and y rows ldx and ldy floats apart) side by side, so that one row's dependent max and sum chains
// overlap the others'; each row gets the operations of the one-row softmax (NR = 1) in the same order. PREP: each
// row's scale, bias and mask first (attention_prep's operations, in place in x, bias and mask rows ldbias and
// ldmask apart), in the max pass.
__attribute__((target("avx2,fma"), always_inline)) static inline void softmax256_group(
    const int NR, const int PREP, float *x, long ldx, float *y, long ldy, long n, float scale, const float *bias,
    long ldbias, const uint8_t *mask, long ldmask) {
    if (NR > 4) __builtin_unreachable();  // the register arrays below
    v8 mlo[4], mhi[4];
    for (int r = 0; r < NR; r++) mlo[r] = mhi[r] = splat8(-__builtin_inff());
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int r = 0; r < NR; r++) {
            float *xr = x + r * ldx;
            const float *br = PREP && bias ? bias + r * ldbias + i : NULL;
            const uint8_t *kr = PREP && mask ? mask + r * ldmask + i : NULL;
            const v8 lo = PREP ? attention_prep8(xr + i, scale, br, kr) : _mm256_loadu_ps(xr + i);
            const v8 hi = PREP ? attention_prep8(xr + i + 8, scale, br ? br + 8 : NULL, kr ? kr + 8 : NULL)
                               : _mm256_loadu_ps(xr + i + 8);
            // v > m ? v : m never takes a NaN v, so x − max is ≤ 0 or NaN: what exp8_nonpositive needs (keep the
            // operands in this order).
            mlo[r] = _mm256_max_ps(lo, mlo[r]);
            mhi[r] = _mm256_max_ps(hi, mhi[r]);
        }
    if (PREP && i < n)
        for (int r = 0; r < NR; r++)
            attention_prep(x + r * ldx + i, n - i, scale, bias ? bias + r * ldbias + i : NULL,
                           mask ? mask + r * ldmask + i : NULL);
    const long tail = n - i;
    const __m256i tlo = lanes_below8(tail), thi = lanes_below8(tail - 8);
    if (tail > 0) {
        const v8 ninf = splat8(-__builtin_inff());
        for (int r = 0; r < NR; r++) {
            mlo[r] = _mm256_max_ps(where8(_mm256_castsi256_ps(tlo), _mm256_maskload_ps(x + r * ldx + i, tlo), ninf), mlo[r]);
            mhi[r] = _mm256_max_ps(where8(_mm256_castsi256_ps(thi), _mm256_maskload_ps(x + r * ldx + i + 8, thi), ninf), mhi[r]);
        }
    }
    for (int r = 0; r < NR; r++) {  // the row's max, which mlo[r] holds from here
        float top = mlo[r][0];
        for (int k = 1; k < 8; k++)
            if (mlo[r][k] > top) top = mlo[r][k];
        for (int k = 0; k < 8; k++)
            if (mhi[r][k] > top) top = mhi[r][k];
        mlo[r] = splat8(top);
    }
    v8 alo[4], ahi[4];
    for (int r = 0; r < NR; r++) alo[r] = ahi[r] = _mm256_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16)
        for (int r = 0; r < NR; r++) {
            const v8 elo = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + r * ldx + i), mlo[r]));
            const v8 ehi = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + r * ldx + i + 8), mlo[r]));
            _mm256_storeu_ps(y + r * ldy + i, elo);
            _mm256_storeu_ps(y + r * ldy + i + 8, ehi);
            alo[r] = _mm256_add_ps(alo[r], elo);
            ahi[r] = _mm256_add_ps(ahi[r], ehi);
        }
    if (tail > 0)
        for (int r = 0; r < NR; r++) {
            const v8 elo = _mm256_and_ps(_mm256_castsi256_ps(tlo), exp8_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(x + r * ldx + i, tlo), mlo[r])));
            const v8 ehi = _mm256_and_ps(_mm256_castsi256_ps(thi), exp8_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(x + r * ldx + i + 8, thi), mlo[r])));
            _mm256_maskstore_ps(y + r * ldy + i, tlo, elo);
            _mm256_maskstore_ps(y + r * ldy + i + 8, thi, ehi);
            alo[r] = _mm256_add_ps(alo[r], elo);
            ahi[r] = _mm256_add_ps(ahi[r], ehi);
        }
    for (int r = 0; r < NR; r++) alo[r] = splat8(1.0f / lanes_sum16(alo[r], ahi[r]));
    for (i = 0; i + 8 <= n; i += 8)
        for (int r = 0; r < NR; r++) _mm256_storeu_ps(y + r * ldy + i, _mm256_mul_ps(_mm256_loadu_ps(y + r * ldy + i), alo[r]));
    if (i < n) {
        const __m256i t = lanes_below8(n - i);
        for (int r = 0; r < NR; r++) _mm256_maskstore_ps(y + r * ldy + i, t, _mm256_mul_ps(_mm256_maskload_ps(y + r * ldy + i, t), alo[r]));
    }
}

F256 static void softmax256(const float *x, float *y, long n) {
    softmax256_group(1, 0, (float *)x, 0, y, 0, n, 1, NULL, 0, NULL, 0);  // x is only read without PREP
}
#elif defined(__aarch64__)
#include <arm_neon.h>

// MARK: aarch64 Advanced SIMD: VectorMath's functions on 4 lanes (each lane on its own, as in Swift's 16)

#define TN __attribute__((always_inline)) static inline
typedef float32x4_t v4;

TN v4 dup(float f) { return vdupq_n_f32(f); }
TN v4 madd4(v4 p, v4 r, float c) { return vaddq_f32(vmulq_f32(p, r), dup(c)); }
// where(mask, a, b): a in the lanes where mask is set, else b (Swift's replacing(with: a, where: mask) on b).
TN v4 where(uint32x4_t mask, v4 a, v4 b) { return vbslq_f32(mask, a, b); }

TN v4 fma4(v4 a, v4 b, v4 c) { return vfmaq_f32(c, a, b); }  // c + a·b, one rounding

// VectorMath.exp for x ≤ 0 or NaN, its only uses here (tanh's exp(−2|x|), softmax's exp(x − max)), as
// exp8_nonpositive: no upper clamp, and 2ⁿ (n ∈ [−126, 0]) built directly in the exponent field, the same bits as
// the spec's two-step scaling. vmaxq_f32 returns a NaN operand (quieted), so a NaN x stays NaN, as in Swift.
TN v4 exp4_nonpositive(v4 x) {
    const uint32x4_t under = vcltq_f32(x, dup(bits(EXP_LO)));
    const v4 xc = vmaxq_f32(dup(bits(EXP_LO)), x);
    const v4 shifted = fma4(xc, dup(bits(EXP_LOG2E)), dup(MAGIC));
    const v4 n = vsubq_f32(shifted, dup(MAGIC));
    v4 r = fma4(n, dup(-bits(EXP_LN2HI)), xc);
    r = fma4(n, dup(-bits(EXP_LN2LO)), r);
    v4 p = dup(bits(EXP_C6));
    p = fma4(p, r, dup(bits(EXP_C5)));
    p = fma4(p, r, dup(bits(EXP_C4)));
    p = fma4(p, r, dup(bits(EXP_C3)));
    p = fma4(p, r, dup(bits(EXP_C2)));
    p = fma4(p, r, dup(1.0f));
    p = fma4(p, r, dup(1.0f));
    const int32x4_t e = vaddq_s32(vshlq_n_s32(vreinterpretq_s32_f32(shifted), 23), vdupq_n_s32(127 << 23));
    return where(under, dup(0.0f), vmulq_f32(p, vreinterpretq_f32_s32(e)));
}

TN uint32x4_t is_nan4(v4 x) { return vmvnq_u32(vceqq_f32(x, x)); }

// VectorMath.tanh, as tanh8 computes it: |x| by clearing the sign, no clamp above 9.1, the sign or-ed in.
TN v4 tanh4(v4 x) {
    const v4 a = vabsq_f32(x);
    const v4 t = exp4_nonpositive(vmulq_f32(dup(-2.0f), a));
    const v4 big = vdivq_f32(vsubq_f32(dup(1.0f), t), vaddq_f32(dup(1.0f), t));
    const v4 s = vmulq_f32(x, x);
    v4 p = dup((float)(-929569.0 / 638512875.0));
    p = madd4(p, s, 21844.0f / 6081075);
    p = madd4(p, s, -1382.0f / 155925);
    p = madd4(p, s, 62.0f / 2835);
    p = madd4(p, s, -17.0f / 315);
    p = madd4(p, s, 2.0f / 15);
    p = madd4(p, s, -1.0f / 3);
    const v4 small = vaddq_f32(x, vmulq_f32(vmulq_f32(x, s), p));
    v4 y = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(big),
                                           vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u))));
    y = where(vcltq_f32(a, dup(bits(0x3ecccccd))), small, y);
    return where(is_nan4(x), x, y);
}

// VectorMath.erf: the interval's coefficients by a table lookup of bytes (vqtbl2q_u8 on the row's first 8 floats,
// byte indices 4k … 4k + 3 for lane index k).
TN v4 erf4(v4 x) {
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    const v4 ac = vminq_f32(dup(4.0f), vabsq_f32(x));
    const v4 shifted = vminq_f32(dup(MAGIC + 7), fma4(ac, dup(2.0f), dup(MAGIC)));
    const v4 t = fma4(vsubq_f32(shifted, dup(MAGIC)), dup(-0.5f), ac);
    const uint32x4_t k = vandq_u32(vreinterpretq_u32_f32(shifted), vdupq_n_u32(7));
    const uint8x16_t idx = vreinterpretq_u8_u32(vmlaq_u32(vdupq_n_u32(0x03020100u), k, vdupq_n_u32(0x04040404u)));
#define C4(j) vreinterpretq_f32_u8(vqtbl2q_u8((uint8x16x2_t){{vld1q_u8((const uint8_t *)erf_c[j]), vld1q_u8((const uint8_t *)erf_c[j] + 16)}}, idx))
    v4 p = C4(6);
    p = fma4(p, t, C4(5));
    p = fma4(p, t, C4(4));
    p = fma4(p, t, C4(3));
    p = fma4(p, t, C4(2));
    p = fma4(p, t, C4(1));
    p = fma4(p, t, C4(0));
#undef C4
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(p), sign));
}

TN v4 apply4(int kind, float param, v4 x) {
    switch (kind) {
    case VLA_GELU_TANH: {
        const v4 cube = vmulq_f32(vmulq_f32(x, x), x);
        const v4 inner = vmulq_f32(dup(bits(0x3f4c422a)), vaddq_f32(x, vmulq_f32(dup(bits(0x3d372713)), cube)));
        return vmulq_f32(vmulq_f32(dup(0.5f), x), vaddq_f32(dup(1.0f), tanh4(inner)));
    }
    case VLA_GELU_ERF:
        return vmulq_f32(vmulq_f32(dup(0.5f), x), vaddq_f32(dup(1.0f), erf4(vmulq_f32(x, dup(bits(0x3f3504f3))))));
    case VLA_TANH: return tanh4(x);
    default: /* VLA_SCALED_TANH */ return vmulq_f32(dup(param), tanh4(vdivq_f32(x, dup(param))));
    }
}

static void unary_neon(int kind, float param, const float *x, float *y, long n) {
    long i = 0;
    switch (kind) {  // one loop per kind, so the switch is outside the loop
    case VLA_GELU_TANH: for (; i + 4 <= n; i += 4) vst1q_f32(y + i, apply4(VLA_GELU_TANH, param, vld1q_f32(x + i))); break;
    case VLA_GELU_ERF: for (; i + 4 <= n; i += 4) vst1q_f32(y + i, apply4(VLA_GELU_ERF, param, vld1q_f32(x + i))); break;
    case VLA_TANH: for (; i + 4 <= n; i += 4) vst1q_f32(y + i, apply4(VLA_TANH, param, vld1q_f32(x + i))); break;
    default: for (; i + 4 <= n; i += 4) vst1q_f32(y + i, apply4(kind, param, vld1q_f32(x + i))); break;
    }
    if (i < n) {  // 1 to 3 left: through a zero-filled vector, as Swift's loadPartial(fill: 0)
        float in[4] = {0, 0, 0, 0}, out[4];
        memcpy(in, x + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(out, apply4(kind, param, vld1q_f32(in)));
        memcpy(y + i, out, (size_t)(n - i) * sizeof(float));
    }
}

// Softmax with Swift's 16-lane structure: lane l of the max and of the sum sees the elements i ≡ l (mod 16), held
// here in four q registers (lanes 0–3, 4–7, 8–11, 12–15); the lanes are then reduced in lane order as Swift's
// (max: lane 0 first, then each larger one; sum: SIMD16.sum(), from −0 in lane order).
static void softmax_neon(const float *x, float *y, long n) {
    v4 mx[4];
    for (int v = 0; v < 4; v++) mx[v] = dup(-__builtin_inff());
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int v = 0; v < 4; v++) {
            const v4 e = vld1q_f32(x + i + 4 * v);
            // e > m never holds for a NaN e, so x − max is ≤ 0 or NaN, as exp4_nonpositive needs.
            mx[v] = where(vcgtq_f32(e, mx[v]), e, mx[v]);
        }
    const long tail = n - i;
    float part[16];
    if (tail > 0) {
        for (int l = 0; l < 16; l++) part[l] = l < tail ? x[i + l] : -__builtin_inff();
        for (int v = 0; v < 4; v++) {
            const v4 e = vld1q_f32(part + 4 * v);
            mx[v] = where(vcgtq_f32(e, mx[v]), e, mx[v]);
        }
    }
    float lanes[16];
    for (int v = 0; v < 4; v++) vst1q_f32(lanes + 4 * v, mx[v]);
    float top = lanes[0];
    for (int l = 1; l < 16; l++)
        if (lanes[l] > top) top = lanes[l];
    const v4 m = dup(top);
    v4 acc[4];
    for (int v = 0; v < 4; v++) acc[v] = dup(0.0f);
    for (i = 0; i + 16 <= n; i += 16)
        for (int v = 0; v < 4; v++) {
            const v4 e = exp4_nonpositive(vsubq_f32(vld1q_f32(x + i + 4 * v), m));
            vst1q_f32(y + i + 4 * v, e);
            acc[v] = vaddq_f32(acc[v], e);
        }
    if (tail > 0) {
        for (int l = 0; l < 16; l++) part[l] = l < tail ? x[i + l] : 0.0f;
        for (int v = 0; v < 4; v++) {
            v4 e = exp4_nonpositive(vsubq_f32(vld1q_f32(part + 4 * v), m));
            float el[4];
            vst1q_f32(el, e);
            for (int l = 0; l < 4; l++)
                if (4 * v + l >= tail) el[l] = 0.0f;
            e = vld1q_f32(el);
            for (int l = 0; l < 4 && 4 * v + l < tail; l++) y[i + 4 * v + l] = el[l];
            acc[v] = vaddq_f32(acc[v], e);
        }
    }
    for (int v = 0; v < 4; v++) vst1q_f32(lanes + 4 * v, acc[v]);
    float sum = -0.0f;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    const float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), inv));
    for (; i < n; i++) y[i] *= inv;
}
#endif

int vla_unary(int kind, float param, const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        unary512(kind, param, x, y, n);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        unary256(kind, param, x, y, n);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        unary_neon(kind, param, x, y, n);
        return 1;
    }
#endif
    (void)kind, (void)param, (void)x, (void)y, (void)n;
    return 0;
}

#if defined(__x86_64__)
void vla_unary_rows_avx512(int kind, float param, float *y, long ldy, long rows, long cols) {
    unary_rows512(kind, param, y, ldy, rows, cols);
}
#endif

int vla_unary_rows(int kind, float param, float *y, long ldy, long rows, long cols) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        unary_rows512(kind, param, y, ldy, rows, cols);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        unary_rows256(kind, param, y, ldy, rows, cols);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        for (long r = 0; r < rows; r++) unary_neon(kind, param, y + r * ldy, y + r * ldy, cols);
        return 1;
    }
#endif
    (void)kind, (void)param, (void)y, (void)ldy, (void)rows, (void)cols;
    return 0;
}

// MARK: LayerNorm and RMS norm of rows (vla_norm_rows): VLARuntime's Kernels.normRow, the same operations

// Swift's 16 lane sums, lane by lane in index order (lanes past d add +0), then the lanes added in order from −0
// (SIMD16.sum(); lanes_sum); the second pass subtracts the mean from each value (mean itself past d); the output
// ((x − mean)·inv)·γ (+ β) in 16 lanes, the last d mod 16 values one by one, as the Swift loop does.
#if defined(__x86_64__)
// R rows at once (R ≤ 4, a constant after inlining): each row's operations as above, the rows' sums in separate
// chains that run side by side (one row's chain of dependent adds left the core mostly waiting).
T512 void norm512_rows(const int R, const float *x, long ldx, const float *gamma, const float *beta, float *y,
                       long ldy, long d, float eps, int center) {
    const long full = d - d % 16;
    const __mmask16 tail = (__mmask16)((1u << (d % 16)) - 1);
    float mean[4] = {0, 0, 0, 0}, inv[4];
    __m512 acc[4], m[4];
    if (center) {
        for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
        for (long i = 0; i < full; i += 16)
            for (int r = 0; r < R; r++) acc[r] = _mm512_add_ps(acc[r], _mm512_loadu_ps(x + r * ldx + i));
        for (int r = 0; r < R; r++) {
            if (tail) acc[r] = _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(tail, x + r * ldx + full));
            mean[r] = lanes_sum(acc[r]) / (float)d;
        }
    }
    for (int r = 0; r < R; r++) {
        m[r] = splat(mean[r]);
        acc[r] = _mm512_setzero_ps();
    }
    for (long i = 0; i < full; i += 16)
        for (int r = 0; r < R; r++) {
            const __m512 c = _mm512_sub_ps(_mm512_loadu_ps(x + r * ldx + i), m[r]);
            acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(c, c));
        }
    for (int r = 0; r < R; r++) {
        if (tail) {
            const __m512 c = _mm512_sub_ps(_mm512_mask_loadu_ps(m[r], tail, x + r * ldx + full), m[r]);
            acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(c, c));
        }
        inv[r] = 1 / sqrtf(lanes_sum(acc[r]) / (float)d + eps);
    }
    for (int r = 0; r < R; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        const __m512 iv = splat(inv[r]);
        long i = 0;
        if (beta) {
            for (; i < full; i += 16)
                _mm512_storeu_ps(yr + i, _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + i), m[r]), iv),
                                                                    _mm512_loadu_ps(gamma + i)), _mm512_loadu_ps(beta + i)));
            for (; i < d; i++) yr[i] = (xr[i] - mean[r]) * inv[r] * gamma[i] + beta[i];
        } else {
            for (; i < full; i += 16)
                _mm512_storeu_ps(yr + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + i), m[r]), iv), _mm512_loadu_ps(gamma + i)));
            for (; i < d; i++) yr[i] = (xr[i] - mean[r]) * inv[r] * gamma[i];
        }
    }
}

__attribute__((target("avx512f"))) static void norm512(const float *x, long ldx, const float *gamma, const float *beta,
                                                     float *y, long ldy, long rows, long d, float eps, int center) {
    long r = 0;
    for (; r + 4 <= rows; r += 4) norm512_rows(4, x + r * ldx, ldx, gamma, beta, y + r * ldy, ldy, d, eps, center);
    for (; r < rows; r++) norm512_rows(1, x + r * ldx, ldx, gamma, beta, y + r * ldy, ldy, d, eps, center);
}

// The 16 lanes as two halves of 8 (lanes 0–7, 8–15); R rows at once (R ≤ 4, a constant after inlining), each
// row's operations those of one row, as norm512_rows.
__attribute__((target("avx2,fma"), always_inline)) static inline void norm256_rows(
    const int R, const float *x, long ldx, const float *gamma, const float *beta, float *y, long ldy, long d,
    float eps, int center) {
    if (R > 4) __builtin_unreachable();  // the register arrays below
    const long full = d - d % 16, rest = d % 16;
    const __m256i tlo = lanes_below8(rest), thi = lanes_below8(rest - 8);
    float mean[4] = {0, 0, 0, 0}, inv[4];
    v8 lo[4], hi[4], m[4];
    if (center) {
        for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm256_setzero_ps();
        for (long i = 0; i < full; i += 16)
            for (int r = 0; r < R; r++) {
                lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(x + r * ldx + i));
                hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(x + r * ldx + i + 8));
            }
        for (int r = 0; r < R; r++) {
            if (rest) {
                lo[r] = _mm256_add_ps(lo[r], _mm256_maskload_ps(x + r * ldx + full, tlo));
                hi[r] = _mm256_add_ps(hi[r], _mm256_maskload_ps(x + r * ldx + full + 8, thi));
            }
            mean[r] = lanes_sum16(lo[r], hi[r]) / (float)d;
        }
    }
    for (int r = 0; r < R; r++) {
        m[r] = splat8(mean[r]);
        lo[r] = hi[r] = _mm256_setzero_ps();
    }
    for (long i = 0; i < full; i += 16)
        for (int r = 0; r < R; r++) {
            const v8 a = _mm256_sub_ps(_mm256_loadu_ps(x + r * ldx + i), m[r]);
            const v8 b = _mm256_sub_ps(_mm256_loadu_ps(x + r * ldx + i + 8), m[r]);
            lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(a, a));
            hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(b, b));
        }
    for (int r = 0; r < R; r++) {
        if (rest) {
            const float *xr = x + r * ldx;
            const v8 a = _mm256_sub_ps(where8(_mm256_castsi256_ps(tlo), _mm256_maskload_ps(xr + full, tlo), m[r]), m[r]);
            const v8 b = _mm256_sub_ps(where8(_mm256_castsi256_ps(thi), _mm256_maskload_ps(xr + full + 8, thi), m[r]), m[r]);
            lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(a, a));
            hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(b, b));
        }
        inv[r] = 1 / sqrtf(lanes_sum16(lo[r], hi[r]) / (float)d + eps);
    }
    for (int r = 0; r < R; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        const v8 iv = splat8(inv[r]);
        long i = 0;
        if (beta) {
            for (; i < full; i += 8)
                _mm256_storeu_ps(yr + i, _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), m[r]), iv),
                                                                    _mm256_loadu_ps(gamma + i)), _mm256_loadu_ps(beta + i)));
            for (; i < d; i++) yr[i] = (xr[i] - mean[r]) * inv[r] * gamma[i] + beta[i];
        } else {
            for (; i < full; i += 8)
                _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), m[r]), iv), _mm256_loadu_ps(gamma + i)));
            for (; i < d; i++) yr[i] = (xr[i] - mean[r]) * inv[r] * gamma[i];
        }
    }
}

F256 static void norm256(const float *x, long ldx, const float *gamma, const float *beta, float *y, long ldy,
                         long rows, long d, float eps, int center) {
    long r = 0;
    for (; r + 4 <= rows; r += 4) norm256_rows(4, x + r * ldx, ldx, gamma, beta, y + r * ldy, ldy, d, eps, center);
    for (; r < rows; r++) norm256_rows(1, x + r * ldx, ldx, gamma, beta, y + r * ldy, ldy, d, eps, center);
}
#endif

int vla_norm_rows(const float *x, long ldx, const float *gamma, const float *beta, float *y, long ldy, long rows,
                  long d, float eps, int center) {
#if defined(__x86_64__)
    if (d > 0 && vla_kernels_isa() == 2) {
        norm512(x, ldx, gamma, beta, y, ldy, rows, d, eps, center);
        return 1;
    }
    if (d > 0 && vla_kernels_isa() == 1) {
        norm256(x, ldx, gamma, beta, y, ldy, rows, d, eps, center);
        return 1;
    }
#endif
    (void)x, (void)ldx, (void)gamma, (void)beta, (void)y, (void)ldy, (void)rows, (void)d, (void)eps, (void)center;
    return 0;
}

int vla_softmax_row(const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        softmax512(x, y, n);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        softmax256(x, y, n);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        softmax_neon(x, y, n);
        return 1;
    }
#endif
    (void)x, (void)y, (void)n;
    return 0;
}

// MARK: one row of attention scores (vla_attention_row): scale, bias, mask, then the softmax above

#if defined(__x86_64__)
// Lanes `in` of x + i: ·scale, + bias, −FLT_MAX where the mask byte is 0, stored back and returned.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline __m512 attention_prep16(
    float *x, long i, __mmask16 in, float scale, const float *bias, const uint8_t *mask) {
    __m512 v = _mm512_maskz_loadu_ps(in, x + i);
    if (scale != 1) v = _mm512_mul_ps(v, splat(scale));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(in, bias + i));
    if (mask) {
        const __m128i m = _mm_maskz_loadu_epi8(in, mask + i);
        v = _mm512_mask_mov_ps(v, _mm512_mask_cmpeq_epi32_mask(in, _mm512_cvtepu8_epi32(m), _mm512_setzero_si512()),
                               splat(-__FLT_MAX__));
    }
    _mm512_mask_storeu_ps(x + i, in, v);
    return v;
}
#endif

// The same operations element by element (no contraction in this file): before the Advanced SIMD softmax, and on
// the last n mod 16 scores of a row in softmax256_group.
static void attention_prep(float *x, long n, float scale, const float *bias, const uint8_t *mask) {
    if (scale != 1)
        for (long i = 0; i < n; i++) x[i] = x[i] * scale;
    if (bias)
        for (long i = 0; i < n; i++) x[i] = x[i] + bias[i];
    if (mask)
        for (long i = 0; i < n; i++)
            if (mask[i] == 0) x[i] = -__FLT_MAX__;
}

#if defined(__x86_64__)
// vla_attention_row on AVX-512 (NR = 1), and NR rows of x (row stride ldx) side by side, so that their dependent
// max and sum chains overlap: each row's scale, bias and mask (attention_prep16) in the max pass, then softmax512's
// exp pass and e·(1/Σe), each lane's values in the same order. With out (the fused AMX head), e·(1/Σe) is rounded
// to bf16 (vla_bf16_round's rounding) straight into out's rows (stride ldout, zeros from n to padded) and x is left
// holding e: a pass over the rows fewer than vla_attention_row then vla_bf16_round. Without out, e·(1/Σe) is
// stored back into x.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void attention_rows_group(
    const int NR, float *x, long ldx, long n, float scale, const float *bias, long ldbias, const uint8_t *mask,
    long ldmask, uint16_t *out, long ldout, long padded) {
    if (NR > 4) __builtin_unreachable();  // the register arrays below
    const __m512 ninf = splat(-__builtin_inff());
    __m512 mx[4], acc[4];
    for (int r = 0; r < NR; r++) mx[r] = ninf;
    for (long i = 0; i < n; i += 16) {
        const __mmask16 in = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        for (int r = 0; r < NR; r++) {
            const __m512 v = _mm512_mask_mov_ps(ninf, in, attention_prep16(x + r * ldx, i, in, scale,
                                                                           bias ? bias + r * ldbias : NULL,
                                                                           mask ? mask + r * ldmask : NULL));
            mx[r] = _mm512_mask_mov_ps(mx[r], _mm512_cmp_ps_mask(v, mx[r], _CMP_GT_OQ), v);
        }
    }
    for (int r = 0; r < NR; r++) {
        mx[r] = splat(lanes_max(mx[r]));
        acc[r] = _mm512_setzero_ps();
    }
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int r = 0; r < NR; r++) {
            float *xr = x + r * ldx;
            const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(xr + i), mx[r]));
            _mm512_storeu_ps(xr + i, e);
            acc[r] = _mm512_add_ps(acc[r], e);
        }
    if (i < n) {
        const __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
        for (int r = 0; r < NR; r++) {
            float *xr = x + r * ldx;
            const __m512 e = _mm512_maskz_mov_ps(tail, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + i), mx[r])));
            _mm512_mask_storeu_ps(xr + i, tail, e);
            acc[r] = _mm512_add_ps(acc[r], e);
        }
    }
    for (int r = 0; r < NR; r++) acc[r] = splat(1.0f / lanes_sum(acc[r]));
    for (i = 0; i < n; i += 16) {
        const __mmask16 in = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        for (int r = 0; r < NR; r++) {
            const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(in, x + r * ldx + i), acc[r]);
            if (out) _mm256_mask_storeu_epi16(out + r * ldout + i, in, _mm512_cvtepi32_epi16(bf16_round16(p)));
            else _mm512_mask_storeu_ps(x + r * ldx + i, in, p);
        }
    }
    if (out)
        for (int r = 0; r < NR; r++)
            for (i = n; i < padded; i++) out[r * ldout + i] = 0;
}

// Groups of four rows, then the rest one by one (more rows side by side measured no faster).
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void attention_rows512(
    float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias, const uint8_t *mask,
    long ldmask, uint16_t *out, long ldout, long padded) {
    long r = 0;
    for (; r + 4 <= rows; r += 4)
        attention_rows_group(4, x + r * ldx, ldx, n, scale, bias ? bias + r * ldbias : NULL, ldbias,
                             mask ? mask + r * ldmask : NULL, ldmask, out ? out + r * ldout : NULL, ldout, padded);
    for (; r < rows; r++)
        attention_rows_group(1, x + r * ldx, ldx, n, scale, bias ? bias + r * ldbias : NULL, ldbias,
                             mask ? mask + r * ldmask : NULL, ldmask, out ? out + r * ldout : NULL, ldout, padded);
}

void vla_attention_rows_bf16_avx512(float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias,
                                    const uint8_t *mask, long ldmask, uint16_t *out, long ldout, long padded) {
    attention_rows512(x, ldx, rows, n, scale, bias, ldbias, mask, ldmask, out, ldout, padded);
}

// vla_attention_row on AVX2 (rows = 1): attention_prep's operations, then softmax256's, on four rows side by side,
// the rest one by one (two side by side measured slower than four).
F256 static void attention_rows256(float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias,
                                   const uint8_t *mask, long ldmask) {
    long r = 0;
    for (; r + 4 <= rows; r += 4)
        softmax256_group(4, 1, x + r * ldx, ldx, x + r * ldx, ldx, n, scale, bias ? bias + r * ldbias : NULL, ldbias,
                         mask ? mask + r * ldmask : NULL, ldmask);
    for (; r < rows; r++)
        softmax256_group(1, 1, x + r * ldx, ldx, x + r * ldx, ldx, n, scale, bias ? bias + r * ldbias : NULL, ldbias,
                         mask ? mask + r * ldmask : NULL, ldmask);
}
#endif

int vla_attention_row(float *x, long n, float scale, const float *bias, const uint8_t *mask) {
    return vla_attention_rows(x, n, 1, n, scale, bias, 0, mask, 0);
}

int vla_attention_rows(float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias,
                       const uint8_t *mask, long ldmask) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        attention_rows512(x, ldx, rows, n, scale, bias, ldbias, mask, ldmask, NULL, 0, 0);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        attention_rows256(x, ldx, rows, n, scale, bias, ldbias, mask, ldmask);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {  // one row at a time
        for (long r = 0; r < rows; r++) {
            float *xr = x + r * ldx;
            attention_prep(xr, n, scale, bias ? bias + r * ldbias : NULL, mask ? mask + r * ldmask : NULL);
            softmax_neon(xr, xr, n);
        }
        return 1;
    }
#endif
    (void)attention_prep, (void)x, (void)ldx, (void)rows, (void)n, (void)scale, (void)bias, (void)ldbias, (void)mask,
        (void)ldmask;
    return 0;
}
