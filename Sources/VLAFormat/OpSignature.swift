/// The element type and shape of one op operand, as the signature check sees it.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
    /// Element type.
    public var dtype: DType
    /// Dimensions, outermost first (row-major).
    public var shape: [Int]

    /// Creates an operand type.
    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (1 for rank 0). Shapes reaching here are already bounded by the limits.
    public var elementCount: Int { shape.reduce(1, *) }

    /// `f32[2, 3]`.
    public var description: String { "\(dtype)[\(shape.map(String.init).joined(separator: ", "))]" }
}

extension OpCode {
    /// Checks operand types and attributes against this op's signature.
    ///
    /// The verifier runs this for every op of every program, so kernels may rely on it: after it passes,
    /// every index a kernel derives from the shapes is in bounds.
    ///
    /// - Parameters:
    ///   - inputs: The types of the input operands, in order.
    ///   - outputs: The types of the output operands, in order.
    ///   - attributes: The op's attribute words.
    /// - Returns: `nil` when everything fits, otherwise a lowercase clause saying what does not.
    public func signatureProblem(inputs: [TensorType], outputs: [TensorType], attributes: [UInt32]) -> String? {
        var check = SignatureCheck(inputs: inputs, outputs: outputs, attributes: attributes)
        check.run(self)
        return check.problem
    }
}

/// One run of the signature rules; records the first problem.
private struct SignatureCheck {
    let inputs: [TensorType]
    let outputs: [TensorType]
    let attributes: [UInt32]
    var problem: String?

    mutating func fail(_ message: String) {
        if problem == nil { problem = message }
    }

    /// Checks counts; returns false (and records why) when they do not fit.
    mutating func counts(inputs range: ClosedRange<Int>, outputs: Int, attributes: Int) -> Bool {
        if !range.contains(inputs.count) {
            let want = range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            fail("takes \(want) inputs, has \(inputs.count)")
            return false
        }
        if self.outputs.count != outputs {
            fail("takes \(outputs) output\(outputs == 1 ? "" : "s"), has \(self.outputs.count)")
            return false
        }
        if self.attributes.count != attributes {
            fail("takes \(attributes) attribute word\(attributes == 1 ? "" : "s"), has \(self.attributes.count)")
            return false
        }
        return true
    }

    mutating func dtype(_ t: TensorType, _ allowed: Set<DType>, _ what: String) {
        if !allowed.contains(t.dtype) {
            let names = allowed.map(\.description).sorted().joined(separator: " or ")
            fail("\(what) must be \(names), is \(t.dtype)")
        }
    }

    mutating func rank(_ t: TensorType, _ allowed: ClosedRange<Int>, _ what: String) -> Bool {
        if !allowed.contains(t.shape.count) {
            fail("\(what) must have rank \(allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound)" : "\(allowed.lowerBound)...\(allowed.upperBound)"), has shape \(t.shape)")
            return false
        }
        return true
    }

    mutating func same(_ a: [Int], _ b: [Int], _ what: String) {
        if a != b { fail("\(what): expected shape \(a), got \(b)") }
    }

    mutating func floatAttribute(_ index: Int, _ what: String, positive: Bool) {
        let value = Float(bitPattern: attributes[index])
        if !value.isFinite || (positive ? value <= 0 : value < 0) {
            fail("attribute \(what) must be a finite \(positive ? "positive" : "non-negative") f32, is \(value)")
        }
    }

