// One OpenBLAS cblas_sgemm call (row-major, y = a·w + y, as VLARuntime calls it: β = 1 over y pre-filled with
// the bias) on one shape, for counting the instructions it executes under qemu-aarch64
// (Tests/aarch64/count-openblas.sh). `count_blas LIBOPENBLAS CALL M K N`: CALL 0 does the same set-up (loading
// the library, one warm-up call on a 1 × 1 × 1 product so that OpenBLAS's buffers and threads exist) and no
// counted call, the baseline the script subtracts. Prints the core OpenBLAS chose.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s LIBOPENBLAS CALL M K N\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    sgemm_fn sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    char *(*corename)(void) = (char *(*)(void))dlsym(lib, "openblas_get_corename");
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
    if (!sgemm || !corename || !set_threads) return 1;
    set_threads(1);
    const int call = atoi(argv[2]);
    const long m = atol(argv[3]), k = atol(argv[4]), n = atol(argv[5]);
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *w = malloc(sizeof(float) * (size_t)(k * n));
    float *y = malloc(sizeof(float) * (size_t)(m * n));
    for (long i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (long i = 0; i < k * n; i++) w[i] = (float)((i * 104729) % 1000) / 5000.0f - 0.1f;
    for (long i = 0; i < m * n; i++) y[i] = 0.5f;
    float one = 0;
    sgemm(101, 111, 111, 1, 1, 1, 1.0f, a, 1, w, 1, 1.0f, &one, 1);  // CblasRowMajor, CblasNoTrans
    if (call) sgemm(101, 111, 111, (int)m, (int)n, (int)k, 1.0f, a, (int)k, w, (int)n, 1.0f, y, (int)n);
    printf("core %s, y[0] %g\n", corename(), (double)y[0]);
    return 0;
}
