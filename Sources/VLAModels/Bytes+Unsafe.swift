/// Little-endian byte images of scalar arrays, for inline tensor payloads.
///
/// The host is little-endian (checked below), so the in-memory bytes are the file bytes.
enum LittleEndianBytes {
    static func of(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    static func of(_ values: [Int32]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// Reads f32 values back (used by tests and the CLI to print arena outputs).
    static func floats(_ bytes: [UInt8]) -> [Float] {
        let n = bytes.count / 4
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

#if _endian(big)
#error("vlac writes tensor payloads as host bytes and supports little-endian hosts only")
#endif
