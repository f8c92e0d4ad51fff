// Checks every instruction-set path of CVLAKernels and CVLASHA256 against the portable reference on the same
// inputs, bit for bit, in the process it runs in: built for aarch64 and run under qemu-aarch64 at several CPU
// models (Tests/aarch64/Makefile, `make test-aarch64`), and built for the host as well, where it checks the x86
// paths and the element-wise reference below against the AVX-512 path.
//
//   driver [--expect-isa N] [--expect-q8 N] [--expect-bf16 N] [--expect-sha N] [--quick]
//
// The --expect options check what run-time detection chose on this CPU (the best level of each family and
// whether SHA-256 instructions are used), so a run under `-cpu cortex-a53` proves that no dot-product, i8mm or
// bf16 path is chosen there. Every level from 1 to the best is forced in turn and compared with level 0, except
// the aarch64 BFDOT/BFMMLA paths (bf16 2 and 3), which are compared with a transcription of their own rule.
// Exit status 0 when everything matches; otherwise the first mismatches are printed and the status is 1.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vla_kernels.h"
#include "vla_sha256.h"

// Every product and sum of the reference is its own IEEE operation, like Swift's (gcc: -ffp-contract=off).
#pragma clang fp contract(off)

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

static long checks, failures;

static void fail(const char *fmt, const char *what, long index, uint32_t want, uint32_t got) {
    failures++;
    if (failures <= 20) {
        fprintf(stderr, "MISMATCH %s: ", what);
        fprintf(stderr, fmt, index, want, got);
        fputc('\n', stderr);
    }
}

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static uint32_t to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/// Compares n floats bit for bit; a NaN only has to meet a NaN. Where two NaN operands meet in one FMA, the
/// architecture passes on the first one's sign and payload, and which is first follows the operand order the
/// compiler picked (fmla/fmadd or vfmadd132/213/231 are commutative in the product): gcc and clang builds of the
/// same source differ there, so no path can promise NaN payloads (the Swift tests compare NaN as NaN too). Those
/// differences are counted (nan_payloads) and printed, not failed.
static long nan_payloads;
static int same_value(float a, float b) {
    if (a != a && b != b) {
        nan_payloads += to_bits(a) != to_bits(b);
        return 1;
    }
    return to_bits(a) == to_bits(b);
}

static void same_floats(const char *what, const float *want, const float *got, long n) {
    checks++;
    for (long i = 0; i < n; i++)
        if (!same_value(want[i], got[i])) {
            fail("element %ld: reference %08x, path %08x", what, i, to_bits(want[i]), to_bits(got[i]));
            return;
        }
}

static void same_bytes(const char *what, const void *want, const void *got, size_t n) {
    checks++;
    const uint8_t *a = want, *b = got;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            fail("byte %ld: reference %02x, path %02x", what, (long)i, a[i], b[i]);
            return;
        }
}

// MARK: inputs

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)((next_u64() >> 40) * 0x1p-24); }

/// Random floats in [−scale, scale); with `special`, one in 16 is an edge value (±0, ±∞, NaN, a denormal, huge).
static void fill(float *x, long n, float scale, int special) {
    static const uint32_t edges[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001,
                                     0x00000001, 0x807fffff, 0x7f7fffff, 0x42c80000, 0xc2c80000, 0x3ecccccd,
                                     0x3f19999a, 0x4111999a, 0xbecccccc, 0x3f800000};
    for (long i = 0; i < n; i++) {
        const uint64_t r = next_u64();
        if (special && (r & 15) == 0)
            x[i] = from_bits(edges[(r >> 4) % (sizeof edges / sizeof edges[0])]);
        else
            x[i] = uniform(-scale, scale);
    }
}

