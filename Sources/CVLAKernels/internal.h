// Entry points shared between the kernel files; not part of the module's API (include/vla_kernels.h).
#ifndef VLA_KERNELS_INTERNAL_H
#define VLA_KERNELS_INTERNAL_H

#if defined(__x86_64__)
// vla_unary_rows on AVX-512F whatever level is chosen: for the AMX kernels, which run only where AVX-512F exists
// and must apply their activation even if a test forces another level while they run (vla_unary's bits on every
// level, so the choice changes no result).
void vla_unary_rows_avx512(int kind, float param, float *y, long ldy, long rows, long cols);
#endif

#endif
