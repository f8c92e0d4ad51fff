// vlac's matrix-product kernels, in C so that each instruction set gets its own compiled copy (AVX-512,
// AVX2 + FMA, portable) chosen once at run time. Used by VLARuntime (Sources/VLARuntime/Gemm+Unsafe.swift).
//
// Every path computes every output element the same way, so results are bit-identical whichever path runs:
//   acc = accumulate ? c[i, j] : 0;  for p = 0 ..< k: acc = fma(a[i, p], b[p, j], acc);  c[i, j] = acc · scale
// (the multiplication by scale is skipped when scale == 1). fma is one rounding (IEEE fusedMultiplyAdd).
#ifndef VLA_KERNELS_H
#define VLA_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// c[m, n] (row stride ldc) from a[m, k] (row stride lda) and b[k, n] (row stride ldb), as above.
/// Allocates nothing; thread-safe (no shared state besides the instruction-set choice).
void vla_gemm(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
              int accumulate, float scale);

/// dst[j, i] = src[i, j] for i < rows, j < cols (row strides lds and ldd).
void vla_transpose(long rows, long cols, const float *src, long lds, float *dst, long ldd);

/// Element-wise functions of vla_unary (the transcendental ones of VLARuntime's `Unary`).
enum { VLA_GELU_TANH = 1, VLA_GELU_ERF = 2, VLA_TANH = 3, VLA_SCALED_TANH = 4 };

/// y[i] = f(x[i]) for i < n (x may equal y), f = kind (param: the bound of VLA_SCALED_TANH), with the same
/// operations as VLARuntime's Swift kernels (bit-identical). Returns 0, doing nothing, when this CPU has no
/// fast path (the caller then runs its Swift kernel).
int vla_unary(int kind, float param, const float *x, float *y, long n);

/// Softmax of one row of n floats (in place allowed), bit-identical to VLARuntime's `Kernels.softmaxRow`;
/// returns 0, doing nothing, when this CPU has no fast path.
int vla_softmax_row(const float *x, float *y, long n);

/// The instruction set vla_gemm uses: 2 = AVX-512F, 1 = AVX2 + FMA, 0 = portable C.
int vla_kernels_isa(void);

/// A spin-wait hint to the CPU (x86 `pause`, Arm `yield`), for VLARuntime's worker pool.
void vla_cpu_relax(void);

/// Tests: forces the instruction set (clamped to what the CPU supports); returns the one now in use.
int vla_kernels_force_isa(int isa);

#ifdef __cplusplus
}
#endif

#endif
