import Foundation
import VLAFormat
@testable import VLAModels

/// A deliberately plain evaluator of built programs, written from the op table's formulas, over a simulated
/// byte arena (so the memory plan and the views are exercised exactly as the runtime sees them).
///
/// It exists to test the model builders independently of VLARuntime's kernels; it accumulates in f64.
struct NaiveEvaluator {
    let doc: VLADocument
    var arena: [Float]

    init(_ doc: VLADocument) {
        self.doc = doc
        arena = [Float](repeating: .nan, count: Int(doc.arenaSize) / 4)
    }

    func offset(_ id: Int) -> Int? {
        if case .arena(let o) = doc.tensors[id].location { return Int(o) / 4 }
        return nil
    }

    func read(_ id: Int) -> [Float] {
        let t = doc.tensors[id]
        switch t.location {
        case .inline(let bytes):
            switch t.type.dtype {
            case .f32: return LittleEndianBytes.floats(bytes)
            case .i32: return LittleEndianBytes.floats(bytes).map { Float($0.bitPattern) }
            case .u8: return bytes.map(Float.init)
            default: return []
            }
        case .arena(let o):
            let s = Int(o) / 4
            return Array(arena[s..<(s + t.type.elementCount)])
        case .external: return []
        }
    }

    mutating func write(_ id: Int, _ v: [Float]) {
        let s = offset(id) ?? 0
        arena.replaceSubrange(s..<(s + v.count), with: v)
    }

    mutating func run(inputs: [Int: [Float]] = [:]) {
        for (id, v) in inputs { write(id, v) }
        for op in doc.programs[0].operations { step(op) }
    }

    mutating func step(_ op: VLAFormat.Operation) {
        let ins = op.inputs.map(read)
        let types = op.inputs.map { doc.tensors[$0].type }
        let yType = doc.tensors[op.outputs[0]].type
        let a0 = op.attributes.first.map { Float(bitPattern: $0) } ?? 0
        var y = [Float](repeating: 0, count: yType.elementCount)
        switch op.opcode {
        case .linear:
            let k = types[1].shape[0], n = types[1].shape[1], rows = ins[0].count / k
            for r in 0..<rows {
                for j in 0..<n {
                    var acc: Double = ins.count == 3 ? Double(ins[2][j]) : 0
                    for i in 0..<k {
                        let a = Double(ins[0][r * k + i]), w = Double(ins[1][i * n + j])
                        acc += a * w
                    }
                    y[r * n + j] = Float(acc)
                }
            }
        case .layerNorm, .rmsNorm:
            let d = types[0].shape.last ?? 1
            for r in 0..<(ins[0].count / d) {
                let row: [Double] = ins[0][(r * d)..<(r * d + d)].map { Double($0) }
                let isLN = op.opcode == OpCode.layerNorm
                var mean: Double = 0
                if isLN { mean = row.reduce(0, +) / Double(d) }
                var v: Double = 0
                for x in row { v += (x - mean) * (x - mean) }
                v /= Double(d)
                let inv: Double = 1 / (v + Double(a0)).squareRoot()
                for j in 0..<d {
                    var z: Double = (row[j] - mean) * inv * Double(ins[1][j])
                    if isLN { z += Double(ins[2][j]) }
                    y[r * d + j] = Float(z)
                }
            }
        case .attention:
            let s = types[0].shape, tq = s[0], h = s[1], d = s[2], tk = types[1].shape[0]
            let flags = op.attributes[1]
            var next = 3
            var mask: [Float]? = nil
            if flags & AttentionFlags.hasMask != 0 { mask = ins[next]; next += 1 }
            let bias: [Float]? = flags & AttentionFlags.hasBias != 0 ? ins[next] : nil
            for head in 0..<h {
                for i in 0..<tq {
                    var logits = [Double](repeating: 0, count: tk)
                    for j in 0..<tk {
                        var dot = 0.0
                        for e in 0..<d { dot += Double(ins[0][(i * h + head) * d + e]) * Double(ins[1][(j * h + head) * d + e]) }
                        var l = dot * Double(a0)
                        if let bias { l += Double(bias[(head * tq + i) * tk + j]) }
                        if let mask {
                            let m = mask.count == tk ? mask[j] : mask[i * tk + j]
                            if m == 0 { l = -Double(Float.greatestFiniteMagnitude) }
                        }
                        logits[j] = l
                    }
                    let mx = logits.max() ?? 0
                    let ex = logits.map { Foundation.exp($0 - mx) }
                    let sum = ex.reduce(0, +)
                    for e in 0..<d {
                        var acc = 0.0
                        for j in 0..<tk { acc += ex[j] / sum * Double(ins[2][(j * h + head) * d + e]) }
                        y[(i * h + head) * d + e] = Float(acc)
                    }
                }
            }
        case .geluErf: y = ins[0].map { Float(0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot()))) }
        case .geluTanh:
            y = ins[0].map { x in
                let x = Double(x)
                return Float(0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))))
            }
        case .relu: y = ins[0].map { max($0, 0) }
        case .tanh: y = ins[0].map { Foundation.tanh($0) }
        case .add, .mul:
            let m = ins[1].count
            for i in y.indices { y[i] = op.opcode == .add ? ins[0][i] + ins[1][i % m] : ins[0][i] * ins[1][i % m] }
        case .patchEmbed:
            let hh = types[0].shape[0], ww = types[0].shape[1], c = types[0].shape[2], p = Int(op.attributes[0])
            let dd = types[1].shape[3], gh = hh / p, gw = ww / p
            for gy in 0..<gh {
                for gx in 0..<gw {
                    for o in 0..<dd {
                        var acc = Double(ins[2][o])
                        for py in 0..<p {
                            for px in 0..<p {
                                for ch in 0..<c {
                                    acc += Double(ins[0][((gy * p + py) * ww + gx * p + px) * c + ch]) * Double(ins[1][((py * p + px) * c + ch) * dd + o])
                                }
                            }
                        }
                        y[(gy * gw + gx) * dd + o] = Float(acc)
                    }
                }
            }
        case .gather:
            let d = types[0].shape[1]
            for (t, id) in ins[1].enumerated() { for j in 0..<d { y[t * d + j] = ins[0][Int(id) * d + j] } }
        case .meanPool:
            let d = types[0].shape[1]
            var count = 0.0
            var acc = [Double](repeating: 0, count: d)
            for (t, m) in ins[1].enumerated() where m != 0 {
                count += Double(m)
                for j in 0..<d { acc[j] += Double(m) * Double(ins[0][t * d + j]) }
            }
            y = acc.map { Float($0 / max(count, 1e-9)) }
        case .l2Normalize:
            let norm = ins[0].map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            y = ins[0].map { Float(Double($0) / max(norm, Double(a0))) }
        case .concat:
            precondition(op.attributes[0] == 0, "the naive evaluator concatenates on axis 0 only")
            y = ins.flatMap { $0 }
        case .slice:
            precondition(op.attributes[0] == 0, "the naive evaluator slices axis 0 only")
            let row = types[0].elementCount / types[0].shape[0]
            let s = Int(op.attributes[1]) * row
            y = Array(ins[0][s..<(s + yType.elementCount)])
        default:
            preconditionFailure("op \(op.opcode) not in the naive evaluator")
        }
        write(op.outputs[0], y)
    }
}
