// SHA-256 block compression with the SHA extensions, written from Intel's description of the instructions
// (Intel 64 and IA-32 Architectures Software Developer's Manual, SHA256RNDS2 / SHA256MSG1 / SHA256MSG2):
//
//   sha256rnds2(cdgh, abef, wk): two rounds; the state is split as ABEF and CDGH (A in the high lane), the
//                                low two 32-bit lanes of wk hold W[i] + K[i] and W[i+1] + K[i+1]; returns the
//                                new ABEF (the old ABEF becomes the new CDGH).
//   sha256msg1(w0, w1):          w0 + σ0 of the next four words: (W[i]+σ0(W[i+1]), ..., W[i+3]+σ0(W[i+4])).
//   sha256msg2(x, w3):           adds σ1 terms to finish W[i+16..i+19] given x = W[i..i+3] + σ0(...) + W[i+9..i+12].
//
// On aarch64 the Armv8 Cryptographic Extension's SHA2 instructions (Arm Architecture Reference Manual,
// SHA256H / SHA256H2 / SHA256SU0 / SHA256SU1) do four rounds each:
//
//   sha256h(abcd, efgh, wk):   the new ABCD after four rounds (lane 0 = A), wk = W[i..i+3] + K[i..i+3];
//   sha256h2(efgh, abcd, wk):  the new EFGH after the same four rounds, given the ABCD from before them;
//   sha256su0(w0, w1), sha256su1(x, w2, w3): W[i+16..i+19] from the four groups before them.
#include "vla_sha256.h"

#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>


int vla_sha256_has_instructions(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        unsigned eax, ebx, ecx, edx;
        v = 0;
        // Leaf 0: EAX = highest leaf. Leaf 7, subleaf 0: EBX bit 29 = SHA. Leaf 1: ECX bit 19 = SSE4.1, bit 9 = SSSE3.
        __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0), "c"(0));
        if (eax >= 7) {
            __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(0));
            int sha = (ebx >> 29) & 1;
            __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
            int sse41 = (ecx >> 19) & 1, ssse3 = (ecx >> 9) & 1;
            v = sha && sse41 && ssse3;
        }
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

/// Four rounds: adds K[4q..4q+3] to the message words in `w` and runs two sha256rnds2 (the second on the
/// upper two words, moved down).
#define FOUR_ROUNDS(w, q)                                                                                     \
    do {                                                                                                      \
        __m128i wk = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&round_constants[4 * (q)]));         \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                                                         \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));                                \
    } while (0)

/// W[4(q+4) ... 4(q+4)+3] from the four previous groups: w0 = W[4q..], w1, w2, w3 the three after it.
/// W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]; msg1 adds σ0 to w0, the alignr supplies W[t-7].
#define NEXT_WORDS(w0, w1, w2, w3)                                                                            \
    _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)), _mm_alignr_epi8((w3), (w2), 4)), (w3))

__attribute__((target("sha,sse4.1,ssse3"))) void vla_sha256_blocks(uint32_t state[8], const uint8_t *data,
                                                                    size_t blocks) {
    // Message bytes are big-endian words: reverse the bytes within each 32-bit lane.
    const __m128i byteswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    // state = A B C D | E F G H (A at the lowest address). Lanes are numbered from the low end:
    // abcd = [A, B, C, D] (lane 0 = A), efgh = [E, F, G, H]. The instructions want ABEF = [F, E, B, A] and
    // CDGH = [H, G, D, C] (lane 3 holds A / C).
    __m128i abcd = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i badc = _mm_shuffle_epi32(abcd, 0xb1);  // [B, A, D, C]
    __m128i fehg = _mm_shuffle_epi32(efgh, 0xb1);  // [F, E, H, G]
    __m128i abef = _mm_unpacklo_epi64(fehg, badc);  // [F, E, B, A]
    __m128i cdgh = _mm_unpackhi_epi64(fehg, badc);  // [H, G, D, C]

    for (size_t b = 0; b < blocks; b++, data += 64) {
        const __m128i saved_abef = abef, saved_cdgh = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), byteswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), byteswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), byteswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), byteswap);
        FOUR_ROUNDS(w0, 0);
        FOUR_ROUNDS(w1, 1);
        FOUR_ROUNDS(w2, 2);
        FOUR_ROUNDS(w3, 3);
        for (int q = 4; q < 16; q += 4) {
            w0 = NEXT_WORDS(w0, w1, w2, w3);
            FOUR_ROUNDS(w0, q);
            w1 = NEXT_WORDS(w1, w2, w3, w0);
            FOUR_ROUNDS(w1, q + 1);
            w2 = NEXT_WORDS(w2, w3, w0, w1);
            FOUR_ROUNDS(w2, q + 2);
            w3 = NEXT_WORDS(w3, w0, w1, w2);
            FOUR_ROUNDS(w3, q + 3);
        }
        abef = _mm_add_epi32(abef, saved_abef);
        cdgh = _mm_add_epi32(cdgh, saved_cdgh);
    }

    // Back to A B C D | E F G H.
    __m128i feba = _mm_shuffle_epi32(abef, 0x1b);  // [A, B, E, F]
    __m128i hgdc = _mm_shuffle_epi32(cdgh, 0x1b);  // [C, D, G, H]
    _mm_storeu_si128((__m128i *)&state[0], _mm_unpacklo_epi64(feba, hgdc));  // [A, B, C, D]
    _mm_storeu_si128((__m128i *)&state[4], _mm_unpackhi_epi64(feba, hgdc));  // [E, F, G, H]
}

#elif defined(__aarch64__)
#include <arm_neon.h>
#if defined(__linux__)
#include <sys/auxv.h>
#endif

int vla_sha256_has_instructions(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & (1ul << 6)) ? 1 : 0;  // HWCAP_SHA2
#elif defined(__APPLE__)
    return 1;  // every Apple arm64 core has the SHA2 instructions
#else
    return 0;
#endif
}

__attribute__((target("arch=armv8-a+crypto"))) void vla_sha256_blocks(uint32_t state[8], const uint8_t *data,
                                                                       size_t blocks) {
    uint32x4_t abcd = vld1q_u32(&state[0]), efgh = vld1q_u32(&state[4]);
    for (size_t b = 0; b < blocks; b++, data += 64) {
        const uint32x4_t saved_abcd = abcd, saved_efgh = efgh;
        // Message bytes are big-endian words: reverse the bytes within each 32-bit lane.
        uint32x4_t w[4];
        for (int g = 0; g < 4; g++) w[g] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * g)));
        for (int q = 0; q < 16; q++) {
            // Group q of four words: the first four are the message; later ones come from the four before.
            uint32x4_t wq = w[q & 3];
            if (q >= 4) {
                wq = vsha256su1q_u32(vsha256su0q_u32(w[q & 3], w[(q + 1) & 3]), w[(q + 2) & 3], w[(q + 3) & 3]);
                w[q & 3] = wq;
            }
            const uint32x4_t wk = vaddq_u32(wq, vld1q_u32(&round_constants[4 * q]));
            const uint32x4_t before = abcd;
            abcd = vsha256hq_u32(abcd, efgh, wk);
            efgh = vsha256h2q_u32(efgh, before, wk);
        }
        abcd = vaddq_u32(abcd, saved_abcd);
        efgh = vaddq_u32(efgh, saved_efgh);
    }
    vst1q_u32(&state[0], abcd);
    vst1q_u32(&state[4], efgh);
}

#else

int vla_sha256_has_instructions(void) { return 0; }

void vla_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    (void)state;
    (void)data;
    (void)blocks;
}

#endif
