import VLAFormat

/// Reading and patching the raw bytes of a .vla file in tests, with the digest re-sealed.
public struct RawFile {
    /// The bytes.
    public var bytes: [UInt8]

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads a little-endian u32.
    public func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) } }

    /// Reads a little-endian u64.
    public func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } }

    /// Writes a little-endian u16.
    public mutating func setU16(_ o: Int, _ v: UInt16) { for i in 0..<2 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }

    /// Writes a little-endian u32.
    public mutating func setU32(_ o: Int, _ v: UInt32) { for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }

    /// Writes a little-endian u64.
    public mutating func setU64(_ o: Int, _ v: UInt64) { for i in 0..<8 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }

    /// Recomputes the trailing digest so that structural checks, not the digest, judge a mutation.
    public mutating func reseal() {
        let end = bytes.count - 32
        guard end >= 0 else { return }
        let digest = SHA256.hash(bytes[0..<end])
        bytes.replaceSubrange(end..<bytes.count, with: digest)
    }

    /// The (offset, length) of the first section of `kind`, from the section table.
    public func section(_ kind: SectionKind) -> (offset: Int, length: Int)? {
        let table = Int(u64(24)), count = Int(u32(32))
        for i in 0..<count {
            let e = table + 32 * i
            if u32(e) == kind.rawValue { return (Int(u64(e + 8)), Int(u64(e + 16))) }
        }
        return nil
    }

    /// Byte offset of the section table entry of `kind`.
    public func sectionEntry(_ kind: SectionKind) -> Int? {
        let table = Int(u64(24)), count = Int(u32(32))
        return (0..<count).map { table + 32 * $0 }.first { u32($0) == kind.rawValue }
    }

    /// Byte offset of tensor `id`'s table entry.
    public func tensorEntry(_ id: Int) -> Int { section(.tensors)!.offset + 8 + 64 * id }
}
