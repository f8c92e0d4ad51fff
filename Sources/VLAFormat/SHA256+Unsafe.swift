import CVLASHA256

extension SHA256 {
    /// Whether the CPU has SHA-256 instructions (x86: CPUID; aarch64: getauxval's HWCAP_SHA2; asked by the C side).
    static func cpuHasSHAExtensions() -> Bool { vla_sha256_has_instructions() != 0 }

    /// Processes `blocks` consecutive 64-byte blocks starting at `offset` of `bytes`.
    ///
    /// The caller guarantees `offset + 64 * blocks <= bytes.count`; both call sites in `update` check it.
    /// With `.shaExtensions` (only set when the CPU has them) the C function reads exactly those bytes.
    mutating func compress(_ bytes: UnsafeRawBufferPointer, at offset: Int, blocks: Int) {
        precondition(offset >= 0 && blocks >= 0 && offset + 64 * blocks <= bytes.count)
        guard blocks > 0, let base = bytes.baseAddress else { return }
        switch implementation {
        case .shaExtensions:
            unsafe state.withUnsafeMutableBufferPointer { st in
                unsafe vla_sha256_blocks(st.baseAddress!, (base + offset).assumingMemoryBound(to: UInt8.self), blocks)
            }
        case .portable:
            for b in 0..<blocks { unsafe compressPortable(bytes, at: offset + 64 * b) }
        }
    }

    /// Processes the 64-byte block at `offset` of `block` in portable Swift.
    private mutating func compressPortable(_ block: UnsafeRawBufferPointer, at offset: Int) {
        unsafe schedule.withUnsafeMutableBufferPointer { w in
            for i in 0..<16 {
                let word = unsafe block.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)
                unsafe w[i] = UInt32(bigEndian: word)
            }
            for i in 16..<64 {
                let a = unsafe w[i - 15], b = unsafe w[i - 2]
                let s0 = a.rotatedRight(7) ^ a.rotatedRight(18) ^ (a >> 3)
                let s1 = b.rotatedRight(17) ^ b.rotatedRight(19) ^ (b >> 10)
                let w16 = unsafe w[i - 16], w7 = unsafe w[i - 7]
                unsafe w[i] = w16 &+ s0 &+ w7 &+ s1
            }
            unsafe state.withUnsafeMutableBufferPointer { st in
                var a = unsafe st[0], b = unsafe st[1], c = unsafe st[2], d = unsafe st[3]
                var e = unsafe st[4], f = unsafe st[5], g = unsafe st[6], h = unsafe st[7]
                unsafe SHA256.k.withUnsafeBufferPointer { k in
                    for i in 0..<64 {
                        let s1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
                        let ch = (e & f) ^ (~e & g)
                        let ki = unsafe k[i], wi = unsafe w[i]
                        let t1 = h &+ s1 &+ ch &+ ki &+ wi
                        let s0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        h = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ s0 &+ maj
                    }
                }
                unsafe st[0] &+= a
                unsafe st[1] &+= b
                unsafe st[2] &+= c
                unsafe st[3] &+= d
                unsafe st[4] &+= e
                unsafe st[5] &+= f
                unsafe st[6] &+= g
                unsafe st[7] &+= h
            }
        }
    }
}
