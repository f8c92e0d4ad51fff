// Reduced-precision matrix products: int8 (linear_i8) and bf16 (linear_bf16). See include/vla_kernels.h
// ("MARK: reduced precision") for the layouts and the exact numerics every path follows.
//
// int8: 4 = AMX (tdpbssd, signed × signed: no correction), 3 = AVX-512 VNNI (vpdpbusd: activations made
//       unsigned by +128, corrected with the packed column sums), 2 = AVX-512BW (vpmaddubsw on |q| and ±w, then
//       vpmaddwd), 1 = AVX2 (the same with vpsignb; vpdpbusd on ymm where the CPU has AVX-VNNI), 0 = portable.
// bf16: 4 = AMX (tdpbf16ps: its own order of sums, see vla_kernels.h), 3 = AVX-512 BF16 (vdpbf16ps),
//       2 = AVX-512F (bf16 widened to f32 on load, two fmas per pair), 1 = AVX2 + FMA (the same at 256 bits),
//       0 = portable C.
// aarch64: int8 3 = i8mm (SMMLA), 2 = dot product (SDOT), 1 = Advanced SIMD (SMULL + SADALP); bf16 3 = BFMMLA,
//       2 = BFDOT (FEAT_BF16: both follow the architecture's BFDotAdd, round to odd with flushed denormals, a
//       rule of their own stated in vla_kernels.h, as AMX's path 4 on x86), 1 = Advanced SIMD (bf16 widened to
//       f32, two fmla per pair, as path 2 on x86). Quantization runs on Advanced SIMD at every level ≥ 1,
//       bf16 rounding the portable code (which clang vectorizes).
// Integer sums are exact, so the int8 paths differ only in how they reach the same int32; all float steps
// (conversion, scale product, fma, epilogue) are the same IEEE operations in every path.
// Zero-point activations (vla_q8_quantize_zp, vla_q8_gemm_zp; linear_i8 flag bit 0, format 1.4) reuse every
// int8 path: rows are stored as u − 128 in [−128, 127] and each path adds zc[i]·colsum[j] (zc = 128 − z) to its
// exact sum before the same epilogue (VNNI: after its own −128·colsum).
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "vla_kernels.h"
#include "internal.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__)
#include <arm_neon.h>
#include "arm_features.h"
#endif

static inline long ceil_to(long x, long m) { return (x + m - 1) / m * m; }
static inline long min_l(long a, long b) { return a < b ? a : b; }
__attribute__((unused)) static inline int32_t load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// MARK: layouts

size_t vla_q8_packed_bytes(long k, long n) {
    const long panels = ceil_to(n, 16) / 16, groups = ceil_to(k, 4) / 4;
    return (size_t)(panels * groups * 64 + panels * 16 * 4);
}

void vla_q8_pack(long k, long n, const int8_t *w, long ldw, void *packed) {
    const long panels = ceil_to(n, 16) / 16, groups = ceil_to(k, 4) / 4, pstride = groups * 64;
    int8_t *dst = packed;
    memset(packed, 0, vla_q8_packed_bytes(k, n));
    int32_t *colsum = (int32_t *)(dst + panels * pstride);
    for (long p = 0; p < k; p++)
        for (long j = 0; j < n; j++) {
            const int8_t v = w[p * ldw + j];
            dst[(j / 16) * pstride + (p / 4) * 64 + (j % 16) * 4 + p % 4] = v;
            colsum[j] += v;
        }
}

long vla_q8_row_stride(long k) { return ceil_to(k, 64); }

size_t vla_bf16_packed_bytes(long k, long n) {
    const long panels = ceil_to(n, 16) / 16, pairs = ceil_to(k, 2) / 2;
    return (size_t)(panels * pairs * 64);
}

void vla_bf16_pack(long k, long n, const uint16_t *w, long ldw, void *packed) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;  // in uint16_t
    uint16_t *dst = packed;
    memset(packed, 0, vla_bf16_packed_bytes(k, n));
    for (long p = 0; p < k; p++)
        for (long j = 0; j < n; j++) dst[(j / 16) * pstride + (p / 2) * 32 + (j % 16) * 2 + p % 2] = w[p * ldw + j];
}

long vla_bf16_row_stride(long k) { return ceil_to(k, 32); }

// MARK: path choice

#if defined(__x86_64__)
// AMX (path 4): bit 0 = the int8 tiles (AMX-TILE + AMX-INT8), bit 1 = the bf16 tiles (AMX-TILE + AMX-BF16),
// each only where the CPU has it (CPUID leaf 7: EDX bits 24, 25, 22) and the kernel lets this process use the
// tile data: Linux requires arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) once per process (for all its
// threads) before the first tile instruction, which otherwise raises SIGILL. The request is checked, and then
// ARCH_GET_XCOMP_PERM must show the feature; a refusal (an old kernel, or a sigaltstack too small for the tile
// state: ENOSPC) leaves paths 3 and below. Asked once; a race between first uses asks twice (harmless).
#define VLA_ARCH_GET_XCOMP_PERM 0x1022
#define VLA_ARCH_REQ_XCOMP_PERM 0x1023
#define VLA_XFEATURE_XTILEDATA 18
static volatile int amx_state = -1;

static int amx_usable(void) {
    int state = amx_state;
    if (state >= 0) return state;
    state = 0;
#if defined(__linux__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1)) {
        const int bits = (int)(d >> 25 & 1) | (int)(d >> 22 & 1) << 1;
        unsigned long perm = 0;
        if (bits && syscall(SYS_arch_prctl, VLA_ARCH_REQ_XCOMP_PERM, VLA_XFEATURE_XTILEDATA) == 0 &&
            syscall(SYS_arch_prctl, VLA_ARCH_GET_XCOMP_PERM, &perm) == 0 && (perm >> VLA_XFEATURE_XTILEDATA & 1))
            state = bits;
    }
#endif
    amx_state = state;
    return state;
}

static int q8_supported(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        if (__builtin_cpu_supports("avx512vnni")) return amx_usable() & 1 ? 4 : 3;
        return 2;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
static int bf16_supported(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16")) return amx_usable() & 2 ? 4 : 3;
        return 2;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
#elif defined(__aarch64__)
static int q8_supported(void) {
    const int f = vla_arm_features();
    if (!(f & VLA_ARM_ASIMD)) return 0;
    if (!(f & VLA_ARM_DOTPROD)) return 1;
    return f & VLA_ARM_I8MM ? 3 : 2;  // (path 3 uses SDOT for single rows)
}
static int bf16_supported(void) {
    const int f = vla_arm_features();
    return !(f & VLA_ARM_ASIMD) ? 0 : f & VLA_ARM_BF16 ? 3 : 1;
}
#else
static int q8_supported(void) { return 0; }
static int bf16_supported(void) { return 0; }
#endif

// -1 until first use (see gemm.c: a race between first uses writes the same value twice).
static volatile int q8_chosen = -1, bf16_chosen = -1;

// aarch64: SMMLA (path 3) is the default where i8mm exists: its tiles execute ~0.75× the instructions of the SDOT
// tiles on DINOv2's shapes (Docs/Deploying.md); all paths give the same bits.
int vla_q8_isa(void) {
    int isa = q8_chosen;
    if (isa < 0) q8_chosen = isa = q8_supported();
    return isa;
}

// vdpbf16ps runs at half the f32 FMA rate in flops on the Intel CPUs measured: path 3 only when forced. AMX
// (path 4) is several times faster than path 2 on every shape measured: the default wherever it is usable.
// aarch64: the best path (BFMMLA where FEAT_BF16 exists: fewest instructions, Docs/Deploying.md).
int vla_bf16_isa(void) {
    int isa = bf16_chosen;
    if (isa < 0) {
        isa = bf16_supported();
#if defined(__x86_64__)
        isa = isa == 3 ? 2 : isa;
#endif
        bf16_chosen = isa;
    }
    return isa;
}

int vla_q8_force_isa(int isa) {
    const int best = q8_supported();
    q8_chosen = isa < 0 ? 0 : isa > best ? best : isa;
    return q8_chosen;
}

#if defined(__x86_64__)
static int avx_vnni_supported(void) {
    unsigned a, b, c, d;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
           (a >> 4 & 1);
}
#else
static int avx_vnni_supported(void) { return 0; }
#endif

// -1 until first use, as q8_chosen.
static volatile int q8_vnni256 = -1;

int vla_q8_avx_vnni(void) {
    int on = q8_vnni256;
    if (on < 0) q8_vnni256 = on = avx_vnni_supported();
    return on;
}

int vla_q8_force_avx_vnni(int on) {
    q8_vnni256 = on && avx_vnni_supported();
    return q8_vnni256;
}

int vla_bf16_force_isa(int isa) {
    const int best = bf16_supported();
    bf16_chosen = isa < 0 ? 0 : isa > best ? best : isa;
    return bf16_chosen;
}

// MARK: portable C (the reference the other paths equal bit for bit)

// Quantization of one value given inv = 127 / a: clamp (a NaN product falls to −127), then round half to even.
static inline int8_t q8_value(float x, float inv) {
    const float v = x * inv;
    float t = v > -127.0f ? v : -127.0f;  // NaN -> −127, as _mm512_max_ps(v, −127)
    t = t < 127.0f ? t : 127.0f;
    return (int8_t)(int)__builtin_rintf(t);  // round half to even (the default rounding mode)
}

static inline void q8_row_scale(float a, float *inv, float *s) {
    *inv = a > 0 ? 127.0f / a : 0.0f;
    *s = a / 127.0f;
}

static void q8_quantize_portable(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s) {
    const long padded = vla_q8_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        float a = 0;
        for (long p = 0; p < k; p++) {
            const float v = fabsf(xr[p]);
            a = v > a ? v : a;  // NaN skipped, as _mm512_max_ps(v, a)
        }
        float inv;
        q8_row_scale(a, &inv, &s[i]);
        for (long p = 0; p < k; p++) qr[p] = q8_value(xr[p], inv);
        for (long p = k; p < padded; p++) qr[p] = 0;
    }
}

// acc + zc·colsum in two's complement, as the vector paths' 32-bit lanes compute it: the true sum fits in int32
// for k ≤ 65,536 (the format's limit with zero points), and a direct caller past it gets the same wrapped value on
// every path instead of C's undefined signed overflow.
static inline int32_t q8z_add(int32_t acc, int32_t zc, int32_t colsum) {
    return (int32_t)((uint32_t)acc + (uint32_t)zc * (uint32_t)colsum);
}

// Asymmetric (zero-point) quantization, vla_q8_quantize_zp. The row's range [lo, hi] (lo = min(0, min x),
// hi = max(0, max x), NaN skipped) gives r = hi − lo, inv = r > 0 ? 255/r : 0, s = r/255 and the zero point
// z = round_half_even(min(max(−lo·inv, 0), 255)) (a NaN product becomes 0); then
// q = round_half_even(min(max(x·inv, −z), 255 − z)) + z in [0, 255] (a NaN product becomes −z, so q = 0).
// Clamping to the integers −z and 255 − z before rounding equals clamping after it. q is stored as the int8
// q − 128 and zc = 128 − z, so that Σ_p (q − z)·w = Σ_p (q − 128)·w + zc·Σ_p w (the products' int8 shape stays).
static inline void q8z_row_params(float lo, float hi, float *inv, float *s, float *zf) {
    const float r = hi - lo;
    *inv = r > 0 ? 255.0f / r : 0.0f;
    *s = r / 255.0f;
    const float v = -lo * *inv;
    float t = v > 0.0f ? v : 0.0f;  // NaN -> 0 (∞·0 when the range is infinite), as _mm512_max_ps(v, 0)
    t = t < 255.0f ? t : 255.0f;
    *zf = __builtin_rintf(t);
}

// A row's zero-point parameters from its vector lanes' partial min and max (lanes 0, 1, … folded in order, as
// the portable loop would meet them) and the scalar tail xr[p..<k]; zc = 128 − z. Every vector path ends here.
static inline void q8z_row_setup(const float *lo_lanes, const float *hi_lanes, int lanes, const float *xr, long p,
                                 long k, float *inv, float *s, int32_t *zc, float *zf) {
    float lo = 0, hi = 0;
    for (int l = 0; l < lanes; l++) {
        lo = lo_lanes[l] < lo ? lo_lanes[l] : lo;
        hi = hi_lanes[l] > hi ? hi_lanes[l] : hi;
    }
    for (; p < k; p++) {
        const float v = xr[p];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    q8z_row_params(lo, hi, inv, s, zf);
    *zc = 128 - (int32_t)*zf;
}

static inline int8_t q8z_value(float x, float inv, float zf) {
    const float v = x * inv, lo = -zf, hi = 255.0f - zf;
    float t = v > lo ? v : lo;  // NaN -> −z, as _mm512_max_ps(v, −z)
    t = t < hi ? t : hi;
    return (int8_t)((int)__builtin_rintf(t) + (int)zf - 128);
}

static void q8z_quantize_portable(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s,
                                  int32_t *zc) {
    const long padded = vla_q8_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        float lo = 0, hi = 0;
        for (long p = 0; p < k; p++) {
            const float v = xr[p];
            lo = v < lo ? v : lo;  // NaN skipped, as _mm512_min_ps(v, lo)
            hi = v > hi ? v : hi;
        }
        float inv, zf;
        q8z_row_params(lo, hi, &inv, &s[i], &zf);
        zc[i] = 128 - (int32_t)zf;
        for (long p = 0; p < k; p++) qr[p] = q8z_value(xr[p], inv, zf);
        for (long p = k; p < padded; p++) qr[p] = 0;
    }
}

// The column sums of a packed matrix (after its panels).
static inline const int32_t *q8_colsum(const void *packed, long k, long n) {
    return (const int32_t *)((const int8_t *)packed + ceil_to(n, 16) / 16 * (ceil_to(k, 4) / 4 * 64));
}

// y[i, j] from the exact sum, as every path computes it.
static inline float q8_out(int32_t acc, float si, float wsj, float bj, const float *mul, const float *addrow, long j) {
    float v = __builtin_fmaf((float)acc, si * wsj, bj);
    if (mul) v = v * mul[j];
    if (addrow) v = v + addrow[j];
    return v;
}

static void q8_gemm_portable(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s,
                             const int32_t *zc, const void *packed, long n, const float *wscale, const float *bias,
                             const float *mul, const float *add, long ldadd, float *y, long ldy) {
    const long groups = ceil_to(k, 4) / 4, pstride = groups * 64;
    const int32_t *colsum = q8_colsum(packed, k, n);
    for (long j0 = n0; j0 < n1; j0 += 16) {
        const int8_t *panel = (const int8_t *)packed + (j0 / 16) * pstride;
        const long cols = min_l(16, n1 - j0);
        for (long i = 0; i < m; i++) {
            const int8_t *qr = q + i * ldq;
            int32_t acc[16] = {0};
            for (long g = 0; g < groups; g++) {  // (a shape compilers vectorize: 16 lanes, 4 strided loads)
                const int8_t *wg = panel + g * 64;
                const int32_t x0 = qr[4 * g], x1 = qr[4 * g + 1], x2 = qr[4 * g + 2], x3 = qr[4 * g + 3];
                for (int c = 0; c < 16; c++)
                    acc[c] += x0 * wg[4 * c] + x1 * wg[4 * c + 1] + x2 * wg[4 * c + 2] + x3 * wg[4 * c + 3];
            }
            for (long c = 0; c < cols; c++) {
                const long j = j0 + c;
                const int32_t a = zc ? q8z_add(acc[c], zc[i], colsum[j]) : acc[c];
                y[i * ldy + j] = q8_out(a, s[i], wscale[j], bias ? bias[j] : 0.0f, mul,
                                        add ? add + i * ldadd : NULL, j);
            }
        }
    }
}

static inline float bf16_to_f32(uint16_t h) {
    const uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);  // NaN: quiet, sign and payload top
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
}

static void bf16_round_portable(long m, long k, const float *x, long ldx, uint16_t *xb, long ldxb) {
    const long padded = vla_bf16_row_stride(k);
    for (long i = 0; i < m; i++) {
        for (long p = 0; p < k; p++) xb[i * ldxb + p] = f32_to_bf16(x[i * ldx + p]);
        for (long p = k; p < padded; p++) xb[i * ldxb + p] = 0;
    }
}

