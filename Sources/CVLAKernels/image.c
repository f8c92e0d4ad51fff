// The accumulation step of the image contract's resize passes (VLARuntime ImagePreprocessor+Unsafe.swift):
// acc[i] += w · x[i], one f32 product and one f32 sum per element, as TensorFlow's ScaleAndTranslate does it.
// Each element is independent, so the AVX-512, AVX2 and Advanced SIMD paths give the same floats as the Swift
// loop; no floating-point contraction (the pragma for clang; gcc builds need -ffp-contract=off, as Tests/aarch64/Makefile passes).
#include <stdint.h>
#include "vla_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void scale_add_u8_512(float *acc, const uint8_t *x, float w, long n) {
    const __m512 vw = _mm512_set1_ps(w);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x + i))));
        _mm512_storeu_ps(acc + i, _mm512_add_ps(_mm512_loadu_ps(acc + i), _mm512_mul_ps(vw, v)));
    }
    for (; i < n; i++) acc[i] += w * (float)x[i];
}

__attribute__((target("avx512f"))) static void scale_add_f32_512(float *acc, const float *x, float w, long n) {
    const __m512 vw = _mm512_set1_ps(w);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(acc + i, _mm512_add_ps(_mm512_loadu_ps(acc + i), _mm512_mul_ps(vw, _mm512_loadu_ps(x + i))));
    }
    for (; i < n; i++) acc[i] += w * x[i];
}

__attribute__((target("avx2"))) static void scale_add_u8_256(float *acc, const uint8_t *x, float w, long n) {
    const __m256 vw = _mm256_set1_ps(w);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i))));
        _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(vw, v)));
    }
    for (; i < n; i++) acc[i] += w * (float)x[i];
}

__attribute__((target("avx2"))) static void scale_add_f32_256(float *acc, const float *x, float w, long n) {
    const __m256 vw = _mm256_set1_ps(w);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(vw, _mm256_loadu_ps(x + i))));
    }
    for (; i < n; i++) acc[i] += w * x[i];
}
#elif defined(__aarch64__)
#include <arm_neon.h>

// Separate vmulq and vaddq (never vfmaq): the product is rounded before the sum, as in the Swift loop.
static void scale_add_u8_neon(float *acc, const uint8_t *x, float w, long n) {
    const float32x4_t vw = vdupq_n_f32(w);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vmovl_u8(vld1_u8(x + i));
        const float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(h)));
        const float32x4_t hi = vcvtq_f32_u32(vmovl_u16(vget_high_u16(h)));
        vst1q_f32(acc + i, vaddq_f32(vld1q_f32(acc + i), vmulq_f32(vw, lo)));
        vst1q_f32(acc + i + 4, vaddq_f32(vld1q_f32(acc + i + 4), vmulq_f32(vw, hi)));
    }
    for (; i < n; i++) acc[i] += w * (float)x[i];
}

static void scale_add_f32_neon(float *acc, const float *x, float w, long n) {
    const float32x4_t vw = vdupq_n_f32(w);
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(acc + i, vaddq_f32(vld1q_f32(acc + i), vmulq_f32(vw, vld1q_f32(x + i))));
    for (; i < n; i++) acc[i] += w * x[i];
}
#endif

int vla_scale_add_u8(float *acc, const uint8_t *x, float w, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        scale_add_u8_512(acc, x, w, n);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        scale_add_u8_256(acc, x, w, n);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        scale_add_u8_neon(acc, x, w, n);
        return 1;
    }
#endif
    (void)acc, (void)x, (void)w, (void)n;
    return 0;
}

int vla_scale_add_f32(float *acc, const float *x, float w, long n) {
#if defined(__x86_64__)
    if (vla_kernels_isa() == 2) {
        scale_add_f32_512(acc, x, w, n);
        return 1;
    }
    if (vla_kernels_isa() == 1) {
        scale_add_f32_256(acc, x, w, n);
        return 1;
    }
#elif defined(__aarch64__)
    if (vla_kernels_isa() >= 1) {
        scale_add_f32_neon(acc, x, w, n);
        return 1;
    }
#endif
    (void)acc, (void)x, (void)w, (void)n;
    return 0;
}
