/// A conservative estimate of the work of one op, from its operand types alone, in FLOP-equivalents.
///
/// The verifier sums it over each program and over the test vectors and refuses a file above
/// ``FormatLimits/maxProgramWork`` or ``FormatLimits/maxTestVectorWork``, so that no verified file asks for
/// more than a stated amount of computation per run. The formula (also in `Schemas/vla-format.md`, "Budgets"):
///
/// ```
/// work = 64                                  per op (dispatch)
///      + Σ elements of every operand         (memory traffic: each operand read or written once)
///      + 2·|y|·K                             linear, linear_i8, linear_bf16 (K = w's rows)
///      + 2·|y|·P·P·C                         patch_embed
///      + B·H·Tq·Tk·(2d + 2dv + 8)            attention (both products, mask, bias and softmax)
///      + 8·|y|                               softmax, gelu_*, tanh, scaled_tanh, layer_norm, rms_norm, l2_normalize
/// ```
///
/// A `call` op counts its own operands here; its callee's work is added when blobs are resolved
/// (``SharedBlobResolver/expansion(of:in:blobs:)``). All arithmetic saturates at `UInt64.max`.
public enum OpWork {
    /// The fixed cost counted for every op.
    public static let perOp: UInt64 = 64

    /// The work of one op with operands of these types.
    ///
    /// - Parameters:
    ///   - opcode: The op.
    ///   - inputs: The input operand types (signature already checked).
    ///   - outputs: The output operand types.
    ///   - attributes: The attribute words.
    /// - Returns: The estimate, saturated at `UInt64.max`.
    public static func estimate(
        _ opcode: OpCode, inputs: [TensorType], outputs: [TensorType], attributes: [UInt32]
    ) -> UInt64 {
        var total = perOp
        for t in inputs + outputs { total = add(total, elements(t)) }
        let y = outputs.first.map(elements) ?? 0
        switch opcode {
        case .linear, .linearI8, .linearBF16:
            if inputs.count >= 2, let k = inputs[1].shape.first { total = add(total, product([2, y, UInt64(k)])) }
        case .patchEmbed:
            if inputs.count >= 2, inputs[1].shape.count == 4 {
                let kernel = inputs[1].shape
                total = add(total, product([2, y, UInt64(kernel[0]), UInt64(kernel[1]), UInt64(kernel[2])]))
            }
        case .attention:
            if inputs.count >= 3, inputs[0].shape.count >= 3 {
                let q = inputs[0].shape, k = inputs[1].shape, v = inputs[2].shape, r = q.count
                let batch = q.dropLast(3).reduce(UInt64(1)) { product([$0, UInt64($1)]) }
                let scores = product([batch, UInt64(q[r - 2]), UInt64(q[r - 3]), UInt64(k[r - 3])])
                total = add(total, product([scores, add(UInt64(2 * q[r - 1] + 8), UInt64(2 * v[r - 1]))]))
            }
        case .softmax, .geluTanh, .geluErf, .tanh, .scaledTanh, .layerNorm, .rmsNorm, .l2Normalize:
            total = add(total, product([8, y]))
        default:
            break
        }
        return total
    }

    /// `a + b`, saturated.
    public static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? .max : s
    }

    /// The product of `factors`, saturated.
    static func product(_ factors: [UInt64]) -> UInt64 {
        var p: UInt64 = 1
        for f in factors {
            let (m, o) = p.multipliedReportingOverflow(by: f)
            if o { return .max }
            p = m
        }
        return p
    }

    static func elements(_ t: TensorType) -> UInt64 {
        product(t.shape.map { UInt64($0) })
    }
}
