// Benchmark-only: the machine's fp32 fused-multiply-add peak, measured with independent FMA chains.
#ifndef VLA_PEAK_FLOPS_H
#define VLA_PEAK_FLOPS_H

/// Runs `iterations` rounds of 12 independent 16-lane (AVX-512) or 8-lane (AVX2) FMA chains on `threads`
/// threads at once and returns the achieved GFLOP/s (2 FLOP per lane per FMA). Returns 0 when the CPU has
/// neither AVX-512F nor AVX2+FMA.
double vla_bench_peak_gflops(int threads, long iterations);

/// "avx512f", "avx2+fma" or "none": which kernel `vla_bench_peak_gflops` uses on this CPU.
const char *vla_bench_peak_isa(void);

#endif
