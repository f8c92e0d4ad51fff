// The SHA-256 compression function with the x86 SHA extensions (SHA-NI), for VLAFormat's SHA256
// (Sources/VLAFormat/SHA256+Unsafe.swift), which runs its portable Swift rounds when this CPU has none.
#ifndef VLA_SHA256_H
#define VLA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU has the SHA extensions (and SSE4.1, SSSE3) and vla_sha256_blocks can run, else 0.
/// Decided once; thread-safe.
int vla_sha256_has_sha_ni(void);

/// Runs the FIPS 180-4 compression function over `blocks` consecutive 64-byte blocks at `data` (any
/// alignment), updating state[0...7] (the working hash H0...H7). Call only when vla_sha256_has_sha_ni()
/// returned 1. Allocates nothing, reads exactly 64 · blocks bytes.
void vla_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#ifdef __cplusplus
}
#endif

#endif
