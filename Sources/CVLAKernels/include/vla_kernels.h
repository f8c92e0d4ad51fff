// vlac's matrix-product kernels, in C so that each instruction set gets its own compiled copy (x86: AVX-512,
// AVX2 + FMA; aarch64: Advanced SIMD, dot product, i8mm; portable C) chosen once at run time (x86: CPUID;
// aarch64 Linux: getauxval(AT_HWCAP/AT_HWCAP2), so a core without an extension never runs it). Used by
// VLARuntime (Sources/VLARuntime/Gemm+Unsafe.swift). Tests/aarch64 checks the aarch64 paths under qemu-aarch64.
// (bf16 on x86 AMX, AVX-512 BF16 and aarch64 BFDOT/BFMMLA follow rules of their own, stated below.)
//
// Every path computes every output element the same way, so results are bit-identical whichever path runs:
//   acc = accumulate ? c[i, j] : 0;  for p = 0 ..< k: acc = fma(a[i, p], b[p, j], acc);  c[i, j] = acc · scale
// (the multiplication by scale is skipped when scale == 1). fma is one rounding (IEEE fusedMultiplyAdd).
#ifndef VLA_KERNELS_H
#define VLA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// c[m, n] (row stride ldc) from a[m, k] (row stride lda) and b[k, n] (row stride ldb), as above.
/// Allocates nothing; thread-safe (no shared state besides the instruction-set choice).
void vla_gemm(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
              int accumulate, float scale);

// MARK: packed fp32 product (constant weights of linear and patch_embed)
//
// The weight [k, n] is packed once (at prepare time) into column panels of 16 floats: panel q holds columns
// 16q ..< 16q + 16, its k rows one after another; columns beyond n are zero. Each output element is the chain of
// vla_gemm with the bias as its start, so results equal vla_gemm's (c pre-filled with the bias, accumulate 1,
// scale 1; or accumulate 0 without bias) bit for bit on every path:
//   acc = bias ? bias[j] : +0;  for p = 0 ..< k: acc = fma(a[i, p], w[p, j], acc);  y[i, j] = acc.
// The path follows vla_kernels_isa() (and vla_kernels_force_isa): AVX-512F tiles of 8 rows × 48 columns,
// AVX2 + FMA tiles of 6 × 16, aarch64 Advanced SIMD tiles of 5 × 16 (20 of the 32 q registers), portable C.

/// Bytes of a packed [k, n] weight (a multiple of 64).
size_t vla_f32_packed_bytes(long k, long n);
/// Packs w [k, n] (row stride ldw) into `packed` (vla_f32_packed_bytes(k, n) bytes, 64-byte aligned).
void vla_f32_pack(long k, long n, const float *w, long ldw, void *packed);
/// Packs w = wtᵀ, where wt is [n, k] (row stride ldwt), as vla_f32_pack packs a [k, n] w: attention's keys.
void vla_f32_pack_transposed(long k, long n, const float *wt, long ldwt, void *packed);
/// Rows [0, m) and columns [n0, n1) of y (row stride ldy; y points at row 0, column 0) from a [m, k] (row
/// stride lda) and the packed [k, n] weight; bias: [n] or NULL. n0 must be a multiple of 16. Allocates nothing.
void vla_f32_gemm_packed(long m, long n0, long n1, long k, const float *a, long lda, const void *packed, long n,
                         const float *bias, float *y, long ldy);

/// Attention's two f32 products for a few query rows, without packing: s [tq, tk] (row stride lds) from q [tq, d]
/// (row stride ldq) and k [tk, d] (row stride ldk), s[i, j] = fma chain over p < d of q[i, p]·k[j, p] from +0;
/// y [tq, dv] (row stride ldy) from p [tq, tk] and v [tk, dv], y[i, c] = fma chain over j < tk of p[i, j]·v[j, c]
/// from +0. The bits of vla_f32_pack_transposed (or vla_f32_pack) then vla_f32_gemm_packed without bias, on every
/// level; faster than packing where tq is small (the packing moves every element of k or v once).
void vla_f32_attn_scores_direct(long tq, long tk, long d, const float *q, long ldq, const float *k, long ldk, float *s,
                                long lds);
void vla_f32_attn_values_direct(long tq, long tk, long dv, const float *p, long ldp, const float *v, long ldv, float *y,
                                long ldy);

