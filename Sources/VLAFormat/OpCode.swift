/// An operation code in a program's op list.
///
/// The op set is closed per format version: a reader refuses an op code it does not know (the file's
/// minor version tells which ops it may contain). Formulas and signatures are in `Schemas/vla-format.md`
/// ("Op table"). Attribute words are u32; float attributes are the IEEE 754 bit pattern of an f32.
public struct OpCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The u16 stored in an op record.
    public var rawValue: UInt16
    /// Wraps a raw op code (known or not).
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `y[..., n] = Σ_k x[..., k] · w[k, n] (+ b[n])`. Inputs x, w, optional b. No attributes.
    public static let linear = OpCode(rawValue: 1)
    /// `y = (x − mean) / sqrt(var + eps) · gamma + beta` over the last axis, biased variance. Attribute: eps.
    public static let layerNorm = OpCode(rawValue: 2)
    /// `y = x / sqrt(mean(x²) + eps) · gamma` over the last axis. Attribute: eps.
    public static let rmsNorm = OpCode(rawValue: 3)
    /// Softmax over the last axis, max-subtracted. No attributes.
    public static let softmax = OpCode(rawValue: 4)
    /// Multi-head attention on `[T, H, d]` tensors with optional key mask and additive bias.
    /// Attributes: scale (f32), flags (bit 0: mask input present, bit 1: bias input present).
    public static let attention = OpCode(rawValue: 5)
    /// `y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    public static let geluTanh = OpCode(rawValue: 6)
    /// `y = 0.5·x·(1 + erf(x/√2))`.
    public static let geluErf = OpCode(rawValue: 7)
    /// `y = max(x, 0)`.
    public static let relu = OpCode(rawValue: 8)
    /// `y = tanh(x)`.
    public static let tanh = OpCode(rawValue: 9)
    /// `y = a + b`, b broadcast over a's leading axes (b's shape is a suffix of a's).
    public static let add = OpCode(rawValue: 10)
    /// `y = a · b`, b broadcast as for `add` (layer scale is a `mul` by a `[D]` vector).
    public static let mul = OpCode(rawValue: 11)
    /// Convolution with stride = kernel size on an HWC image: `[H, W, C] ⊛ [P, P, C, D] + b → [(H/P)(W/P), D]`,
    /// row-major over the patch grid. Attribute: patch size P.
    public static let patchEmbed = OpCode(rawValue: 12)
    /// Embedding lookup `y[t, :] = table[ids[t], :]`; ids must be an inline constant (checked by the verifier).
    public static let gather = OpCode(rawValue: 13)
    /// `y[d] = Σ_t mask[t]·x[t, d] / max(Σ_t mask[t], 1e-9)`.
    public static let meanPool = OpCode(rawValue: 14)
    /// `y = x / max(‖x‖₂, eps)` over the last axis. Attribute: eps.
    public static let l2Normalize = OpCode(rawValue: 15)
    /// Concatenation along an axis. Attribute: axis.
    public static let concat = OpCode(rawValue: 16)
    /// `y = x[start ..< start + length]` along an axis. Attributes: axis, start, length.
    public static let slice = OpCode(rawValue: 17)
    /// Copy into a tensor of the same element count and another shape.
    public static let reshape = OpCode(rawValue: 18)
    /// `y = bound · tanh(x / bound)`. Attribute: bound.
    public static let scaledTanh = OpCode(rawValue: 19)
    /// `y = x >= t ? 1 : 0`. Attribute: t.
    public static let threshold = OpCode(rawValue: 20)
    /// Element type conversion to f32 (f16, bf16, i8 with its scale, u8, i32 → f32).
    public static let convert = OpCode(rawValue: 21)
    /// Runs program `program` of shared blob `shared_ref` (format 1.1): the inputs are copied to that program's
    /// inputs, its ops run on the blob's tensors, its outputs are copied to this op's outputs. Attributes:
    /// shared_ref index, program index. Operand types are checked against the blob's program when shared blobs
    /// are resolved (``SharedBlobResolver``); a shared blob cannot contain `call`.
    public static let call = OpCode(rawValue: 22)
    /// `y = x · w (+ b)` with int8 weights and run-time int8 activations (format 1.2): each row of x is quantized
    /// symmetrically to [−127, 127] with its own scale, the products accumulate exactly in int32, and the sum is
    /// rescaled by the row's and the column's scale. Inputs x f32, w i8 (inline, values in [−127, 127], with its
    /// f32 scale `[N]`), optional b. Numerics in `Schemas/vla-format.md` §8.2; every path gives the same bits.
    public static let linearI8 = OpCode(rawValue: 23)
    /// `y = x · w (+ b)` with bf16 weights and x rounded to bf16 (format 1.2): bf16 products, f32 accumulation.
    /// Inputs x f32, w bf16 (inline), optional b.
    public static let linearBF16 = OpCode(rawValue: 24)

    /// Every op code this version knows, in code order.
    public static let all: [OpCode] = (1...24).map { OpCode(rawValue: $0) }

    /// The reduced-precision products (format 1.2), whose weights the runtime packs at prepare time.
    public var isReducedPrecisionLinear: Bool { self == .linearI8 || self == .linearBF16 }

    /// The snake_case name printed by `vlac dump`.
    public var name: String {
        switch rawValue {
        case 1: "linear"
        case 2: "layer_norm"
        case 3: "rms_norm"
        case 4: "softmax"
        case 5: "attention"
        case 6: "gelu_tanh"
        case 7: "gelu_erf"
        case 8: "relu"
        case 9: "tanh"
        case 10: "add"
        case 11: "mul"
        case 12: "patch_embed"
        case 13: "gather"
        case 14: "mean_pool"
        case 15: "l2_normalize"
        case 16: "concat"
        case 17: "slice"
        case 18: "reshape"
        case 19: "scaled_tanh"
        case 20: "threshold"
        case 21: "convert"
        case 22: "call"
        case 23: "linear_i8"
        case 24: "linear_bf16"
        default: "op\(rawValue)"
        }
    }

    /// Whether this version knows the op.
    public var isKnown: Bool { rawValue >= 1 && rawValue <= 24 }

    /// The name.
    public var description: String { name }
}

/// Attribute flag bits of ``OpCode/attention``.
public enum AttentionFlags {
    /// A u8 mask input follows q, k, v (1 = attend; masked logits become the most negative f32).
    public static let hasMask: UInt32 = 1 << 0
    /// An f32 additive bias `[H, Tq, Tk]` input follows (after the mask when both are present).
    public static let hasBias: UInt32 = 1 << 1
    /// Both products take bf16 operands with f32 sums (format 1.4): q and k rounded to bf16 before `q·kᵀ`, the
    /// softmax weights p and v before `p·v` (Schemas/vla-format.md §8.2).
    public static let bf16Products: UInt32 = 1 << 2
    /// Every bit this version knows.
    public static let known: UInt32 = hasMask | hasBias | bf16Products
}