static void *aligned(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

// MARK: fp32 products (vla_gemm, vla_f32_gemm_packed)

static void test_gemm(int best, int quick) {
    static const long ms[] = {1, 2, 3, 5, 6, 7, 12, 13};
    static const long ns[] = {1, 3, 4, 5, 8, 15, 16, 17, 31, 33, 48, 50};
    static const long ks[] = {0, 1, 2, 7, 16, 33, 129};
    const int nm = quick ? 4 : 8, nn = quick ? 6 : 12;
    for (int level = 1; level <= best; level++)
        for (int mi = 0; mi < nm; mi++)
            for (int ni = 0; ni < nn; ni++)
                for (int ki = 0; ki < 7; ki++)
                    for (int variant = 0; variant < 2; variant++) {
                        const long m = ms[mi], n = ns[ni], k = ks[ki];
                        const long lda = k + 3, ldb = n + 5, ldc = n + 2;
                        float *a = aligned(sizeof(float) * (size_t)(m * lda + 1));
                        float *b = aligned(sizeof(float) * (size_t)(k * ldb + 1));
                        float *c0 = aligned(sizeof(float) * (size_t)(m * ldc));
                        float *c1 = aligned(sizeof(float) * (size_t)(m * ldc));
                        fill(a, m * lda, 2, variant);
                        fill(b, k * ldb, 2, variant);
                        fill(c0, m * ldc, 4, variant);
                        memcpy(c1, c0, sizeof(float) * (size_t)(m * ldc));
                        const int accumulate = variant;
                        const float scale = variant ? 0.375f : 1.0f;
                        vla_kernels_force_isa(0);
                        vla_gemm(m, n, k, a, lda, b, ldb, c0, ldc, accumulate, scale);
                        vla_kernels_force_isa(level);
                        vla_gemm(m, n, k, a, lda, b, ldb, c1, ldc, accumulate, scale);
                        char what[128];
                        snprintf(what, sizeof what, "vla_gemm level %d m %ld n %ld k %ld variant %d", level, m, n, k,
                                 variant);
                        same_floats(what, c0, c1, m * ldc);  // the columns past n too: untouched
                        free(a), free(b), free(c0), free(c1);
                    }
    for (int level = 1; level <= best; level++)
        for (int mi = 0; mi < nm; mi++)
            for (int ni = 0; ni < nn; ni++)
                for (int ki = 0; ki < 7; ki++)
                    for (int variant = 0; variant < 3; variant++) {
                        const long m = ms[mi], n = ns[ni], k = ks[ki];
                        // variant 0: no bias, all columns; 1: bias; 2: bias, columns [16, n − 1) when n > 17.
                        const long n0 = variant == 2 && n > 17 ? 16 : 0, n1 = variant == 2 && n > 17 ? n - 1 : n;
                        const long lda = k + 1, ldy = n + 3;
                        float *a = aligned(sizeof(float) * (size_t)(m * lda + 1));
                        float *w = aligned(sizeof(float) * (size_t)(k * n + 1));
                        float *bias = aligned(sizeof(float) * (size_t)n);
                        void *packed = aligned(vla_f32_packed_bytes(k, n));
                        float *y0 = aligned(sizeof(float) * (size_t)(m * ldy));
                        float *y1 = aligned(sizeof(float) * (size_t)(m * ldy));
                        fill(a, m * lda, 2, variant == 1);
                        fill(w, k * n, 2, variant == 1);
                        fill(bias, n, 1, 0);
                        fill(y0, m * ldy, 1, 0);
                        memcpy(y1, y0, sizeof(float) * (size_t)(m * ldy));
                        if (variant == 2) {
                            // The transposed packing (attention's keys) must give the same panels.
                            float *wt = aligned(sizeof(float) * (size_t)(n * k + 1));
                            for (long p = 0; p < k; p++)
                                for (long j = 0; j < n; j++) wt[j * k + p] = w[p * n + j];
                            void *packed2 = aligned(vla_f32_packed_bytes(k, n));
                            vla_f32_pack(k, n, w, n, packed);
                            vla_f32_pack_transposed(k, n, wt, k, packed2);
                            same_bytes("vla_f32_pack_transposed", packed, packed2, vla_f32_packed_bytes(k, n));
                            free(wt), free(packed2);
                        } else {
                            vla_f32_pack(k, n, w, n, packed);
                        }
                        const float *bp = variant ? bias : NULL;
                        vla_kernels_force_isa(0);
                        vla_f32_gemm_packed(m, n0, n1, k, a, lda, packed, n, bp, y0, ldy);
                        vla_kernels_force_isa(level);
                        vla_f32_gemm_packed(m, n0, n1, k, a, lda, packed, n, bp, y1, ldy);
                        char what[128];
                        snprintf(what, sizeof what, "vla_f32_gemm_packed level %d m %ld n %ld k %ld variant %d", level,
                                 m, n, k, variant);
                        same_floats(what, y0, y1, m * ldy);
                        // The packed product equals vla_gemm's chain (bias as the start, accumulate 1).
                        if (variant == 1) {
                            float *c = aligned(sizeof(float) * (size_t)(m * n));
                            for (long i = 0; i < m; i++) memcpy(c + i * n, bias, sizeof(float) * (size_t)n);
                            vla_gemm(m, n, k, a, lda, w, n, c, n, 1, 1.0f);
                            for (long i = 0; i < m; i++) same_floats("packed against vla_gemm", c + i * n, y1 + i * ldy, n);
                            free(c);
                        }
                        free(a), free(w), free(bias), free(packed), free(y0), free(y1);
                    }
    vla_kernels_force_isa(99);
}

// Attention's products without packing (a few query rows): on every level, the bits of the packed product at
// level 0 (keys packed transposed, values packed), operands with the edge values; nothing past a row changes.
static void test_attn_direct(int best, int quick) {
    static const long tks[] = {1, 7, 8, 9, 31, 257};
    static const long ds[] = {1, 7, 8, 16, 17, 64};
    for (int level = 0; level <= best; level++)
        for (long tq = 1; tq <= 3; tq++)
            for (int ti = 0; ti < (quick ? 4 : 6); ti++)
                for (int di = 0; di < 6; di++) {
                    const long tk = tks[ti], d = ds[di], ldq = d + 3, ldk = d + 5, lds = tk + 2, ldy = d + 1;
                    float *q = aligned(sizeof(float) * (size_t)(tq * ldq));
                    float *k = aligned(sizeof(float) * (size_t)(tk * ldk));
                    float *p = aligned(sizeof(float) * (size_t)(tq * lds));
                    float *s0 = aligned(sizeof(float) * (size_t)(tq * lds)), *s1 = aligned(sizeof(float) * (size_t)(tq * lds));
                    float *y0 = aligned(sizeof(float) * (size_t)(tq * ldy)), *y1 = aligned(sizeof(float) * (size_t)(tq * ldy));
                    void *kp = aligned(vla_f32_packed_bytes(d, tk)), *vp = aligned(vla_f32_packed_bytes(tk, d));
                    fill(q, tq * ldq, 2, 1);
                    fill(k, tk * ldk, 2, 1);
                    fill(p, tq * lds, 1, 1);
                    fill(s0, tq * lds, 1, 0);
                    memcpy(s1, s0, sizeof(float) * (size_t)(tq * lds));
                    fill(y0, tq * ldy, 1, 0);
                    memcpy(y1, y0, sizeof(float) * (size_t)(tq * ldy));
                    vla_kernels_force_isa(0);
                    vla_f32_pack_transposed(d, tk, k, ldk, kp);
                    vla_f32_gemm_packed(tq, 0, tk, d, q, ldq, kp, tk, NULL, s0, lds);
                    vla_f32_pack(tk, d, k, ldk, vp);
                    vla_f32_gemm_packed(tq, 0, d, tk, p, lds, vp, d, NULL, y0, ldy);
                    vla_kernels_force_isa(level);
                    vla_f32_attn_scores_direct(tq, tk, d, q, ldq, k, ldk, s1, lds);
                    vla_f32_attn_values_direct(tq, tk, d, p, lds, k, ldk, y1, ldy);
                    char what[128];
                    snprintf(what, sizeof what, "vla_f32_attn_scores_direct level %d tq %ld tk %ld d %ld", level, tq, tk, d);
                    same_floats(what, s0, s1, tq * lds);
                    snprintf(what, sizeof what, "vla_f32_attn_values_direct level %d tq %ld tk %ld dv %ld", level, tq, tk, d);
                    same_floats(what, y0, y1, tq * ldy);
                    free(q), free(k), free(p), free(s0), free(s1), free(y0), free(y1), free(kp), free(vp);
                }
    vla_kernels_force_isa(best);
}

// MARK: element-wise reference: VLARuntime's VectorMath and Kernels (Swift), one lane at a time

static float r_exp(float x) {
    const float log2e = from_bits(0x3fb8aa3b), ln2Hi = from_bits(0x3f317200), ln2Lo = from_bits(0x35bfbe8e);
    const float lo = from_bits(0xc2aeac50), hi = from_bits(0x42b20000), magic = 12582912.0f;
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const float shifted = fmaf(xc, log2e, magic);
    const float n = shifted - magic;
    float r = fmaf(n, -ln2Hi, xc);
    r = fmaf(n, -ln2Lo, r);
    float p = from_bits(0x3ab428c4);
    p = fmaf(p, r, from_bits(0x3c091def));
    p = fmaf(p, r, from_bits(0x3d2aadcc));
    p = fmaf(p, r, from_bits(0x3e2aaa47));
    p = fmaf(p, r, from_bits(0x3efffffc));
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    const int32_t ni = (int32_t)(to_bits(shifted) << 10) >> 10;
    const int32_t half = ni >> 1;
    const float f1 = from_bits((uint32_t)(half + 127) << 23), f2 = from_bits((uint32_t)(ni - half + 127) << 23);
    float y = p * f1 * f2;
    if (x < lo) y = 0;
    return y;
}

static float r_tanh(float x) {
    const float a = x < 0 ? -x : x;
    const float t = r_exp(-2.0f * a);
    float big = (1 - t) / (1 + t);
    if (a > from_bits(0x4111999a)) big = 1;
    const float s = x * x;
    float p = (float)(-929569.0 / 638512875.0);
    p = p * s + 21844.0f / 6081075;
    p = p * s + -1382.0f / 155925;
    p = p * s + 62.0f / 2835;
    p = p * s + -17.0f / 315;
    p = p * s + 2.0f / 15;
    p = p * s + -1.0f / 3;
    const float small = x + x * s * p;
    float y = x < 0 ? -big : big;
    if (a < from_bits(0x3ecccccd)) y = small;
    if (x != x) y = x;
    return y;
}

// VectorMath.erfCoefficients, transcribed: c_j of interval k is r_erf_c[j][k].
static const uint32_t r_erf_c[7][8] = {
    {0x00000000u, 0x3f053f7bu, 0x3f57bb3du, 0x3f7752abu, 0x3f7ecd71u, 0x3f7fe554u, 0x3f7ffe8du, 0x3f7ffff4u},
    {0x3f906ebbu, 0x3f60f7e8u, 0x3ed48906u, 0x3df391a8u, 0x3ca94d9cu, 0x3b0ec1c9u, 0x39120768u, 0x36b38ea8u},
    {0xb6b1889eu, 0xbee0f7f4u, 0xbed488c7u, 0xbe36addfu, 0xbd2950a5u, 0xbbb253b5u, 0xb9d98597u, 0xb7a9d0cau},
    {0xbec08169u, 0xbe15ffbau, 0x3e0da2f2u, 0x3e0e193du, 0x3d459200u, 0x3c08c732u, 0x3a4e7ecfu, 0x3841c792u},
    {0xbad07c88u, 0x3e3b7511u, 0x3d8d9fd6u, 0xbd365ce9u, 0xbd0cc1deu, 0xbc0f2439u, 0xba94aeb9u, 0xb872b397u},
    {0x3df9749au, 0x3c01bfdeu, 0xbd8a497cu, 0xbc7bf708u, 0x3c50496fu, 0x3bca5a82u, 0x3a8af22au, 0x37fe9c3bu},
    {0xbcca01cfu, 0xbd490f95u, 0x3b940519u, 0x3c9715d1u, 0xb90e5f2bu, 0xbae5287eu, 0x387de412u, 0xb5c6a22bu},
};

static float r_erf(float x) {
    if (x != x) return x;
    const float a = from_bits(to_bits(x) & 0x7fffffffu);
    const float ac = a > 4 ? 4 : a;
    float shifted = ac * 2 + 12582912.0f;
    if (shifted > 12582919.0f) shifted = 12582919.0f;
    const float t = ac - (shifted - 12582912.0f) * 0.5f;
    const uint32_t k = to_bits(shifted) & 7;
    float p = from_bits(r_erf_c[6][k]);
    for (int j = 5; j >= 0; j--) p = fmaf(p, t, from_bits(r_erf_c[j][k]));
    return from_bits(to_bits(p) | (to_bits(x) & 0x80000000u));
}

static float r_unary(int kind, float param, float x) {
    switch (kind) {
    case VLA_GELU_TANH: {
        const float inner = from_bits(0x3f4c422a) * (x + from_bits(0x3d372713) * (x * x * x));
        return 0.5f * x * (1 + r_tanh(inner));
    }
    case VLA_GELU_ERF: return 0.5f * x * (1 + r_erf(x * from_bits(0x3f3504f3)));
    case VLA_TANH: return r_tanh(x);
    default: return param * r_tanh(x / param);
    }
}

/// Kernels.softmaxRow: 16 lanes (lane l sees the elements i ≡ l mod 16), lane order reductions.
static void r_softmax(const float *x, float *y, long n) {
    float mx[16], acc[16];
    for (int l = 0; l < 16; l++) mx[l] = -INFINITY, acc[l] = 0;
    for (long i = 0; i < n; i++)
        if (x[i] > mx[i % 16]) mx[i % 16] = x[i];
    float top = mx[0];
    for (int l = 1; l < 16; l++)
        if (mx[l] > top) top = mx[l];
    const long full = n / 16 * 16;
    for (long i = 0; i < n; i++) {
        const float e = r_exp(x[i] - top);
        y[i] = e;
        acc[i % 16] = acc[i % 16] + e;
    }
    // Past the end, Swift's tail lanes hold e = 0 (added: +0 + 0 stays as it was).
    for (long i = n; i < (n > full ? full + 16 : full); i++) acc[i % 16] = acc[i % 16] + 0.0f;
    float sum = -0.0f;
    for (int l = 0; l < 16; l++) sum += acc[l];
    const float inv = 1 / sum;
    for (long i = 0; i < n; i++) y[i] = y[i] * inv;
}

// The image contract's accumulation: acc[i] + w·x[i] per element (a separate product and sum), uint8 and f32 x,
// against the plain C loop (AVX-512, AVX2, Advanced SIMD; the portable level reports 0 and the Swift loop runs).
static void test_scale_add(void) {
    static const long counts[] = {1, 15, 16, 17, 1920, 1923};
    if (!vla_scale_add_f32((float[]){0}, (const float[]){0}, 1, 1)) {
        printf("image accumulation: no fast path on this CPU at this level (the Swift loop runs)\n");
        return;
    }
    for (int ci = 0; ci < 6; ci++) {
        const long n = counts[ci];
        float *acc = aligned(sizeof(float) * (size_t)(n + 1)), *want = aligned(sizeof(float) * (size_t)(n + 1));
        float *xf = aligned(sizeof(float) * (size_t)(n + 1));
        uint8_t *xb = aligned((size_t)(n + 1));
        fill(acc, n, 300, 0);
        fill(xf, n, 255, 0);
        for (long i = 0; i < n; i++) xb[i] = (uint8_t)(i * 37 + 11);
        const float w = -0.0731f;
        for (long i = 0; i < n; i++) want[i] = acc[i] + w * (float)xb[i];
        vla_scale_add_u8(acc, xb, w, n);
        same_floats("vla_scale_add_u8", want, acc, n);
        for (long i = 0; i < n; i++) want[i] = acc[i] + w * xf[i];
        vla_scale_add_f32(acc, xf, w, n);
        same_floats("vla_scale_add_f32", want, acc, n);
        free(acc), free(want), free(xf), free(xb);
    }
}

static void test_elementwise(int quick) {
    static const long counts[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000, 4099};
    const int nc = quick ? 12 : 17;
    if (!vla_unary(VLA_TANH, 0, (const float[]){0}, (float[]){0}, 1)) {
        printf("element-wise: no fast path on this CPU at this level (the Swift kernels run)\n");
        return;
    }
    for (int kind = VLA_GELU_TANH; kind <= VLA_SCALED_TANH; kind++)
        for (int ci = 0; ci < nc; ci++)
            for (int variant = 0; variant < 3; variant++) {
                const long n = counts[ci];
                float *x = aligned(sizeof(float) * (size_t)(n + 1)), *y = aligned(sizeof(float) * (size_t)(n + 1));
                float *want = aligned(sizeof(float) * (size_t)(n + 1));
                // 0: moderate values; 1: edge values mixed in; 2: wide range (exp's clamps, tanh's 9.1 cut).
                fill(x, n, variant == 2 ? 120 : 6, variant == 1);
                const float param = kind == VLA_SCALED_TANH ? (variant ? 2.5f : 1.0f) : 0;
                for (long i = 0; i < n; i++) want[i] = r_unary(kind, param, x[i]);
                y[n] = 42;
                vla_unary(kind, param, x, y, n);
                char what[96];
                snprintf(what, sizeof what, "vla_unary kind %d n %ld variant %d", kind, n, variant);
                same_floats(what, want, y, n);
                if (y[n] != 42) fail("element %ld: %08x then %08x (written past the end)", what, n, 42, to_bits(y[n]));
                vla_unary(kind, param, x, x, n);  // in place
                same_floats(what, want, x, n);
                free(x), free(y), free(want);
            }
    for (int ci = 1; ci < nc; ci++)
        for (int variant = 0; variant < 4; variant++) {
            const long n = counts[ci];
            float *x = aligned(sizeof(float) * (size_t)(n + 1)), *y = aligned(sizeof(float) * (size_t)(n + 1));
            float *want = aligned(sizeof(float) * (size_t)(n + 1));
            fill(x, n, variant == 2 ? 200 : 8, 0);
            if (variant == 1)
                for (long i = 0; i < n; i += 3) x[i] = -INFINITY;
            if (variant == 3) x[n / 2] = NAN;
            r_softmax(x, want, n);
            y[n] = 42;
            vla_softmax_row(x, y, n);
            char what[96];
            snprintf(what, sizeof what, "vla_softmax_row n %ld variant %d", n, variant);
            same_floats(what, want, y, n);
            if (y[n] != 42) fail("element %ld: %08x then %08x (written past the end)", what, n, 42, to_bits(y[n]));
            vla_softmax_row(x, x, n);  // in place
            same_floats(what, want, x, n);
            free(x), free(y), free(want);
        }
    // vla_unary_rows: vla_unary's function on a block of rows in place (row stride past the columns).
    for (int kind = VLA_GELU_TANH; kind <= VLA_SCALED_TANH; kind++)
        for (long cols = 1; cols <= 40; cols += 13) {
            const long rows = 5, ld = cols + 3;
            float *x = aligned(sizeof(float) * (size_t)(rows * ld)), *want = aligned(sizeof(float) * (size_t)(rows * ld));
            fill(x, rows * ld, 6, 1);
            const float param = kind == VLA_SCALED_TANH ? 2.5f : 0;
            for (long i = 0; i < rows * ld; i++) want[i] = i % ld < cols ? r_unary(kind, param, x[i]) : x[i];
            vla_unary_rows(kind, param, x, ld, rows, cols);
            char what[96];
            snprintf(what, sizeof what, "vla_unary_rows kind %d cols %ld", kind, cols);
            same_floats(what, want, x, rows * ld);
            free(x), free(want);
        }
    // vla_attention_row: x·scale, + bias, −FLT_MAX where the mask is 0, then the softmax above.
    for (int ci = 1; ci < nc; ci++)
        for (int variant = 0; variant < 6; variant++) {
            const long n = counts[ci];
            float *x = aligned(sizeof(float) * (size_t)(n + 1)), *bias = aligned(sizeof(float) * (size_t)(n + 1));
            float *want = aligned(sizeof(float) * (size_t)(n + 1));
            uint8_t *mask = aligned((size_t)n + 1);
            fill(x, n, 8, 0);
            fill(bias, n, 2, 0);
            for (long i = 0; i < n; i++) mask[i] = variant == 4 ? 0 : (uint8_t)(i % 3 == 0 ? 0 : 1 + i % 2);
            const float scale = variant % 2 ? 1.0f : 0.125f;
            const float *b = variant >= 2 ? bias : NULL;
            const uint8_t *m = variant >= 4 ? mask : NULL;
            for (long i = 0; i < n; i++) {
                float v = x[i];
                if (scale != 1) v = v * scale;
                if (b) v = v + b[i];
                if (m && m[i] == 0) v = -FLT_MAX;
                want[i] = v;
            }
            r_softmax(want, want, n);
            x[n] = 42;
            vla_attention_row(x, n, scale, b, m);
            char what[96];
            snprintf(what, sizeof what, "vla_attention_row n %ld variant %d", n, variant);
            same_floats(what, want, x, n);
            if (x[n] != 42) fail("element %ld: %08x then %08x (written past the end)", what, n, 42, to_bits(x[n]));
            // vla_attention_rows: three rows (row stride n + 1, bias rows of their own, one shared mask row) give
            // vla_attention_row's bits on each.
            float *rows = aligned(sizeof(float) * (size_t)(3 * (n + 1))), *rwant = aligned(sizeof(float) * (size_t)(3 * (n + 1)));
            float *rbias = aligned(sizeof(float) * (size_t)(3 * n));
            fill(rows, 3 * (n + 1), 8, 0);
            fill(rbias, 3 * n, 2, 0);
            memcpy(rwant, rows, sizeof(float) * (size_t)(3 * (n + 1)));
            for (long r = 0; r < 3; r++) vla_attention_row(rwant + r * (n + 1), n, scale, b ? rbias + r * n : NULL, m);
            vla_attention_rows(rows, n + 1, 3, n, scale, b ? rbias : NULL, n, m, 0);
            snprintf(what, sizeof what, "vla_attention_rows n %ld variant %d", n, variant);
            same_floats(what, rwant, rows, 3 * (n + 1));
            free(x), free(bias), free(want), free(mask), free(rows), free(rwant), free(rbias);
        }
}

// MARK: int8 and bf16 products

static void test_q8(int best, int quick) {
    static const long ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
    static const long ks[] = {1, 3, 4, 5, 15, 64, 65, 100, 257};
    static const long ns[] = {1, 5, 16, 17, 33, 48, 50};
    const int nm = quick ? 5 : 9;
    // x86: path 1 first with AVX-VNNI (vpdpbusd on ymm) where the CPU has it, then every level without it.
    for (int vnni = 1; vnni >= 0; vnni--)
    for (int level = 1; level <= (vnni ? 1 : best); level++)
        for (int mi = 0; mi < nm && vla_q8_force_avx_vnni(vnni) == vnni; mi++)
            for (int ki = 0; ki < 9; ki++)
                for (int ni = 0; ni < 7; ni++)
                    for (int variant = 0; variant < 4; variant++) {
                        const long m = ms[mi], k = ks[ki], n = ns[ni];
                        const long ldx = k + 1, ldq = vla_q8_row_stride(k) + 64, ldy = n + 1;
                        const long n0 = variant == 3 && n > 16 ? 16 : 0;
                        float *x = aligned(sizeof(float) * (size_t)(m * ldx));
                        int8_t *w = aligned((size_t)(k * n));
                        void *packed = aligned(vla_q8_packed_bytes(k, n));
                        int8_t *q0 = aligned((size_t)(m * ldq)), *q1 = aligned((size_t)(m * ldq));
                        float *s0 = aligned(sizeof(float) * (size_t)m), *s1 = aligned(sizeof(float) * (size_t)m);
                        float *wscale = aligned(sizeof(float) * (size_t)n), *bias = aligned(sizeof(float) * (size_t)n);
                        float *mul = aligned(sizeof(float) * (size_t)n);
                        float *add = aligned(sizeof(float) * (size_t)(m * ldy));
                        float *y0 = aligned(sizeof(float) * (size_t)(m * ldy)), *y1 = aligned(sizeof(float) * (size_t)(m * ldy));
                        fill(x, m * ldx, 3, variant == 1);
                        for (long i = 0; i < k * n; i++) {
                            const long r = (long)(next_u64() % 255) - 127;  // [−127, 127]
                            w[i] = (int8_t)(variant == 2 ? (i & 1 ? 127 : -127) : r);
                        }
                        if (variant == 2)
                            for (long i = 0; i < m * ldx; i++) x[i] = i & 1 ? 5.0f : -5.0f;  // |sums| at the bound
                        fill(wscale, n, 0.01f, 0), fill(bias, n, 1, 0), fill(mul, n, 2, 0), fill(add, m * ldy, 1, 0);
                        vla_q8_pack(k, n, w, n, packed);
                        memset(q0, 0x55, (size_t)(m * ldq)), memset(q1, 0x55, (size_t)(m * ldq));
                        vla_q8_force_isa(0);
                        vla_q8_quantize(m, k, x, ldx, q0, ldq, s0);
                        vla_q8_force_isa(level);
                        vla_q8_quantize(m, k, x, ldx, q1, ldq, s1);
                        char what[128];
                        snprintf(what, sizeof what, "vla_q8_quantize level %d vnni %d m %ld k %ld variant %d", level, vnni, m, k, variant);
                        same_bytes(what, q0, q1, (size_t)(m * ldq));
                        same_floats(what, s0, s1, m);
                        const float *bp = variant & 1 ? bias : NULL, *mp = variant >= 2 ? mul : NULL;
                        // variant 3: the residual added in place (add = y).
                        float *ap0 = variant == 1 || variant == 2 ? add : variant == 3 ? y0 : NULL;
                        float *ap1 = variant == 1 || variant == 2 ? add : variant == 3 ? y1 : NULL;
                        fill(y0, m * ldy, 1, 0);
                        memcpy(y1, y0, sizeof(float) * (size_t)(m * ldy));
                        vla_q8_force_isa(0);
                        vla_q8_gemm(m, n0, n, k, q0, ldq, s0, packed, n, wscale, bp, mp, ap0, ldy, y0, ldy);
                        vla_q8_force_isa(level);
                        vla_q8_gemm(m, n0, n, k, q0, ldq, s0, packed, n, wscale, bp, mp, ap1, ldy, y1, ldy);
                        snprintf(what, sizeof what, "vla_q8_gemm level %d vnni %d m %ld n %ld k %ld variant %d", level, vnni, m, n, k,
                                 variant);
                        same_floats(what, y0, y1, m * ldy);
                        // Zero-point activations (vla_q8_quantize_zp, vla_q8_gemm_zp): the same bits at every level.
                        int32_t *z0 = aligned(sizeof(int32_t) * (size_t)m), *z1 = aligned(sizeof(int32_t) * (size_t)m);
                        memset(q0, 0x55, (size_t)(m * ldq)), memset(q1, 0x55, (size_t)(m * ldq));
                        vla_q8_force_isa(0);
                        vla_q8_quantize_zp(m, k, x, ldx, q0, ldq, s0, z0);
                        vla_q8_force_isa(level);
                        vla_q8_quantize_zp(m, k, x, ldx, q1, ldq, s1, z1);
                        snprintf(what, sizeof what, "vla_q8_quantize_zp level %d vnni %d m %ld k %ld variant %d", level, vnni, m, k, variant);
                        same_bytes(what, q0, q1, (size_t)(m * ldq));
                        same_floats(what, s0, s1, m);
                        same_bytes(what, z0, z1, sizeof(int32_t) * (size_t)m);
                        fill(y0, m * ldy, 1, 0);
                        memcpy(y1, y0, sizeof(float) * (size_t)(m * ldy));
                        vla_q8_force_isa(0);
                        vla_q8_gemm_zp(m, n0, n, k, q0, ldq, s0, z0, packed, n, wscale, bp, mp, ap0, ldy, y0, ldy);
                        vla_q8_force_isa(level);
                        vla_q8_gemm_zp(m, n0, n, k, q0, ldq, s0, z0, packed, n, wscale, bp, mp, ap1, ldy, y1, ldy);
                        snprintf(what, sizeof what, "vla_q8_gemm_zp level %d vnni %d m %ld n %ld k %ld variant %d", level, vnni, m, n,
                                 k, variant);
                        same_floats(what, y0, y1, m * ldy);
                        free(z0), free(z1);
                        free(x), free(w), free(packed), free(q0), free(q1), free(s0), free(s1), free(wscale);
                        free(bias), free(mul), free(add), free(y0), free(y1);
                    }
    vla_q8_force_isa(99);
    vla_q8_force_avx_vnni(1);
}

/// vla_q8_quantize and vla_bf16_round on values where rounding is decided by a tie (rows whose max is 127, so
/// that x·inv is x itself, holding halves; f32 values exactly halfway between two bf16), next to ±0, NaN, ±∞,
/// denormals and the row-scale edge cases, every count 0…40 (vector body and tail), against level 0.
static void test_activation_ties(int q8_best, int bf16_best) {
    static const float specials[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -126.5f, 126.5f, -0.0f, 0.0f, 127.0f, -127.0f};
    for (long k = 0; k <= 40; k++)
        for (int variant = 0; variant < 3; variant++) {
            const long m = 3, ldx = k + 1, ldq = vla_q8_row_stride(k) + 64, ldxb = vla_bf16_row_stride(k) + 32;
            float *x = aligned(sizeof(float) * (size_t)(m * ldx + 1));
            for (long i = 0; i < m * ldx; i++) {
                const uint64_t r = next_u64();
                if (variant == 0) x[i] = (float)((long)(r % 255) - 127) + 0.5f * (float)(r >> 8 & 1);  // halves
                else if (variant == 1) x[i] = specials[(r >> 3) % (sizeof specials / sizeof specials[0])];
                else x[i] = from_bits(((uint32_t)r & 0x807fffffu) | ((r >> 32 & 3) ? 0x3f800000u : 0));  // ties, denormals
                if (variant == 2 && (r & 31) == 0) x[i] = from_bits((r >> 5 & 1) ? 0x7fc00000u : 0xff800000u);
            }
            for (long i = 0; i < m && k > 0; i++) x[i * ldx] = i == 1 ? -127.0f : 127.0f;  // max |x| = 127: inv = 1
            if (variant == 2)
                for (long i = 0; i < m * ldx; i++) {  // half-way bf16 cases: low 16 bits exactly 0x8000
                    uint32_t b = to_bits(x[i]);
                    if ((b & 0x7f800000u) != 0x7f800000u && (next_u64() & 1)) x[i] = from_bits((b & 0xffff0000u) | 0x8000u);
                }
            for (int level = 1; level <= q8_best; level++) {
                int8_t *q0 = aligned((size_t)(m * ldq)), *q1 = aligned((size_t)(m * ldq));
                float s0[3], s1[3];
                memset(q0, 0x55, (size_t)(m * ldq)), memset(q1, 0x55, (size_t)(m * ldq));
                vla_q8_force_isa(0);
                vla_q8_quantize(m, k, x, ldx, q0, ldq, s0);
                vla_q8_force_isa(level);
                vla_q8_quantize(m, k, x, ldx, q1, ldq, s1);
                char what[96];
                snprintf(what, sizeof what, "vla_q8_quantize ties level %d k %ld variant %d", level, k, variant);
                same_bytes(what, q0, q1, (size_t)(m * ldq));
                same_floats(what, s0, s1, m);
                int32_t z0[3], z1[3];
                memset(q0, 0x55, (size_t)(m * ldq)), memset(q1, 0x55, (size_t)(m * ldq));
                vla_q8_force_isa(0);
                vla_q8_quantize_zp(m, k, x, ldx, q0, ldq, s0, z0);
                vla_q8_force_isa(level);
                vla_q8_quantize_zp(m, k, x, ldx, q1, ldq, s1, z1);
                snprintf(what, sizeof what, "vla_q8_quantize_zp ties level %d k %ld variant %d", level, k, variant);
                same_bytes(what, q0, q1, (size_t)(m * ldq));
                same_floats(what, s0, s1, m);
                same_bytes(what, z0, z1, sizeof z0);
                free(q0), free(q1);
            }
            for (int level = 1; level <= bf16_best; level++) {
                uint16_t *b0 = aligned(sizeof(uint16_t) * (size_t)(m * ldxb)), *b1 = aligned(sizeof(uint16_t) * (size_t)(m * ldxb));
                memset(b0, 0x55, sizeof(uint16_t) * (size_t)(m * ldxb)), memset(b1, 0x55, sizeof(uint16_t) * (size_t)(m * ldxb));
                vla_bf16_force_isa(0);
                vla_bf16_round(m, k, x, ldx, b0, ldxb);
                vla_bf16_force_isa(level);
                vla_bf16_round(m, k, x, ldx, b1, ldxb);
                char what[96];
                snprintf(what, sizeof what, "vla_bf16_round ties level %d k %ld variant %d", level, k, variant);
                same_bytes(what, b0, b1, sizeof(uint16_t) * (size_t)(m * ldxb));
                free(b0), free(b1);
            }
            free(x);
        }
    vla_q8_force_isa(99);
    vla_bf16_force_isa(99);
}

static void test_bf16(int best, int quick) {
    static const long ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
    static const long ks[] = {1, 2, 3, 15, 32, 33, 100, 257};
    static const long ns[] = {1, 5, 16, 17, 33, 48, 50};
    const int nm = quick ? 5 : 9;
    for (int level = 1; level <= best; level++)
        for (int mi = 0; mi < nm; mi++)
            for (int ki = 0; ki < 8; ki++)
                for (int ni = 0; ni < 7; ni++)
                    for (int variant = 0; variant < 4; variant++) {
                        const long m = ms[mi], k = ks[ki], n = ns[ni];
                        const long ldx = k + 3, ldxb = vla_bf16_row_stride(k) + 32, ldy = n + 2;
                        const long n0 = variant == 3 && n > 16 ? 16 : 0;
                        float *x = aligned(sizeof(float) * (size_t)(m * ldx)), *wf = aligned(sizeof(float) * (size_t)(k * n));
                        uint16_t *w = aligned(sizeof(uint16_t) * (size_t)(k * n));
                        void *packed = aligned(vla_bf16_packed_bytes(k, n));
                        uint16_t *xb0 = aligned(sizeof(uint16_t) * (size_t)(m * ldxb));
                        uint16_t *xb1 = aligned(sizeof(uint16_t) * (size_t)(m * ldxb));
                        float *bias = aligned(sizeof(float) * (size_t)n), *mul = aligned(sizeof(float) * (size_t)n);
                        float *add = aligned(sizeof(float) * (size_t)(m * ldy));
                        float *y0 = aligned(sizeof(float) * (size_t)(m * ldy)), *y1 = aligned(sizeof(float) * (size_t)(m * ldy));
                        fill(x, m * ldx, 3, variant == 1);
                        fill(wf, k * n, 1, variant == 1);
                        for (long i = 0; i < k * n; i++) w[i] = (uint16_t)(to_bits(wf[i]) >> 16);
                        fill(bias, n, 1, 0), fill(mul, n, 2, 0), fill(add, m * ldy, 1, 0);
                        vla_bf16_pack(k, n, w, n, packed);
                        memset(xb0, 0x55, sizeof(uint16_t) * (size_t)(m * ldxb));
                        memset(xb1, 0x55, sizeof(uint16_t) * (size_t)(m * ldxb));
                        vla_bf16_force_isa(0);
                        vla_bf16_round(m, k, x, ldx, xb0, ldxb);
                        vla_bf16_force_isa(level);
                        vla_bf16_round(m, k, x, ldx, xb1, ldxb);
                        char what[128];
                        snprintf(what, sizeof what, "vla_bf16_round level %d m %ld k %ld variant %d", level, m, k, variant);
                        same_bytes(what, xb0, xb1, sizeof(uint16_t) * (size_t)(m * ldxb));
                        // Finite activations for the product (the contract: xb past k finite; NaN rows still fine).
                        const float *bp = variant & 1 ? bias : NULL, *mp = variant >= 2 ? mul : NULL;
                        float *ap0 = variant == 1 || variant == 2 ? add : variant == 3 ? y0 : NULL;
                        float *ap1 = variant == 1 || variant == 2 ? add : variant == 3 ? y1 : NULL;
                        fill(y0, m * ldy, 1, 0);
                        memcpy(y1, y0, sizeof(float) * (size_t)(m * ldy));
                        vla_bf16_force_isa(0);
                        vla_bf16_gemm(m, n0, n, k, xb0, ldxb, packed, n, bp, mp, ap0, ldy, y0, ldy);
                        vla_bf16_force_isa(level);
                        vla_bf16_gemm(m, n0, n, k, xb0, ldxb, packed, n, bp, mp, ap1, ldy, y1, ldy);
                        snprintf(what, sizeof what, "vla_bf16_gemm level %d m %ld n %ld k %ld variant %d", level, m, n, k,
                                 variant);
                        same_floats(what, y0, y1, m * ldy);
                        free(x), free(wf), free(w), free(packed), free(xb0), free(xb1), free(bias), free(mul);
                        free(add), free(y0), free(y1);
                    }
}

#if defined(__aarch64__)
// MARK: the BFDOT/BFMMLA rule (bf16 paths 2 and 3 on aarch64), transcribed from the Arm ARM's BFDotAdd
//
// With FPCR.EBF 0: BFDotAdd(sum, a0, a1, b0, b1) = BFAdd(sum, BFAdd(BFMul(a0, b0), BFMul(a1, b1))), where BFMul
// and BFAdd read denormal inputs as zero of the same sign, give the default NaN (0x7fc00000) for every NaN
// result, and round the exact result with BFRound: round to odd (truncate, then set the last bit when anything
// was cut off), zero of the value's sign when the exact value is below 2^−126, infinity when it is 2^128 or
// more. An exact zero sum of non-zero operands is +0; two zeros of one sign give that zero. FPCR's FZ, DN and
// RMode play no part. Done here in integers, so that nothing depends on the host's floating point.

static const uint32_t BF_DEFAULT_NAN = 0x7fc00000u;
static int bits_nan(uint32_t b) { return (b & 0x7fffffffu) > 0x7f800000u; }
static int bits_inf(uint32_t b) { return (b & 0x7fffffffu) == 0x7f800000u; }
static int bits_zero(uint32_t b) { return (b & 0x7fffffffu) == 0; }
static uint32_t bits_ftz(uint32_t b) { return (b & 0x7f800000u) == 0 ? b & 0x80000000u : b; }

/// BFRound of sign · (mag + f) · 2^e, 0 ≤ f < 1 with f > 0 exactly when sticky; mag > 0.
static uint32_t bf_round(uint32_t sign, uint64_t mag, int e, int sticky) {
    const int msb = 63 - __builtin_clzll(mag);
    if (msb > 23) {
        const int sh = msb - 23;
        sticky |= (mag & ((1ull << sh) - 1)) != 0;
        mag >>= sh, e += sh;
    } else if (msb < 23) {
        // Only an exact difference of near operands gets here (no bits were cut off), so the shift is exact.
        const int sh = 23 - msb;
        mag <<= sh, e -= sh;
    }
    const int biased = e + 150;  // mag in [2^23, 2^24): value in [2^(e+23), 2^(e+24))
    if (biased >= 255) return sign | 0x7f800000u;
    if (biased < 1) return sign;
    if (sticky) mag |= 1;
    return sign | (uint32_t)biased << 23 | (uint32_t)(mag & 0x7fffffu);
}

static uint32_t bf_mul(uint32_t a, uint32_t b) {
    a = bits_ftz(a), b = bits_ftz(b);
    if (bits_nan(a) || bits_nan(b)) return BF_DEFAULT_NAN;
    const uint32_t sign = (a ^ b) & 0x80000000u;
    if ((bits_inf(a) && bits_zero(b)) || (bits_zero(a) && bits_inf(b))) return BF_DEFAULT_NAN;
    if (bits_inf(a) || bits_inf(b)) return sign | 0x7f800000u;
    if (bits_zero(a) || bits_zero(b)) return sign;
    const uint64_t ma = (a & 0x7fffffu) | 0x800000u, mb = (b & 0x7fffffu) | 0x800000u;
    return bf_round(sign, ma * mb, (int)(a >> 23 & 0xff) - 150 + (int)(b >> 23 & 0xff) - 150, 0);
}

static uint32_t bf_add(uint32_t a, uint32_t b) {
    a = bits_ftz(a), b = bits_ftz(b);
    if (bits_nan(a) || bits_nan(b)) return BF_DEFAULT_NAN;
    if (bits_inf(a) && bits_inf(b)) return a == b ? a : BF_DEFAULT_NAN;
    if (bits_inf(a)) return a;
    if (bits_inf(b)) return b;
    if (bits_zero(a) && bits_zero(b)) return a == b ? a : 0;
    if (bits_zero(a)) return b;  // a normal value is its own BFRound
    if (bits_zero(b)) return a;
    if ((a & 0x7fffffffu) < (b & 0x7fffffffu)) {
        const uint32_t t = a;
        a = b, b = t;
    }
    const int ea = (int)(a >> 23 & 0xff), sh = ea - (int)(b >> 23 & 0xff);
    const uint64_t A = (uint64_t)((a & 0x7fffffu) | 0x800000u) << 32, Bf = (uint64_t)((b & 0x7fffffu) | 0x800000u) << 32;
    uint64_t B = 0;
    int sticky = 1;
    if (sh <= 56) B = Bf >> sh, sticky = sh > 0 && (Bf & ((1ull << sh) - 1)) != 0;
    uint64_t S;
    if ((a ^ b) >> 31) S = A - B - (uint64_t)sticky;  // A − (B + f) = (A − B − 1) + (1 − f)
    else S = A + B;
    if (S == 0 && !sticky) return 0;
    return bf_round(a & 0x80000000u, S, ea - 150 - 32, sticky);
}

static uint32_t bf_dot_add(uint32_t sum, uint16_t a0, uint16_t a1, uint16_t b0, uint16_t b1) {
    return bf_add(sum, bf_add(bf_mul((uint32_t)a0 << 16, (uint32_t)b0 << 16), bf_mul((uint32_t)a1 << 16, (uint32_t)b1 << 16)));
}

/// The rule for rows [0, m), columns [n0, n1): pairs of k in increasing order, padded to an even count with a
/// pair of zeros; x[k] of an odd k read from xb (it meets w = 0); then the epilogue as every path.
static void bf16_rule_gemm(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const uint16_t *w, long n,
                           const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    const long pairs = (k + 1) / 2, padded = pairs + (pairs & 1);
    for (long i = 0; i < m; i++)
        for (long j = n0; j < n1; j++) {
            uint32_t acc = bias ? to_bits(bias[j]) : 0;
            for (long t = 0; t < padded; t++) {
                const uint16_t x0 = t < pairs ? xb[i * ldxb + 2 * t] : 0, x1 = t < pairs ? xb[i * ldxb + 2 * t + 1] : 0;
                const uint16_t w0 = 2 * t < k ? w[2 * t * n + j] : 0, w1 = 2 * t + 1 < k ? w[(2 * t + 1) * n + j] : 0;
                acc = bf_dot_add(acc, x0, x1, w0, w1);
            }
            float v = from_bits(acc);
            if (mul) v = v * mul[j];
            if (add) v = v + add[i * ldadd + j];
            y[i * ldy + j] = v;
        }
}

/// A bf16 for the rule's tests: mostly ordinary values; with `special`, also ±0, denormals, values whose
/// products underflow or overflow, ±∞ and NaN.
static uint16_t bf16_sample(int special) {
    const uint64_t r = next_u64();
    const uint16_t sign = (uint16_t)((r >> 8 & 1) << 15), mant = (uint16_t)(r >> 16 & 0x7f);
    switch (special ? r % 24 : 23) {
    case 0: return sign;                                                  // ±0
    case 1: return (uint16_t)(sign | (mant ? mant : 1));                  // denormal
    case 2: return (uint16_t)(sign | 0x7f80);                             // ±∞
    case 3: return (uint16_t)(0x7fc0 | (r >> 24 & 0x3f) | sign);           // NaN
    case 4: case 5: return (uint16_t)(sign | (uint16_t)(1 + r % 12) << 7 | mant);    // tiny: products underflow
    case 6: case 7: return (uint16_t)(sign | (uint16_t)(242 + r % 12) << 7 | mant);  // huge: products overflow
    default: return (uint16_t)(sign | (uint16_t)(118 + r % 18) << 7 | mant);         // about 2^−9 … 2^8
    }
}

/// Paths 2 (BFDOT) and 3 (BFMMLA) against the rule, bit for bit (NaN bits too: every NaN is the default NaN,
/// and the epilogue keeps it), including extreme inputs; and, on ordinary inputs, against a float64 sum within
/// (k + 6)·2^−24·(|bias| + Σ|x·w|).
static void test_bf16_rule(int best, int quick) {
    static const long ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 13};
    static const long ks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 32, 33, 100, 257};
    static const long ns[] = {1, 5, 16, 17, 33, 50};
    const int nm = quick ? 5 : 9;
    for (int level = 2; level <= best; level++)
        for (int mi = 0; mi < nm; mi++)
            for (int ki = 0; ki < 14; ki++)
                for (int ni = 0; ni < 6; ni++)
                    for (int variant = 0; variant < 4; variant++) {
                        const long m = ms[mi], k = ks[ki], n = ns[ni];
                        const long ldxb = vla_bf16_row_stride(k) + 8, ldy = n + 2, pairs = (k + 1) / 2;
                        const long n0 = variant == 3 && n > 16 ? 16 : 0;
                        const int special = variant == 1 || variant == 3;
                        uint16_t *w = aligned(sizeof(uint16_t) * (size_t)(k * n));
                        uint16_t *xb = aligned(sizeof(uint16_t) * (size_t)(m * ldxb));
                        void *packed = aligned(vla_bf16_packed_bytes(k, n));
                        float *bias = aligned(sizeof(float) * (size_t)n), *mul = aligned(sizeof(float) * (size_t)n);
                        float *add = aligned(sizeof(float) * (size_t)(m * ldy));
                        float *y0 = aligned(sizeof(float) * (size_t)(m * ldy)), *y1 = aligned(sizeof(float) * (size_t)(m * ldy));
                        for (long i = 0; i < k * n; i++) w[i] = bf16_sample(special);
                        for (long i = 0; i < m; i++)
                            for (long p = 0; p < ldxb; p++)
                                // x[k] of an odd k takes part (finite, maybe negative: its product with the zero
                                // weight is ±0); nothing past the last pair may be read: NaN there.
                                xb[i * ldxb + p] = p < k ? (variant == 2 ? (uint16_t)(next_u64() & 0x8000) : bf16_sample(special))
                                                   : p < 2 * pairs ? (uint16_t)(bf16_sample(0) | 0x8000)
                                                                   : (uint16_t)0x7fc1;
                        fill(bias, n, 1, special), fill(mul, n, 2, 0), fill(add, m * ldy, 1, 0);
                        if (variant == 2)  // ±0 activations, −0 bias: −0 sums, which the pad pair (and an odd k's x[k]) turn into +0
                            for (long j = 0; j < n; j++) bias[j] = -0.0f;
                        vla_bf16_pack(k, n, w, n, packed);
                        const float *bp = variant != 0 ? bias : NULL, *mp = variant == 1 ? mul : NULL;
                        float *ap0 = variant == 1 ? add : variant == 3 ? y0 : NULL;
                        float *ap1 = variant == 1 ? add : variant == 3 ? y1 : NULL;
                        fill(y0, m * ldy, 1, 0);
                        memcpy(y1, y0, sizeof(float) * (size_t)(m * ldy));
                        bf16_rule_gemm(m, n0, n, k, xb, ldxb, w, n, bp, mp, ap0, ldy, y0, ldy);
                        vla_bf16_force_isa(level);
                        vla_bf16_gemm(m, n0, n, k, xb, ldxb, packed, n, bp, mp, ap1, ldy, y1, ldy);
                        char what[128];
                        snprintf(what, sizeof what, "vla_bf16_gemm rule level %d m %ld n %ld k %ld variant %d", level, m,
                                 n, k, variant);
                        checks++;
                        for (long i = 0; i < m * ldy; i++)
                            if (to_bits(y0[i]) != to_bits(y1[i])) {
                                fail("element %ld: rule %08x, path %08x", what, i, to_bits(y0[i]), to_bits(y1[i]));
                                break;
                            }
                        if (variant == 0) {  // ordinary inputs, no bias or epilogue: within the bound of the exact sum
                            checks++;
                            for (long i = 0; i < m; i++)
                                for (long j = 0; j < n; j++) {
                                    double exact = 0, size = 0;
                                    for (long p = 0; p < k; p++) {
                                        const double prod = (double)from_bits((uint32_t)xb[i * ldxb + p] << 16) *
                                                            (double)from_bits((uint32_t)w[p * n + j] << 16);
                                        exact += prod, size += fabs(prod);
                                    }
                                    const double err = fabs((double)y1[i * ldy + j] - exact);
                                    if (!(err <= (double)(k + 6) * 0x1p-24 * size)) {
                                        fail("element %ld: error %#x ulp-ish, path %08x", what, i * ldy + j,
                                             (uint32_t)(err / (size * 0x1p-24)), to_bits(y1[i * ldy + j]));
                                        i = m;
                                        break;
                                    }
                                }
                        }
                        free(w), free(xb), free(packed), free(bias), free(mul), free(add), free(y0), free(y1);
                    }
    vla_bf16_force_isa(99);
}

