// One build of this file per kernel tree (run.sh: a commit's and the working tree's CVLAKernels): best-of-N times
// of the kernels the int8 step spends its non-product time in, printed as one line per kernel. HAS_HEAD: the tree
// has vla_attn_bf16_head (else the head runs as the three calls it replaces); HAS_NORM: it has vla_norm_rows.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vla_kernels.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static unsigned rng_state = 12345;
static float rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static float *floats(long n, float scale) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    for (long i = 0; i < n; i++) p[i] = rnd() * scale;
    return p;
}

#define BEST(N, BODY)                                      \
    ({                                                     \
        double best_ = 1e30;                               \
        for (int it_ = 0; it_ < (N); it_++) {              \
            const double t0_ = now_us();                   \
            BODY;                                          \
            const double t_ = now_us() - t0_;              \
            if (t_ < best_) best_ = t_;                    \
        }                                                  \
        best_;                                             \
    })

int main(int argc, char **argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 200;
    const long m = 257, tq = 257, tk = 257, d = 64, h = 12;
    // Activations of a 3072-wide product (3.2 MB: as fc2's input, mostly out of L2) and of a 768-wide one.
    float *x = floats(m * 3072, 4);
    const long ldq = vla_q8_row_stride(3072);
    int8_t *q = aligned_alloc(64, (size_t)(m * ldq));
    float *s = malloc(4 * m);
    int32_t *zc = malloc(4 * m);
    printf("quantize_zp 257x768 (us): %.2f\n", BEST(n, vla_q8_quantize_zp(m, 768, x, 768, q, ldq, s, zc)));
    printf("quantize_zp 257x3072 (us): %.2f\n", BEST(n, vla_q8_quantize_zp(m, 3072, x, 3072, q, ldq, s, zc)));
    // One attention head of DINOv2-base with bf16 products (q, k, v rows 768 floats apart, as the op reads them).
    float *qa = floats(tq * h * d, 3), *ka = floats(tk * h * d, 3), *va = floats(tk * h * d, 1), *y = floats(tq * h * d, 0);
    const size_t bytes = vla_attn_bf16_scratch_bytes(tq, tk, d, d);
    float *scores = floats(tq * tk + 16, 0);
    void *work = aligned_alloc(64, (bytes + 63) / 64 * 64);
    int fused = 0;
#ifdef HAS_HEAD
    fused = vla_attn_bf16_path() == 4;
#endif
    const double head = BEST(n, {
        if (fused) {
#ifdef HAS_HEAD
            vla_attn_bf16_head(tq, tk, d, d, qa, h * d, ka, h * d, va, h * d, 0.125f, NULL, 0, NULL, 0, work, y, h * d);
#endif
        } else {
            vla_attn_bf16_scores(tq, tk, d, qa, h * d, ka, h * d, work, scores, tk);
            for (long i = 0; i < tq; i++) vla_attention_row(scores + i * tk, tk, 0.125f, NULL, NULL);
            vla_attn_bf16_values(tq, tk, d, scores, tk, 0, va, h * d, work, y, h * d);
        }
    });
    printf("attention head, bf16 path %d, %s (us): %.2f\n", vla_attn_bf16_path(), fused ? "fused" : "three calls", head);
#ifdef HAS_NORM
    float *g = floats(768, 1), *b = floats(768, 1), *out = floats(m * 768, 0);
    printf("layer_norm 257x768 (us): %.2f\n", BEST(n, vla_norm_rows(x, 768, g, b, out, 768, m, 768, 1e-6f, 1)));
#else
    printf("layer_norm 257x768, no C path (Swift) (us): -\n");
#endif
    return 0;
}