    mutating func run(_ op: OpCode) {
        let f32: Set<DType> = [.f32]
        switch op {
        case .linear:
            guard counts(inputs: 2...3, outputs: 1, attributes: 0) else { return }
            let x = inputs[0], w = inputs[1], y = outputs[0]
            dtype(x, f32, "x")
            dtype(w, [.f32, .f16, .bf16, .i8], "w")
            dtype(y, f32, "y")
            guard rank(x, 1...Layout.maxRank, "x"), rank(w, 2...2, "w") else { return }
            if x.shape.last != w.shape[0] { fail("x's last axis \(x.shape.last ?? 0) differs from w's rows \(w.shape[0])") }
            if inputs.count == 3 {
                dtype(inputs[2], f32, "b")
                same([w.shape[1]], inputs[2].shape, "b")
            }
            same(Array(x.shape.dropLast()) + [w.shape[1]], y.shape, "y")
        case .linearI8, .linearBF16:
            // linear_i8 may carry one attribute word, its flags (format 1.4; the verifier checks the minor).
            let flagged = op == .linearI8 && attributes.count == 1
            guard counts(inputs: 2...3, outputs: 1, attributes: flagged ? 1 : 0) else { return }
            let zeroPoint = flagged && attributes[0] & Layout.linearI8ZeroPoint != 0
            if flagged && attributes[0] & ~Layout.linearI8ZeroPoint != 0 {
                fail("flags 0x\(String(attributes[0], radix: 16)) hold unknown bits (bit 0, zero-point activations, is the only flag)")
            }
            let x = inputs[0], w = inputs[1], y = outputs[0]
            dtype(x, f32, "x")
            dtype(w, [op == .linearI8 ? .i8 : .bf16], "w")
            dtype(y, f32, "y")
            guard rank(x, 1...Layout.maxRank, "x"), rank(w, 2...2, "w") else { return }
            if x.shape.last != w.shape[0] { fail("x's last axis \(x.shape.last ?? 0) differs from w's rows \(w.shape[0])") }
            if w.shape[0] > Layout.maxReducedPrecisionDepth {
                fail("w has \(w.shape[0]) rows, over the limit of \(Layout.maxReducedPrecisionDepth) for an int32 accumulator")
            } else if zeroPoint && w.shape[0] > Layout.maxZeroPointDepth {
                fail("w has \(w.shape[0]) rows, over the limit of \(Layout.maxZeroPointDepth) for an int32 accumulator with zero-point activations")
            }
            if inputs.count == 3 {
                dtype(inputs[2], f32, "b")
                same([w.shape[1]], inputs[2].shape, "b")
            }
            same(Array(x.shape.dropLast()) + [w.shape[1]], y.shape, "y")
        case .layerNorm, .rmsNorm:
            let n = op == .layerNorm ? 3 : 2
            guard counts(inputs: n...n, outputs: 1, attributes: 1) else { return }
            let x = inputs[0]
            for t in inputs + outputs { dtype(t, f32, "operands") }
            guard rank(x, 1...Layout.maxRank, "x") else { return }
            let d = x.shape[x.shape.count - 1]
            same([d], inputs[1].shape, "gamma")
            if n == 3 { same([d], inputs[2].shape, "beta") }
            same(x.shape, outputs[0].shape, "y")
            floatAttribute(0, "eps", positive: false)
        case .softmax, .geluTanh, .geluErf, .relu, .tanh:
            guard counts(inputs: 1...1, outputs: 1, attributes: 0) else { return }
            unaryF32()
        case .scaledTanh:
            guard counts(inputs: 1...1, outputs: 1, attributes: 1) else { return }
            unaryF32()
            floatAttribute(0, "bound", positive: true)
        case .threshold:
            guard counts(inputs: 1...1, outputs: 1, attributes: 1) else { return }
            unaryF32()
            if !Float(bitPattern: attributes[0]).isFinite { fail("attribute t must be finite") }
        case .l2Normalize:
            guard counts(inputs: 1...1, outputs: 1, attributes: 1) else { return }
            unaryF32()
            floatAttribute(0, "eps", positive: false)
        case .add, .mul:
            guard counts(inputs: 2...2, outputs: 1, attributes: 0) else { return }
            let a = inputs[0], b = inputs[1]
            for t in inputs + outputs { dtype(t, f32, "operands") }
            if b.shape.count > a.shape.count || Array(a.shape.suffix(b.shape.count)) != b.shape {
                fail("b's shape \(b.shape) is not a suffix of a's shape \(a.shape)")
            }
            same(a.shape, outputs[0].shape, "y")
        case .attention:
            attention()
        case .patchEmbed:
            guard counts(inputs: 3...3, outputs: 1, attributes: 1) else { return }
            let image = inputs[0], kernel = inputs[1], bias = inputs[2], y = outputs[0]
            for t in inputs + outputs { dtype(t, f32, "operands") }
            guard rank(image, 3...3, "image"), rank(kernel, 4...4, "kernel") else { return }
            let p = Int(attributes[0])
            if p < 1 { fail("attribute patch size must be at least 1"); return }
            if kernel.shape[0] != p || kernel.shape[1] != p || kernel.shape[2] != image.shape[2] {
                fail("kernel shape \(kernel.shape) does not fit patch size \(p) and \(image.shape[2]) channels")
                return
            }
            let d = kernel.shape[3]
            same([d], bias.shape, "bias")
            same([(image.shape[0] / p) * (image.shape[1] / p), d], y.shape, "y")
        case .gather:
            guard counts(inputs: 2...2, outputs: 1, attributes: 0) else { return }
            let table = inputs[0], ids = inputs[1]
            dtype(table, f32, "table")
            dtype(ids, [.i32], "ids")
            dtype(outputs[0], f32, "y")
            guard rank(table, 2...2, "table"), rank(ids, 1...1, "ids") else { return }
            same([ids.shape[0], table.shape[1]], outputs[0].shape, "y")
        case .meanPool:
            guard counts(inputs: 2...2, outputs: 1, attributes: 0) else { return }
            let x = inputs[0], mask = inputs[1]
            dtype(x, f32, "x")
            dtype(mask, [.u8], "mask")
            dtype(outputs[0], f32, "y")
            guard rank(x, 2...2, "x") else { return }
            same([x.shape[0]], mask.shape, "mask")
            same([x.shape[1]], outputs[0].shape, "y")
        case .concat:
            concat()
        case .slice:
            guard counts(inputs: 1...1, outputs: 1, attributes: 3) else { return }
            let x = inputs[0], y = outputs[0]
            dtype(x, f32, "x")
            dtype(y, f32, "y")
            let axis = Int(attributes[0]), start = Int(attributes[1]), length = Int(attributes[2])
            guard axis < x.shape.count else { fail("axis \(axis) out of range for rank \(x.shape.count)"); return }
            if start > x.shape[axis] || length > x.shape[axis] - start {
                fail("slice \(start)..<\(start + length) exceeds axis \(axis) of size \(x.shape[axis])")
                return
            }
            var want = x.shape
            want[axis] = length
            same(want, y.shape, "y")
        case .reshape:
            guard counts(inputs: 1...1, outputs: 1, attributes: 0) else { return }
            let x = inputs[0], y = outputs[0]
            if x.dtype != y.dtype { fail("y's dtype \(y.dtype) differs from x's \(x.dtype)") }
            if x.elementCount != y.elementCount {
                fail("y has \(y.elementCount) elements, x has \(x.elementCount)")
            }
        case .convert:
            guard counts(inputs: 1...2, outputs: 1, attributes: 0) else { return }
            let x = inputs[0], y = outputs[0]
            dtype(y, f32, "y")
            same(x.shape, y.shape, "y")
            if x.dtype == .i8 {
                // The per-channel scale is the second input for i8: one f32 per element of the last axis.
                guard inputs.count == 2 else { fail("an i8 input needs its scale as a second input"); return }
                dtype(inputs[1], f32, "scale")
                same([x.shape.last ?? 1], inputs[1].shape, "scale")
            } else if inputs.count != 1 {
                fail("only an i8 input takes a scale")
            }
        case .call:
            // Operand types are the called program's; they are checked when the blob is resolved.
            if attributes.count != 2 {
                fail("takes 2 attribute words (shared_ref, program), has \(attributes.count)")
            } else if outputs.isEmpty {
                fail("takes at least 1 output, has 0")
            }
        default:
            fail("unknown op code \(op.rawValue)")
        }
    }

