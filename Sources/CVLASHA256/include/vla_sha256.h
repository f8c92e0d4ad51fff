// The SHA-256 compression function on the CPU's SHA-256 instructions: the x86 SHA extensions (SHA-NI) or the
// Armv8 SHA2 instructions (aarch64), for VLAFormat's SHA256 (Sources/VLAFormat/SHA256+Unsafe.swift), which runs
// its portable Swift rounds when this CPU has neither.
#ifndef VLA_SHA256_H
#define VLA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when vla_sha256_blocks can run on this CPU, else 0: on x86 the SHA extensions with SSE4.1 and SSSE3
/// (CPUID, decided once; thread-safe); on aarch64 Linux the SHA2 capability bit (getauxval(AT_HWCAP) &
/// HWCAP_SHA2: cores without the Cryptographic Extension, such as some Cortex-A53/A72 parts, have none).
int vla_sha256_has_instructions(void);

/// Runs the FIPS 180-4 compression function over `blocks` consecutive 64-byte blocks at `data` (any
/// alignment), updating state[0...7] (the working hash H0...H7). Call only when vla_sha256_has_instructions()
/// returned 1. Allocates nothing, reads exactly 64 · blocks bytes.
void vla_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#ifdef __cplusplus
}
#endif

#endif
