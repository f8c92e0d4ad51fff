import VLAFormat
import VLAModels

/// The number format of the shared backbone's matrix products (`vlac compile --precision`).
public enum Precision: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Every product in f32 (`linear`), as the model was trained.
    case fp32
    /// Weights stored as bf16, activations rounded to bf16, f32 accumulation (`linear_bf16`).
    case bf16
    /// Weights int8 per output channel, activations u8 per row with a zero point at run time, int32 accumulation
    /// (`linear_i8` with its zero-point flag, format 1.4).
    case int8

    /// The name used on the command line, in provenance and in the manifest.
    public var description: String { rawValue }
}

/// Rewrites the `linear` ops (format 1.2; int8 with zero-point activations: 1.4) and the `attention` ops (format 1.4)
/// of a built model for a reduced precision.
///
/// Every `linear` whose weight is an inline f32 constant read by `linear` ops only becomes `linear_i8` or
/// `linear_bf16`; its weight tensor keeps its id and name and changes type in place (so no tensor id moves),
/// and int8 weights get an f32 scale tensor `<name>.scale` appended. Every `attention` op gets bf16 products
/// (``AttentionFlags/bf16Products``, format 1.4: q, k, the softmax weights and v rounded to bf16, f32 sums), also
/// at int8; not with `only` (which measures one product alone). Other ops (norms, element-wise, a `patch_embed`
/// op) stay f32; the compiler builds the backbone's patch embedding as a `linear` for reduced precision
/// (`DINOv2.build(patchEmbeddingAsProduct:)`) and keeps it bf16 at int8 (`keepingBF16:`).
///
/// - int8: per output column `j`, `scale[j] = max_k |w[k, j]| / 127` (1 for an all-zero column, which the format
///   requires to be positive), `q = round-half-even(w / scale[j])` clamped to [−127, 127]; each `linear_i8` gets
///   the flags word with bit 0 set (activations per row with a zero point, format 1.4), so weights of more than
///   65,536 rows stay f32.
/// - bf16: each weight rounded to the nearest bf16 (ties to even).
public enum ReducedPrecision {
    /// The model with its products in `precision`, and the names of the weights converted (in op order).
    /// With `only`, just the weights of those names are converted. At int8, the weights named in `keepingBF16`
    /// become `linear_bf16` instead (the products that hurt most at int8: the compiler's patch embedding).
    public static func apply(
        _ model: BuiltModel, precision: Precision, only: Set<String>? = nil, keepingBF16 keep: Set<String> = []
    ) -> (model: BuiltModel, converted: [String]) {
        guard precision != .fp32 else { return (model, []) }
        var doc = model.document
        // Weights that only `linear` ops read.
        var readers: [Int: Set<OpCode>] = [:]
        for p in doc.programs {
            for op in p.operations { for (position, id) in op.inputs.enumerated() { readers[id, default: []].insert(position == 1 ? op.opcode : OpCode(rawValue: 0)) } }
        }
        var done: [Int] = []
        var names: [String] = []
        for (pi, p) in doc.programs.enumerated() {
            for (oi, op) in p.operations.enumerated() where op.opcode == .linear {
                let w = op.inputs[1]
                let entry = doc.tensors[w]
                let kind = precision == .int8 && keep.contains(entry.name) ? Precision.bf16 : precision
                guard entry.type.dtype == .f32, entry.type.shape.count == 2, readers[w] == [.linear],
                    entry.type.shape[0] <= (kind == .int8 ? Layout.maxZeroPointDepth : Layout.maxReducedPrecisionDepth),
                    case .inline(let bytes) = entry.location,
                    only?.contains(entry.name) ?? true
                else { continue }
                if !done.contains(w) {
                    let k = entry.type.shape[0], n = entry.type.shape[1]
                    let values = floats(bytes)
                    switch kind {
                    case .int8:
                        let (q, scales) = quantizeColumns(values, rows: k, columns: n)
                        doc.tensors.append(TensorEntry(name: entry.name + ".scale", type: TensorType(.f32, [n]), location: .inline(Bytes.of(scales))))
                        doc.tensors[w] = TensorEntry(
                            name: entry.name, type: TensorType(.i8, [k, n]), location: .inline(q.map { UInt8(bitPattern: $0) }),
                            scaleTensor: doc.tensors.count - 1)
                    case .bf16:
                        var out = [UInt8](repeating: 0, count: values.count * 2)
                        for (i, v) in values.enumerated() {
                            let b = bf16(v)
                            out[2 * i] = UInt8(truncatingIfNeeded: b)
                            out[2 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
                        }
                        doc.tensors[w] = TensorEntry(name: entry.name, type: TensorType(.bf16, [k, n]), location: .inline(out))
                    case .fp32:
                        break
                    }
                    done.append(w)
                    names.append(entry.name)
                }
                doc.programs[pi].operations[oi].opcode = kind == .int8 ? .linearI8 : .linearBF16
                // int8: activations with a zero point (format 1.4), whose error on DINOv2 is below the symmetric
                // rule's (Docs/Benchmarks.md, "Reduced precision").
                if kind == .int8 { doc.programs[pi].operations[oi].attributes = [Layout.linearI8ZeroPoint] }
            }
        }
        if only == nil {
            for (pi, p) in doc.programs.enumerated() {
                for (oi, op) in p.operations.enumerated() where op.opcode == .attention && op.attributes.count == 2 {
                    doc.programs[pi].operations[oi].attributes[1] |= AttentionFlags.bf16Products
                }
            }
        }
        var out = model
        out.document = doc
        return (out, names)
    }

    /// Symmetric per-column int8: `scale[j] = max_k |w[k, j]| / 127` (1 when the column is zero).
    static func quantizeColumns(_ w: [Float], rows k: Int, columns n: Int) -> ([Int8], [Float]) {
        var maxAbs = [Float](repeating: 0, count: n)
        for r in 0..<k { for j in 0..<n { maxAbs[j] = max(maxAbs[j], abs(w[r * n + j])) } }
        let scales = maxAbs.map { $0 > 0 && $0.isFinite ? $0 / 127 : 1 }
        var q = [Int8](repeating: 0, count: k * n)
        for r in 0..<k {
            for j in 0..<n {
                let v = (w[r * n + j] / scales[j]).rounded(.toNearestOrEven)
                q[r * n + j] = Int8(max(-127, min(127, v.isNaN ? 0 : v)))
            }
        }
        return (q, scales)
    }

    /// The nearest bf16 (ties to even), as its 16 bits; NaN stays a quiet NaN.
    static func bf16(_ v: Float) -> UInt16 {
        let u = v.bitPattern
        if v.isNaN { return UInt16(truncatingIfNeeded: u >> 16) | 0x40 }
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        var out = [Float](repeating: 0, count: bytes.count / 4)
        for i in out.indices {
            let b = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            out[i] = Float(bitPattern: b)
        }
        return out
    }
}

/// How far a reduced-precision result is from the f32 one.
public struct Deviation: Sendable, Hashable {
    /// ‖y − y_f32‖₂ / ‖y_f32‖₂ (0 when both are zero).
    public var relativeL2: Double
    /// max |y − y_f32|.
    public var maxAbs: Double

    /// Zero deviation.
    public init(relativeL2: Double = 0, maxAbs: Double = 0) {
        self.relativeL2 = relativeL2
        self.maxAbs = maxAbs
    }

    /// The deviation of `y` from `reference` (equal counts); NaN anywhere gives infinite deviation.
    public init(_ y: [Float], from reference: [Float]) {
        var num = 0.0, den = 0.0, mx = 0.0
        for (a, b) in zip(y, reference) {
            let d = Double(a) - Double(b)
            num += d * d
            den += Double(b) * Double(b)
            mx = Swift.max(mx, d.isNaN ? .infinity : abs(d))
        }
        relativeL2 = num.isNaN ? .infinity : den > 0 ? (num / den).squareRoot() : (num > 0 ? .infinity : 0)
        maxAbs = mx
    }

    /// The larger of each figure.
    public func worst(_ other: Deviation) -> Deviation {
        Deviation(relativeL2: Swift.max(relativeL2, other.relativeL2), maxAbs: Swift.max(maxAbs, other.maxAbs))
    }
}
