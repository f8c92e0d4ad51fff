import Testing
import VLAFormat
@testable import VLARuntime

/// Planning a long program stays linear (fuse8000.vla: 8,000 linear + relu pairs on 1×1 tensors took 10 s to
/// plan): the fusion's dead-range check looks at most `Planner.deadScanLimit` ops ahead and finds reads outside
/// the program by binary search. Not fusing is always correct, so the limit changes only which steps fuse.
@Suite struct PlannerScaleTests {
    /// 600 pairs `t_i = linear(u_{i-1}, w)`, `u_i = relu(t_i)` with a fresh `t_i` each (dead only when the next
    /// run rewrites it, 1,228 ops later: past the limit, not fused), then 10 pairs through one shared `t` (dead
    /// 1 op later: fused, except the last, whose next write is again past the limit).
    @Test func longProgramsFuseOnlyWithinTheScanLimit() throws {
        var tensors: [TensorEntry] = []
        var offset: UInt64 = 0
        func arena() -> Int {
            tensors.append(TensorEntry(name: "a\(tensors.count)", type: TensorType(.f32, [1, 1]), location: .arena(offset: offset)))
            offset += 64
            return tensors.count - 1
        }
        let w = tensors.count
        tensors.append(TensorEntry(name: "w", type: TensorType(.f32, [1, 1]), location: .inline(Array(Float(0.999).bitPattern.littleEndianBytes))))
        let x = arena()
        var ops: [Operation] = []
        var u = x
        for _ in 0..<600 {
            let t = arena(), next = arena()
            ops += [Operation(.linear, inputs: [u, w], outputs: [t]), Operation(.relu, inputs: [t], outputs: [next])]
            u = next
        }
        // After each of these pairs but the last, a relu rewrites the shared t (a product's write does not count:
        // its own fusion may remove it, Planner.mayLoseItsWrite).
        let shared = arena()
        for pair in 0..<10 {
            let next = arena()
            ops += [Operation(.linear, inputs: [u, w], outputs: [shared]), Operation(.relu, inputs: [shared], outputs: [next])]
            if pair < 9 { ops.append(Operation(.relu, inputs: [next], outputs: [shared])) }
            u = next
        }
        #expect(ops.count > Planner.deadScanLimit)
        let doc = VLADocument(tensors: tensors, programs: [Program(name: "chain", inputs: [x], outputs: [u], operations: ops)], arenaSize: offset)
        var outputs: [[Float]] = []
        for fuse in [true, false] {
            let interpreter = try Interpreter(document: doc, options: RuntimeOptions(fuse: fuse))
            var fused = 0
            for step in interpreter.steps[0] { if case .nothing = step.kernel { fused += 1 } }
            #expect(fused == (fuse ? 9 : 0))
            try interpreter.setFloats(x, [1])
            try interpreter.run(0)
            outputs.append(try interpreter.floats(u))
        }
        #expect(outputs[0] == outputs[1])
        var expected: Float = 1
        for _ in 0..<610 { expected = max(expected * 0.999, 0) }
        #expect(outputs[0] == [expected])
    }
}

/// An activation whose output lies in the bytes of its product's input x (dead after the product) is not fused
/// into the product, which still reads x while it writes its blocks (the episode parity test caught that).
@Suite struct FusionOverlapTests {
    @Test func activationOverTheProductsInputIsNotFused() throws {
        let m = 40, k = 24, n = 16
        var tensors: [TensorEntry] = []
        func add(_ name: String, _ shape: [Int], _ location: TensorLocation) -> Int {
            tensors.append(TensorEntry(name: name, type: TensorType(.f32, shape), location: location))
            return tensors.count - 1
        }
        let weights = (0..<(k * n)).map { Float(($0 * 37) % 101) / 50 - 1 }
        let x = add("x", [m, k], .arena(offset: 0))
        let w = add("w", [k, n], .inline(weights.flatMap { $0.bitPattern.littleEndianBytes }))
        let h = add("h", [m, n], .arena(offset: UInt64(m * k * 4)))
        let y = add("y", [m, n], .arena(offset: 0))  // over x's first m·n floats
        let ops = [Operation(.linear, inputs: [x, w], outputs: [h]), Operation(.tanh, inputs: [h], outputs: [y])]
        let doc = VLADocument(tensors: tensors, programs: [Program(name: "p", inputs: [x], outputs: [y], operations: ops)], arenaSize: UInt64(m * k * 4 + m * n * 4))
        let input = (0..<(m * k)).map { Float(($0 * 53) % 97) / 40 - 1.2 }
        var outputs: [[UInt32]] = []
        for fuse in [true, false] {
            let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 2, fuse: fuse))
            guard case .linear(let lin) = interpreter.steps[0][0].kernel else { Issue.record("step 0 is not a product"); return }
            #expect(lin.epilogue == nil)
            try interpreter.setFloats(x, input)
            try interpreter.run(0)
            outputs.append(try interpreter.floats(y).map(\.bitPattern))
        }
        #expect(outputs[0] == outputs[1])
    }
}

extension UInt32 {
    fileprivate var littleEndianBytes: [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) } }
}