static void bf16_gemm_portable(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed,
                               long n, const float *bias, const float *mul, const float *add, long ldadd, float *y,
                               long ldy) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;
    (void)n;
    for (long j0 = n0; j0 < n1; j0 += 16) {
        const uint16_t *panel = (const uint16_t *)packed + (j0 / 16) * pstride;
        const long cols = min_l(16, n1 - j0);
        for (long i = 0; i < m; i++) {
            const uint16_t *xr = xb + i * ldxb;
            float acc[16];
            for (int c = 0; c < 16; c++) acc[c] = bias && c < cols ? bias[j0 + c] : 0.0f;
            for (long t = 0; t < pairs; t++) {
                const float xe = bf16_to_f32(xr[2 * t]), xo = bf16_to_f32(xr[2 * t + 1]);
                const uint16_t *wt = panel + t * 32;
                for (int c = 0; c < 16; c++) {
                    acc[c] = __builtin_fmaf(xo, bf16_to_f32(wt[2 * c + 1]), acc[c]);
                    acc[c] = __builtin_fmaf(xe, bf16_to_f32(wt[2 * c]), acc[c]);
                }
            }
            for (long c = 0; c < cols; c++) {
                const long j = j0 + c;
                float v = acc[c];
                if (mul) v = v * mul[j];
                if (add) v = v + add[i * ldadd + j];
                y[i * ldy + j] = v;
            }
        }
    }
}

#if defined(__x86_64__)

// MARK: quantization and rounding, AVX-512 and AVX2 (the same operations as the portable code)

#define T512Q __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline

T512Q __m512i q8_quant16(__m512 x, __m512 inv) {
    __m512 t = _mm512_max_ps(_mm512_mul_ps(x, inv), _mm512_set1_ps(-127.0f));  // NaN -> −127 (second operand)
    t = _mm512_min_ps(t, _mm512_set1_ps(127.0f));
    return _mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void q8_quantize512(long m, long k, const float *x, long ldx,
                                                                      int8_t *q, long ldq, float *s) {
    const long padded = vla_q8_row_stride(k);
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        __m512 a16 = _mm512_setzero_ps();
        long p = 0;
        for (; p + 16 <= k; p += 16) a16 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xr + p)), a16);
        if (p < k) a16 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(tail, xr + p)), a16);
        float a = 0;  // lanes hold no NaN and no −0: any order of max gives the same value
        for (int l = 0; l < 16; l++) a = a16[l] > a ? a16[l] : a;
        float inv;
        q8_row_scale(a, &inv, &s[i]);
        const __m512 iv = _mm512_set1_ps(inv);
        for (p = 0; p + 16 <= k; p += 16) _mm_storeu_si128((__m128i *)(qr + p), _mm512_cvtepi32_epi8(q8_quant16(_mm512_loadu_ps(xr + p), iv)));
        if (p < k) _mm_mask_storeu_epi8(qr + p, tail, _mm512_cvtepi32_epi8(q8_quant16(_mm512_maskz_loadu_ps(tail, xr + p), iv)));
        for (p = k; p < padded; p++) qr[p] = 0;
    }
}

#define T256Q __attribute__((target("avx2"), always_inline)) static inline

T256Q __m256i q8_quant8(__m256 x, __m256 inv) {
    __m256 t = _mm256_max_ps(_mm256_mul_ps(x, inv), _mm256_set1_ps(-127.0f));  // NaN -> −127 (second operand)
    t = _mm256_min_ps(t, _mm256_set1_ps(127.0f));
    return _mm256_cvtps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

__attribute__((target("avx2"))) static void q8_quantize256(long m, long k, const float *x, long ldx, int8_t *q,
                                                            long ldq, float *s) {
    const long padded = vla_q8_row_stride(k);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        __m256 a8 = _mm256_setzero_ps();
        long p = 0;
        for (; p + 8 <= k; p += 8) a8 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xr + p), absmask), a8);
        float a = 0;
        for (int l = 0; l < 8; l++) a = a8[l] > a ? a8[l] : a;
        for (; p < k; p++) {
            const float v = fabsf(xr[p]);
            a = v > a ? v : a;
        }
        float inv;
        q8_row_scale(a, &inv, &s[i]);
        const __m256 iv = _mm256_set1_ps(inv);
        for (p = 0; p + 8 <= k; p += 8) {
            const __m256i v = q8_quant8(_mm256_loadu_ps(xr + p), iv);  // 8 int32 in [−127, 127]
            const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            _mm_storel_epi64((__m128i *)(qr + p), _mm_packs_epi16(w, w));
        }
        for (; p < k; p++) qr[p] = q8_value(xr[p], inv);
        for (p = k; p < padded; p++) qr[p] = 0;
    }
}

// Asymmetric quantization (q8z_quantize_portable's operations). The range's lanes start at +0 and take a value only
// where it is below (above) them, so they hold no NaN; a −0 lane cannot change r, z or q, so any order of min and
// max gives the portable bits.
T512Q __m512i q8z_quant16(__m512 x, __m512 inv, __m512 lo, __m512 hi, __m512i off) {
    __m512 t = _mm512_max_ps(_mm512_mul_ps(x, inv), lo);  // NaN -> −z (second operand)
    t = _mm512_min_ps(t, hi);
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), off);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void q8z_quantize512(long m, long k, const float *x,
                                                                                  long ldx, int8_t *q, long ldq,
                                                                                  float *s, int32_t *zc) {
    const long padded = vla_q8_row_stride(k);
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        // Four independent chains, joined afterwards (any order of min and max gives the same bits: above).
        __m512 lo16 = _mm512_setzero_ps(), hi16 = _mm512_setzero_ps();
        __m512 lo[3] = {lo16, lo16, lo16}, hi[3] = {hi16, hi16, hi16};
        long p = 0;
        for (; p + 64 <= k; p += 64) {
            const __m512 v0 = _mm512_loadu_ps(xr + p), v1 = _mm512_loadu_ps(xr + p + 16);
            const __m512 v2 = _mm512_loadu_ps(xr + p + 32), v3 = _mm512_loadu_ps(xr + p + 48);
            lo16 = _mm512_min_ps(v0, lo16);  // NaN -> the second operand
            hi16 = _mm512_max_ps(v0, hi16);
            lo[0] = _mm512_min_ps(v1, lo[0]);
            hi[0] = _mm512_max_ps(v1, hi[0]);
            lo[1] = _mm512_min_ps(v2, lo[1]);
            hi[1] = _mm512_max_ps(v2, hi[1]);
            lo[2] = _mm512_min_ps(v3, lo[2]);
            hi[2] = _mm512_max_ps(v3, hi[2]);
        }
        for (int c = 0; c < 3; c++) {
            lo16 = _mm512_min_ps(lo[c], lo16);
            hi16 = _mm512_max_ps(hi[c], hi16);
        }
        for (; p + 16 <= k; p += 16) {
            const __m512 v = _mm512_loadu_ps(xr + p);
            lo16 = _mm512_min_ps(v, lo16);
            hi16 = _mm512_max_ps(v, hi16);
        }
        if (p < k) {
            const __m512 v = _mm512_maskz_loadu_ps(tail, xr + p);
            lo16 = _mm512_min_ps(v, lo16);
            hi16 = _mm512_max_ps(v, hi16);
        }
        float lanes_lo[16], lanes_hi[16], inv, zf;
        _mm512_storeu_ps(lanes_lo, lo16);
        _mm512_storeu_ps(lanes_hi, hi16);
        q8z_row_setup(lanes_lo, lanes_hi, 16, xr, k, k, &inv, &s[i], &zc[i], &zf);
        const __m512 iv = _mm512_set1_ps(inv), lov = _mm512_set1_ps(-zf), hiv = _mm512_set1_ps(255.0f - zf);
        const __m512i off = _mm512_set1_epi32((int)zf - 128);
        // 64 values at a time narrowed by two saturating packs (exact: every value is in [−128, 127]) and one
        // permute, fewer shuffle-port instructions than four vpmovdb; dword t of the packs holds values
        // 4·(t / 4)… of vector t % 4.
        const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        for (p = 0; p + 64 <= k; p += 64) {
            const __m512i a = q8z_quant16(_mm512_loadu_ps(xr + p), iv, lov, hiv, off);
            const __m512i b = q8z_quant16(_mm512_loadu_ps(xr + p + 16), iv, lov, hiv, off);
            const __m512i c = q8z_quant16(_mm512_loadu_ps(xr + p + 32), iv, lov, hiv, off);
            const __m512i d = q8z_quant16(_mm512_loadu_ps(xr + p + 48), iv, lov, hiv, off);
            const __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
            _mm512_storeu_si512(qr + p, _mm512_permutexvar_epi32(order, bytes));
        }
        for (; p + 16 <= k; p += 16)
            _mm_storeu_si128((__m128i *)(qr + p), _mm512_cvtepi32_epi8(q8z_quant16(_mm512_loadu_ps(xr + p), iv, lov, hiv, off)));
        if (p < k)
            _mm_mask_storeu_epi8(qr + p, tail, _mm512_cvtepi32_epi8(q8z_quant16(_mm512_maskz_loadu_ps(tail, xr + p), iv, lov, hiv, off)));
        for (p = k; p < padded; p++) qr[p] = 0;
    }
}

T256Q __m256i q8z_quant8(__m256 x, __m256 inv, __m256 lo, __m256 hi, __m256i off) {
    __m256 t = _mm256_max_ps(_mm256_mul_ps(x, inv), lo);  // NaN -> −z (second operand)
    t = _mm256_min_ps(t, hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), off);
}

__attribute__((target("avx2"))) static void q8z_quantize256(long m, long k, const float *x, long ldx, int8_t *q,
                                                             long ldq, float *s, int32_t *zc) {
    const long padded = vla_q8_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        __m256 lo8 = _mm256_setzero_ps(), hi8 = _mm256_setzero_ps(), lo8b = lo8, hi8b = hi8;  // two chains, as above
        long p = 0;
        for (; p + 16 <= k; p += 16) {
            const __m256 v0 = _mm256_loadu_ps(xr + p), v1 = _mm256_loadu_ps(xr + p + 8);
            lo8 = _mm256_min_ps(v0, lo8);  // NaN -> the second operand
            hi8 = _mm256_max_ps(v0, hi8);
            lo8b = _mm256_min_ps(v1, lo8b);
            hi8b = _mm256_max_ps(v1, hi8b);
        }
        lo8 = _mm256_min_ps(lo8b, lo8);
        hi8 = _mm256_max_ps(hi8b, hi8);
        for (; p + 8 <= k; p += 8) {
            const __m256 v = _mm256_loadu_ps(xr + p);
            lo8 = _mm256_min_ps(v, lo8);
            hi8 = _mm256_max_ps(v, hi8);
        }
        float lanes_lo[8], lanes_hi[8], inv, zf;
        _mm256_storeu_ps(lanes_lo, lo8);
        _mm256_storeu_ps(lanes_hi, hi8);
        q8z_row_setup(lanes_lo, lanes_hi, 8, xr, p, k, &inv, &s[i], &zc[i], &zf);
        const __m256 iv = _mm256_set1_ps(inv), lov = _mm256_set1_ps(-zf), hiv = _mm256_set1_ps(255.0f - zf);
        const __m256i off = _mm256_set1_epi32((int)zf - 128);
        for (p = 0; p + 8 <= k; p += 8) {
            const __m256i v = q8z_quant8(_mm256_loadu_ps(xr + p), iv, lov, hiv, off);  // 8 int32 in [−128, 127]
            const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            _mm_storel_epi64((__m128i *)(qr + p), _mm_packs_epi16(w, w));
        }
        for (; p < k; p++) qr[p] = q8z_value(xr[p], inv, zf);
        for (p = k; p < padded; p++) qr[p] = 0;
    }
}

__attribute__((target("avx512f"))) static void bf16_round512(long m, long k, const float *x, long ldx, uint16_t *xb,
                                                              long ldxb) {
    const long padded = vla_bf16_row_stride(k);
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        uint16_t *out = xb + i * ldxb;
        long p = 0;
        for (; p + 16 <= k; p += 16) _mm256_storeu_si256((__m256i *)(out + p), _mm512_cvtepi32_epi16(bf16_round16(_mm512_loadu_ps(xr + p))));
        if (p < k) {
            uint16_t tmp[16];
            _mm256_storeu_si256((__m256i *)tmp, _mm512_cvtepi32_epi16(bf16_round16(_mm512_maskz_loadu_ps(tail, xr + p))));
            memcpy(out + p, tmp, (size_t)(k - p) * 2);
        }
        for (p = k; p < padded; p++) out[p] = 0;
    }
}

__attribute__((target("avx2"))) static void bf16_round256(long m, long k, const float *x, long ldx, uint16_t *xb,
                                                            long ldxb) {
    const long padded = vla_bf16_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        uint16_t *out = xb + i * ldxb;
        long p = 0;
        for (; p + 8 <= k; p += 8) {
            const __m256 v = _mm256_loadu_ps(xr + p);
            const __m256i b = _mm256_castps_si256(v);
            __m256i r = _mm256_srli_epi32(
                _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1))), 16);
            const __m256i nanr = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
            r = _mm256_blendv_epi8(r, nanr, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
            // r's lanes are < 65536: packus keeps them; the 128-bit halves are then joined
            const __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
            _mm_storeu_si128((__m128i *)(out + p), h);
        }
        for (; p < k; p++) out[p] = f32_to_bf16(xr[p]);
        for (p = k; p < padded; p++) out[p] = 0;
    }
}

// MARK: int8, AVX-512 VNNI: tiles of up to 8 rows × 48 columns in 24 zmm int32 accumulators

// Groups (of 4 k values) per chunk of the activation copy: each chunk of a row tile's q is copied once,
// with 0x80 added to every byte (q + 128 as u8), into a buffer on the stack.
#define Q8_KC 256
#define Q8_MR 8
#define Q8_NV 3

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline

// A tile's output lines are written once, at its end; fetching them (and add's) into L2 when the tile starts
// keeps those stores from missing (several times faster with y 257 × 3072).
#define Q8_PREFETCH_OUT(MR, NV)                                                                               \
    for (int r = 0; r < MR; r++)                                                                              \
        for (int v = 0; v < NV; v++) {                                                                        \
            _mm_prefetch((const char *)(y + r * ldy + v * 16), _MM_HINT_T1);                                  \
            if (add) _mm_prefetch((const char *)(add + r * ldadd + v * 16), _MM_HINT_T1);                     \
        }

// The shared epilogue of the AVX-512 int8 paths: acc (exact, already corrected) -> y.
#define Q8_EPILOGUE_512(MR, NV, ACC)                                                                          \
    for (int v = 0; v < NV; v++) {                                                                            \
        const long c = cols - v * 16;                                                                         \
        const __mmask16 mk = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);                                   \
        const __m512 ws = _mm512_maskz_loadu_ps(mk, wscale + v * 16);                                         \
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + v * 16) : _mm512_setzero_ps();               \
        const __m512 mu = mul ? _mm512_maskz_loadu_ps(mk, mul + v * 16) : _mm512_setzero_ps();                \
        for (int r = 0; r < MR; r++) {                                                                        \
            const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(s[r]), ws);                                        \
            __m512 o = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ACC[r][v]), sc, b);                                 \
            if (mul) o = _mm512_mul_ps(o, mu);                                                                \
            if (add) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk, add + r * ldadd + v * 16));               \
            _mm512_mask_storeu_ps(y + r * ldy + v * 16, mk, o);                                               \
        }                                                                                                     \
    }

// Zero-point activations (zc not NULL): acc += zc[r]·colsum, making Σ (q − 128)·w the exact Σ (q − z)·w.
#define Q8_ZP_512(MR, NV, ACC)                                                                                \
    if (zc)                                                                                                   \
        for (int v = 0; v < NV; v++) {                                                                        \
            const __m512i cs = _mm512_load_si512((const void *)(colsum + v * 16));                            \
            for (int r = 0; r < MR; r++)                                                                      \
                ACC[r][v] = _mm512_add_epi32(ACC[r][v], _mm512_mullo_epi32(_mm512_set1_epi32(zc[r]), cs));    \
        }