/// dst[j, i] = src[i, j] for i < rows, j < cols (row strides lds and ldd).
void vla_transpose(long rows, long cols, const float *src, long lds, float *dst, long ldd);

/// Element-wise functions of vla_unary (the transcendental ones of VLARuntime's `Unary`).
enum { VLA_GELU_TANH = 1, VLA_GELU_ERF = 2, VLA_TANH = 3, VLA_SCALED_TANH = 4 };

/// y[i] = f(x[i]) for i < n (x may equal y), f = kind (param: the bound of VLA_SCALED_TANH), with the same
/// operations as VLARuntime's Swift kernels (bit-identical). Returns 0, doing nothing, when this CPU has no
/// fast path (the caller then runs its Swift kernel). Fast paths: AVX-512F (isa 2), AVX2 + FMA (isa 1), aarch64
/// Advanced SIMD (isa 1); all follow vla_kernels_isa() (and so vla_kernels_force_isa). Thread-safe; no allocation.
int vla_unary(int kind, float param, const float *x, float *y, long n);
/// vla_unary in place on rows [0, rows) × columns [0, cols) of y (row stride ldy): the same bits, for blocks.
int vla_unary_rows(int kind, float param, float *y, long ldy, long rows, long cols);

/// acc[i] += w · (float)x[i] for i < n (uint8 x), one f32 product then one f32 sum per element: the resize passes
/// of VLARuntime's image contract, bit-identical to its Swift loop. Returns 0, doing nothing, when this CPU has no
/// fast path (the caller then runs its Swift loop). Fast paths: AVX-512F (isa 2), AVX2 (isa 1), aarch64 Advanced
/// SIMD (isa 1); each a product, then a sum, per element (no fused multiply-add).
int vla_scale_add_u8(float *acc, const uint8_t *x, float w, long n);

/// The same with f32 x.
int vla_scale_add_f32(float *acc, const float *x, float w, long n);

/// Softmax of one row of n floats (in place allowed), bit-identical to VLARuntime's `Kernels.softmaxRow`;
/// returns 0, doing nothing, when this CPU has no fast path (the same paths as vla_unary).
int vla_softmax_row(const float *x, float *y, long n);

/// LayerNorm (center nonzero: (x − mean)/√(var + eps)·γ + β) or RMS norm (center 0: x/√(mean(x²) + eps)·γ) of
/// `rows` rows of d floats (row strides ldx, ldy; y may be x) into y (beta NULL: no β), each bit-identical to
/// VLARuntime's `Kernels.normRow`; returns 0, doing nothing, when this CPU has no fast path (AVX-512 and AVX2 +
/// FMA levels; aarch64 runs the Swift code) or d is 0.
int vla_norm_rows(const float *x, long ldx, const float *gamma, const float *beta, float *y, long ldy, long rows,
                  long d, float eps, int center);

/// One row of attention scores in place, as VLARuntime's attention step computes it (bit-identical): x·scale
/// (skipped when scale is 1), + bias[j] (when bias is not NULL), −FLT_MAX where mask[j] is 0 (when mask is not
/// NULL), then vla_softmax_row's softmax. Returns 0, doing nothing, when this CPU has no fast path.
int vla_attention_row(float *x, long n, float scale, const float *bias, const uint8_t *mask);
/// vla_attention_row on `rows` rows of x (row stride ldx ≥ n; bias and mask rows ldbias floats and ldmask bytes
/// apart, ldmask 0 for one mask row shared by all), with its bits on every row; AVX-512 and AVX2 run four rows side
/// by side (their dependent max and sum chains overlap), aarch64 one row at a time. x's rows must not overlap each
/// other, bias or mask. Thread-safe; allocates nothing. Returns 0, doing nothing, when this CPU has no fast path
/// (as vla_attention_row), else 1 (also for rows ≤ 0).
int vla_attention_rows(float *x, long ldx, long rows, long n, float scale, const float *bias, long ldbias,
                       const uint8_t *mask, long ldmask);

/// The instruction set vla_gemm uses: x86 2 = AVX-512F, 1 = AVX2 + FMA; aarch64 1 = Advanced SIMD (ASIMD);
/// 0 = portable C.
int vla_kernels_isa(void);

