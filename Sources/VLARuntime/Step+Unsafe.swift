import VLAFormat

typealias FloatPointer = UnsafeMutablePointer<Float>
typealias ConstFloatPointer = UnsafePointer<Float>

/// An element-wise function of one f32.
enum Unary: Equatable {
    case relu, geluTanh, geluErf, tanh
    case scaledTanh(bound: Float)
    case threshold(Float)
}

/// A conversion of f16, bf16, i8 (with its per-last-axis scale), u8, i32 or f32 elements to f32.
@unsafe struct Conversion {
    var source: UnsafeRawPointer
    var dtype: DType
    var scale: ConstFloatPointer?
    var count: Int
    var lastAxis: Int
}

/// The patch rows of a `patch_embed` image, written to shared scratch as a `[patches, P·P·C]` matrix.
@unsafe struct Im2Col {
    var image: ConstFloatPointer
    var height: Int, width: Int, channels: Int, patch: Int, gridH: Int, gridW: Int
}

/// `y[m, n] = x[m, k] · w[k, n] (+ bias) (then epilogue)`, split by columns (or rows) over threads.
@unsafe struct LinearStep {
    /// nil: x is shared scratch (filled by `im2col`).
    var x: ConstFloatPointer?
    /// nil: w is shared scratch (filled by `conversion`), or the product uses `packed`.
    var w: ConstFloatPointer?
    /// The constant weight packed at prepare time (vla_f32_pack): the product runs vla_f32_gemm_packed, with
    /// the bias as the accumulators' start. nil: w through ``Gemm/multiply`` (own kernel or OpenBLAS).
    var packed: UnsafeRawPointer? = nil
    var bias: ConstFloatPointer?
    var y: FloatPointer
    var m: Int, k: Int, n: Int
    var conversion: Conversion?
    var im2col: Im2Col?
    var epilogue: Unary?
    var blas: Bool
    /// Columns per task (`byRows == false`; a multiple of 16 with `packed`) or rows per task.
    var chunk: Int
    var byRows: Bool
}

/// `linear_i8` / `linear_bf16` (format 1.2): x's rows are quantized (int8) or rounded (bf16) into shared scratch,
/// then the packed weights multiply them in column tasks (or row tasks), with bias, and optionally a fused
/// `mul` by a `[n]` vector and an `add` of a `[m, n]` tensor (layer scale and residual), then `epilogue`.
@unsafe struct ReducedLinearStep {
    var int8: Bool
    /// int8 with zero-point activations (linear_i8 flag bit 0, format 1.4): vla_q8_quantize_zp, and each row's
    /// zero-point correction (int32) in scratch after its scale.
    var zeroPoint = false
    var x: ConstFloatPointer
    /// The weights packed at prepare time (vla_q8_pack / vla_bf16_pack).
    var packed: UnsafeRawPointer
    /// int8: the weights' per-column scales.
    var wscale: ConstFloatPointer?
    var bias: ConstFloatPointer?
    var mul: ConstFloatPointer?
    var add: ConstFloatPointer?
    var y: FloatPointer
    var m: Int, k: Int, n: Int
    /// Row stride of the quantized rows in scratch: bytes (int8) or elements (bf16).
    var rowStride: Int
    var epilogue: Unary?
    /// Columns per task (a multiple of 16) or rows per task (`byRows`).
    var chunk: Int
    var byRows: Bool
    /// The step before quantized (or rounded) this same x into scratch: skip that part (q, k and v of
    /// attention read one LayerNorm output).
    var reuseRows = false
}

/// Multi-head attention over `batch × heads` independent products.
@unsafe struct AttentionStep {
    var q: ConstFloatPointer, k: ConstFloatPointer, v: ConstFloatPointer, y: FloatPointer
    var batch: Int, tq: Int, tk: Int, heads: Int, d: Int, dv: Int
    var scale: Float
    var mask: UnsafePointer<UInt8>?
    var maskBatchStride: Int, maskRowStride: Int
    var bias: ConstFloatPointer?
    /// Both products in bf16 (attention flag bit 2): `vla_attn_bf16_scores` / `vla_attn_bf16_values`, with their
    /// scratch after the scores in the thread's block.
    var bf16 = false
}

/// One resolved op: every operand an address, every size an Int.
@unsafe enum Kernel {
    case linear(LinearStep)
    case reducedLinear(ReducedLinearStep)
    /// `beta == nil` and `center == false`: RMS norm.
    case norm(x: ConstFloatPointer, gamma: ConstFloatPointer, beta: ConstFloatPointer?, y: FloatPointer, rows: Int, d: Int, eps: Float, center: Bool)
    case softmax(x: ConstFloatPointer, y: FloatPointer, rows: Int, n: Int)
    case attention(AttentionStep)
    case unary(Unary, x: ConstFloatPointer, y: FloatPointer, count: Int)
    case binary(multiply: Bool, a: ConstFloatPointer, b: ConstFloatPointer, y: FloatPointer, count: Int, bCount: Int)
    case gather(table: ConstFloatPointer, ids: UnsafePointer<Int32>, y: FloatPointer, t: Int, v: Int, d: Int, checked: Bool, tensor: Int)
    case meanPool(x: ConstFloatPointer, mask: UnsafePointer<UInt8>, y: FloatPointer, t: Int, d: Int)
    case l2Normalize(x: ConstFloatPointer, y: FloatPointer, rows: Int, d: Int, eps: Float)
    case concat(sources: UnsafePointer<UnsafeRawPointer>, partBytes: UnsafePointer<Int>, parts: Int, outer: Int, y: UnsafeMutableRawPointer, rowBytes: Int)
    case slice(x: UnsafeRawPointer, y: UnsafeMutableRawPointer, outer: Int, inRowBytes: Int, startBytes: Int, lengthBytes: Int)
    case copy(from: UnsafeRawPointer, to: UnsafeMutableRawPointer, bytes: Int)
    case convert(Conversion, y: FloatPointer)
    /// Fused into the op before it.
    case nothing
}

/// A kernel with the index of the op it came from (for messages).
@unsafe struct Step {
    var kernel: Kernel
    /// The op of the file's program it came from (a `call` for every step expanded from it).
    var op: Int
    /// The op of the planned (linked) program it came from (``Interpreter/origins`` describes it).
    var planned: Int = 0
}