/// The rule's own transcription, on cases worked by hand from the pseudocode.
static void test_bf16_rule_cases(void) {
    static const struct { uint32_t sum; uint16_t a0, a1, b0, b1; uint32_t want; } cases[] = {
        {0x3f800000, 0x3f80, 0x0000, 0x3380, 0x0000, 0x3f800001},  // 1 + 2^−24: round to odd gives 1 + 2^−23
        {0x3f800000, 0x3f80, 0x0000, 0x3300, 0x0000, 0x3f800001},  // 1 + 2^−25 too (not 1, as to-nearest would)
        {0x3f800001, 0x3f80, 0x0000, 0x3380, 0x0000, 0x3f800001},  // (1 + 2^−23) + 2^−24: already odd
        {0x3f800000, 0x3f80, 0x3f80, 0xbf80, 0x3f80, 0x3f800000},  // 1 + (−1 + 1): the pair sum is +0
        {0x80000000, 0x0000, 0x8000, 0x3f80, 0x3f80, 0x00000000},  // −0 + (+0 + −0) = −0 + +0 = +0
        {0x80000000, 0x8000, 0x8000, 0x3f80, 0x3f80, 0x80000000},  // −0 + (−0 + −0) = −0
        {0x00400000, 0x0000, 0x0000, 0x0000, 0x0000, 0x00000000},  // a denormal sum is read as +0
        {0x3f800000, 0x0040, 0x0000, 0x7f00, 0x0000, 0x3f800000},  // a denormal x is read as 0: 1 + 0
        {0x00000000, 0x0080, 0x0000, 0x3f00, 0x0000, 0x00000000},  // 2^−126 · 0.5: below 2^−126, flushed
        {0x80000000, 0x8080, 0x8000, 0x3f7f, 0x0000, 0x80000000},  // −2^−126 · 0.996 flushed to −0; −0 + −0 + −0
        {0x00000000, 0x7f7f, 0x0000, 0x4000, 0x0000, 0x7f800000},  // 2^127 · 1.99 · 2 ≥ 2^128: +∞
        {0x7f7fffff, 0x7300, 0x0000, 0x3f80, 0x0000, 0x7f7fffff},  // FLT_MAX + 2^103: below 2^128, truncated
        {0x7f7fffff, 0x7380, 0x0000, 0x3f80, 0x0000, 0x7f800000},  // FLT_MAX + 2^104 = 2^128: +∞
        {0x3f800000, 0x7f80, 0x0000, 0x0000, 0x0000, 0x7fc00000},  // ∞ · 0: default NaN
        {0x7fc12345, 0x3f80, 0x0000, 0x3f80, 0x0000, 0x7fc00000},  // a NaN's payload is not kept
        {0x3f800000, 0x7f80, 0xff80, 0x3f80, 0x3f80, 0x7fc00000},  // ∞ − ∞
        {0xbf800000, 0x4000, 0x0000, 0x3f00, 0x0000, 0x00000000},  // −1 + 1: exact zero is +0
        {0x4b800000, 0x3f80, 0x0000, 0xbf80, 0x0000, 0x4b7fffff},  // 2^24 − 1: exact
        {0x4b800000, 0x3f00, 0x0000, 0xbf80, 0x0000, 0x4b7fffff},  // 2^24 − 0.5: truncated to 2^24 − 1, odd
        {0x3f800000, 0x3f80, 0x0000, 0xb300, 0x0000, 0x3f7fffff},  // 1 − 2^−25: below 1, odd last bit
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        checks++;
        const uint32_t got = bf_dot_add(cases[i].sum, cases[i].a0, cases[i].a1, cases[i].b0, cases[i].b1);
        if (got != cases[i].want) fail("case %ld: want %08x, got %08x", "bf16 rule by hand", (long)i, cases[i].want, got);
    }
}
#endif

