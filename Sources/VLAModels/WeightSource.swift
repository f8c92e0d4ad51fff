/// Where a model builder gets its weights: a checkpoint, or tensors built in a test.
///
/// Names are the Hugging Face state-dict names (`encoder.block.0.layer.0.SelfAttention.q.weight`).
public protocol WeightSource {
    /// The shape of the tensor called `name`, or nil when there is none.
    func shape(of name: String) -> [Int]?
    /// The tensor's values as f32, row-major (any float dtype converted).
    func floats(of name: String) throws -> [Float]
}

/// Weights held in memory: name → (shape, values).
public struct InMemoryWeights: WeightSource, Sendable {
    /// The tensors.
    public var tensors: [String: (shape: [Int], values: [Float])]

    /// Creates a weight set.
    public init(_ tensors: [String: (shape: [Int], values: [Float])] = [:]) { self.tensors = tensors }

    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    public func floats(of name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw ModelError(.weightsMismatch, "tensor \"\(name)\" is missing") }
        return t.values
    }
}

/// The tensors a model needs with their shapes, checked against a ``WeightSource`` all at once.
struct WeightPlan {
    var expected: [(name: String, shape: [Int])] = []

    mutating func need(_ name: String, _ shape: [Int]) { expected.append((name, shape)) }

    /// Lists every missing tensor and every shape mismatch, naming the tensor and expected vs actual shape.
    func check(_ source: any WeightSource, into problems: inout ProblemList) {
        for (name, shape) in expected {
            guard let actual = source.shape(of: name) else {
                problems.add("tensor \"\(name)\" is missing (expected shape \(shape))")
                continue
            }
            if actual != shape {
                problems.add("tensor \"\(name)\": expected shape \(shape), got \(actual)")
            }
        }
    }
}

/// Loads a weight, wrapping reader errors.
func load(_ source: any WeightSource, _ name: String) throws(ModelError) -> [Float] {
    do {
        return try source.floats(of: name)
    } catch let e as ModelError {
        throw e
    } catch {
        throw ModelError(.io, "tensor \"\(name)\": \(error)")
    }
}

/// Transposes a row-major `[rows, cols]` matrix to `[cols, rows]` (torch `Linear.weight` → `[K, N]`).
func transposed(_ m: [Float], rows: Int, cols: Int) -> [Float] {
    var out = [Float](repeating: 0, count: m.count)
    for r in 0..<rows {
        for c in 0..<cols { out[c * rows + r] = m[r * cols + c] }
    }
    return out
}
