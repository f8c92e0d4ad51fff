// The aarch64 features the kernels' Arm paths use, read once from the kernel's hardware capabilities
// (getauxval(AT_HWCAP / AT_HWCAP2) on Linux), so that no path runs an instruction the core lacks: a Cortex-A53
// or A72 has Advanced SIMD only, a Cortex-A55/A76/A78 adds the dot product (SDOT), Armv8.6 cores (Neoverse V1,
// Cortex-A710/X2 and later) add i8mm (SMMLA) and bf16. Private to CVLAKernels (not in include/).
#ifndef VLA_ARM_FEATURES_H
#define VLA_ARM_FEATURES_H

#if defined(__aarch64__)

enum { VLA_ARM_ASIMD = 1, VLA_ARM_DOTPROD = 2, VLA_ARM_I8MM = 4, VLA_ARM_BF16 = 8 };

#if defined(__linux__)
#include <sys/auxv.h>
// The bits of <asm/hwcap.h>, spelled out so that an older libc's headers do not matter.
#define VLA_HWCAP_ASIMD (1ul << 1)
#define VLA_HWCAP_ASIMDDP (1ul << 20)
#define VLA_HWCAP2_I8MM (1ul << 13)
#define VLA_HWCAP2_BF16 (1ul << 14)

static inline int vla_arm_features(void) {
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    if (!(hw & VLA_HWCAP_ASIMD)) return 0;
    int f = VLA_ARM_ASIMD;
    if (hw & VLA_HWCAP_ASIMDDP) f |= VLA_ARM_DOTPROD;
    if (hw2 & VLA_HWCAP2_I8MM) f |= VLA_ARM_I8MM;
    if (hw2 & VLA_HWCAP2_BF16) f |= VLA_ARM_BF16;
    return f;
}
#else
// Elsewhere (macOS, other systems): Advanced SIMD only, which every AArch64 core has.
static inline int vla_arm_features(void) { return VLA_ARM_ASIMD; }
#endif

#endif  // __aarch64__
#endif
