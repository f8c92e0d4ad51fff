import Testing
import VLAFormat
@testable import VLARuntime

/// Planning a long program stays linear (fuse8000.vla: 8,000 linear + relu pairs on 1×1 tensors took 10 s to
/// plan): the fusion's dead-range check looks at most `Planner.deadScanLimit` ops ahead and finds reads outside
/// the program by binary search. Not fusing is always correct, so the limit changes only which steps fuse.
@Suite struct PlannerScaleTests {
    /// 600 pairs `t_i = linear(u_{i-1}, w)`, `u_i = relu(t_i)` with a fresh `t_i` each (dead only when the next
    /// run rewrites it, 1,219 ops later: past the limit, not fused), then 10 pairs through one shared `t` (dead
    /// 2 ops later: fused, except the last, whose next write is again past the limit).
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
        let shared = arena()
        for _ in 0..<10 {
            let next = arena()
            ops += [Operation(.linear, inputs: [u, w], outputs: [shared]), Operation(.relu, inputs: [shared], outputs: [next])]
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

extension UInt32 {
    fileprivate var littleEndianBytes: [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) } }
}
