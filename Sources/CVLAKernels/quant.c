// Placeholder portable reduced-precision kernels (replaced by the per-ISA kernels of branch `kernels`).
#include <math.h>
#include <string.h>
#include "vla_kernels.h"

#pragma clang fp contract(off)

static long up(long v, long m) { return (v + m - 1) / m * m; }

size_t vla_q8_packed_bytes(long k, long n) { return (size_t)(up(k, 4) * up(n, 16) + 4 * up(n, 16)); }
long vla_q8_row_stride(long k) { return up(k, 64); }

void vla_q8_pack(long k, long n, const int8_t *w, long ldw, void *packed) {
    const long kp = up(k, 4), np = up(n, 16);
    int8_t *p = packed;
    memset(p, 0, (size_t)(kp * np));
    int32_t *sums = (int32_t *)(p + kp * np);
    for (long j = 0; j < np; j++) sums[j] = 0;
    for (long kk = 0; kk < k; kk++)
        for (long j = 0; j < n; j++) {
            const long panel = j / 16, c = j % 16;
            p[panel * kp * 16 + (kk / 4) * 64 + c * 4 + kk % 4] = w[kk * ldw + j];
            sums[j] += w[kk * ldw + j];
        }
}

static int8_t w_at(const int8_t *p, long kp, long kk, long j) { return p[(j / 16) * kp * 16 + (kk / 4) * 64 + (j % 16) * 4 + kk % 4]; }

void vla_q8_quantize(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s) {
    for (long i = 0; i < m; i++) {
        const float *r = x + i * ldx;
        float a = 0;
        for (long p = 0; p < k; p++) { float v = fabsf(r[p]); a = v > a ? v : a; }
        const float inv = a > 0 ? 127.0f / a : 0.0f;
        s[i] = a / 127.0f;
        for (long p = 0; p < k; p++) {
            float t = r[p] * inv;
            t = t > -127.0f ? t : -127.0f;
            t = t < 127.0f ? t : 127.0f;
            q[i * ldq + p] = (int8_t)nearbyintf(t);
        }
        for (long p = k; p < ldq; p++) q[i * ldq + p] = 0;
    }
}

static float epilogue(float v, long i, long j, const float *mul, const float *add, long ldadd) {
    if (mul) v = v * mul[j];
    if (add) v = v + add[i * ldadd + j];
    return v;
}

void vla_q8_gemm(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const void *packed,
                 long n, const float *wscale, const float *bias, const float *mul, const float *add, long ldadd,
                 float *y, long ldy) {
    const long kp = up(k, 4);
    for (long i = 0; i < m; i++)
        for (long j = n0; j < n1; j++) {
            int32_t acc = 0;
            for (long p = 0; p < k; p++) acc += (int32_t)q[i * ldq + p] * (int32_t)w_at(packed, kp, p, j);
            float v = fmaf((float)acc, s[i] * wscale[j], bias ? bias[j] : 0.0f);
            y[i * ldy + j] = epilogue(v, i, j, mul, add, ldadd);
        }
    (void)n;
}

size_t vla_bf16_packed_bytes(long k, long n) { return (size_t)(up(k, 2) * up(n, 16) * 2); }
long vla_bf16_row_stride(long k) { return up(k, 32); }

void vla_bf16_pack(long k, long n, const uint16_t *w, long ldw, void *packed) {
    const long kp = up(k, 2), np = up(n, 16);
    uint16_t *p = packed;
    memset(p, 0, (size_t)(kp * np * 2));
    for (long kk = 0; kk < k; kk++)
        for (long j = 0; j < n; j++) p[(j / 16) * kp * 16 + (kk / 2) * 32 + (j % 16) * 2 + kk % 2] = w[kk * ldw + j];
}

static float widen(uint16_t b) { uint32_t u = (uint32_t)b << 16; float f; memcpy(&f, &u, 4); return f; }

void vla_bf16_round(long m, long k, const float *x, long ldx, uint16_t *xb, long ldxb) {
    for (long i = 0; i < m; i++) {
        for (long p = 0; p < k; p++) {
            uint32_t u; memcpy(&u, &x[i * ldx + p], 4);
            uint16_t b;
            if ((u & 0x7fffffffu) > 0x7f800000u) b = (uint16_t)((u >> 16) | 0x40);
            else b = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
            xb[i * ldxb + p] = b;
        }
        for (long p = k; p < ldxb; p++) xb[i * ldxb + p] = 0;
    }
}

void vla_bf16_gemm(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
                   const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy) {
    const long kp = up(k, 2);
    const uint16_t *p = packed;
    for (long i = 0; i < m; i++)
        for (long j = n0; j < n1; j++) {
            float acc = bias ? bias[j] : 0.0f;
            for (long t = 0; t < kp / 2; t++) {
                const uint16_t *w = p + (j / 16) * kp * 16 + t * 32 + (j % 16) * 2;
                acc = fmaf(widen(xb[i * ldxb + 2 * t + 1]), widen(w[1]), acc);
                acc = fmaf(widen(xb[i * ldxb + 2 * t]), widen(w[0]), acc);
            }
            y[i * ldy + j] = epilogue(acc, i, j, mul, add, ldadd);
        }
    (void)n;
}

int vla_q8_isa(void) { return 0; }
int vla_bf16_isa(void) { return 0; }
int vla_q8_force_isa(int isa) { (void)isa; return 0; }
int vla_bf16_force_isa(int isa) { (void)isa; return 0; }