/// A spin-wait hint to the CPU (x86 `pause`, Arm `yield`), for VLARuntime's worker pool.
void vla_cpu_relax(void);

/// Tests: forces the instruction set (clamped to what the CPU supports); returns the one now in use.
int vla_kernels_force_isa(int isa);

/// The best instruction set this CPU has for vla_gemm and vla_f32_gemm_packed (what vla_kernels_isa() returns
/// unless a test forced another): routing decisions use it, so that forcing a path never changes a plan.
int vla_kernels_supported_isa(void);

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
///   y[i, j] = fma(f32(acc[i, j]), s[i]·wscale[j], bias ? bias[j] : +0), then the epilogue.
/// Consequences of the formula: a NaN in x becomes −127 (an all-NaN row has s = 0, so y = bias); a row holding
/// ±∞ has inv = 0 and s = ∞ (q = −127 at the infinities, 0 elsewhere; y is ±∞ or NaN); a row whose a is below
/// 127/FLT_MAX ≈ 3.7e-37 has inv = ∞, so its zeros become −127 too (harmless: |y − bias| ≤ 16129·k·s·|wscale|).
/// w must hold values in [−127, 127] only (the AVX2 path relies on it to avoid vpmaddubsw saturation).
/// vla_q8_gemm reads each q row up to vla_q8_row_stride(k) bytes; the values past k do not matter (they meet
/// zero weights or are not used). Path 4 (AMX tdpbssd, signed × signed) reaches the same exact int32 sums, so it
/// too gives the bits of path 0.
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

/// int8 with zero-point (asymmetric, u8) activations (linear_i8 with flag bit 0, format 1.4); all paths
/// bit-identical, the same weights and packing:
///   Row i of x [m, k]:  lo = min(0, min_p x[i, p]),  hi = max(0, max_p x[i, p])  (NaN entries skipped);
///   r = hi − lo;  inv = r > 0 ? 255 / r : 0;  s[i] = r / 255;
///   z = round-half-even(min(max(−lo·inv, 0), 255))   (a NaN product, ∞·0, becomes 0);
///   u[i, p] = round-half-even(min(max(x[i, p]·inv, −z), 255 − z)) + z ∈ [0, 255]   (a NaN product becomes −z);
///   acc[i, j] = Σ_p (u[i, p] − z)·w[p, j] exactly in int32 (|acc| ≤ 255·127·k; callers keep k ≤ 65536);
///   y[i, j] = fma(f32(acc[i, j]), s[i]·wscale[j], bias ? bias[j] : +0), then the epilogue.
/// Storage: q[i, p] = u[i, p] − 128 as int8 and zc[i] = 128 − z (int32), so that the products keep the symmetric
/// kernels' signed shape: acc = Σ_p q[i, p]·w[p, j] + zc[i]·Σ_p w[p, j] (the packed column sums). |q| ≤ 128 keeps
/// vpmaddubsw's pair sums (AVX-512BW, AVX2) at ≤ 2·128·127 = 32512 < 32767: no saturation.
/// Consequences: an all-zero row has s = 0, z = 0, y = bias; an all-negative row has z = 255; a NaN in x becomes
/// u = 0; a row holding ±∞ (or whose hi − lo overflows) has r = ∞, inv = 0, s = ∞ and z = 0, so every u = 0,
/// acc = 0 and y = NaN; a row whose r is below 255/FLT_MAX has inv = ∞ (harmless: |y − bias| ≤ 255·127·k·s·|wscale|).
/// vla_q8_quantize_zp writes q (row stride ldq ≥ vla_q8_row_stride(k), zero padding written), s[0..m) and
/// zc[0..m). vla_q8_gemm_zp is vla_q8_gemm with zc (NULL: the symmetric sums of vla_q8_gemm).
void vla_q8_quantize_zp(long m, long k, const float *x, long ldx, int8_t *q, long ldq, float *s, int32_t *zc);
void vla_q8_gemm_zp(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
                    const void *packed, long n, const float *wscale, const float *bias, const float *mul,
                    const float *add, long ldadd, float *y, long ldy);