VNNI void q8_tile_vnni(const int MR, const int NV, long groups, const int8_t *q, long ldq, const int8_t *w,
                       long pstride, const int32_t *colsum, long cols, const float *s, const int32_t *zc,
                       const float *wscale,
                       const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy,
                       uint8_t *ubuf) {
    __m512i acc[Q8_MR][Q8_NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    Q8_PREFETCH_OUT(MR, NV)
    for (long g0 = 0; g0 < groups; g0 += Q8_KC) {
        const long gc = min_l(Q8_KC, groups - g0);
        // q + 128 for this chunk (whole 64-byte lines: the row stride covers them)
        for (int r = 0; r < MR; r++)
            for (long b = 0; b < gc * 4; b += 64)
                _mm512_store_si512((__m512i *)(ubuf + r * Q8_KC * 4 + b),
                                   _mm512_xor_si512(_mm512_loadu_si512((const void *)(q + r * ldq + g0 * 4 + b)), flip));
        const int8_t *wc = w + g0 * 64;
        for (long g = 0; g < gc; g++) {
            __m512i wv[Q8_NV];
            for (int v = 0; v < NV; v++) wv[v] = _mm512_load_si512((const void *)(wc + v * pstride + g * 64));
            for (int r = 0; r < MR; r++) {
                const __m512i u = _mm512_set1_epi32(load32(ubuf + r * Q8_KC * 4 + g * 4));
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], u, wv[v]);
            }
        }
    }
    for (int v = 0; v < NV; v++) {  // Σ (q + 128)·w − 128·Σ w (modulo 2^32: the true sum fits in int32)
        const __m512i cs = _mm512_load_si512((const void *)(colsum + v * 16)), corr = _mm512_slli_epi32(cs, 7);
        for (int r = 0; r < MR; r++) acc[r][v] = _mm512_sub_epi32(acc[r][v], corr);
    }
    Q8_ZP_512(MR, NV, acc)
    Q8_EPILOGUE_512(MR, NV, acc)
}

// Dispatch over (rows, panels) of one tile: TILE(MR, NV) for MR ≤ 8 (or 6) rows and NV ≤ 3 panels.
#define Q8_NVS(TILE, R)                                                                                       \
    case R:                                                                                                   \
        switch (nv) {                                                                                         \
        case 1: TILE(R, 1); break;                                                                            \
        case 2: TILE(R, 2); break;                                                                            \
        default: TILE(R, 3); break;                                                                           \
        }                                                                                                     \
        break;
#define SWITCH_8X3(TILE)                                                                                      \
    switch (rows) {                                                                                           \
        Q8_NVS(TILE, 1) Q8_NVS(TILE, 2) Q8_NVS(TILE, 3) Q8_NVS(TILE, 4) Q8_NVS(TILE, 5) Q8_NVS(TILE, 6)       \
        Q8_NVS(TILE, 7) default: Q8_NVS(TILE, 8)                                                              \
    }
#define SWITCH_6X3(TILE)                                                                                      \
    switch (rows) {                                                                                           \
        Q8_NVS(TILE, 1) Q8_NVS(TILE, 2) Q8_NVS(TILE, 3) Q8_NVS(TILE, 4) Q8_NVS(TILE, 5)                       \
        default: Q8_NVS(TILE, 6)                                                                              \
    }

// Arguments of a tile at rows [i, i + rows) and columns [j, j + cols).
#define Q8_TILE_ARGS                                                                                          \
    groups, q + i * ldq, ldq, (const int8_t *)packed + (j / 16) * pstride, pstride, colsum + j, cols, s + i,  \
        zc ? zc + i : NULL, wscale + j, bias ? bias + j : NULL, mul ? mul + j : NULL, add ? add + i * ldadd + j : NULL, ldadd,    \
        y + i * ldy + j, ldy

#define TILE_VNNI(MR, NV) q8_tile_vnni(MR, NV, Q8_TILE_ARGS, ubuf)

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
q8_gemm_vnni(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
             const void *packed, long n,
             const float *wscale, const float *bias, const float *mul, const float *add, long ldadd, float *y,
             long ldy) {
    const long groups = ceil_to(k, 4) / 4, pstride = groups * 64;
    const int32_t *colsum = (const int32_t *)((const int8_t *)packed + ceil_to(n, 16) / 16 * pstride);
    uint8_t ubuf[Q8_MR * Q8_KC * 4] __attribute__((aligned(64)));
    // Column blocks of 48 outside, row tiles inside: a block's weights (k × 48 bytes) stay in L2 while every
    // row tile passes over them.
    for (long j = n0; j < n1; j += 16 * Q8_NV) {
        const long cols = min_l(16 * Q8_NV, n1 - j);
        const int nv = (int)((cols + 15) / 16);
        for (long i = 0; i < m; i += Q8_MR) {
            const long rows = min_l(Q8_MR, m - i);
            SWITCH_8X3(TILE_VNNI)
        }
    }
}

// MARK: int8, AVX-512BW: |q| × (±w) with vpmaddubsw (pairs ≤ 2·128·127 = 32512 < 32767: no saturation, also for
// the −128 of zero-point activations, whose |q| is the unsigned 128), vpmaddwd to int32

#define BW512 __attribute__((target("avx512f,avx512bw"), always_inline)) static inline

BW512 void q8_tile_bw(const int MR, const int NV, long groups, const int8_t *q, long ldq, const int8_t *w,
                      long pstride, const int32_t *colsum, long cols, const float *s, const int32_t *zc,
                      const float *wscale,
                      const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    __m512i acc[Q8_MR][Q8_NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_si512();
    Q8_PREFETCH_OUT(MR, NV)
    const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
    for (long g = 0; g < groups; g++) {
        __m512i wv[Q8_NV];
        for (int v = 0; v < NV; v++) wv[v] = _mm512_load_si512((const void *)(w + v * pstride + g * 64));
        for (int r = 0; r < MR; r++) {
            const __m512i x = _mm512_set1_epi32(load32(q + r * ldq + g * 4));
            const __m512i ax = _mm512_abs_epi8(x);
            const __mmask64 neg = _mm512_movepi8_mask(x);  // w negated where q < 0: |q|·(±w) = q·w
            for (int v = 0; v < NV; v++) {
                const __m512i sw = _mm512_mask_sub_epi8(wv[v], neg, zero, wv[v]);
                acc[r][v] = _mm512_add_epi32(acc[r][v], _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sw), ones));
            }
        }
    }
    Q8_ZP_512(MR, NV, acc)
    Q8_EPILOGUE_512(MR, NV, acc)
}

#define TILE_BW(MR, NV) q8_tile_bw(MR, NV, Q8_TILE_ARGS)

__attribute__((target("avx512f,avx512bw"))) static void
q8_gemm_bw(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
           const void *packed, long n,
           const float *wscale, const float *bias, const float *mul, const float *add, long ldadd, float *y,
           long ldy) {
    const long groups = ceil_to(k, 4) / 4, pstride = groups * 64;
    const int32_t *colsum = (const int32_t *)((const int8_t *)packed + ceil_to(n, 16) / 16 * pstride);
    for (long j = n0; j < n1; j += 16 * Q8_NV) {
        const long cols = min_l(16 * Q8_NV, n1 - j);
        const int nv = (int)((cols + 15) / 16);
        for (long i = 0; i < m; i += 6) {
            const long rows = min_l(6, m - i);
            SWITCH_6X3(TILE_BW)
        }
    }
}

// MARK: int8, AVX2: tiles of up to 4 rows × 16 columns (two ymm halves), vpsignb for the sign (pair sums as
// AVX-512BW: ≤ 2·128·127, no saturation)

#define I256 __attribute__((target("avx2,fma"), always_inline)) static inline

// Zero-point activations (zc not NULL): + zc[r]·colsum (colsum holds 16 entries per panel); then acc (exact) -> y,
// the shared end of the AVX2 tiles (ACC[r][0..1]: columns 0–7 and 8–15).
#define Q8_EPILOGUE_256(MR, ACC)                                                                              \
    if (zc)                                                                                                   \
        for (int h = 0; h < 2; h++) {                                                                         \
            const __m256i cs = _mm256_loadu_si256((const __m256i *)(colsum + h * 8));                         \
            for (int r = 0; r < MR; r++)                                                                      \
                ACC[r][h] = _mm256_add_epi32(ACC[r][h], _mm256_mullo_epi32(_mm256_set1_epi32(zc[r]), cs));    \
        }                                                                                                     \
    for (int h = 0; h < 2; h++) {                                                                             \
        const __m256i mk = lanes_below8(cols - h * 8);                                                        \
        const __m256 ws = _mm256_maskload_ps(wscale + h * 8, mk);                                             \
        const __m256 b = bias ? _mm256_maskload_ps(bias + h * 8, mk) : _mm256_setzero_ps();                   \
        const __m256 mu = mul ? _mm256_maskload_ps(mul + h * 8, mk) : _mm256_setzero_ps();                    \
        for (int r = 0; r < MR; r++) {                                                                        \
            const __m256 sc = _mm256_mul_ps(_mm256_set1_ps(s[r]), ws);                                        \
            __m256 o = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ACC[r][h]), sc, b);                                 \
            if (mul) o = _mm256_mul_ps(o, mu);                                                                \
            if (add) o = _mm256_add_ps(o, _mm256_maskload_ps(add + r * ldadd + h * 8, mk));                   \
            _mm256_maskstore_ps(y + r * ldy + h * 8, mk, o);                                                  \
        }                                                                                                     \
    }

// ABS: 1 when the rows' |q| comes precomputed in aq (row stride ldaq), else 0 (one vpabsb per broadcast).
I256 void q8_tile256(const int MR, const int ABS, long groups, const int8_t *q, long ldq, const int8_t *aq, long ldaq,
                     const int8_t *w, long cols, const float *s, const int32_t *zc, const int32_t *colsum,
                     const float *wscale, const float *bias, const float *mul, const float *add, long ldadd, float *y,
                     long ldy) {
    __m256i acc[4][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    Q8_PREFETCH_OUT(MR, 1)
    const __m256i ones = _mm256_set1_epi16(1);
    for (long g = 0; g < groups; g++) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)(w + g * 64));
        const __m256i w1 = _mm256_load_si256((const __m256i *)(w + g * 64 + 32));
        for (int r = 0; r < MR; r++) {
            const __m256i x = _mm256_set1_epi32(load32(q + r * ldq + g * 4));
            const __m256i ax = ABS ? _mm256_set1_epi32(load32(aq + r * ldaq + g * 4)) : _mm256_abs_epi8(x);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)), ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)), ones));
        }
    }
    Q8_EPILOGUE_256(MR, acc)
}

// MARK: int8, AVX2 with AVX-VNNI (vpdpbusd on ymm, VEX-encoded; Intel's cores from Alder Lake on, with or
// without AVX-512): path 1's products where the CPU has it (vla_q8_force_avx_vnni). Tiles of up to 6 rows × 16
// columns in 12 ymm accumulators; q + 128 as u8 (one xor per broadcast) times w, exact int32 sums, then
// − 128·colsum as the AVX-512 VNNI path does.

#define VNNI256 __attribute__((target("avx2,fma,avxvnni"), always_inline)) static inline

VNNI256 void q8_tile256_vnni(const int MR, long groups, const int8_t *q, long ldq, const int8_t *w, long cols,
                             const float *s, const int32_t *zc, const int32_t *colsum, const float *wscale,
                             const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    __m256i acc[6][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    Q8_PREFETCH_OUT(MR, 1)
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (long g = 0; g < groups; g++) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)(w + g * 64));
        const __m256i w1 = _mm256_load_si256((const __m256i *)(w + g * 64 + 32));
        for (int r = 0; r < MR; r++) {
            const __m256i u = _mm256_xor_si256(_mm256_set1_epi32(load32(q + r * ldq + g * 4)), flip);
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], u, w0);
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], u, w1);
        }
    }
    for (int h = 0; h < 2; h++) {  // Σ (q + 128)·w − 128·Σ w (modulo 2^32: the true sum fits in int32)
        const __m256i corr = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(colsum + h * 8)), 7);
        for (int r = 0; r < MR; r++) acc[r][h] = _mm256_sub_epi32(acc[r][h], corr);
    }
    Q8_EPILOGUE_256(MR, acc)
}

__attribute__((target("avx2,fma,avxvnni"))) static void
q8_gemm256_vnni(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
                const void *packed, long n, const float *wscale, const float *bias, const float *mul,
                const float *add, long ldadd, float *y, long ldy) {
    const long groups = ceil_to(k, 4) / 4, pstride = groups * 64;
    const int32_t *colsum = q8_colsum(packed, k, n);
    for (long j = n0; j < n1; j += 16) {
        const long cols = min_l(16, n1 - j);
        const int8_t *w = (const int8_t *)packed + (j / 16) * pstride;
        for (long i = 0; i < m; i += 6) {
#define TILE256V(MR)                                                                                          \
    q8_tile256_vnni(MR, groups, q + i * ldq, ldq, w, cols, s + i, zc ? zc + i : NULL, colsum + j, wscale + j,  \
                    bias ? bias + j : NULL, mul ? mul + j : NULL, add ? add + i * ldadd + j : NULL, ldadd,     \
                    y + i * ldy + j, ldy)
            switch (min_l(6, m - i)) {
            case 1: TILE256V(1); break;
            case 2: TILE256V(2); break;
            case 3: TILE256V(3); break;
            case 4: TILE256V(4); break;
            case 5: TILE256V(5); break;
            default: TILE256V(6); break;
            }
#undef TILE256V
        }
    }
}

// |q| of a block of rows is computed once for Q8_ABS_COLS columns (4 panels) instead of once per panel: one of
// the 7 multiply-port instructions per 64 multiply-adds (vpabsb) becomes a quarter. Rows longer than Q8_ABS_K
// bytes (the stack buffer) take |q| per broadcast as before.
#define Q8_ABS_COLS 64
#define Q8_ABS_K 4096  // 16 KiB of stack: the products of DINOv2, T5 and BERT have k ≤ 3,072

__attribute__((target("avx2,fma"))) static void
q8_gemm256(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
           const void *packed, long n, const float *wscale, const float *bias, const float *mul, const float *add,
           long ldadd, float *y, long ldy) {
    const long groups = ceil_to(k, 4) / 4, pstride = groups * 64, bytes = ceil_to(groups * 4, 32);
    const int32_t *colsum = q8_colsum(packed, k, n);
    const int precomputed = bytes <= Q8_ABS_K;  // the row stride (ceil_to(k, 64)) holds `bytes` readable bytes
    int8_t aq[4 * Q8_ABS_K] __attribute__((aligned(32)));
    for (long j0 = n0; j0 < n1; j0 += precomputed ? Q8_ABS_COLS : 16) {
        const long j1 = min_l(n1, j0 + (precomputed ? Q8_ABS_COLS : 16));
        for (long i = 0; i < m; i += 4) {
            const long rows = min_l(4, m - i);
            if (precomputed)
                for (long r = 0; r < rows; r++)
                    for (long b = 0; b < bytes; b += 32)
                        _mm256_store_si256((__m256i *)(aq + r * Q8_ABS_K + b),
                                           _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)(q + (i + r) * ldq + b))));
            for (long j = j0; j < j1; j += 16) {
                const long cols = min_l(16, n1 - j);
                const int8_t *w = (const int8_t *)packed + (j / 16) * pstride;
#define TILE256Q(MR, ABS)                                                                                     \
    q8_tile256(MR, ABS, groups, q + i * ldq, ldq, aq, Q8_ABS_K, w, cols, s + i, zc ? zc + i : NULL, colsum + j,     \
               wscale + j, bias ? bias + j : NULL, mul ? mul + j : NULL, add ? add + i * ldadd + j : NULL, ldadd,  \
               y + i * ldy + j, ldy)
#define ROWS256Q(ABS)                                                                                         \
    switch (rows) {                                                                                           \
    case 1: TILE256Q(1, ABS); break;                                                                          \
    case 2: TILE256Q(2, ABS); break;                                                                          \
    case 3: TILE256Q(3, ABS); break;                                                                          \
    default: TILE256Q(4, ABS); break;                                                                         \
    }
                if (precomputed) {
                    ROWS256Q(1)
                } else {
                    ROWS256Q(0)
                }
#undef ROWS256Q
#undef TILE256Q
            }
        }
    }
}

