/// SHA-256 (FIPS 180-4), incremental.
///
/// Used for the trailing digest of every .vla file, shared-blob identities and provenance. The compression
/// function runs on the CPU's SHA-256 instructions when it has them (Sources/CVLASHA256: the x86 SHA extensions,
/// about 7× the portable Swift rounds, or the Armv8 SHA2 instructions on aarch64), otherwise in portable Swift;
/// both give the same digests.
public struct SHA256: Sendable {
    /// Which compression function a hasher runs.
    public enum Implementation: String, Sendable, CaseIterable {
        #if arch(arm64)
        /// The Armv8 SHA2 instructions (SHA256H/H2, SHA256SU0/SU1), in Sources/CVLASHA256.
        case shaExtensions = "Armv8 SHA2 instructions"
        #else
        /// The x86 SHA extensions (SHA256RNDS2, SHA256MSG1/2), in Sources/CVLASHA256.
        case shaExtensions = "x86 SHA extensions"
        #endif
        /// Portable Swift (FIPS 180-4 §6.2.2 as written).
        case portable = "portable Swift"
    }

    /// The fastest implementation this CPU runs, chosen once at first use.
    public static let fastest: Implementation = cpuHasSHAExtensions() ? .shaExtensions : .portable

    /// The implementation this hasher runs.
    public let implementation: Implementation

    var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    var schedule = [UInt32](repeating: 0, count: 64)
    private var buffer = [UInt8](repeating: 0, count: 64)
    private var buffered = 0
    private var totalBytes: UInt64 = 0

    /// Creates a hasher with the initial state, running the fastest implementation this CPU has.
    public init() { implementation = SHA256.fastest }

    /// Creates a hasher that runs `implementation`, or the portable one when `implementation` is
    /// `.shaExtensions` and this CPU lacks them (for tests and benchmarks that compare the two).
    public init(implementation: Implementation) {
        self.implementation = implementation == .shaExtensions && SHA256.fastest != .shaExtensions ? .portable : implementation
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var h = SHA256()
        h.update(Array(bytes))
        return h.finalize()
    }

    /// Adds bytes.
    public mutating func update(_ bytes: [UInt8]) {
        unsafe bytes.withUnsafeBytes { unsafe update($0) }
    }

    /// Adds the bytes of a buffer.
    ///
    /// - Complexity: O(n).
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        totalBytes &+= UInt64(bytes.count)
        var index = 0
        let count = bytes.count
        if buffered > 0 {
            while buffered < 64 && index < count {
                buffer[buffered] = unsafe bytes[index]
                buffered += 1
                index += 1
            }
            if buffered == 64 {
                let block = buffer
                unsafe block.withUnsafeBytes { unsafe compress($0, at: 0, blocks: 1) }
                buffered = 0
            }
        }
        let blocks = (count - index) / 64
        if blocks > 0 {
            unsafe compress(bytes, at: index, blocks: blocks)
            index += 64 * blocks
        }
        while index < count {
            buffer[buffered] = unsafe bytes[index]
            buffered += 1
            index += 1
        }
    }

    /// Pads, processes the last block and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let bitLength = totalBytes &* 8
        var tail: [UInt8] = [0x80]
        let padding = (55 &- buffered) & 63
        tail += [UInt8](repeating: 0, count: padding)
        for shift in stride(from: 56, through: 0, by: -8) {
            tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        let saved = totalBytes
        update(tail)
        totalBytes = saved
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in state {
            out += [UInt8(word >> 24), UInt8((word >> 16) & 0xff), UInt8((word >> 8) & 0xff), UInt8(word & 0xff)]
        }
        return out
    }

    static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

}

extension UInt32 {
    @inline(__always)
    func rotatedRight(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}

/// Lowercase hex of bytes (`"e3b0c442..."`).
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}