/// bf16 (linear_bf16): x is rounded to bf16 (round half to even; NaN stays NaN), products of two bf16 are exact
/// in f32 and accumulate in f32 starting from bias[j] (or +0), pair by pair in increasing p, the odd element of
/// each pair first: acc = fma(x[2t+1], w[2t+1, j], acc); acc = fma(x[2t], w[2t, j], acc). An odd k is padded with
/// a zero x[k] and w[k, j] that take part (the pad can only turn a −0 sum into +0), so xb[k] must be finite
/// (vla_bf16_round writes zeros up to the row stride, which vla_bf16_gemm may read). Paths 0–2 give the same
/// bits for all inputs.
/// Path 3 (vdpbf16ps), as measured on Intel Xeon (family 6, model 207): each of its two steps is that same fma
/// with denormal operands (x, w and the running sum, bias included) read as zero of the same sign and a result
/// that is denormal after rounding flushed to zero of the same sign (tininess after rounding; overflow as fma,
/// e.g. 2^128 − 2^104 stays finite). So it equals paths 0–2 bit for bit unless an input or a running sum is
/// denormal (|v| < 2^−126); Tests/VLARuntimeTests/QuantKernelTests.swift checks both statements.
/// Path 4 (AMX tdpbf16ps) sums in another order, measured on the same Xeon: k goes in chunks of 16 pairs (32
/// values, in increasing order; the last chunk padded with zero pairs), and for each chunk
///   e = +0; o = +0;  for each pair t of the chunk, in increasing order: e = fma(x[2t], w[2t, j], e);
///                                                                      o = fma(x[2t+1], w[2t+1, j], o);
///   acc = acc + (e + o)            (acc starts at bias[j] or +0; every step is one f32 rounding, to nearest even)
/// with denormals handled as path 3 (operands, acc included, read as zero of the same sign; denormal results
/// flushed to zero of the same sign). It is not one fma chain and not one rounding per tile row: the two sums
/// run over the even and the odd elements apart, rounded after each pair, then joined and added. So path 4 is
/// not bit-identical to paths 0–3: its error, like theirs, is at most about (k + 2)·2^−24·(|bias| + Σ|x·w|)
/// on inputs without denormals, so it stays within twice that of them. The tests check it bit for bit against
/// this rule (extreme inputs included) and within that bound of path 0. Path 4 reads each xb row up to the
/// row stride (32 values per chunk), so the values from k to the row stride must be finite (vla_bf16_round
/// writes zeros there).
/// aarch64 paths 2 (BFDOT) and 3 (BFMMLA), where FEAT_BF16 exists (HWCAP2_BF16), follow the architecture's
/// BFDotAdd with FPCR.EBF 0, and give the same bits as each other:
///   acc = bias[j] (or +0);  for each pair t of k in increasing order, the pair count padded to even with a pair
///   whose x and w are both +0:   acc = R(acc + R(R(x[2t]·w[2t, j]) + R(x[2t+1]·w[2t+1, j])))
/// where R takes the exact result and rounds it to odd (truncated toward zero, then the last bit set if anything
/// was cut off), gives zero of its sign where its magnitude is below 2^−126 (judged before rounding) and ∞ of
/// its sign where it is 2^128 or more. Every operand (x, w, the running sum, the bias) is read as zero of its
/// sign when it is denormal; an exact zero sum of two non-zero values is +0, and two zeros give +0 unless both
/// are −0; every NaN result is the default NaN 0x7fc00000 (a NaN operand, ∞·0, ∞ − ∞). A product of two bf16
/// is exact unless it underflows or overflows, so the inner R only flushes or overflows. FPCR's FZ, DN and RMode
/// play no part. Where FEAT_EBF16 exists and FPCR.EBF is set (nothing in vlac sets it), BFDOT follows another
/// rule: vla_bf16_gemm then runs path 1 instead. Paths 2 and 3 are not bit-identical to paths 0–1: their error
/// is at most about (k + 6)·2^−24·(|bias| + Σ|x·w|) on inputs without denormals (round to odd errs by up to
/// one unit, not half, but there are half as many roundings). Tests/aarch64/driver.c checks both against a C
/// transcription of this rule bit for bit (extreme inputs included) under qemu-aarch64, and within that bound
/// of a float64 sum. They read xb up to k rounded up to even (x[k] of an odd k meets w = 0: it must be finite)
/// and, BFDOT, the row's values up to the next multiple of 8 without using them.
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
/// vla_q8_gemm / vla_bf16_gemm followed by y = f(y) on the same rows and columns, f = vla_unary's function `act`
/// (VLA_GELU_TANH…VLA_SCALED_TANH, `param` as there) with vla_unary's bits. Where the product runs on AMX
/// (path 4) and vla_unary has a fast path, f is applied to each 32 × 32 block while it is in L1 and 1 is returned;
/// elsewhere only the product runs and 0 is returned: the caller then applies f itself.
int vla_q8_gemm_act(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const void *packed,
                    long n, const float *wscale, const float *bias, const float *mul, const float *add, long ldadd,
                    float *y, long ldy, int act, float param);