// MARK: bf16, AVX-512 BF16 (vdpbf16ps): tiles of up to 8 rows × 48 columns in 24 zmm f32 accumulators

#define BF_MR 8
#define BF_NV 3
#define BF_KC 128  // pairs per chunk of the widened-activation buffer (paths 2 and 1)

#define BF16DP __attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline)) static inline

// Accumulators start at the bias (or 0); the epilogue of the AVX-512 bf16 paths applies mul and add.
#define BF_INIT_512(MR, NV)                                                                                   \
    for (int v = 0; v < NV; v++) {                                                                            \
        const long c = cols - v * 16;                                                                         \
        const __mmask16 mk = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);                                   \
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + v * 16) : _mm512_setzero_ps();               \
        for (int r = 0; r < MR; r++) acc[r][v] = b;                                                           \
    }
#define BF_EPILOGUE_512(MR, NV)                                                                               \
    for (int v = 0; v < NV; v++) {                                                                            \
        const long c = cols - v * 16;                                                                         \
        const __mmask16 mk = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);                                   \
        const __m512 mu = mul ? _mm512_maskz_loadu_ps(mk, mul + v * 16) : _mm512_setzero_ps();                \
        for (int r = 0; r < MR; r++) {                                                                        \
            __m512 o = acc[r][v];                                                                             \
            if (mul) o = _mm512_mul_ps(o, mu);                                                                \
            if (add) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk, add + r * ldadd + v * 16));               \
            _mm512_mask_storeu_ps(y + r * ldy + v * 16, mk, o);                                               \
        }                                                                                                     \
    }

BF16DP void bf16_tile_dp(const int MR, const int NV, long pairs, const uint16_t *xb, long ldxb, const uint16_t *w,
                         long pstride, long cols, const float *bias, const float *mul, const float *add, long ldadd,
                         float *y, long ldy) {
    __m512 acc[BF_MR][BF_NV];
    BF_INIT_512(MR, NV)
    Q8_PREFETCH_OUT(MR, NV)
    for (long t = 0; t < pairs; t++) {
        __m512i wv[BF_NV];
        for (int v = 0; v < NV; v++) wv[v] = _mm512_load_si512((const void *)(w + v * pstride + t * 32));
        for (int r = 0; r < MR; r++) {
            const __m512i x = _mm512_set1_epi32(load32(xb + r * ldxb + 2 * t));
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)wv[v], (__m512bh)x);
        }
    }
    BF_EPILOGUE_512(MR, NV)
}

#define BF_TILE_ARGS                                                                                          \
    pairs, xb + i * ldxb, ldxb, (const uint16_t *)packed + (j / 16) * pstride, pstride, cols,                 \
        bias ? bias + j : NULL, mul ? mul + j : NULL, add ? add + i * ldadd + j : NULL, ldadd, y + i * ldy + j, ldy

#define TILE_DP(MR, NV) bf16_tile_dp(MR, NV, BF_TILE_ARGS)

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
bf16_gemm_dp(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
             const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;
    (void)n;
    for (long j = n0; j < n1; j += 16 * BF_NV) {
        const long cols = min_l(16 * BF_NV, n1 - j);
        const int nv = (int)((cols + 15) / 16);
        for (long i = 0; i < m; i += BF_MR) {
            const long rows = min_l(BF_MR, m - i);
            SWITCH_8X3(TILE_DP)
        }
    }
}

// MARK: bf16, AVX-512F: bf16 widened to f32 (odd element: the high half masked; even: shifted up)

#define F512 __attribute__((target("avx512f"), always_inline)) static inline

F512 void bf16_tile512(const int MR, const int NV, long pairs, const uint16_t *xb, long ldxb, const uint16_t *w,
                       long pstride, long cols, const float *bias, const float *mul, const float *add, long ldadd,
                       float *y, long ldy, float *xf) {
    __m512 acc[BF_MR][BF_NV];
    BF_INIT_512(MR, NV)
    Q8_PREFETCH_OUT(MR, NV)
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (long t0 = 0; t0 < pairs; t0 += BF_KC) {
        const long tc = min_l(BF_KC, pairs - t0);
        for (int r = 0; r < MR; r++)
            for (long p = 0; p < 2 * tc; p += 16)
                _mm512_store_si512((__m512i *)(xf + r * 2 * BF_KC + p),
                                   _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(xb + r * ldxb + 2 * t0 + p))), 16));
        const uint16_t *wc = w + t0 * 32;
        for (long t = 0; t < tc; t++) {
            __m512 wo[BF_NV], we[BF_NV];
            for (int v = 0; v < NV; v++) {
                const __m512i wv = _mm512_load_si512((const void *)(wc + v * pstride + t * 32));
                wo[v] = _mm512_castsi512_ps(_mm512_and_si512(wv, hi));
                we[v] = _mm512_castsi512_ps(_mm512_slli_epi32(wv, 16));
            }
            for (int r = 0; r < MR; r++) {
                const __m512 xo = _mm512_set1_ps(xf[r * 2 * BF_KC + 2 * t + 1]);
                const __m512 xe = _mm512_set1_ps(xf[r * 2 * BF_KC + 2 * t]);
                for (int v = 0; v < NV; v++) {
                    acc[r][v] = _mm512_fmadd_ps(xo, wo[v], acc[r][v]);
                    acc[r][v] = _mm512_fmadd_ps(xe, we[v], acc[r][v]);
                }
            }
        }
    }
    BF_EPILOGUE_512(MR, NV)
}

#define TILE_F512(MR, NV) bf16_tile512(MR, NV, BF_TILE_ARGS, xf)

__attribute__((target("avx512f"))) static void bf16_gemm512(long m, long n0, long n1, long k, const uint16_t *xb,
                                                             long ldxb, const void *packed, long n, const float *bias,
                                                             const float *mul, const float *add, long ldadd, float *y,
                                                             long ldy) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;
    float xf[BF_MR * 2 * BF_KC] __attribute__((aligned(64)));
    (void)n;
    for (long j = n0; j < n1; j += 16 * BF_NV) {
        const long cols = min_l(16 * BF_NV, n1 - j);
        const int nv = (int)((cols + 15) / 16);
        for (long i = 0; i < m; i += BF_MR) {
            const long rows = min_l(BF_MR, m - i);
            SWITCH_8X3(TILE_F512)
        }
    }
}

// MARK: bf16, AVX2 + FMA: tiles of up to 6 rows × 16 columns (two ymm halves)
//
// Per pair t the odd elements of w (the high halves, masked) go into all rows' accumulators first, then the even
// ones (shifted up): each accumulator still sees odd(t), even(t), odd(t + 1), … as the reference order asks, and
// the two widened halves of w are live one at a time, so 12 accumulators, the two halves and a broadcast fit the
// 16 ymm registers (the widening's 4 integer operations are shared by 24 fmas instead of 16 with 4 rows).

#define F256 __attribute__((target("avx2,fma"), always_inline)) static inline
#define BF_MR256 6

F256 void bf16_tile256(const int MR, long pairs, const uint16_t *xb, long ldxb, const uint16_t *w, long cols,
                       const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy,
                       float *xf) {
    __m256 acc[BF_MR256][2];
    __m256i mk[2];
    Q8_PREFETCH_OUT(MR, 1)
    for (int h = 0; h < 2; h++) {
        mk[h] = lanes_below8(cols - h * 8);
        const __m256 b = bias ? _mm256_maskload_ps(bias + h * 8, mk[h]) : _mm256_setzero_ps();
        for (int r = 0; r < MR; r++) acc[r][h] = b;
    }
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    for (long t0 = 0; t0 < pairs; t0 += BF_KC) {
        const long tc = min_l(BF_KC, pairs - t0);
        for (int r = 0; r < MR; r++)
            for (long p = 0; p < 2 * tc; p += 8)
                _mm256_store_si256((__m256i *)(xf + r * 2 * BF_KC + p),
                                   _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(xb + r * ldxb + 2 * t0 + p))), 16));
        const uint16_t *wc = w + t0 * 32;
        for (long t = 0; t < tc; t++) {
            const __m256i *wt = (const __m256i *)(wc + t * 32);
            const __m256 wo0 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_load_si256(wt), hi));
            const __m256 wo1 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_load_si256(wt + 1), hi));
            for (int r = 0; r < MR; r++) {
                const __m256 xo = _mm256_broadcast_ss(xf + r * 2 * BF_KC + 2 * t + 1);
                acc[r][0] = _mm256_fmadd_ps(xo, wo0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(xo, wo1, acc[r][1]);
            }
            // Loaded again rather than kept from above (an opaque pointer, so the compiler cannot merge the
            // loads): keeping them would spill an accumulator.
            const __m256i *wt2 = wt;
            __asm__("" : "+r"(wt2));
            const __m256 we0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_load_si256(wt2), 16));
            const __m256 we1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_load_si256(wt2 + 1), 16));
            for (int r = 0; r < MR; r++) {
                const __m256 xe = _mm256_broadcast_ss(xf + r * 2 * BF_KC + 2 * t);
                acc[r][0] = _mm256_fmadd_ps(xe, we0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(xe, we1, acc[r][1]);
            }
        }
    }
    for (int h = 0; h < 2; h++) {
        const __m256 mu = mul ? _mm256_maskload_ps(mul + h * 8, mk[h]) : _mm256_setzero_ps();
        for (int r = 0; r < MR; r++) {
            __m256 o = acc[r][h];
            if (mul) o = _mm256_mul_ps(o, mu);
            if (add) o = _mm256_add_ps(o, _mm256_maskload_ps(add + r * ldadd + h * 8, mk[h]));
            _mm256_maskstore_ps(y + r * ldy + h * 8, mk[h], o);
        }
    }
}

__attribute__((target("avx2,fma"))) static void bf16_gemm256(long m, long n0, long n1, long k, const uint16_t *xb,
                                                              long ldxb, const void *packed, long n, const float *bias,
                                                              const float *mul, const float *add, long ldadd, float *y,
                                                              long ldy) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;
    float xf[BF_MR256 * 2 * BF_KC] __attribute__((aligned(32)));
    (void)n;
    for (long j = n0; j < n1; j += 16) {
        const long cols = min_l(16, n1 - j);
        const uint16_t *w = (const uint16_t *)packed + (j / 16) * pstride;
        for (long i = 0; i < m; i += BF_MR256) {
#define TILE256B(MR)                                                                                          \
    bf16_tile256(MR, pairs, xb + i * ldxb, ldxb, w, cols, bias ? bias + j : NULL, mul ? mul + j : NULL,       \
                 add ? add + i * ldadd + j : NULL, ldadd, y + i * ldy + j, ldy, xf)
            switch (min_l(BF_MR256, m - i)) {
            case 1: TILE256B(1); break;
            case 2: TILE256B(2); break;
            case 3: TILE256B(3); break;
            case 4: TILE256B(4); break;
            case 5: TILE256B(5); break;
            default: TILE256B(6); break;
            }
#undef TILE256B
        }
    }
}

// MARK: AMX (path 4): int8 (tdpbssd) and bf16 (tdpbf16ps) in blocks of 32 × 32 outputs (2 × 2 tiles)
//
// Tile registers: 0–3 the outputs (rows 0–15 / 16–31 × panels 0 / 1 of the block), 4–5 the activation tiles
// (16 rows × 64 bytes: 64 int8 or 32 bf16 of k, row stride ldq or 2·ldxb), 6–7 the weight tiles (16 lines of a
// packed panel, 1 KiB: 64 k of int8 or 32 k of bf16; the packed layout is the tiles' "VNNI" layout). Each call
// loads its own configuration (palette 1) and ends with tilerelease, so no tile state outlives a call and every
// thread configures its own. A k tail shorter than a tile reads the weights from a zero-padded copy (a tile never
// reads past a panel); a row tail (fewer than 32 rows) gets a configuration with fewer tile rows (never past the
// last row of q / xb). The activation tiles read each row up to the row stride (k rounded up to 64 int8 or 32
// bf16), whose padding vla_q8_quantize / vla_bf16_round write as zeros. A block's sums are stored to a buffer
// and its epilogue (AVX-512) reads them from there. (Running that epilogue in slices between the next block's
// tile instructions measured no faster here: the tile loads from L2 are what bounds this loop.)

#define AMX_FN __attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8,amx-bf16")))
#define AMX_INLINE AMX_FN __attribute__((always_inline)) static inline

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) amx_config;

// Outputs and activations of the block's first 16 rows get rows0 tile rows, those of the next 16 rows1 (0: unused).
AMX_INLINE void amx_configure(amx_config *cfg, int rows0, int rows1) {
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    const int rows[8] = {rows0, rows0, rows1, rows1, rows0, rows1, 16, 16};
    for (int t = 0; t < 8; t++)
        if (rows[t] > 0) {
            cfg->rows[t] = (uint8_t)rows[t];
            cfg->colsb[t] = 64;
        }
    _tile_loadconfig(cfg);
}

// What the epilogue needs (y, add and the vectors point at row 0, column 0).
typedef struct {
    const float *s, *wscale, *bias, *mul, *add;
    const int32_t *zc, *colsum;  // zero-point activations: acc + zc[i]·colsum[j] (zc NULL: none)
    long ldadd;
    float *y;
    long ldy;
    int act;      // 0, or vla_unary's function applied last (vla_q8_gemm_act)
    float param;  // its parameter
    int direct;   // bf16 without bias, mul, add and act (attention's products): blocks 32 columns wide store their
                  // tiles straight into y (the same sums, no copy through the block buffer)
} amx_epi;

// The block at rows [i, i + rows) and columns [j, j + cols) from its sums (int32 or f32, [tile][16][16]):
// int8 as the other AVX-512 paths (fma(f32(acc), s·wscale, bias)), bf16 from the f32 sums (bias already in);
// then ·mul and + add.
// Rows [r0, r1) of the block, then the activation on them (vla_q8_gemm_act).
AMX_INLINE void amx_epilogue(const int BF, const void *acc, long i0, long j, long r0, long r1, long cols,
                             const amx_epi *e) {
    for (int v = 0; v < (cols > 16 ? 2 : 1); v++) {
        const long c = cols - v * 16, jv = j + v * 16;
        const __mmask16 mk = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
        const __m512 ws = BF ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk, e->wscale + jv);
        const __m512 b = !BF && e->bias ? _mm512_maskz_loadu_ps(mk, e->bias + jv) : _mm512_setzero_ps();
        const __m512 mu = e->mul ? _mm512_maskz_loadu_ps(mk, e->mul + jv) : _mm512_setzero_ps();
        const __m512i cs = !BF && e->zc ? _mm512_load_si512((const void *)(e->colsum + jv)) : _mm512_setzero_si512();
        for (long r = r0; r < r1; r++) {
            const long i = i0 + r;
            const void *src = (const char *)acc + (((r / 16) * 2 + v) * 256 + (r % 16) * 16) * 4;
            __m512 o;
            if (BF) {
                o = _mm512_load_ps(src);
            } else {
                const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(e->s[i]), ws);
                __m512i a = _mm512_load_si512(src);
                if (e->zc) a = _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_set1_epi32(e->zc[i]), cs));
                o = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), sc, b);
            }
            if (e->mul) o = _mm512_mul_ps(o, mu);
            if (e->add) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk, e->add + i * e->ldadd + jv));
            _mm512_mask_storeu_ps(e->y + i * e->ldy + jv, mk, o);
        }
    }
    if (e->act && r1 > r0)  // on the block's lines while they are in L1 (vla_unary's bits, as applied afterwards)
        vla_unary_rows_avx512(e->act, e->param, e->y + (i0 + r0) * e->ldy + j, e->ldy, r1 - r0, cols);
}

// The previous block, whose epilogue and activation run a few rows at a time between this block's tile
// instructions, so that the vector units work on them while the tile unit computes (rows = 0: none). With
// GELU (vla_q8_gemm_act, 257 × 768 × 3072) about 7% faster than after the block, measured; the GELU itself
// (about 48 cycles per 16 values here, a division and an exp) stays longer than the block's tile work.
typedef struct {
    const void *acc;
    long i, j, rows, cols;
} amx_pending;

