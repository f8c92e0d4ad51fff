// Element-wise and row-wise kernels with AVX-512 (x86) or Advanced SIMD (aarch64): the same operations, in the same order, as the Swift kernels
// of VLARuntime (VectorMath+Unsafe.swift, Kernels+Unsafe.swift), so results are bit-identical to them. No
// floating-point contraction here: every product and sum below is a separate IEEE operation, like Swift's (the
// pragma for clang; gcc builds of this file need -ffp-contract=off, as Tests/aarch64/Makefile passes).
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

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f"), always_inline)) static inline

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
#elif defined(__aarch64__)
#include <arm_neon.h>

// MARK: aarch64 Advanced SIMD: VectorMath's functions on 4 lanes (each lane on its own, as in Swift's 16)

#define TN __attribute__((always_inline)) static inline
typedef float32x4_t v4;

TN v4 dup(float f) { return vdupq_n_f32(f); }
TN v4 madd4(v4 p, v4 r, float c) { return vaddq_f32(vmulq_f32(p, r), dup(c)); }
// where(mask, a, b): a in the lanes where mask is set, else b (Swift's replacing(with: a, where: mask) on b).
TN v4 where(uint32x4_t mask, v4 a, v4 b) { return vbslq_f32(mask, a, b); }

TN v4 exp4(v4 x) {
    const float log2e = bits(0x3fb8aa3b), ln2Hi = bits(0x3f317200), ln2Lo = bits(0x35bfbe8e);
    const float lo = bits(0xc2aeac50), hi = bits(0x42b17218), magic = 12582912.0f;
    v4 xc = where(vcltq_f32(x, dup(lo)), dup(lo), x);
    xc = where(vcgtq_f32(xc, dup(hi)), dup(hi), xc);
    const v4 shifted = vaddq_f32(vmulq_f32(xc, dup(log2e)), dup(magic));
    const v4 n = vsubq_f32(shifted, dup(magic));
    v4 r = vsubq_f32(xc, vmulq_f32(n, dup(ln2Hi)));
    r = vsubq_f32(r, vmulq_f32(n, dup(ln2Lo)));
    v4 p = dup(1.0f / 5040);
    p = madd4(p, r, 1.0f / 720);
    p = madd4(p, r, 1.0f / 120);
    p = madd4(p, r, 1.0f / 24);
    p = madd4(p, r, 1.0f / 6);
    p = madd4(p, r, 0.5f);
    p = madd4(p, r, 1.0f);
    p = madd4(p, r, 1.0f);
    const int32x4_t ni = vshrq_n_s32(vshlq_n_s32(vreinterpretq_s32_f32(shifted), 10), 10);
    const int32x4_t half = vshrq_n_s32(ni, 1);
    const int32x4_t k127 = vdupq_n_s32(127);
    const v4 f1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half, k127), 23));
    const v4 f2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, half), k127), 23));
    v4 y = vmulq_f32(vmulq_f32(p, f1), f2);
    y = where(vcltq_f32(x, dup(lo)), dup(0.0f), y);
    y = where(vcgtq_f32(x, dup(hi)), dup(__builtin_inff()), y);
    return y;
}

TN v4 abs4(v4 x) { return where(vcltq_f32(x, dup(0.0f)), vnegq_f32(x), x); }
TN uint32x4_t is_nan4(v4 x) { return vmvnq_u32(vceqq_f32(x, x)); }

TN v4 tanh4(v4 x) {
    const v4 a = abs4(x);
    const v4 t = exp4(vmulq_f32(dup(-2.0f), a));
    v4 big = vdivq_f32(vsubq_f32(dup(1.0f), t), vaddq_f32(dup(1.0f), t));
    big = where(vcgtq_f32(a, dup(bits(0x4111999a))), dup(1.0f), big);
    const v4 s = vmulq_f32(x, x);
    v4 p = dup((float)(-929569.0 / 638512875.0));
    p = madd4(p, s, 21844.0f / 6081075);
    p = madd4(p, s, -1382.0f / 155925);
    p = madd4(p, s, 62.0f / 2835);
    p = madd4(p, s, -17.0f / 315);
    p = madd4(p, s, 2.0f / 15);
    p = madd4(p, s, -1.0f / 3);
    const v4 small = vaddq_f32(x, vmulq_f32(vmulq_f32(x, s), p));
    v4 y = where(vcltq_f32(x, dup(0.0f)), vnegq_f32(big), big);
    y = where(vcltq_f32(a, dup(bits(0x3ecccccd))), small, y);
    return where(is_nan4(x), x, y);
}