// MARK: SHA-256

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) { return x >> n | x << (32 - n); }

/// FIPS 180-4 §6.2.2 as written (the portable reference, as VLAFormat's Swift rounds).
static void sha_portable(uint32_t h[8], const uint8_t *data, size_t blocks) {
    for (size_t b = 0; b < blocks; b++, data += 64) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++)
            w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 | (uint32_t)data[4 * t + 2] << 8 |
                   data[4 * t + 3];
        for (int t = 16; t < 64; t++) {
            const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ w[t - 15] >> 3;
            const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ w[t - 2] >> 10;
            w[t] = s1 + w[t - 7] + s0 + w[t - 16];
        }
        uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + w[t];
            const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = bb, bb = a, a = t1 + t2;
        }
        h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
}

/// The digest of `bytes` with the given compression function, as hex.
static void sha_digest(void (*compress)(uint32_t *, const uint8_t *, size_t), const uint8_t *bytes, size_t n,
                       char hex[65]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    compress(h, bytes, n / 64);
    uint8_t last[128] = {0};
    const size_t rest = n % 64;
    memcpy(last, bytes + n - rest, rest);
    last[rest] = 0x80;
    const size_t tail = rest < 56 ? 64 : 128;
    const uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) last[tail - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress(h, last, tail / 64);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

static void sha_hw(uint32_t *h, const uint8_t *data, size_t blocks) { vla_sha256_blocks(h, data, blocks); }

static void test_sha(int quick) {
    struct {
        const char *text;
        long repeat;
        const char *digest;
    } known[] = {
        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    const int hw = vla_sha256_has_instructions();
    for (size_t t = 0; t < sizeof known / sizeof known[0]; t++) {
        const size_t len = strlen(known[t].text), n = len * (size_t)known[t].repeat;
        uint8_t *bytes = aligned(n + 1);
        for (long r = 0; r < known[t].repeat; r++) memcpy(bytes + (size_t)r * len, known[t].text, len);
        char got[65];
        sha_digest(sha_portable, bytes, n, got);
        checks++;
        if (strcmp(got, known[t].digest) != 0) fail("vector %ld: %x %x (portable reference)", "sha256", (long)t, 0, 0);
        if (hw) {
            sha_digest(sha_hw, bytes, n, got);
            checks++;
            if (strcmp(got, known[t].digest) != 0) fail("vector %ld: %x %x (instructions)", "sha256", (long)t, 0, 0);
        }
        free(bytes);
    }
    if (!hw) {
        printf("sha256: no SHA-256 instructions on this CPU (the portable rounds run); known vectors checked\n");
        return;
    }
    // Random inputs of every length near block edges, long ones, and unaligned starts.
    const size_t big = quick ? 1 << 18 : 3 << 20;
    uint8_t *bytes = aligned(big + 64);
    for (size_t i = 0; i < big + 64; i++) bytes[i] = (uint8_t)next_u64();
    for (size_t n = 0; n < 300; n++)
        for (size_t offset = 0; offset < 4; offset += 3) {
            char want[65], got[65];
            sha_digest(sha_portable, bytes + offset, n, want);
            sha_digest(sha_hw, bytes + offset, n, got);
            checks++;
            if (strcmp(want, got) != 0) fail("length %ld: %x %x", "sha256 random", (long)n, 0, 0);
        }
    for (size_t n = big - 1000; n <= big; n += 999) {
        char want[65], got[65];
        sha_digest(sha_portable, bytes + 1, n, want);
        sha_digest(sha_hw, bytes + 1, n, got);
        checks++;
        if (strcmp(want, got) != 0) fail("length %ld: %x %x", "sha256 long", (long)n, 0, 0);
    }
    free(bytes);
}

// MARK: main

static int expect(const char *what, int want, int got) {
    if (want >= 0 && want != got) {
        fprintf(stderr, "MISMATCH detection: %s is %d, expected %d on this CPU\n", what, got, want);
        failures++;
    }
    return got;
}

int main(int argc, char **argv) {
    int want_isa = -1, want_q8 = -1, want_bf16 = -1, want_sha = -1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--expect-isa")) want_isa = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--expect-q8")) want_q8 = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--expect-bf16")) want_bf16 = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--expect-sha")) want_sha = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--expect-isa N] [--expect-q8 N] [--expect-bf16 N] [--expect-sha N]\n",
                    argv[0]);
            return 2;
        }
    }