// One block (MR2: a second row tile; NR2: a second panel) into acc: int8 sums start at 0, bf16 sums at the bias
// (brow, a padded row read with stride 0).
AMX_INLINE void amx_block(const int BF, const int MR2, const int NR2, long chunks, long full, const uint8_t *a,
                          long lda, const uint8_t *w0, const uint8_t *w1, const uint8_t *tail0, const uint8_t *tail1,
                          const float *brow, void *acc, const amx_pending *pend, const amx_epi *e, float *out,
                          long ldo) {
    const long per = pend->rows > 0 ? (pend->rows + chunks - 1) / chunks : 0;
    if (BF) {
        _tile_loadd(0, brow, 0);
        if (NR2) _tile_loadd(1, brow + 16, 0);
        if (MR2) _tile_loadd(2, brow, 0);
        if (MR2 && NR2) _tile_loadd(3, brow + 16, 0);
    } else {
        _tile_zero(0);
        if (NR2) _tile_zero(1);
        if (MR2) _tile_zero(2);
        if (MR2 && NR2) _tile_zero(3);
    }
    for (long c = 0; c < chunks; c++) {
        // Each load as early as the tile it overwrites is free (tile registers are not renamed): ~10% faster
        // than all four loads first.
        const uint8_t *b0 = c < full ? w0 + c * 1024 : tail0, *b1 = c < full ? w1 + c * 1024 : tail1;
        _tile_loadd(4, a + c * 64, lda);
        _tile_loadd(6, b0, 64);
        if (BF) _tile_dpbf16ps(0, 4, 6);
        else _tile_dpbssd(0, 4, 6);
        if (NR2) {
            _tile_loadd(7, b1, 64);
            if (BF) _tile_dpbf16ps(1, 4, 7);
            else _tile_dpbssd(1, 4, 7);
        }
        if (MR2) {
            _tile_loadd(5, a + 16 * lda + c * 64, lda);
            if (BF) _tile_dpbf16ps(2, 5, 6);
            else _tile_dpbssd(2, 5, 6);
            if (NR2) {
                if (BF) _tile_dpbf16ps(3, 5, 7);
                else _tile_dpbssd(3, 5, 7);
            }
        }
        if (per) {
            const long r0 = c * per, r1 = min_l(pend->rows, r0 + per);
            if (r0 < r1) amx_epilogue(BF, pend->acc, pend->i, pend->j, r0, r1, pend->cols, e);
        }
    }
    if (out) {  // direct (NR2: a block 32 columns wide), row stride ldo floats
        _tile_stored(0, out, ldo * 4);
        _tile_stored(1, out + 16, ldo * 4);
        if (MR2) _tile_stored(2, out + 16 * ldo, ldo * 4);
        if (MR2) _tile_stored(3, out + 16 * ldo + 16, ldo * 4);
        return;
    }
    _tile_stored(0, acc, 64);
    if (NR2) _tile_stored(1, (char *)acc + 1024, 64);
    if (MR2) _tile_stored(2, (char *)acc + 2048, 64);
    if (MR2 && NR2) _tile_stored(3, (char *)acc + 3072, 64);
}

// The shared driver: a (q or xb) with row stride lda bytes, chunks of 64 bytes of k per row, weight panels of
// pstride bytes in chunks of 1 KiB (16 lines), `lines` lines per panel.
AMX_INLINE void amx_gemm(const int BF, long m, long n0, long n1, const uint8_t *a, long lda, const uint8_t *packed,
                         long pstride, long lines, const amx_epi *e) {
    const long chunks = (lines + 15) / 16, full = lines / 16, tail = lines % 16;
    amx_config cfg;
    int32_t acc[2][1024] __attribute__((aligned(64)));  // a block's sums (int32 or f32), and the previous one's
    int cur = 0;
    amx_pending pend = {NULL, 0, 0, 0, 0};
    uint8_t tails[2][1024] __attribute__((aligned(64)));
    float brow[32] __attribute__((aligned(64)));
    int rows0 = 16, rows1 = 16;
    amx_configure(&cfg, rows0, rows1);
    // Column blocks of 32 outside, row blocks of 32 inside: a column block's weights (k × 32 int8 or bf16) stay
    // in cache while every row block passes over them.
    for (long j = n0; j < n1; j += 32) {
        const long cols = min_l(32, n1 - j);
        const int nr2 = cols > 16;
        const uint8_t *w0 = packed + (j / 16) * pstride, *w1 = w0 + pstride;
        if (tail) {
            memset(tails, 0, sizeof tails);
            memcpy(tails[0], w0 + full * 1024, (size_t)tail * 64);
            if (nr2) memcpy(tails[1], w1 + full * 1024, (size_t)tail * 64);
        }
        if (BF)
            for (long c = 0; c < 32; c++) brow[c] = e->bias && c < cols ? e->bias[j + c] : 0.0f;
        for (long i = 0; i < m; i += 32) {
            const long rows = min_l(32, m - i);
            const int r0 = (int)min_l(16, rows), r1 = (int)(rows - r0);
            if (r0 != rows0 || r1 != rows1) amx_configure(&cfg, rows0 = r0, rows1 = r1);
            // This block's output lines, into L2 while its tiles are computed: the epilogue's stores then hit
            // (without it 768 × 3072 ran 5–9% slower).
            for (long r = 0; r < rows; r++) {
                _mm_prefetch((const char *)(e->y + (i + r) * e->ldy + j), _MM_HINT_T1);
                _mm_prefetch((const char *)(e->y + (i + r) * e->ldy + j + cols - 1), _MM_HINT_T1);
            }
            const uint8_t *ai = a + i * lda;
            if (BF && e->direct && cols == 32) {
                float *out = e->y + i * e->ldy + j;
                if (r1) amx_block(1, 1, 1, chunks, full, ai, lda, w0, w1, tails[0], tails[1], brow, acc[cur], &pend, e, out, e->ldy);
                else amx_block(1, 0, 1, chunks, full, ai, lda, w0, w1, tails[0], tails[1], brow, acc[cur], &pend, e, out, e->ldy);
                continue;
            }
#define AMX_BLOCK(MR2, NR2) \
    amx_block(BF, MR2, NR2, chunks, full, ai, lda, w0, w1, tails[0], tails[1], brow, acc[cur], &pend, e, NULL, 0)
            if (r1 && nr2) AMX_BLOCK(1, 1);
            else if (r1) AMX_BLOCK(1, 0);
            else if (nr2) AMX_BLOCK(0, 1);
            else AMX_BLOCK(0, 0);
#undef AMX_BLOCK
            if (e->act) {  // this block's epilogue runs during the next block's tile instructions (or at the end)
                pend = (amx_pending){acc[cur], i, j, rows, cols};
                cur ^= 1;
            } else {  // without an activation the epilogue is short: deferring it measured 5–10% slower
                amx_epilogue(BF, acc[cur], i, j, 0, rows, cols, e);
            }
        }
    }
    if (pend.rows) amx_epilogue(BF, pend.acc, pend.i, pend.j, 0, pend.rows, pend.cols, e);
    _tile_release();
}

AMX_FN static void q8_gemm_amx(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s,
                               const int32_t *zc, const void *packed, long n, const float *wscale, const float *bias,
                               const float *mul, const float *add, long ldadd, float *y, long ldy, int act,
                               float param) {
    const long groups = ceil_to(k, 4) / 4;
    const amx_epi e = {s, wscale, bias, mul, add, zc, q8_colsum(packed, k, n), ldadd, y, ldy, act, param, 0};
    amx_gemm(0, m, n0, n1, (const uint8_t *)q, ldq, packed, groups * 64, groups, &e);
}

AMX_FN static void bf16_gemm_amx(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed,
                                 long n, const float *bias, const float *mul, const float *add, long ldadd, float *y,
                                 long ldy, int act, float param) {
    const long pairs = ceil_to(k, 2) / 2;
    const amx_epi e = {NULL, NULL, bias, mul, add, NULL, NULL, ldadd, y, ldy, act, param, 0};
    (void)n;
    amx_gemm(1, m, n0, n1, (const uint8_t *)xb, ldxb * 2, packed, pairs * 64, pairs, &e);
}

// Attention's products on AMX: no bias, mul, add or activation, so full-width blocks store straight into y.
AMX_FN static void attn_gemm_amx(long m, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, float *y,
                                 long ldy) {
    const long pairs = ceil_to(k, 2) / 2;
    const amx_epi e = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, y, ldy, 0, 0, 1};
    amx_gemm(1, m, 0, n1, (const uint8_t *)xb, ldxb * 2, packed, pairs * 64, pairs, &e);
}

#elif defined(__aarch64__)

// MARK: aarch64: quantization on Advanced SIMD (the same operations as the portable code)
//
// (bf16 rounding stays the portable code on aarch64: clang vectorizes its integer rounding by itself, and a
// hand-written Advanced SIMD version executed more instructions, Docs/Deploying.md.)

// The row's max |x| with NaN skipped, as the portable loop: a lane keeps v only where v > a (false for NaN), and
// the lanes hold no NaN and no −0, so any order of max gives the portable value.
static inline float q8_absmax_asimd(const float *xr, long k) {
    float32x4_t a4 = vdupq_n_f32(0.0f);
    long p = 0;
    for (; p + 4 <= k; p += 4) {
        const float32x4_t v = vabsq_f32(vld1q_f32(xr + p));
        a4 = vbslq_f32(vcgtq_f32(v, a4), v, a4);
    }
    float a = 0;
    for (int l = 0; l < 4; l++) a = a4[l] > a ? a4[l] : a;
    for (; p < k; p++) {
        const float v = fabsf(xr[p]);
        a = v > a ? v : a;
    }
    return a;
}

// q8_value on 4 lanes: x·inv (one rounding), NaN and values below −127 to −127 (a lane keeps v only where
// v > −127), then min with 127, then fcvtns (round to nearest, ties to even: rintf then the exact conversion).
static inline int32x4_t q8_value4(float32x4_t x, float32x4_t inv) {
    const float32x4_t lo = vdupq_n_f32(-127.0f);
    const float32x4_t v = vmulq_f32(x, inv);
    const float32x4_t t = vminq_f32(vbslq_f32(vcgtq_f32(v, lo), v, lo), vdupq_n_f32(127.0f));
    return vcvtnq_s32_f32(t);
}

static void q8_quantize_asimd(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s) {
    const long padded = vla_q8_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        float inv;
        q8_row_scale(q8_absmax_asimd(xr, k), &inv, &s[i]);
        const float32x4_t iv = vdupq_n_f32(inv);
        long p = 0;
        for (; p + 16 <= k; p += 16) {
            const int16x8_t lo = vcombine_s16(vmovn_s32(q8_value4(vld1q_f32(xr + p), iv)),
                                              vmovn_s32(q8_value4(vld1q_f32(xr + p + 4), iv)));
            const int16x8_t hi = vcombine_s16(vmovn_s32(q8_value4(vld1q_f32(xr + p + 8), iv)),
                                              vmovn_s32(q8_value4(vld1q_f32(xr + p + 12), iv)));
            vst1q_s8(qr + p, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));  // |values| ≤ 127: narrowing is exact
        }
        for (; p < k; p++) qr[p] = q8_value(xr[p], inv);
        for (; p < padded; p++) qr[p] = 0;
    }
}

// The row's range for q8z_quantize_portable: a lane takes v only where v < lo (v > hi), false for NaN; the lanes
// start at +0 and hold no NaN (a −0 cannot change r, z or q), so any order gives the portable bits.
static void q8z_quantize_asimd(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s,
                               int32_t *zc) {
    const long padded = vla_q8_row_stride(k);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        int8_t *qr = q + i * ldq;
        float32x4_t lo4 = vdupq_n_f32(0.0f), hi4 = vdupq_n_f32(0.0f);
        long p = 0;
        for (; p + 4 <= k; p += 4) {
            const float32x4_t v = vld1q_f32(xr + p);
            lo4 = vbslq_f32(vcltq_f32(v, lo4), v, lo4);
            hi4 = vbslq_f32(vcgtq_f32(v, hi4), v, hi4);
        }
        float lanes_lo[4], lanes_hi[4], inv, zf;
        vst1q_f32(lanes_lo, lo4);
        vst1q_f32(lanes_hi, hi4);
        q8z_row_setup(lanes_lo, lanes_hi, 4, xr, p, k, &inv, &s[i], &zc[i], &zf);
        const float32x4_t iv = vdupq_n_f32(inv), lov = vdupq_n_f32(-zf), hiv = vdupq_n_f32(255.0f - zf);
        const int32x4_t off = vdupq_n_s32((int32_t)zf - 128);
#define Q8Z_VALUE4(P)                                                                                         \
    vaddq_s32(vcvtnq_s32_f32(vminq_f32(                                                                       \
                  vbslq_f32(vcgtq_f32(vmulq_f32(vld1q_f32(xr + (P)), iv), lov), vmulq_f32(vld1q_f32(xr + (P)), iv), lov), \
                  hiv)),                                                                                      \
              off)
        for (p = 0; p + 16 <= k; p += 16) {  // x·inv, NaN and values below −z to −z, min with 255 − z, fcvtns, + z − 128
            const int16x8_t a = vcombine_s16(vmovn_s32(Q8Z_VALUE4(p)), vmovn_s32(Q8Z_VALUE4(p + 4)));
            const int16x8_t b = vcombine_s16(vmovn_s32(Q8Z_VALUE4(p + 8)), vmovn_s32(Q8Z_VALUE4(p + 12)));
            vst1q_s8(qr + p, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));  // values in [−128, 127]: exact narrowing
        }
#undef Q8Z_VALUE4
        for (; p < k; p++) qr[p] = q8z_value(xr[p], inv, zf);
        for (; p < padded; p++) qr[p] = 0;
    }
}

// MARK: aarch64: the int8 products (exact int32 sums, then q8_out per element as the portable code)

#define Q8_MR 6
#define TA __attribute__((always_inline)) static inline

/// Rows [0, mr) × the 16 columns of one panel from the exact sums acc[r][c] (c < cols stored).
TA void q8_store_tile(int mr, const int32_t acc[][16], long i0, long j0, long cols, const float *s,
                      const int32_t *zc, const int32_t *colsum, const float *wscale, const float *bias,
                      const float *mul, const float *add, long ldadd, float *y, long ldy) {
    for (int r = 0; r < mr; r++) {
        const long i = i0 + r;
        for (long c = 0; c < cols; c++) {
            const long j = j0 + c;
            const int32_t a = zc ? q8z_add(acc[r][c], zc[i], colsum[j]) : acc[r][c];
            y[i * ldy + j] = q8_out(a, s[i], wscale[j], bias ? bias[j] : 0.0f, mul, add ? add + i * ldadd : NULL, j);
        }
    }
}

// Level 1, Advanced SIMD only: each group's 16 bytes per four columns (column c: its 4 values) times the row's 4
// values repeated, as 16 int16 products (|p| ≤ 16129), summed in pairs into int32 (sadalp); the two int32
// vectors of a four-column block are added pairwise at the end (addp), giving each column's exact sum.
TA void q8_tile_asimd(const int mr, long groups, const int8_t *q, long ldq, const int8_t *panel, int32_t out[][16]) {
    int32x4_t acc[Q8_MR][4][2];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v][0] = acc[r][v][1] = vdupq_n_s32(0);
    for (long g = 0; g < groups; g++) {
        const int8_t *wg = panel + g * 64;
        int8x16_t w[4];
        for (int v = 0; v < 4; v++) w[v] = vld1q_s8(wg + 16 * v);
        for (int r = 0; r < mr; r++) {
            int32_t x4;
            memcpy(&x4, q + r * ldq + 4 * g, 4);
            const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(x4));
            for (int v = 0; v < 4; v++) {
                acc[r][v][0] = vpadalq_s16(acc[r][v][0], vmull_s8(vget_low_s8(x), vget_low_s8(w[v])));
                acc[r][v][1] = vpadalq_s16(acc[r][v][1], vmull_high_s8(x, w[v]));
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) vst1q_s32(out[r] + 4 * v, vpaddq_s32(acc[r][v][0], acc[r][v][1]));
}

