// Two threads claiming the column tasks of one product from an atomic counter, as VLARuntime's worker pool does:
// DINOv2-base's product shapes (257 rows) with the earlier split (two tasks per thread) against Planner.columnChunk's
// (whole blocks, up to eight tasks per thread), interleaved, for the f32 packed kernel (blocks of 48) and int8
// (blocks of 64). Prints mean and best times and the median of the paired ratios (Docs/Interpreter.md):
//   Benchmarks/TaskSplit/run.sh [PAIRS]
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "vla_kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned rng = 1;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

enum { M = 257 };
static long k, n, chunk, ldq;
static int int8;
static float *x, *bias, *wscale, *y, *rowscale;
static int8_t *q;
static void *packed;
static atomic_long next_task;

static void claim_tasks(void) {
    for (;;) {
        const long n0 = atomic_fetch_add(&next_task, 1) * chunk;
        if (n0 >= n) return;
        const long n1 = n0 + chunk < n ? n0 + chunk : n;
        if (int8) vla_q8_gemm(M, n0, n1, k, q, ldq, rowscale, packed, n, wscale, bias, NULL, NULL, 0, y, n);
        else vla_f32_gemm_packed(M, n0, n1, k, x, k, packed, n, bias, y, n);
    }
}

static void *worker(void *unused) {
    (void)unused;
    claim_tasks();
    return NULL;
}

// Planner before: two tasks per thread, in multiples of 16 (int8; f32 rounded to 48, the same chunks at these
// widths); after: columnChunk(n, block, threads).
static long two_per_thread(long threads) { return ((n + 2 * threads - 1) / (2 * threads) + 15) & ~15L; }
static long column_chunk(long block, long threads) {
    const long blocks = (n + block - 1) / block, tasks = blocks < 8 * threads ? blocks : 8 * threads;
    return (blocks + tasks - 1) / tasks * block;
}

static int by_value(const void *a, const void *b) {
    const double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

static void measure(int pairs) {
    const long chunks[2] = {two_per_thread(2), column_chunk(int8 ? 64 : 48, 2)};
    double total[2] = {0, 0}, best[2] = {1e30, 1e30}, *ratio = malloc(sizeof(double) * (size_t)pairs);
    for (int r = 0; r < pairs; r++) {
        double t[2];
        for (int v = 0; v < 2; v++) {
            chunk = chunks[v];
            atomic_store(&next_task, 0);
            const double t0 = now();
            pthread_t other;
            pthread_create(&other, NULL, worker, NULL);
            claim_tasks();
            pthread_join(other, NULL);
            t[v] = now() - t0;
            total[v] += t[v];
            if (t[v] < best[v]) best[v] = t[v];
        }
        ratio[r] = t[0] / t[1];
    }
    qsort(ratio, (size_t)pairs, sizeof(double), by_value);
    printf("%s k %ld n %ld, 2 threads: chunk %ld mean %.2f ms best %.2f | chunk %ld mean %.2f ms best %.2f | "
           "paired before/after median %.3f (quartiles %.3f, %.3f)\n",
           int8 ? "int8" : "f32 ", k, n, chunks[0], total[0] / pairs * 1e3, best[0] * 1e3, chunks[1],
           total[1] / pairs * 1e3, best[1] * 1e3, ratio[pairs / 2], ratio[pairs / 4], ratio[3 * pairs / 4]);
    free(ratio);
}

int main(int argc, char **argv) {
    const int pairs = argc > 1 ? atoi(argv[1]) : 60;
    const long shapes[3][2] = {{768, 768}, {768, 3072}, {3072, 768}};
    for (int s = 0; s < 3; s++) {
        k = shapes[s][0];
        n = shapes[s][1];
        x = aligned_alloc(64, (size_t)(M * k * 4 + 63) / 64 * 64);
        for (long i = 0; i < M * k; i++) x[i] = rnd();
        bias = malloc(sizeof(float) * (size_t)n);
        wscale = malloc(sizeof(float) * (size_t)n);
        for (long j = 0; j < n; j++) bias[j] = rnd(), wscale[j] = 0.01f;
        y = aligned_alloc(64, (size_t)(M * n * 4 + 63) / 64 * 64);
        // f32: the packed kernel.
        float *w = malloc(sizeof(float) * (size_t)(k * n));
        for (long i = 0; i < k * n; i++) w[i] = 0.05f * rnd();
        packed = aligned_alloc(64, (vla_f32_packed_bytes(k, n) + 63) / 64 * 64);
        vla_f32_pack(k, n, w, n, packed);
        int8 = 0;
        measure(pairs);
        free(packed);
        // int8: symmetric rows quantized once, then the products.
        int8_t *w8 = malloc((size_t)(k * n));
        for (long i = 0; i < k * n; i++) w8[i] = (int8_t)(127 * rnd());
        packed = aligned_alloc(64, (vla_q8_packed_bytes(k, n) + 63) / 64 * 64);
        vla_q8_pack(k, n, w8, n, packed);
        ldq = vla_q8_row_stride(k);
        q = aligned_alloc(64, (size_t)(M * ldq + 63) / 64 * 64);
        rowscale = malloc(sizeof(float) * M);
        vla_q8_quantize(M, k, x, k, q, ldq, rowscale);
        int8 = 1;
        measure(pairs);
        free(packed), free(w8), free(w), free(q), free(rowscale), free(x), free(bias), free(wscale), free(y);
    }
    return 0;
}
