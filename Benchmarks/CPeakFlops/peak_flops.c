// Benchmark-only FMA peak measurement; see include/peak_flops.h.
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include "peak_flops.h"

static volatile float sink;

__attribute__((target("avx512f"))) static double chains512(long iterations) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(1.0f + (float)i * 1e-3f);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
        __asm__ volatile("" : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]), "+v"(a[6]), "+v"(a[7]), "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11]));
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double chains256(long iterations) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(1.0f + (float)i * 1e-3f);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
        __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]), "+x"(a[6]), "+x"(a[7]), "+x"(a[8]), "+x"(a[9]), "+x"(a[10]), "+x"(a[11]));
    }
    float out[8];
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    _mm256_storeu_ps(out, s);
    sink = out[0];
    return (double)iterations * 12 * 8 * 2;
}

const char *vla_bench_peak_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
    return "none";
}

struct job { long iterations; double flops; };

static void *run(void *p) {
    struct job *j = p;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) j->flops = chains512(j->iterations);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) j->flops = chains256(j->iterations);
    else j->flops = 0;
    return NULL;
}

double vla_bench_peak_gflops(int threads, long iterations) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t t[64];
    struct job jobs[64];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++) {
        jobs[i].iterations = iterations;
        jobs[i].flops = 0;
        if (i > 0) pthread_create(&t[i], NULL, run, &jobs[i]);
    }
    run(&jobs[0]);
    for (int i = 1; i < threads; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    double flops = 0;
    for (int i = 0; i < threads; i++) flops += jobs[i].flops;
    return seconds > 0 ? flops / seconds * 1e-9 : 0;
}