    mutating func unaryF32() {
        dtype(inputs[0], [.f32], "x")
        dtype(outputs[0], [.f32], "y")
        same(inputs[0].shape, outputs[0].shape, "y")
    }

    mutating func attention() {
        guard attributes.count == 2 else { fail("takes 2 attribute words, has \(attributes.count)"); return }
        let flags = attributes[1]
        if flags & ~AttentionFlags.known != 0 { fail("unknown attention flags \(flags)"); return }
        let hasMask = flags & AttentionFlags.hasMask != 0, hasBias = flags & AttentionFlags.hasBias != 0
        let n = 3 + (hasMask ? 1 : 0) + (hasBias ? 1 : 0)
        guard counts(inputs: n...n, outputs: 1, attributes: 2) else { return }
        floatAttribute(0, "scale", positive: true)
        let q = inputs[0], k = inputs[1], v = inputs[2], y = outputs[0]
        for t in [q, k, v, y] { dtype(t, [.f32], "q, k, v and y") }
        guard rank(q, 3...4, "q"), rank(k, q.shape.count...q.shape.count, "k"),
            rank(v, q.shape.count...q.shape.count, "v")
        else { return }
        let batch = Array(q.shape.dropLast(3))
        let r = q.shape.count
        let tq = q.shape[r - 3], h = q.shape[r - 2], d = q.shape[r - 1]
        let tk = k.shape[r - 3], dv = v.shape[r - 1]
        same(batch + [tk, h, d], k.shape, "k")
        same(batch + [tk, h, dv], v.shape, "v")
        same(batch + [tq, h, dv], y.shape, "y")
        var next = 3
        if hasMask {
            let mask = inputs[next]
            next += 1
            dtype(mask, [.u8], "mask")
            // A rank-2 mask on a batched q is [B, Tk], never [Tq, Tk]: per-query masks carry the batch axis.
            let allowed = batch.isEmpty ? [[tk], [tq, tk]] : [[tk], batch + [tk], batch + [tq, tk]]
            if !allowed.contains(mask.shape) { fail("mask shape \(mask.shape) is none of \(allowed)") }
        }
        if hasBias {
            let bias = inputs[next]
            dtype(bias, [.f32], "bias")
            same([h, tq, tk], bias.shape, "bias")
        }
    }

    mutating func concat() {
        guard attributes.count == 1 else { fail("takes 1 attribute word, has \(attributes.count)"); return }
        guard counts(inputs: 1...255, outputs: 1, attributes: 1) else { return }
        let axis = Int(attributes[0])
        let first = inputs[0]
        guard axis < first.shape.count else { fail("axis \(axis) out of range for rank \(first.shape.count)"); return }
        var total = 0
        for (i, t) in inputs.enumerated() {
            dtype(t, [.f32], "input \(i)")
            guard t.shape.count == first.shape.count else { fail("input \(i) has rank \(t.shape.count), input 0 has \(first.shape.count)"); return }
            for a in 0..<t.shape.count where a != axis && t.shape[a] != first.shape[a] {
                fail("input \(i) differs from input 0 on axis \(a)")
                return
            }
            total += t.shape[axis]
        }
        var want = first.shape
        want[axis] = total
        dtype(outputs[0], [.f32], "y")
        same(want, outputs[0].shape, "y")
    }
}