// Level 2, dot product: sdot adds, per int32 lane, the four products of a column's 4 values and the row's 4.
__attribute__((target("arch=armv8.2-a+dotprod"), always_inline)) static inline void
q8_tile_dot(const int mr, long groups, const int8_t *q, long ldq, const int8_t *panel, int32_t out[][16]) {
    int32x4_t acc[Q8_MR][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = vdupq_n_s32(0);
    for (long g = 0; g < groups; g++) {
        const int8_t *wg = panel + g * 64;
        int8x16_t w[4];
        for (int v = 0; v < 4; v++) w[v] = vld1q_s8(wg + 16 * v);
        for (int r = 0; r < mr; r++) {
            int32_t x4;
            memcpy(&x4, q + r * ldq + 4 * g, 4);
            const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(x4));
            for (int v = 0; v < 4; v++) acc[r][v] = vdotq_s32(acc[r][v], w[v], x);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) vst1q_s32(out[r] + 4 * v, acc[r][v]);
}

// Level 3, i8mm: smmla multiplies a 2 × 8 block of rows by an 8 × 2 block of columns into 2 × 2 int32 sums. Two
// groups of a panel, zipped by 32-bit lanes, give the 8 values of two columns side by side (zip1 of groups g and
// g + 1: columns 0, 1; zip2: columns 2, 3); an odd last group meets zero weights (whatever the row holds past
// k: integer products with 0 are 0). Rows go in pairs (an odd last row pairs with itself, its copy's sums
// dropped): each row's 8 values of the two groups loaded directly (the row stride, a multiple of 64, covers
// them). Accumulator (pair h, block b) holds [r c, r c+1, r+1 c, r+1 c+1].
__attribute__((target("arch=armv8.6-a+i8mm"), always_inline)) static inline void
q8_mmla_step(const int mr, const int second, const int8_t *q, long ldq, const int8_t *wg, int32x4_t acc[][8]) {
    const int pairs = (mr + 1) / 2;
    int8x16_t a[2];
    for (int h = 0; h < pairs; h++) {
        const int8_t *r0 = q + 2 * h * ldq;
        a[h] = vcombine_s8(vld1_s8(r0), vld1_s8(2 * h + 1 < mr ? r0 + ldq : r0));
    }
    for (int v = 0; v < 4; v++) {
        const int32x4_t lo = vreinterpretq_s32_s8(vld1q_s8(wg + 16 * v));
        const int32x4_t hi = second ? vreinterpretq_s32_s8(vld1q_s8(wg + 64 + 16 * v)) : vdupq_n_s32(0);
        const int8x16_t b0 = vreinterpretq_s8_s32(vzip1q_s32(lo, hi)), b1 = vreinterpretq_s8_s32(vzip2q_s32(lo, hi));
        for (int h = 0; h < pairs; h++) {
            acc[h][2 * v] = vmmlaq_s32(acc[h][2 * v], a[h], b0);
            acc[h][2 * v + 1] = vmmlaq_s32(acc[h][2 * v + 1], a[h], b1);
        }
    }
}

__attribute__((target("arch=armv8.6-a+i8mm"), always_inline)) static inline void
q8_tile_mmla(const int mr, long groups, const int8_t *q, long ldq, const int8_t *panel, int32_t out[][16]) {
    int32x4_t acc[2][8];
    const int pairs = (mr + 1) / 2;
    for (int h = 0; h < pairs; h++)
        for (int b = 0; b < 8; b++) acc[h][b] = vdupq_n_s32(0);
    long g = 0;
    for (; g + 2 <= groups; g += 2) q8_mmla_step(mr, 1, q + 4 * g, ldq, panel + g * 64, acc);
    if (g < groups) q8_mmla_step(mr, 0, q + 4 * g, ldq, panel + g * 64, acc);
    for (int h = 0; h < pairs; h++)
        for (int b = 0; b < 8; b++) {
            vst1_s32(out[2 * h] + 2 * b, vget_low_s32(acc[h][b]));
            if (2 * h + 1 < mr) vst1_s32(out[2 * h + 1] + 2 * b, vget_high_s32(acc[h][b]));
        }
}

#define Q8_ARM_DRIVER(NAME, TILE, TILE1, MR_MAX, ATTR)                                                               \
    ATTR static void NAME(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s,          \
                          const int32_t *zc, const void *packed, long n, const float *wscale, const float *bias, \
                          const float *mul, const float *add, long ldadd, float *y, long ldy) {                \
        const long groups = ceil_to(k, 4) / 4, pstride = groups * 64;                                           \
        const int32_t *colsum = q8_colsum(packed, k, n);                                                        \
        int32_t acc[Q8_MR][16];                                                                                 \
        for (long j0 = n0; j0 < n1; j0 += 16) {                                                                \
            const int8_t *panel = (const int8_t *)packed + (j0 / 16) * pstride;                                 \
            const long cols = min_l(16, n1 - j0);                                                              \
            for (long i = 0; i < m; i += MR_MAX) {                                                             \
                const int mr = (int)min_l(MR_MAX, m - i);                                                      \
                switch (mr) {                                                                                  \
                case 1: TILE1(1, groups, q + i * ldq, ldq, panel, acc); break;                                \
                case 2: TILE(2, groups, q + i * ldq, ldq, panel, acc); break;                                 \
                case 3: TILE(3, groups, q + i * ldq, ldq, panel, acc); break;                                 \
                default: TILE(MR_MAX, groups, q + i * ldq, ldq, panel, acc); break;                           \
                }                                                                                              \
                q8_store_tile(mr, (const int32_t(*)[16])acc, i, j0, cols, s, zc, colsum, wscale, bias, mul, add, ldadd, y, \
                              ldy);                                                                            \
            }                                                                                                  \
        }                                                                                                      \
    }

// Row tiles: 3 rows for level 1 (24 accumulators), 4 for levels 2 and 3 (16 accumulators; SDOT: plus 4 weight
// vectors and one row; SMMLA: plus 8 zipped column pairs and a row pair).
// SMMLA works on row pairs: a tile of one row (m = 1, or one row left after the 4-row tiles) runs the SDOT tile
// instead (the same exact sums, fewer instructions there; path 3 is only chosen where the dot product exists).
Q8_ARM_DRIVER(q8_gemm_asimd, q8_tile_asimd, q8_tile_asimd, 3, )
Q8_ARM_DRIVER(q8_gemm_dot, q8_tile_dot, q8_tile_dot, 4, __attribute__((target("arch=armv8.2-a+dotprod"))))
Q8_ARM_DRIVER(q8_gemm_mmla, q8_tile_mmla, q8_tile_dot, 4, __attribute__((target("arch=armv8.6-a+i8mm"))))

// MARK: aarch64: bf16 widened to f32 (odd element: the high half masked; even: shifted up), two fmla per pair

#define BF_MR 5

TA void bf16_tile_asimd(const int mr, long pairs, const uint16_t *xb, long ldxb, const uint16_t *panel, long cols,
                        const float *bias, float out[][16]) {
    float32x4_t acc[BF_MR][4];
    for (int v = 0; v < 4; v++) {
        float b[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            if (bias && 4 * v + c < cols) b[c] = bias[4 * v + c];
        for (int r = 0; r < mr; r++) acc[r][v] = vld1q_f32(b);
    }
    const uint32x4_t high = vdupq_n_u32(0xffff0000u);
    for (long t = 0; t < pairs; t++) {
        const uint16_t *wt = panel + t * 32;
        float32x4_t we[4], wo[4];
        for (int v = 0; v < 4; v++) {
            const uint32x4_t u = vld1q_u32((const uint32_t *)(wt + 8 * v));  // lane c: even | odd << 16
            we[v] = vreinterpretq_f32_u32(vshlq_n_u32(u, 16));
            wo[v] = vreinterpretq_f32_u32(vandq_u32(u, high));
        }
        for (int r = 0; r < mr; r++) {
            // x first, as the portable fmaf(x, w, acc): with two NaN operands the first one's NaN comes out.
            const float32x4_t xe = vdupq_n_f32(bf16_to_f32(xb[r * ldxb + 2 * t]));
            const float32x4_t xo = vdupq_n_f32(bf16_to_f32(xb[r * ldxb + 2 * t + 1]));
            for (int v = 0; v < 4; v++) {
                acc[r][v] = vfmaq_f32(acc[r][v], xo, wo[v]);
                acc[r][v] = vfmaq_f32(acc[r][v], xe, we[v]);
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) vst1q_f32(out[r] + 4 * v, acc[r][v]);
}

static void bf16_gemm_asimd(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed,
                            const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;
    float acc[BF_MR][16];
    for (long j0 = n0; j0 < n1; j0 += 16) {
        const uint16_t *panel = (const uint16_t *)packed + (j0 / 16) * pstride;
        const long cols = min_l(16, n1 - j0);
        const float *bj = bias ? bias + j0 : NULL;
        for (long i = 0; i < m; i += BF_MR) {
            const int mr = (int)min_l(BF_MR, m - i);
            switch (mr) {
            case 1: bf16_tile_asimd(1, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;
            case 2: bf16_tile_asimd(2, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;
            case 3: bf16_tile_asimd(3, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;
            case 4: bf16_tile_asimd(4, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;
            default: bf16_tile_asimd(BF_MR, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;
            }
            for (int r = 0; r < mr; r++)
                for (long c = 0; c < cols; c++) {
                    const long j = j0 + c;
                    float v = acc[r][c];
                    if (mul) v = v * mul[j];
                    if (add) v = v + add[(i + r) * ldadd + j];
                    y[(i + r) * ldy + j] = v;
                }
        }
    }
}

// MARK: aarch64: bf16 with BFDOT (path 2) and BFMMLA (path 3): one numerics rule, not the fma chain
//
// Both instructions compute, per output and per pair of k, the architecture's BFDotAdd (FEAT_BF16, with FPCR.EBF
// 0): acc = R(acc + R(x[2t]·w[2t] + x[2t+1]·w[2t+1])), where each product is R(exact product) too and R rounds
// to odd, flushes a result below 2^−126 to zero and reads denormal inputs as zero; FPCR's FZ, DN and RMode are
// ignored (vla_kernels.h states the full rule). BFMMLA's 2 × 4 by 4 × 2 step is two BFDotAdds per output, pair
// 2g then pair 2g + 1, so both paths give the same bits as long as they see the same pairs: the pair count is
// padded to even with a pair of zero x and zero w in both (it can only turn a −0 into +0). On a core with
// FEAT_EBF16 and FPCR.EBF set (nothing in vlac sets it) the instructions follow another rule: the entry point
// then runs path 1.

#define BF_DOT_ATTR __attribute__((target("arch=armv8.6-a+bf16"), always_inline)) static inline

/// FPCR.EBF (bit 13; RES0, reading 0, without FEAT_EBF16).
static inline int bf16_fpcr_ebf(void) {
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (int)((fpcr >> 13) & 1);
}

/// Accumulators of a tile start at the bias of its 16 columns (0 past cols or without bias).
TA void bf16_bias16(const float *bias, long cols, float b[16]) {
    for (int c = 0; c < 16; c++) b[c] = bias && c < cols ? bias[c] : 0.0f;
}

// Path 2: rows × 16 columns in 4 accumulators per row; each bfdot takes one row's pair t (a lane of the row's
// next 8 values) against the 4 weight vectors of pair t (lane c: column c's pair).
BF_DOT_ATTR void bf16_tile_bfdot(const int mr, long pairs, const uint16_t *xb, long ldxb, const uint16_t *panel,
                                 long cols, const float *bias, float out[][16]) {
    float32x4_t acc[5][4];
    float b[16];
    bf16_bias16(bias, cols, b);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = vld1q_f32(b + 4 * v);
    long t = 0;
#define BF_DOT_STEP(LANE)                                                                                       \
    do {                                                                                                       \
        const uint16_t *wt = panel + (t + LANE) * 32;                                                          \
        bfloat16x8_t w[4];                                                                                     \
        for (int v = 0; v < 4; v++) w[v] = vreinterpretq_bf16_u16(vld1q_u16(wt + 8 * v));                     \
        for (int r = 0; r < mr; r++)                                                                          \
            for (int v = 0; v < 4; v++) acc[r][v] = vbfdotq_laneq_f32(acc[r][v], w[v], x[r], LANE);            \
    } while (0)
    for (; t + 4 <= pairs; t += 4) {
        bfloat16x8_t x[5];
        for (int r = 0; r < mr; r++) x[r] = vreinterpretq_bf16_u16(vld1q_u16(xb + r * ldxb + 2 * t));
        BF_DOT_STEP(0);
        BF_DOT_STEP(1);
        BF_DOT_STEP(2);
        BF_DOT_STEP(3);
    }
    if (t < pairs) {  // 1–3 pairs left: the row's next 8 values lie within its stride (a multiple of 32)
        bfloat16x8_t x[5];
        for (int r = 0; r < mr; r++) x[r] = vreinterpretq_bf16_u16(vld1q_u16(xb + r * ldxb + 2 * t));
        const long left = pairs - t;
        BF_DOT_STEP(0);
        if (left > 1) BF_DOT_STEP(1);
        if (left > 2) BF_DOT_STEP(2);
    }
#undef BF_DOT_STEP
    if (pairs & 1) {  // the zero pair BFMMLA adds (acc + +0: turns −0 into +0, nothing else)
        const bfloat16x8_t z = vreinterpretq_bf16_u16(vdupq_n_u16(0));
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < 4; v++) acc[r][v] = vbfdotq_f32(acc[r][v], z, z);
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) vst1q_f32(out[r] + 4 * v, acc[r][v]);
}

/// One step of bf16_tile_bfmmla: pairs t and t + 1 (second) or pair t and a zero pair (x and w zero there).
BF_DOT_ATTR void bf16_mmla_step(const int mr, const int second, const uint16_t *x, long ldxb, const uint16_t *wt,
                                float32x4_t acc[][8]) {
    const int hp = (mr + 1) / 2;
    bfloat16x8_t a[3];
    for (int h = 0; h < hp; h++) {
        const uint16_t *r0 = x + 2 * h * ldxb;
        uint16x4_t lo = vdup_n_u16(0), hi = vdup_n_u16(0);
        if (second) lo = vld1_u16(r0);
        else lo = vreinterpret_u16_u32(vld1_lane_u32((const uint32_t *)r0, vreinterpret_u32_u16(lo), 0));
        if (2 * h + 1 < mr) {
            if (second) hi = vld1_u16(r0 + ldxb);
            else hi = vreinterpret_u16_u32(vld1_lane_u32((const uint32_t *)(r0 + ldxb), vreinterpret_u32_u16(hi), 0));
        }
        a[h] = vreinterpretq_bf16_u16(vcombine_u16(lo, hi));
    }
    for (int v = 0; v < 4; v++) {
        const uint32x4_t p0 = vld1q_u32((const uint32_t *)(wt + 8 * v));
        const uint32x4_t p1 = second ? vld1q_u32((const uint32_t *)(wt + 32 + 8 * v)) : vdupq_n_u32(0);
        const bfloat16x8_t b0 = vreinterpretq_bf16_u32(vzip1q_u32(p0, p1));
        const bfloat16x8_t b1 = vreinterpretq_bf16_u32(vzip2q_u32(p0, p1));
        for (int h = 0; h < hp; h++) {
            acc[h][2 * v] = vbfmmlaq_f32(acc[h][2 * v], a[h], b0);
            acc[h][2 * v + 1] = vbfmmlaq_f32(acc[h][2 * v + 1], a[h], b1);
        }
    }
}

// Path 3: bfmmla multiplies a 2 × 4 block of rows (two pairs of k) by a 4 × 2 block of columns into 2 × 2 sums.
// Pairs 2g and 2g + 1 of a panel, zipped by 32-bit lanes, give two columns' 4 values side by side (zip1 of the
// vectors holding columns 4v ..< 4v + 4: columns 4v, 4v + 1; zip2: 4v + 2, 4v + 3). Rows go in pairs (an odd
// last row pairs with zeros, its sums dropped). Accumulator (h, b) holds [r c, r c+1, r+1 c, r+1 c+1] for rows
// r = 2h, r + 1 and columns c = 2b, c + 1. A last group without its second pair meets zero x and zero w there.
BF_DOT_ATTR void bf16_tile_bfmmla(const int mr, long pairs, const uint16_t *xb, long ldxb, const uint16_t *panel,
                                  long cols, const float *bias, float out[][16]) {
    enum { HP = 3 };
    float32x4_t acc[HP][8];
    float b[16];
    bf16_bias16(bias, cols, b);
    const int hp = (mr + 1) / 2;
    for (int c = 0; c < 8; c++) {
        const float32x2_t b2 = vld1_f32(b + 2 * c);
        for (int h = 0; h < hp; h++) acc[h][c] = vcombine_f32(b2, b2);
    }
    long t = 0;
    for (; t + 2 <= pairs; t += 2) bf16_mmla_step(mr, 1, xb + 2 * t, ldxb, panel + t * 32, acc);
    if (t < pairs) bf16_mmla_step(mr, 0, xb + 2 * t, ldxb, panel + t * 32, acc);
    for (int h = 0; h < hp; h++)
        for (int c = 0; c < 8; c++) {
            vst1_f32(out[2 * h] + 2 * c, vget_low_f32(acc[h][c]));
            if (2 * h + 1 < mr) vst1_f32(out[2 * h + 1] + 2 * c, vget_high_f32(acc[h][c]));
        }
}

#define BF_ARM_DRIVER(NAME, TILE, MR_MAX, ATTR)                                                                        \
    ATTR static void NAME(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, \
                          const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) { \
        const long pairs = ceil_to(k, 2) / 2, pstride = pairs * 32;                                             \
        float acc[6][16];                                                                                       \
        for (long j0 = n0; j0 < n1; j0 += 16) {                                                                \
            const uint16_t *panel = (const uint16_t *)packed + (j0 / 16) * pstride;                            \
            const long cols = min_l(16, n1 - j0);                                                              \
            const float *bj = bias ? bias + j0 : NULL;                                                         \
            for (long i = 0; i < m; i += MR_MAX) {                                                             \
                const int mr = (int)min_l(MR_MAX, m - i);                                                      \
                switch (mr) {                                                                                  \
                case 1: TILE(1, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;                     \
                case 2: TILE(2, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;                     \
                case 3: TILE(3, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;                     \
                case 4: TILE(4, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;                     \
                case 5: TILE(5, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;                     \
                default: TILE(MR_MAX, pairs, xb + i * ldxb, ldxb, panel, cols, bj, acc); break;               \
                }                                                                                              \
                for (int r = 0; r < mr; r++)                                                                   \
                    for (long c = 0; c < cols; c++) {                                                          \
                        const long j = j0 + c;                                                                 \
                        float v = acc[r][c];                                                                   \
                        if (mul) v = v * mul[j];                                                               \
                        if (add) v = v + add[(i + r) * ldadd + j];                                             \
                        y[(i + r) * ldy + j] = v;                                                              \
                    }                                                                                          \
            }                                                                                                  \
        }                                                                                                      \
    }

BF_ARM_DRIVER(bf16_gemm_bfdot, bf16_tile_bfdot, 4, __attribute__((target("arch=armv8.6-a+bf16"))))
BF_ARM_DRIVER(bf16_gemm_bfmmla, bf16_tile_bfmmla, 4, __attribute__((target("arch=armv8.6-a+bf16"))))

#endif  // __x86_64__, __aarch64__

// MARK: entry points

void vla_q8_quantize(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s) {
    if (m <= 0) return;
    switch (vla_q8_isa()) {
#if defined(__x86_64__)
    case 4:
    case 3:
    case 2: q8_quantize512(m, k, x, ldx, q, ldq, s); return;
    case 1: q8_quantize256(m, k, x, ldx, q, ldq, s); return;
#elif defined(__aarch64__)
    case 3:
    case 2:
    case 1: q8_quantize_asimd(m, k, x, ldx, q, ldq, s); return;
#endif
    default: q8_quantize_portable(m, k, x, ldx, q, ldq, s); return;
    }
}

void vla_q8_quantize_zp(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s, int32_t *zc) {
    if (m <= 0) return;
    switch (vla_q8_isa()) {
#if defined(__x86_64__)
    case 4:
    case 3:
    case 2: q8z_quantize512(m, k, x, ldx, q, ldq, s, zc); return;
    case 1: q8z_quantize256(m, k, x, ldx, q, ldq, s, zc); return;
#elif defined(__aarch64__)
    case 3:
    case 2:
    case 1: q8z_quantize_asimd(m, k, x, ldx, q, ldq, s, zc); return;
#endif
    default: q8z_quantize_portable(m, k, x, ldx, q, ldq, s, zc); return;
    }
}

void vla_q8_gemm_zp(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
                    const void *packed, long n, const float *wscale, const float *bias, const float *mul,
                    const float *add, long ldadd, float *y, long ldy) {
    if (m <= 0 || n1 <= n0) return;
    switch (vla_q8_isa()) {
#if defined(__x86_64__)
    case 4: q8_gemm_amx(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy, 0, 0); return;
    case 3: q8_gemm_vnni(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
    case 2: q8_gemm_bw(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
    case 1:
        if (vla_q8_avx_vnni())
            q8_gemm256_vnni(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy);
        else
            q8_gemm256(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy);
        return;
#elif defined(__aarch64__)
    case 3: q8_gemm_mmla(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
    case 2: q8_gemm_dot(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
    case 1: q8_gemm_asimd(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
#endif
    default: q8_gemm_portable(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy); return;
    }
}

void vla_q8_gemm(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const void *packed,
                 long n, const float *wscale, const float *bias, const float *mul, const float *add, long ldadd,
                 float *y, long ldy) {
    vla_q8_gemm_zp(m, n0, n1, k, q, ldq, s, NULL, packed, n, wscale, bias, mul, add, ldadd, y, ldy);
}

void vla_bf16_round(long m, long k, const float *x, long ldx, uint16_t *xb, long ldxb) {
    if (m <= 0) return;
    switch (vla_bf16_isa()) {
#if defined(__x86_64__)
    case 4:
    case 3:
    case 2: bf16_round512(m, k, x, ldx, xb, ldxb); return;
    case 1: bf16_round256(m, k, x, ldx, xb, ldxb); return;
#endif
    default: bf16_round_portable(m, k, x, ldx, xb, ldxb); return;
    }
}

void vla_bf16_gemm(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
                   const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    if (m <= 0 || n1 <= n0) return;
    switch (vla_bf16_isa()) {
#if defined(__x86_64__)
    case 4: bf16_gemm_amx(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy, 0, 0); return;
    case 3: bf16_gemm_dp(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy); return;
    case 2: bf16_gemm512(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy); return;
    case 1: bf16_gemm256(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy); return;
#elif defined(__aarch64__)
    case 3:
        if (!bf16_fpcr_ebf()) {
            bf16_gemm_bfmmla(m, n0, n1, k, xb, ldxb, packed, bias, mul, add, ldadd, y, ldy);
            return;
        }
        __attribute__((fallthrough));  // FPCR.EBF set: BFMMLA would follow another rule
    case 2:
        if (!bf16_fpcr_ebf()) {
            bf16_gemm_bfdot(m, n0, n1, k, xb, ldxb, packed, bias, mul, add, ldadd, y, ldy);
            return;
        }
        __attribute__((fallthrough));
    case 1: bf16_gemm_asimd(m, n0, n1, k, xb, ldxb, packed, bias, mul, add, ldadd, y, ldy); return;
#endif
    default: bf16_gemm_portable(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy); return;
    }
}

// MARK: products with the activation fused (vla_q8_gemm_act, vla_bf16_gemm_act)

#if defined(__x86_64__)
// Whether vla_unary has a fast path for act here (it then returns 1 for n = 0, touching nothing).
// AMX implies AVX-512F, whose activation code the blocks call directly (internal.h): independent of the level
// vla_kernels_force_isa chooses, so a level forced meanwhile (in tests) cannot make a block skip its activation.
static int act_ready(int act, float param) {
    (void)param;
    return act != 0 && vla_kernels_supported_isa() >= 2;
}
#endif

int vla_q8_gemm_zp_act(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
                       const void *packed, long n, const float *wscale, const float *bias, const float *mul,
                       const float *add, long ldadd, float *y, long ldy, int act, float param) {
#if defined(__x86_64__)
    if (m > 0 && n1 > n0 && vla_q8_isa() == 4 && act_ready(act, param)) {
        q8_gemm_amx(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy, act, param);
        return 1;
    }
#endif
    vla_q8_gemm_zp(m, n0, n1, k, q, ldq, s, zc, packed, n, wscale, bias, mul, add, ldadd, y, ldy);
    (void)act, (void)param;
    return 0;
}

int vla_q8_gemm_act(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const void *packed,
                    long n, const float *wscale, const float *bias, const float *mul, const float *add, long ldadd,
                    float *y, long ldy, int act, float param) {
    return vla_q8_gemm_zp_act(m, n0, n1, k, q, ldq, s, NULL, packed, n, wscale, bias, mul, add, ldadd, y, ldy, act,
                              param);
}

int vla_bf16_gemm_act(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
                      const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy, int act,
                      float param) {
#if defined(__x86_64__)
    if (m > 0 && n1 > n0 && vla_bf16_isa() == 4 && act_ready(act, param)) {
        bf16_gemm_amx(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy, act, param);
        return 1;
    }
#endif
    vla_bf16_gemm(m, n0, n1, k, xb, ldxb, packed, n, bias, mul, add, ldadd, y, ldy);
    (void)act, (void)param;
    return 0;
}

// MARK: attention's two products in bf16 (attention flag bit 2; include/vla_kernels.h)
//
// Path 4 (AMX, where vla_bf16_isa() is 4): q, k, p and v are rounded to bf16 (the rounding of vla_bf16_round),
// k̃ᵀ and ṽ are packed into the tiles' pair layout (vla_bf16_pack's), and both products run on
// bf16_gemm_amx (no bias: the sums start at +0). Path 0 (everywhere else): the operands are rounded to bf16
// values held in f32 and the products run on vla_f32_gemm_packed; a bf16·bf16 product is exact in f32, so
// this is the reference order (one fma chain per output, increasing index) at the f32 kernel's speed.

static inline size_t attn_al64(size_t b) { return (b + 63) / 64 * 64; }

// Rows [0, m) of x (k values, row stride ldx) rounded to bf16 values held in f32, into y (row stride ldy; y may
// be x).
// bf16_value without a branch (the NaN case a select), so that the compiler vectorizes the loop below.
static inline float bf16_value_select(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    const uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1)) & 0xffff0000u, quiet = (b | 0x00400000u) & 0xffff0000u;
    const uint32_t out = (b & 0x7fffffffu) > 0x7f800000u ? quiet : rounded;
    float f;
    memcpy(&f, &out, 4);
    return f;
}

static void attn_round_f32_portable(long m, long k, const float *x, long ldx, float *y, long ldy) {
    for (long i = 0; i < m; i++)
        for (long p = 0; p < k; p++) y[i * ldy + p] = bf16_value_select(x[i * ldx + p]);
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void attn_round_f32_512(long m, long k, const float *x, long ldx, float *y,
                                                                 long ldy) {
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        float *yr = y + i * ldy;
        long p = 0;
        for (; p + 16 <= k; p += 16) _mm512_storeu_si512(yr + p, _mm512_slli_epi32(bf16_round16(_mm512_loadu_ps(xr + p)), 16));
        if (p < k) _mm512_mask_storeu_epi32(yr + p, tail, _mm512_slli_epi32(bf16_round16(_mm512_maskz_loadu_ps(tail, xr + p)), 16));
    }
}

__attribute__((target("avx2"))) static void attn_round_f32_256(long m, long k, const float *x, long ldx, float *y,
                                                               long ldy) {
    for (long i = 0; i < m; i++) {
        const float *xr = x + i * ldx;
        float *yr = y + i * ldy;
        long p = 0;
        for (; p + 8 <= k; p += 8) {
            const __m256 v = _mm256_loadu_ps(xr + p);
            const __m256i b = _mm256_castps_si256(v);
            const __m256i r = _mm256_and_si256(
                _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1))),
                _mm256_set1_epi32((int)0xffff0000u));
            const __m256i nanr = _mm256_and_si256(_mm256_or_si256(b, _mm256_set1_epi32(0x00400000)), _mm256_set1_epi32((int)0xffff0000u));
            _mm256_storeu_si256((__m256i *)(yr + p), _mm256_blendv_epi8(r, nanr, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))));
        }
        for (; p < k; p++) yr[p] = bf16_value_select(xr[p]);
    }
}
#endif

// The rounding above on the level of vla_f32_gemm_packed (vla_kernels_isa): the same bits on every level.
static void attn_round_f32(long m, long k, const float *x, long ldx, float *y, long ldy) {
    if (m <= 0 || k <= 0) return;
    switch (vla_kernels_isa()) {
#if defined(__x86_64__)
    case 2: attn_round_f32_512(m, k, x, ldx, y, ldy); return;
    case 1: attn_round_f32_256(m, k, x, ldx, y, ldy); return;
#endif
    default: attn_round_f32_portable(m, k, x, ldx, y, ldy); return;
    }
}

int vla_attn_bf16_path(void) {
#if defined(__x86_64__)
    return vla_bf16_isa() == 4 ? 4 : 0;
#else
    return 0;
#endif
}

// Byte offsets in the head's scratch (each 64-byte aligned) and the padded sizes.
typedef struct {
    long rows;     // rows of a block's buffers: 32, or 16 when tq ≤ 16 (the tiles then read one row tile only)
    long rd;       // q̃ row: d padded to whole chunks of 32 bf16
    long ls;       // a scores row (f32) and a p̃ row (bf16): tk padded to a multiple of 32
    long klines;   // lines (pairs of d) per k̃ᵀ panel; ls / 16 panels
    long vpanels;  // ṽ panels (dv padded to a multiple of 32); ls / 2 lines each
    size_t qb, kp, vp, s, p, out, total;
} attn_head_plan;

static attn_head_plan attn_head_layout(long tq, long tk, long d, long dv) {
    attn_head_plan l;
    l.rows = tq > 16 ? 32 : 16;
    l.rd = ceil_to(d, 32);
    l.ls = ceil_to(tk, 32);
    l.klines = l.rd / 2;
    l.vpanels = ceil_to(dv, 32) / 16;
    l.qb = 0;
    l.kp = l.qb + attn_al64((size_t)(l.rows * l.rd) * 2);
    l.vp = l.kp + attn_al64((size_t)(l.ls / 16 * l.klines) * 64);
    l.s = l.vp + attn_al64((size_t)(l.vpanels * (l.ls / 2)) * 64);
    l.p = l.s + attn_al64((size_t)(l.rows * l.ls) * 4);
    l.out = l.p + attn_al64((size_t)(l.rows * l.ls) * 2);
    l.total = l.out + (size_t)(l.rows * 32) * 4;
    return l;
}

// Scratch of each path and phase, every block 64-byte aligned (the larger of the two paths, so a path forced
// in tests fits too):
//   path 0, scores: q̃ f32 [tq, d], then k̃ᵀ packed f32;                          values: ṽ packed f32
//   path 4, scores: q̃ bf16 [tq, rs(d)], then k̃ᵀ packed bf16;  values: p̃ bf16 [tq, rs(tk)], then ṽ packed bf16;
//                   the fused head: attn_head_layout
size_t vla_attn_bf16_scratch_bytes(long tq, long tk, long d, long dv) {
    const size_t f0 = attn_al64((size_t)(tq * d) * 4) + attn_al64(vla_f32_packed_bytes(d, tk));
    const size_t f1 = attn_al64(vla_f32_packed_bytes(tk, dv));
    const long rd = vla_bf16_row_stride(d), rk = vla_bf16_row_stride(tk);
    const size_t a0 = attn_al64((size_t)(tq * rd) * 2) + attn_al64(vla_bf16_packed_bytes(d, tk));
    const size_t a1 = attn_al64((size_t)(tq * rk) * 2) + attn_al64(vla_bf16_packed_bytes(tk, dv));
    const size_t h = attn_head_layout(tq, tk, d, dv).total;
    size_t most = f0 > f1 ? f0 : f1;
    most = a0 > most ? a0 : most;
    most = a1 > most ? a1 : most;
    return h > most ? h : most;
}

#if defined(__x86_64__)
typedef uint32_t attn_u32 __attribute__((may_alias));

// Gathers (attn_pack_keys_f32_512) go through int32 indices c·ldk + p (c < 16): row strides up to 2^26 floats take
// that path. The bf16 key packing reads rows and needs no limit; only the fused head keeps this one, because its
// contract in vla_kernels.h declines past it.
static inline int attn_gather_ok(long ld) { return ld > 0 && ld <= (1L << 26); }

__attribute__((target("avx512f"), always_inline)) static inline __m512i attn_key_index(long ldk) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32((int)ldk));
}

// k̃ᵀ packed as vla_f32_pack_transposed packs kᵀ, each value rounded to bf16 (held in f32): per panel of 16 keys
// and per p < d, one gather of k[j0 + c, p] (keys past tk read as zero).
__attribute__((target("avx512f"))) static void attn_pack_keys_f32_512(long d, long tk, const float *k, long ldk,
                                                                    float *packed) {
    const __m512i idx = attn_key_index(ldk);
    for (long q = 0; q < ceil_to(tk, 16) / 16; q++) {
        const long cols = min_l(16, tk - q * 16);
        const __mmask16 mk = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        const float *base = k + q * 16 * ldk;
        float *panel = packed + q * d * 16;
        for (long p = 0; p < d; p++) {
            const __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, idx, base + p, 4);
            _mm512_storeu_si512(panel + p * 16, _mm512_slli_epi32(bf16_round16(x), 16));
        }
    }
}

// ṽ packed as vla_f32_pack packs v, each value rounded to bf16 (held in f32).
__attribute__((target("avx512f"))) static void attn_pack_values_f32_512(long tk, long dv, const float *v, long ldv,
                                                                      float *packed) {
    for (long q = 0; q < ceil_to(dv, 16) / 16; q++) {
        const long n0 = q * 16, cols = min_l(16, dv - n0);
        const __mmask16 mk = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        float *panel = packed + q * tk * 16;
        for (long p = 0; p < tk; p++)
            _mm512_storeu_si512(panel + p * 16, _mm512_slli_epi32(bf16_round16(_mm512_maskz_loadu_ps(mk, v + p * ldv + n0)), 16));
    }
}

// Lanes [0, n) of 16 (none for n ≤ 0).
static inline __mmask16 attn_first16(long n) { return (__mmask16)(n >= 16 ? 0xFFFF : n > 0 ? (1u << n) - 1 : 0); }

// r[i] lane j -> r[j] lane i, for 16 rows of 16 32-bit lanes: pairs of rows interleaved by 32 and 64 bits within
// each 128-bit lane, then the 128-bit lanes exchanged in two steps (64 shuffles).
__attribute__((target("avx512f"), always_inline)) static inline void attn_transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {  // r[4i + e], 128-bit lane L: element 4L + e of rows 4i … 4i + 3
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int e = 0; e < 4; e++) {  // element 4L + e of every row: 128-bit lane L of r[e], r[4 + e], r[8 + e], r[12 + e]
        const __m512i v0 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44), v1 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xEE);
        const __m512i v2 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44), v3 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xEE);
        t[e] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        t[4 + e] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
        t[8 + e] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        t[12 + e] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

// k̃ᵀ in vla_bf16_pack's layout straight from k: line t of panel q holds (k̃[j, 2t], k̃[j, 2t+1]) at column
// j − 16q (an odd d's last pair and keys past tk are zero). Per panel and block of 16 lines: each of the panel's
// 16 key rows read once (32 values, rounded, as 16 bf16 pairs), then the 16 × 16 pairs transposed into the lines.
// `panels` panels (at least ⌈tk/16⌉; those past tk zero) of `lines` lines each (at least ⌈d/2⌉; the lines past d
// zero).
__attribute__((target("avx512f"))) static void attn_pack_keys_bf16_512(long tk, long d, const float *k, long ldk,
                                                                     void *packed, long panels, long lines) {
    attn_u32 *dst = packed;
    for (long q = 0; q < panels; q++) {
        attn_u32 *panel = dst + q * lines * 16;
        for (long b = 0; b * 16 < lines; b++) {
            const long p0 = b * 32;  // the block's first value of a key row
            const __mmask16 m0 = attn_first16(d - p0), m1 = attn_first16(d - p0 - 16);
            __m512i r[16];
            for (long c = 0; c < 16; c++) {
                const long j = q * 16 + c;
                if (j < tk && m0) {
                    const float *kr = k + j * ldk + p0;
                    const __m256i lo = _mm512_cvtepi32_epi16(bf16_round16(_mm512_maskz_loadu_ps(m0, kr)));
                    const __m256i hi = _mm512_cvtepi32_epi16(bf16_round16(_mm512_maskz_loadu_ps(m1, kr + 16)));
                    r[c] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
                } else {
                    r[c] = _mm512_setzero_si512();
                }
            }
            attn_transpose16(r);
            for (long t = 0; t < 16 && b * 16 + t < lines; t++) _mm512_storeu_si512(panel + (b * 16 + t) * 16, r[t]);
        }
    }
}

// ṽ [tk, dv] (v rounded while packing) in vla_bf16_pack's layout: line t of panel c holds (ṽ[2t, n], ṽ[2t+1, n])
// at column n % 16; a pair's missing second row (odd tk) and columns past dv are zero. `panels` panels (at least
// ⌈dv/16⌉; those past dv zero) of `lines` lines each (at least ⌈tk/2⌉; the lines past tk zero).
__attribute__((target("avx512f"))) static void attn_pack_values_bf16(long tk, long dv, const float *v, long ldv,
                                                                    void *packed, long panels, long lines) {
    const long pairs = ceil_to(tk, 2) / 2;
    attn_u32 *dst = packed;
    for (long q = 0; q < panels; q++) {
        const long n0 = q * 16, cols = n0 < dv ? min_l(16, dv - n0) : 0;
        const __mmask16 mk = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        attn_u32 *panel = dst + q * lines * 16;
        for (long t = 0; t < pairs; t++) {
            const __m512i even = bf16_round16(_mm512_maskz_loadu_ps(mk, v + 2 * t * ldv + n0));
            const __m512i odd = 2 * t + 1 < tk ? bf16_round16(_mm512_maskz_loadu_ps(mk, v + (2 * t + 1) * ldv + n0))
                                               : _mm512_setzero_si512();
            _mm512_storeu_si512(panel + t * 16, _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi32(0xffff)),
                                                                _mm512_slli_epi32(odd, 16)));
        }
        for (long t = pairs; t < lines; t++) _mm512_storeu_si512(panel + t * 16, _mm512_setzero_si512());
    }
}
#endif

// MARK: one fused head on AMX (path 4, vla_attn_bf16_head)
//
// The head in blocks of 32 query rows, so that a block's scores (f32) and probabilities (bf16) stay in L1 between
// the two products: the block's q̃ rounded, S = q̃·k̃ᵀ on the tiles into the block's scores, each row's scale,
// bias, mask and softmax rounded to bf16 (vla_attention_rows_bf16_avx512), then y = p̃·ṽ on the tiles. The tile
// instructions are vla_attn_bf16_scores' and _values' in the same order (chunks of 32 bf16 of the shared
// dimension, sums from +0; zero padding only adds +0 products) and the rows between them get the same operations,
// so the results are theirs bit for bit. Keys are padded to a multiple of 32 and both shared dimensions to whole
// chunks, so every block is 2 × 2 tiles, no tail needs copying and one tile configuration serves the whole head; a
// last block's missing rows are zero and its outputs go through a small buffer.

#if defined(__x86_64__)
// One 32-row block's 2 × 2 tiles (two: the second row tile is used) over `chunks` chunks: a from rows of lda
// bytes, the two weight panels w0, w1 in chunks of 1 KiB; the sums from +0 into tiles 0–3.
AMX_INLINE void attn_head_block(int two, long chunks, const uint8_t *a, long lda, const uint8_t *w0,
                                const uint8_t *w1) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (long c = 0; c < chunks; c++) {
        _tile_loadd(4, a + c * 64, lda);
        _tile_loadd(6, w0 + c * 1024, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, w1 + c * 1024, 64);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
            _tile_loadd(5, a + 16 * lda + c * 64, lda);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
}

// Tiles 0–3 as a 32 × 32 block of f32 at out (row stride ldo floats; rows 16–31 only with two).
AMX_INLINE void attn_head_store(int two, float *out, long ldo) {
    _tile_stored(0, out, ldo * 4);
    _tile_stored(1, out + 16, ldo * 4);
    if (two) {
        _tile_stored(2, out + 16 * ldo, ldo * 4);
        _tile_stored(3, out + 16 * ldo + 16, ldo * 4);
    }
}

// The head's operands and buffers (one block's scores, f32, and p̃, bf16).
typedef struct {
    attn_head_plan l;
    long tq, tk, d, dv, ldq, ldbias, ldmask, ldy;
    const float *q, *bias;
    const uint8_t *mask, *kp, *vp;
    float scale, *y, *sb, *ob;
    uint16_t *qb, *pb;
} attn_head;

// Columns [j, j + 32) of block b's y, from its p̃.
AMX_INLINE void attn_head_values(const attn_head *h, long b, long j) {
    const long i = b * 32, rows = min_l(32, h->tq - i), cols = min_l(32, h->dv - j), vstride = (h->l.ls / 2) * 64;
    const int two = rows > 16;
    attn_head_block(two, h->l.ls / 32, (const uint8_t *)h->pb, h->l.ls * 2, h->vp + (j / 16) * vstride,
                    h->vp + (j / 16 + 1) * vstride);
    if (rows == 32 && cols == 32) {
        attn_head_store(1, h->y + i * h->ldy + j, h->ldy);
    } else {
        attn_head_store(two, h->ob, 32);
        for (long r = 0; r < rows; r++) memcpy(h->y + (i + r) * h->ldy + j, h->ob + r * 32, (size_t)cols * 4);
    }
}

// Block by block: q̃ rows, the scores on the tiles, the rows on the vector units, y on the tiles. (Running the
// tile work of the neighbouring blocks between the rows, so that both units work at once, measured 20% slower per
// head here, at any granularity from every row to every half block.)
AMX_FN static void attn_head_amx(const attn_head *h) {
    const attn_head_plan l = h->l;
    const long kstride = l.klines * 64;
    amx_config cfg;
    amx_configure(&cfg, 16, 16);
    for (long b = 0; b * 32 < h->tq; b++) {
        const long i = b * 32, rows = min_l(32, h->tq - i);
        const int two = rows > 16;
        bf16_round512(rows, h->d, h->q + i * h->ldq, h->ldq, h->qb, l.rd);
        if (rows < l.rows) memset(h->qb + rows * l.rd, 0, (size_t)((l.rows - rows) * l.rd) * 2);
        for (long j = 0; j < l.ls; j += 32) {
            attn_head_block(two, l.rd / 32, (const uint8_t *)h->qb, l.rd * 2, h->kp + (j / 16) * kstride,
                            h->kp + (j / 16 + 1) * kstride);
            attn_head_store(two, h->sb + j, l.ls);
        }
        vla_attention_rows_bf16_avx512(h->sb, l.ls, rows, h->tk, h->scale, h->bias ? h->bias + i * h->ldbias : NULL,
                                       h->ldbias, h->mask ? h->mask + i * h->ldmask : NULL, h->ldmask, h->pb, l.ls, l.ls);
        if (rows < l.rows) memset(h->pb + rows * l.ls, 0, (size_t)((l.rows - rows) * l.ls) * 2);
        for (long j = 0; j < h->dv; j += 32) attn_head_values(h, b, j);
    }
    _tile_release();
}
#endif

int vla_attn_bf16_head(long tq, long tk, long d, long dv, const float *q, long ldq, const float *k, long ldk,
                       const float *v, long ldv, float scale, const float *bias, long ldbias, const uint8_t *mask,
                       long ldmask, void *scratch, float *y, long ldy) {
#if defined(__x86_64__)
    if (vla_attn_bf16_path() == 4 && attn_gather_ok(ldk)) {
        if (tq <= 0 || dv <= 0) return 1;
        char *base = scratch;
        const attn_head_plan l = attn_head_layout(tq, tk, d, dv);
        const attn_head h = {l, tq, tk, d, dv, ldq, ldbias, ldmask, ldy, q, bias, mask,
                             (const uint8_t *)(base + l.kp), (const uint8_t *)(base + l.vp), scale, y,
                             (float *)(base + l.s), (float *)(base + l.out), (uint16_t *)(base + l.qb),
                             (uint16_t *)(base + l.p)};
        attn_pack_keys_bf16_512(tk, d, k, ldk, base + h.l.kp, h.l.ls / 16, h.l.klines);
        attn_pack_values_bf16(tk, dv, v, ldv, base + h.l.vp, h.l.vpanels, h.l.ls / 2);
        attn_head_amx(&h);
        return 1;
    }
#endif
    (void)tq, (void)tk, (void)d, (void)dv, (void)q, (void)ldq, (void)k, (void)ldk, (void)v, (void)ldv, (void)scale;
    (void)bias, (void)ldbias, (void)mask, (void)ldmask, (void)scratch, (void)y, (void)ldy;
    return 0;
}

void vla_attn_bf16_scores(long tq, long tk, long d, const float *q, long ldq, const float *k, long ldk,
                          void *scratch, float *s, long lds) {
    if (tq <= 0 || tk <= 0) return;
    char *base = scratch;
#if defined(__x86_64__)
    if (vla_attn_bf16_path() == 4) {
        const long rd = vla_bf16_row_stride(d);
        uint16_t *qb = (uint16_t *)base;
        char *packed = base + attn_al64((size_t)(tq * rd) * 2);
        bf16_round512(tq, d, q, ldq, qb, rd);
        attn_pack_keys_bf16_512(tk, d, k, ldk, packed, ceil_to(tk, 16) / 16, ceil_to(d, 2) / 2);
        attn_gemm_amx(tq, tk, d, qb, rd, packed, s, lds);
        return;
    }
#endif
    float *qf = (float *)base;
    float *packed = (float *)(base + attn_al64((size_t)(tq * d) * 4));
    attn_round_f32(tq, d, q, ldq, qf, d);
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2 && attn_gather_ok(ldk)) {
        attn_pack_keys_f32_512(d, tk, k, ldk, packed);
    } else
#endif
    {
        vla_f32_pack_transposed(d, tk, k, ldk, packed);
        if (d > 0) attn_round_f32(1, (long)(vla_f32_packed_bytes(d, tk) / 4), packed, 0, packed, 0);  // d = 0: nothing packed
    }
    vla_f32_gemm_packed(tq, 0, tk, d, qf, d, packed, tk, NULL, s, lds);
}

void vla_attn_bf16_round_rows(long m, long n, float *x, long ldx) { attn_round_f32(m, n, x, ldx, x, ldx); }

void vla_attn_bf16_values(long tq, long tk, long dv, float *p, long ldp, int p_bf16, const float *v, long ldv,
                          void *scratch, float *y, long ldy) {
    if (tq <= 0 || dv <= 0) return;
    char *base = scratch;
#if defined(__x86_64__)
    if (vla_attn_bf16_path() == 4) {
        const long rk = vla_bf16_row_stride(tk);
        uint16_t *pb = (uint16_t *)base;
        char *packed = base + attn_al64((size_t)(tq * rk) * 2);
        bf16_round512(tq, tk, p, ldp, pb, rk);
        attn_pack_values_bf16(tk, dv, v, ldv, packed, ceil_to(dv, 16) / 16, ceil_to(tk, 2) / 2);
        attn_gemm_amx(tq, dv, tk, pb, rk, packed, y, ldy);
        return;
    }
#endif
    float *packed = (float *)base;
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        attn_pack_values_f32_512(tk, dv, v, ldv, packed);
    } else
#endif
    {
        vla_f32_pack(tk, dv, v, ldv, packed);
        if (tk > 0) attn_round_f32(1, (long)(vla_f32_packed_bytes(tk, dv) / 4), packed, 0, packed, 0);  // tk = 0: nothing packed
    }
    if (!p_bf16) attn_round_f32(tq, tk, p, ldp, p, ldp);
    vla_f32_gemm_packed(tq, 0, dv, tk, p, ldp, packed, dv, NULL, y, ldy);
}
