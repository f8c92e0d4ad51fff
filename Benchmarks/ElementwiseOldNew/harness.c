// Old vs new elementwise.c (run.sh): ns per element of GELU (erf, tanh) and softmax rows, same process, interleaved.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "vla_kernels.h"
int level = 2;
int vla_kernels_isa(void) { return level; }
int vla_kernels_supported_isa(void) { return 2; }
int old_vla_unary(int, float, const float *, float *, long);
int old_vla_softmax_row(const float *, float *, long);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    const long n = 257 * 3072, rows = 12 * 257, cols = 257;
    float *x = aligned_alloc(64, n * 4), *y = aligned_alloc(64, n * 4), *s = aligned_alloc(64, rows * cols * 4);
    unsigned r = 1;
    for (long i = 0; i < n; i++) { r = r * 1664525u + 1013904223u; x[i] = ((int)(r >> 8) - (1 << 23)) / (float)(1 << 21); }
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 64) rounds = 7;
    const char *names[] = {"gelu_erf", "gelu_tanh", "softmax"};
    __builtin_cpu_init();  // the levels this CPU has: 2 AVX-512F, 1 AVX2 + FMA
    const int top = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    for (int lv = top; lv >= 1; lv--) {
        for (int f = 0; f < 3; f++) {
            double t[2][64];
            for (int rd = 0; rd < rounds; rd++)
                for (int which = 0; which < 2; which++) {
                    level = lv;
                    double bestt = 1e9;
                    for (int it = 0; it < 5; it++) {
                        if (f == 2) for (long i = 0; i < rows * cols; i++) s[i] = x[i] * 2;
                        double t0 = now();
                        int ok;
                        if (f < 2) ok = (which ? vla_unary : old_vla_unary)(f == 0 ? VLA_GELU_ERF : VLA_GELU_TANH, 0, x, y, n);
                        else { ok = 1; for (long i = 0; i < rows; i++) ok &= (which ? vla_softmax_row : old_vla_softmax_row)(s + i * cols, s + i * cols, cols); }
                        double dt = now() - t0;
                        if (!ok) dt = -1;
                        if (dt < bestt) bestt = dt;
                    }
                    t[which][rd] = bestt;
                }
            qsort(t[0], rounds, sizeof(double), cmp); qsort(t[1], rounds, sizeof(double), cmp);
            const long cnt = f < 2 ? n : rows * cols;
            const double o = t[0][rounds / 2] * 1e9 / cnt, w = t[1][rounds / 2] * 1e9 / cnt;
            if (o > 0) printf("level %d %-9s old %.3f new %.3f ns/element (%.2fx)\n", lv, names[f], o, w, o / w);
            else printf("level %d %-9s old (no path) new %.3f ns/element\n", lv, names[f], w);
        }
    }
    return 0;
}
