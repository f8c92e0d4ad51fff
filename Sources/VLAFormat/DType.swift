/// The element types a .vla tensor can hold.
///
/// The raw value is the byte stored in the tensor table. Adding a dtype is a major-version change,
/// because a reader that does not know it cannot size or interpret the payload.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 binary32.
    case f32 = 1
    /// IEEE 754 binary16.
    case f16 = 2
    /// bfloat16 (the upper 16 bits of a binary32).
    case bf16 = 3
    /// Signed 8-bit integer with a per-channel f32 scale tensor: value = scale[channel] × q.
    case i8 = 4
    /// Unsigned 8-bit integer (masks, images).
    case u8 = 5
    /// Signed 32-bit integer (token ids).
    case i32 = 6

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .i8, .u8: 1
        }
    }

    /// The name used by `vlac dump` and the JSON schema.
    public var description: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .bf16: "bf16"
        case .i8: "i8"
        case .u8: "u8"
        case .i32: "i32"
        }
    }
}
