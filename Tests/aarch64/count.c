// One kernel call on one shape at one forced level, for counting the instructions it executes under
// qemu-aarch64 (Tests/aarch64/count.sh): `count KERNEL LEVEL M K N` with KERNEL one of gemm, packed, q8, bf16,
// gelu (GELU erf of M·K values), softmax (M rows of K), quantize (vla_q8_quantize of M rows of K), round
// (vla_bf16_round of M rows of K). LEVEL −1 does the same set-up (packing, quantizing)
// and no call: the baseline count.sh subtracts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vla_kernels.h"

static void *buffer(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s gemm|packed|q8|bf16|gelu|softmax|quantize|round LEVEL M K N\n", argv[0]);
        return 2;
    }
    const char *kernel = argv[1];
    const int level = atoi(argv[2]);
    const long m = atol(argv[3]), k = atol(argv[4]), n = atol(argv[5]);
    float *a = buffer(sizeof(float) * (size_t)(m * k)), *w = buffer(sizeof(float) * (size_t)(k * n));
    float *y = buffer(sizeof(float) * (size_t)(m * (n > k ? n : k))), *bias = buffer(sizeof(float) * (size_t)n);
    for (long i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (long i = 0; i < k * n; i++) w[i] = (float)((i * 104729) % 1000) / 5000.0f - 0.1f;
    // Packing and quantizing belong to prepare time (or to the activation step): done before the call.
    void *packed = buffer(vla_f32_packed_bytes(k, n));
    int8_t *wq = buffer((size_t)(k * n)), *q = buffer((size_t)(m * vla_q8_row_stride(k)));
    uint16_t *wb = buffer(sizeof(uint16_t) * (size_t)(k * n)), *xb = buffer(sizeof(uint16_t) * (size_t)(m * vla_bf16_row_stride(k)));
    float *s = buffer(sizeof(float) * (size_t)m), *wscale = buffer(sizeof(float) * (size_t)n);
    void *qpacked = buffer(vla_q8_packed_bytes(k, n)), *bpacked = buffer(vla_bf16_packed_bytes(k, n));
    if (!strcmp(kernel, "packed")) vla_f32_pack(k, n, w, n, packed);
    if (!strcmp(kernel, "q8")) {
        for (long i = 0; i < k * n; i++) wq[i] = (int8_t)(i % 255 - 127);
        for (long j = 0; j < n; j++) wscale[j] = 0.01f;
        vla_q8_pack(k, n, wq, n, qpacked);
        vla_q8_quantize(m, k, a, k, q, vla_q8_row_stride(k), s);
    }
    if (!strcmp(kernel, "bf16")) {
        for (long i = 0; i < k * n; i++) wb[i] = (uint16_t)(0x3c00 + i % 200);
        vla_bf16_pack(k, n, wb, n, bpacked);
        vla_bf16_round(m, k, a, k, xb, vla_bf16_row_stride(k));
    }
    vla_kernels_force_isa(level);
    vla_q8_force_isa(level);
    vla_bf16_force_isa(level);
    int done = 1;
    if (level < 0) done = 0;
    else if (!strcmp(kernel, "gemm")) vla_gemm(m, n, k, a, k, w, n, y, n, 0, 1.0f);
    else if (!strcmp(kernel, "packed")) vla_f32_gemm_packed(m, 0, n, k, a, k, packed, n, bias, y, n);
    else if (!strcmp(kernel, "q8"))
        vla_q8_gemm(m, 0, n, k, q, vla_q8_row_stride(k), s, qpacked, n, wscale, bias, NULL, NULL, 0, y, n);
    else if (!strcmp(kernel, "bf16"))
        vla_bf16_gemm(m, 0, n, k, xb, vla_bf16_row_stride(k), bpacked, n, bias, NULL, NULL, 0, y, n);
    else if (!strcmp(kernel, "gelu")) done = vla_unary(VLA_GELU_ERF, 0, a, y, m * k);  // m·k values
    else if (!strcmp(kernel, "softmax"))
        for (long i = 0; i < m && done; i++) done = vla_softmax_row(a + i * k, y + i * k, k);  // m rows of k
    else if (!strcmp(kernel, "quantize")) vla_q8_quantize(m, k, a, k, q, vla_q8_row_stride(k), s);
    else if (!strcmp(kernel, "round")) vla_bf16_round(m, k, a, k, xb, vla_bf16_row_stride(k));
    printf("%s level %d: %s, y[0] %g\n", kernel, level, done ? "ran" : "no fast path", (double)y[0]);
    return 0;
}