/// vla_q8_gemm_act with zero-point activations (zc as vla_q8_gemm_zp; NULL: vla_q8_gemm_act).
int vla_q8_gemm_zp_act(long m, long n0, long n1, long k, const int8_t *q, long ldq, const float *s, const int32_t *zc,
                       const void *packed, long n, const float *wscale, const float *bias, const float *mul,
                       const float *add, long ldadd, float *y, long ldy, int act, float param);
int vla_bf16_gemm_act(long m, long n0, long n1, long k, const uint16_t *xb, long ldxb, const void *packed, long n,
                      const float *bias, const float *mul, const float *add, long ldadd, float *y, long ldy, int act,
                      float param);

/// Attention's two products in bf16 (attention flag bit 2, format 1.4). q̃, k̃, p̃, ṽ are the operands rounded to
/// bf16 as vla_bf16_round rounds (half to even, NaN kept). The reference order (path 0, and the bits of every
/// CPU without AMX): one fma chain per output from +0 in increasing index,
///   s[i, j] = Σ_{p < d} q̃[i, p]·k̃[j, p]    y[i, n] = Σ_{j < tk} p̃[i, j]·ṽ[j, n]
/// computed by rounding the operands to bf16 values held in f32 and running vla_f32_gemm_packed (a product of
/// two bf16 is exact in f32, so each step is one rounding of the sum: the same bits on every vla_kernels_isa()
/// level). Path 4 (AMX tdpbf16ps, where vla_bf16_isa() is 4) sums as vla_bf16_gemm's path 4 does (chunks of 16
/// pairs, even and odd elements in two chains, joined and added to the sum from +0; denormal operands and
/// results flushed to zero of their sign): within about (n + 2)·2^−24·Σ|products| of path 0 (n = d or tk).
/// Scale, bias, mask and softmax are the caller's (vla_attention_row, between the two calls).
int vla_attn_bf16_path(void);
/// Bytes of scratch (64-byte aligned) the calls below (the two products and vla_attn_bf16_head) need for these
/// sizes, on either path. The sizes must be
/// bounded by the caller (the interpreter's scratch limit does): the products of them are not checked for overflow.
size_t vla_attn_bf16_scratch_bytes(long tq, long tk, long d, long dv);
/// s [tq, tk] (row stride lds) from q [tq, d] (row stride ldq) and k [tk, d] (row stride ldk). Allocates nothing.
void vla_attn_bf16_scores(long tq, long tk, long d, const float *q, long ldq, const float *k, long ldk,
                          void *scratch, float *s, long lds);
/// y [tq, dv] (row stride ldy) from p [tq, tk] (row stride ldp) and v [tk, dv] (row stride ldv). p's values
/// afterwards are unspecified (path 0 rounds them in place). p_bf16 nonzero promises that p already holds bf16
/// values (rounded with vla_attn_bf16_round_rows, for example each row right after its softmax, while it is in
/// cache): path 0 then does not round p again. Allocates nothing.
void vla_attn_bf16_values(long tq, long tk, long dv, float *p, long ldp, int p_bf16, const float *v, long ldv,
                          void *scratch, float *y, long ldy);
