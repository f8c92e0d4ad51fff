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

// MARK: reduced precision (format 1.2: linear_i8 and linear_bf16; Schemas/vla-format.md §8.2)
//
// Weights are packed once at prepare time into a layout shared by every instruction-set path: column panels
// of 16, each panel holding its k rows in groups (4 for int8, 2 for bf16) so that one 64-byte load gives 16
// columns × one group. Rows beyond k and columns beyond n are zero. The kernels allocate nothing.
//
// Epilogue, the same for both products: v = (product, bias included as below); then v = v·mul[j] when mul is
// not NULL (one rounding); then v = v + add[i·ldadd + j] when add is not NULL (one rounding). add may be y
// itself (a residual updated in place).

#include <stdint.h>

/// int8 (linear_i8): all paths bit-identical (integer products are exact).
///   Row i of x [m, k]:  a = max_p |x[i, p]| (NaN entries are skipped);  inv = a > 0 ? 127 / a : 0;  s[i] = a / 127;
///   q[i, p] = (int8) round-half-even(min(max(x[i, p]·inv, −127), 127))   (a NaN product becomes −127);
///   acc[i, j] = Σ_p q[i, p]·w[p, j] exactly in int32 (|acc| ≤ 16129·k; callers keep k ≤ 131072);
///   y[i, j] = fma(f32(acc[i, j]), s[i]·wscale[j], bias ? bias[j] : 0), then the epilogue.
/// w must hold values in [−127, 127] only (the AVX2 path relies on it to avoid vpmaddubsw saturation).
size_t vla_q8_packed_bytes(long k, long n);
/// Packs w (int8 [k, n], row stride ldw) into `packed` (vla_q8_packed_bytes(k, n) bytes, 64-byte aligned),
/// including the per-column sums the unsigned-times-signed paths need.
void vla_q8_pack(long k, long n, const int8_t *w, long ldw, void *packed);
/// Row stride (bytes) of quantized activations for k: k rounded up to a multiple of 64.
long vla_q8_row_stride(long k);
/// Quantizes rows [0, m) of x (row stride ldx) into q (row stride ldq ≥ vla_q8_row_stride(k), zero padding
/// written) and s[0..m).
void vla_q8_quantize(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s);
/// Rows [0, m) and columns [n0, n1) of y (row stride ldy; y points at row 0, column 0) from q, s and the packed
/// weights of a [k, n] matrix. n0 must be a multiple of 16. bias, mul: [n] or NULL; add: [m, ldadd] or NULL.
void vla_q8_gemm(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const void *packed,
                 long n, const float *wscale, const float *bias, const float *mul, const float *add, long ldadd,
                 float *y, long ldy);

/// bf16 (linear_bf16): x is rounded to bf16 (round half to even; NaN stays NaN), products of two bf16 are exact
/// in f32 and accumulate in f32 starting from bias[j] (or 0), pair by pair in increasing p, the odd element of
/// each pair first: acc = fma(x[2t+1], w[2t+1, j], acc); acc = fma(x[2t], w[2t, j], acc). The AVX-512 BF16
/// path (vdpbf16ps) does the same but flushes denormal inputs and results to zero; the other paths keep them.
size_t vla_bf16_packed_bytes(long k, long n);
/// Packs w (bf16 bits [k, n], row stride ldw) into `packed` (vla_bf16_packed_bytes(k, n) bytes, 64-aligned).
void vla_bf16_pack(long k, long n, const uint16_t *w, long ldw, void *packed);
/// Row stride (elements) of rounded activations for k: k rounded up to a multiple of 32.
long vla_bf16_row_stride(long k);
/// Rounds rows [0, m) of x (row stride ldx) to bf16 into xb (row stride ldxb ≥ vla_bf16_row_stride(k), zero
/// padding written).
void vla_bf16_round(long m, long k, const float *x, long ldx, uint16_t *xb, long ldxb);
/// Rows [0, m) and columns [n0, n1) of y as for vla_q8_gemm (n0 a multiple of 16).
void vla_bf16_gemm(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
                   const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy);

/// The paths the reduced-precision kernels use. int8: 3 = AVX-512 VNNI, 2 = AVX-512BW, 1 = AVX2, 0 = portable.
/// bf16: 3 = AVX-512 BF16, 2 = AVX-512F, 1 = AVX2 + FMA, 0 = portable.
int vla_q8_isa(void);
int vla_bf16_isa(void);
/// Tests: force a path (clamped to what the CPU supports); returns the one now in use.
int vla_q8_force_isa(int isa);
int vla_bf16_force_isa(int isa);

#ifdef __cplusplus
}
#endif

#endif
