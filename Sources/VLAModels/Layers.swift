import Foundation
import VLAFormat

/// Building blocks shared by the model builders: each loads its weights from a ``WeightSource`` and
/// appends ops to a ``ProgramBuilder``. Shapes were checked by a ``WeightPlan`` before any of these run.
struct Layers {
    var b = ProgramBuilder()
    let weights: any WeightSource
    let cache: ConstantCache

    init(weights: any WeightSource, cache: ConstantCache) {
        self.weights = weights
        self.cache = cache
    }

    /// An inline f32 constant made from weights, converted once per model and reused by later builds.
    mutating func weight(_ name: String, _ shape: [Int], _ make: () throws(ModelError) -> [Float]) throws(ModelError) -> Int {
        if let bytes = cache[name] { return b.constant(name, shape, bytes: bytes) }
        let bytes = LittleEndianBytes.of(try make())
        cache[name] = bytes
        return b.constant(name, shape, bytes: bytes)
    }

    /// A weight tensor as stored.
    mutating func weight(_ name: String, _ shape: [Int]) throws(ModelError) -> Int {
        let w = weights
        return try weight(name, shape) { () throws(ModelError) in try load(w, name) }
    }

    /// A torch `Linear`: `y = x · Wᵀ + b` with `weight` stored `[N, K]`; stored here as `[K, N]`.
    mutating func linear(_ x: Int, _ prefix: String, bias: Bool = true, name: String) throws(ModelError) -> Int {
        let shape = weights.shape(of: prefix + ".weight") ?? [0, 0]
        let n = shape[0], k = shape[1]
        let w = weights
        let wt = try weight(prefix + ".weight", [k, n]) { () throws(ModelError) in
            transposed(try load(w, prefix + ".weight"), rows: n, cols: k)
        }
        var ins = [x, wt]
        if bias { ins.append(try weight(prefix + ".bias", [n])) }
        let xs = b.type(x).shape
        return b.op(.linear, ins, name, TensorType(.f32, Array(xs.dropLast()) + [n]))
    }

    /// Layer norm over the last axis with `weight` and `bias` (gamma, beta).
    mutating func layerNorm(_ x: Int, _ prefix: String, eps: Float, name: String) throws(ModelError) -> Int {
        let d = b.type(x).shape.last ?? 0
        let g = try weight(prefix + ".weight", [d])
        let beta = try weight(prefix + ".bias", [d])
        return b.op(.layerNorm, [x, g, beta], name, b.type(x), attributes: [bits(eps)])
    }

    /// T5's RMS norm over the last axis with `weight`.
    mutating func rmsNorm(_ x: Int, _ prefix: String, eps: Float, name: String) throws(ModelError) -> Int {
        let d = b.type(x).shape.last ?? 0
        let g = try weight(prefix + ".weight", [d])
        return b.op(.rmsNorm, [x, g], name, b.type(x), attributes: [bits(eps)])
    }

    /// An elementwise op with one input and the same output shape.
    mutating func unary(_ code: OpCode, _ x: Int, name: String) -> Int {
        b.op(code, [x], name, b.type(x))
    }

    /// `a + c` or `a · c` with c's shape a suffix of a's.
    mutating func binary(_ code: OpCode, _ a: Int, _ c: Int, name: String) -> Int {
        b.op(code, [a, c], name, b.type(a))
    }

    /// Multi-head self-attention on `[T, D]` activations already projected to q, k, v (each `[T, D]`).
    /// Returns `[T, D]` (heads concatenated, before the output projection).
    mutating func attention(
        q: Int, k: Int, v: Int, heads: Int, headDim: Int, scale: Float, mask: Int?, bias: Int?, name: String
    ) -> Int {
        // q is [T, H·d] or [B, T, H·d]: every axis but the last is kept, the last is split into heads.
        let qRows = Array(b.type(q).shape.dropLast()), kRows = Array(b.type(k).shape.dropLast())
        let qh = b.view(q, qRows + [heads, headDim], name + ".q_heads")
        let kh = b.view(k, kRows + [heads, headDim], name + ".k_heads")
        let vh = b.view(v, kRows + [heads, headDim], name + ".v_heads")
        var ins = [qh, kh, vh]
        var flags: UInt32 = 0
        if let mask { ins.append(mask); flags |= AttentionFlags.hasMask }
        if let bias { ins.append(bias); flags |= AttentionFlags.hasBias }
        let y = b.op(.attention, ins, name, TensorType(.f32, qRows + [heads, headDim]), attributes: [bits(scale), flags])
        return b.view(y, qRows + [heads * headDim], name + ".merged")
    }
}

/// Activation functions the builders map to ops, by Hugging Face name.
enum Activation {
    /// The op for a Hugging Face `hidden_act` / `dense_act_fn` name, or nil when vlac has none.
    static func op(_ name: String) -> OpCode? {
        switch name {
        case "gelu", "gelu_python": .geluErf
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh": .geluTanh
        case "relu": .relu
        case "tanh": .tanh
        default: nil
        }
    }

    /// The names accepted, for error messages.
    static let known = "gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_tanh, relu, tanh"
}

/// Weight payloads already converted (transposed, little-endian bytes), by tensor name, shared by every
/// program a model builds: programs of one model for several shapes then hold the same arrays, which
/// `VLARuntime.ConstantPool` copies once. Thread-safe (a lock around the dictionary; two threads converting
/// the same weight at once both get equal bytes).
final class ConstantCache: @unchecked Sendable {
    // @unchecked: `stored` is read and written only under `lock`.
    private var stored: [String: [UInt8]] = [:]
    private let lock = NSLock()

    subscript(name: String) -> [UInt8]? {
        get { lock.withLock { stored[name] } }
        set { lock.withLock { stored[name] = newValue } }
    }
}