/// Rows [0, m) of x (n values, row stride ldx) rounded in place to bf16 values held in f32 (half to even, NaN
/// kept): what path 0 of vla_attn_bf16_values does to p. The same bits on every level.
void vla_attn_bf16_round_rows(long m, long n, float *x, long ldx);
/// One whole head on path 4 (AMX), fused: y [tq, dv] (row stride ldy) = softmax(q·kᵀ·scale + bias, mask)·v, with
/// bias row i at bias + i·ldbias (NULL: none) and mask row i at mask + i·ldmask (NULL: none; a 0 byte masks the
/// score to −FLT_MAX), as vla_attn_bf16_scores, vla_attention_row on each row and vla_attn_bf16_values compute
/// it on path 4, bit for bit, in blocks of 32 query rows whose scores stay in L1. Scratch:
/// vla_attn_bf16_scratch_bytes(tq, tk, d, dv), 64-byte aligned. Returns 0, doing nothing, where the path is not 4
/// (or k's row stride is past 2^26 floats): the caller then runs the three steps. Allocates nothing.
int vla_attn_bf16_head(long tq, long tk, long d, long dv, const float *q, long ldq, const float *k, long ldk,
                       const float *v, long ldv, float scale, const float *bias, long ldbias, const uint8_t *mask,
                       long ldmask, void *scratch, float *y, long ldy);

/// The paths the reduced-precision kernels use (the same for vla_q8_*_zp). int8: 4 = AMX (tdpbssd), 3 = AVX-512 VNNI, 2 = AVX-512BW,
/// 1 = AVX2 + FMA (with AVX-VNNI where the CPU has it: vla_q8_avx_vnni), 0 = portable; the default is the best the CPU has. On aarch64: int8 3 = i8mm (SMMLA, the
/// default where present: fewer instructions than SDOT, Docs/Deploying.md; single rows use SDOT), 2 = dot
/// product (SDOT), 1 = Advanced SIMD (SMULL, SADALP), all exact; bf16 3 = BFMMLA (the default where
/// FEAT_BF16 exists: fewest instructions), 2 = BFDOT (the same bits as 3: the BFDotAdd rule above), 1 = Advanced
/// SIMD (the fma chain of paths 0–2); quantization runs on Advanced SIMD at int8 paths 1–3, bf16 rounding the portable code. bf16: 4 = AMX (tdpbf16ps),
/// 3 = AVX-512 BF16, 2 = AVX-512F, 1 = AVX2 + FMA, 0 = portable; the default is 4 where AMX is usable, else 2
/// where AVX-512F exists, also on CPUs with AVX512_BF16, and 3 only when forced: on the Intel Xeon measured,
/// vdpbf16ps zmm completes one per 2 cycles and slows FMAs issued beside it (32 flops per cycle against 64 for
/// vfmadd zmm), so path 2 is ~1.5× faster (Docs/Benchmarks.md).
/// Path 4 needs AVX-512 VNNI (int8) or AVX512_BF16 (bf16), the CPU's AMX-TILE with AMX-INT8 or AMX-BF16, and,
/// on Linux, the kernel's permission for the tile data, which the first use asks for once per process
/// (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA; checked with ARCH_GET_XCOMP_PERM): where it is refused
/// (an older kernel, a signal stack too small for the tile state) or on other systems, the paths stop at 3.
/// Each path-4 call loads its own tile configuration and releases the tiles before it returns, so calls on
/// several threads at once are fine. On the Xeon measured (m 257, DINOv2's shapes, one thread) path 4 is ~3–4×
/// path 3 for int8 and ~7× path 2 for bf16, and no slower down to one row (Docs/Interpreter.md).
int vla_q8_isa(void);
int vla_bf16_isa(void);
/// Tests: force a path (clamped to what the CPU supports; vla_bf16_force_isa(99) selects the best, 4 or 3, even
/// where that is not the default, so restore the default with the value vla_bf16_isa() returned before);
/// returns the one now in use.
int vla_q8_force_isa(int isa);
int vla_bf16_force_isa(int isa);
/// Whether int8 path 1 (AVX2) runs its products with AVX-VNNI (vpdpbusd on ymm: CPUID leaf 7 subleaf 1, EAX
/// bit 4; Intel's cores from Alder Lake on, Sierra Forest, and the AVX-512 Xeons from Sapphire Rapids on) instead
/// of vpmaddubsw + vpmaddwd: 1 by default where the CPU has it, 0 elsewhere and on other architectures. The
/// sums are exact either way, so the bits are the same; on the Xeon measured the products are ~2–3× faster
/// (Docs/Benchmarks.md). vla_q8_force_avx_vnni(0) turns it off (what an AVX2-only CPU runs, `vlac bench
/// --kernels avx2`), nonzero back on where the CPU has it; returns the state now in use.
int vla_q8_avx_vnni(void);
int vla_q8_force_avx_vnni(int on);

#ifdef __cplusplus
}
#endif

#endif