TN v4 erf4(v4 x) {
    const v4 a = abs4(x);
    const v4 t = vdivq_f32(dup(1.0f), vaddq_f32(dup(1.0f), vmulq_f32(dup(bits(0x3ea7ba05)), a)));
    v4 p = dup(bits(0x3f87dc22));
    p = madd4(p, t, bits(0xbfba00e3));
    p = madd4(p, t, bits(0x3fb5f0e3));
    p = madd4(p, t, bits(0xbe91a98e));
    p = madd4(p, t, bits(0x3e827906));
    p = vmulq_f32(p, t);
    v4 y = vsubq_f32(dup(1.0f), vmulq_f32(p, exp4(vnegq_f32(vmulq_f32(a, a)))));
    y = where(vcltq_f32(x, dup(0.0f)), vnegq_f32(y), y);
    const v4 s = vmulq_f32(x, x);
    v4 q = dup(-1.0f / 75600);
    q = madd4(q, s, 1.0f / 9360);
    q = madd4(q, s, -1.0f / 1320);
    q = madd4(q, s, 1.0f / 216);
    q = madd4(q, s, -1.0f / 42);
    q = madd4(q, s, 1.0f / 10);
    q = madd4(q, s, -1.0f / 3);
    q = madd4(q, s, 1.0f);
    const v4 series = vmulq_f32(vmulq_f32(dup(bits(0x3f906ebb)), x), q);
    y = where(vcltq_f32(a, dup(bits(0x3f19999a))), series, y);
    return where(is_nan4(x), x, y);
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
            const v4 e = exp4(vsubq_f32(vld1q_f32(x + i + 4 * v), m));
            vst1q_f32(y + i + 4 * v, e);
            acc[v] = vaddq_f32(acc[v], e);
        }
    if (tail > 0) {
        for (int l = 0; l < 16; l++) part[l] = l < tail ? x[i + l] : 0.0f;
        for (int v = 0; v < 4; v++) {
            v4 e = exp4(vsubq_f32(vld1q_f32(part + 4 * v), m));
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
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        for (long r = 0; r < rows; r++) unary_neon(kind, param, y + r * ldy, y + r * ldy, cols);
        return 1;
    }
#endif
    (void)kind, (void)param, (void)y, (void)ldy, (void)rows, (void)cols;
    return 0;
}

int vla_softmax_row(const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        softmax512(x, y, n);
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
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void attention_prep512(float *x, long n, float scale,
                                                                          const float *bias, const uint8_t *mask) {
    const __m512 sc = splat(scale), lowest = splat(-__FLT_MAX__);
    long i = 0;
    for (; i < n; i += 16) {
        const __mmask16 in = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(in, x + i);
        if (scale != 1) v = _mm512_mul_ps(v, sc);
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(in, bias + i));
        if (mask) {
            const __m128i m = _mm_maskz_loadu_epi8(in, mask + i);
            v = _mm512_mask_mov_ps(v, _mm512_mask_cmpeq_epi32_mask(in, _mm512_cvtepu8_epi32(m), _mm512_setzero_si512()), lowest);
        }
        _mm512_mask_storeu_ps(x + i, in, v);
    }
}
#endif

// The same operations element by element (no contraction in this file), for Advanced SIMD's softmax.
static void attention_prep(float *x, long n, float scale, const float *bias, const uint8_t *mask) {
    if (scale != 1)
        for (long i = 0; i < n; i++) x[i] = x[i] * scale;
    if (bias)
        for (long i = 0; i < n; i++) x[i] = x[i] + bias[i];
    if (mask)
        for (long i = 0; i < n; i++)
            if (mask[i] == 0) x[i] = -__FLT_MAX__;
}

int vla_attention_row(float *x, long n, float scale, const float *bias, const uint8_t *mask) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        attention_prep512(x, n, scale, bias, mask);
        softmax512(x, x, n);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        attention_prep(x, n, scale, bias, mask);
        softmax_neon(x, x, n);
        return 1;
    }
#endif
    (void)attention_prep, (void)x, (void)n, (void)scale, (void)bias, (void)mask;
    return 0;
}