#if defined(__aarch64__) && defined(__linux__)
    printf("hwcap %#lx hwcap2 %#lx\n", getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
#endif
    const int isa = expect("vla_kernels_supported_isa", want_isa, vla_kernels_supported_isa());
    const int q8_default = vla_q8_isa(), bf16_default = vla_bf16_isa();
    const int q8 = expect("vla_q8 best", want_q8, vla_q8_force_isa(99));
    int bf16 = expect("vla_bf16 best", want_bf16, vla_bf16_force_isa(99));
    expect("vla_sha256_has_instructions", want_sha, vla_sha256_has_instructions());
#if defined(__aarch64__)
    // The best path by default: SMMLA where i8mm exists.
    expect("vla_q8_isa default", q8, q8_default);
    // bf16: the best path (BFMMLA where FEAT_BF16 exists).
    expect("vla_bf16_isa default", bf16, bf16_default);
#else
    (void)q8_default, (void)bf16_default;
#endif
    printf("levels: fp32 %d, int8 %d, bf16 %d, sha256 instructions %d\n", isa, q8, bf16,
           vla_sha256_has_instructions());
#if defined(__x86_64__)
    // Paths 3 (vdpbf16ps: denormals flushed) and 4 (AMX: another order) are not bit-identical by contract;
    // QuantKernelTests checks them against their own rules.
    if (bf16 > 2) bf16 = 2;
#endif
    test_sha(quick);
    test_gemm(isa, quick);
    test_attn_direct(isa, quick);
    // Every level against the reference: on x86 AVX-512 (2) and AVX2 + FMA (1); level 0 reports no fast path.
    for (int level = isa; level >= 1; level--) {
        vla_kernels_force_isa(level);
        printf("element-wise at level %d\n", level);
        test_elementwise(quick);
    }
    vla_kernels_force_isa(isa);
    test_scale_add();
    test_q8(q8, quick);
    test_activation_ties(q8, bf16);
#if defined(__aarch64__)
    // Paths 2 (BFDOT) and 3 (BFMMLA) follow their own rule (vla_kernels.h): checked against its transcription.
    test_bf16_rule_cases();
    test_bf16_rule(bf16, quick);
    test_bf16(bf16 > 1 ? 1 : bf16, quick);
#else
    test_bf16(bf16, quick);
#endif
    printf("%ld checks, %ld mismatches (NaN results with another sign or payload, not counted: %ld)\n", checks,
           failures, nan_payloads);
    return failures ? 1 : 0;
}
