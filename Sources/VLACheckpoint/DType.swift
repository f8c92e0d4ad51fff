/// The element type of a tensor, as stored in the checkpoint (always little-endian in a ``Tensor``).
public struct DType: Hashable, Sendable, CustomStringConvertible {
    /// The safetensors spelling of the type (`F32`, `BF16`, `I64`, ...), used everywhere in vlac.
    public let name: String
    /// Bytes per element.
    public let byteWidth: Int

    private init(_ name: String, _ width: Int) {
        self.name = name
        self.byteWidth = width
    }

    public static let f64 = DType("F64", 8)
    public static let f32 = DType("F32", 4)
    public static let f16 = DType("F16", 2)
    public static let bf16 = DType("BF16", 2)
    /// 8-bit float, 4 exponent bits, 3 mantissa bits, finite-only (`float8_e4m3fn`).
    public static let f8e4m3 = DType("F8_E4M3", 1)
    /// 8-bit float, 5 exponent bits, 2 mantissa bits (`float8_e5m2`).
    public static let f8e5m2 = DType("F8_E5M2", 1)
    /// 8-bit float, 4 exponent bits (bias 8), 3 mantissa bits, no infinities, NaN only at 0x80 (`float8_e4m3fnuz`).
    public static let f8e4m3fnuz = DType("F8_E4M3FNUZ", 1)
    /// 8-bit float, 5 exponent bits (bias 16), 2 mantissa bits, no infinities, NaN only at 0x80 (`float8_e5m2fnuz`).
    public static let f8e5m2fnuz = DType("F8_E5M2FNUZ", 1)
    /// 8-bit power of two, 2^(byte − 127), 0xFF is NaN (`float8_e8m0fnu`, MX scales).
    public static let f8e8m0 = DType("F8_E8M0", 1)
    /// Complex of two F32 (real, imaginary); converts to two floats per element.
    public static let c64 = DType("C64", 8)
    public static let i64 = DType("I64", 8)
    public static let i32 = DType("I32", 4)
    public static let i16 = DType("I16", 2)
    public static let i8 = DType("I8", 1)
    public static let u64 = DType("U64", 8)
    public static let u32 = DType("U32", 4)
    public static let u16 = DType("U16", 2)
    public static let u8 = DType("U8", 1)
    public static let bool = DType("BOOL", 1)

    /// Every type vlac reads.
    public static let all: [DType] = [.f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2, .f8e4m3fnuz, .f8e5m2fnuz, .f8e8m0, .c64,
                                      .i64, .i32, .i16, .i8, .u64, .u32, .u16, .u8, .bool]

    /// How many floats ``Tensor/floats()`` gives per element: 2 for ``c64``, else 1.
    public var floatsPerElement: Int { self == .c64 ? 2 : 1 }

    /// The type with safetensors name `name`, or nil.
    public init?(safetensorsName name: String) {
        guard let t = DType.all.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// The type for a NumPy type code without byte order (`f4`, `i8`, `u1`, `b1`, ...), or nil.
    init?(numpyCode code: String) {
        switch code {
        case "f8": self = .f64
        case "f4": self = .f32
        case "f2": self = .f16
        case "i8": self = .i64
        case "i4": self = .i32
        case "i2": self = .i16
        case "i1": self = .i8
        case "u8": self = .u64
        case "u4": self = .u32
        case "u2": self = .u16
        case "u1": self = .u8
        case "b1": self = .bool
        default: return nil
        }
    }

    public var description: String { name }
}
