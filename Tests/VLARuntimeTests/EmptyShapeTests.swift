import Testing
import VLAFormat
@testable import VLARuntime

/// Dimensions of 0 are legal in the format: every op must prepare and run on them without trapping.
@Suite struct EmptyShapeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var op: OpCode
        var inputs: [TensorType]
        var output: TensorType
        var attributes: [UInt32] = []
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "linear n 0", op: .linear, inputs: [TensorType(.f32, [2, 3]), TensorType(.f32, [3, 0])], output: TensorType(.f32, [2, 0])),
        Case(name: "linear m 0", op: .linear, inputs: [TensorType(.f32, [0, 3]), TensorType(.f32, [3, 4]), TensorType(.f32, [4])], output: TensorType(.f32, [0, 4])),
        Case(name: "linear k 0", op: .linear, inputs: [TensorType(.f32, [2, 0]), TensorType(.f32, [0, 4]), TensorType(.f32, [4])], output: TensorType(.f32, [2, 4])),
        Case(name: "softmax rows 0", op: .softmax, inputs: [TensorType(.f32, [0, 5])], output: TensorType(.f32, [0, 5])),
        Case(name: "softmax width 0", op: .softmax, inputs: [TensorType(.f32, [3, 0])], output: TensorType(.f32, [3, 0])),
        Case(name: "layer_norm rows 0", op: .layerNorm, inputs: [TensorType(.f32, [0, 4]), TensorType(.f32, [4]), TensorType(.f32, [4])], output: TensorType(.f32, [0, 4]), attributes: [Float(1e-5).bitPattern]),
        Case(name: "rms_norm width 0", op: .rmsNorm, inputs: [TensorType(.f32, [2, 0]), TensorType(.f32, [0])], output: TensorType(.f32, [2, 0]), attributes: [Float(1e-5).bitPattern]),
        Case(name: "add empty", op: .add, inputs: [TensorType(.f32, [3, 0]), TensorType(.f32, [0])], output: TensorType(.f32, [3, 0])),
        Case(name: "mul rows 0", op: .mul, inputs: [TensorType(.f32, [0, 4]), TensorType(.f32, [4])], output: TensorType(.f32, [0, 4])),
        Case(name: "gelu empty", op: .geluErf, inputs: [TensorType(.f32, [0])], output: TensorType(.f32, [0])),
        Case(name: "attention tq 0", op: .attention, inputs: [TensorType(.f32, [0, 2, 4]), TensorType(.f32, [3, 2, 4]), TensorType(.f32, [3, 2, 4])], output: TensorType(.f32, [0, 2, 4]), attributes: [Float(0.5).bitPattern, 0]),
        Case(name: "attention tk 0", op: .attention, inputs: [TensorType(.f32, [2, 2, 4]), TensorType(.f32, [0, 2, 4]), TensorType(.f32, [0, 2, 4])], output: TensorType(.f32, [2, 2, 4]), attributes: [Float(0.5).bitPattern, 0]),
        Case(name: "patch_embed too small", op: .patchEmbed, inputs: [TensorType(.f32, [3, 3, 1]), TensorType(.f32, [4, 4, 1, 2]), TensorType(.f32, [2])], output: TensorType(.f32, [0, 2]), attributes: [4]),
        Case(name: "mean_pool t 0", op: .meanPool, inputs: [TensorType(.f32, [0, 3]), TensorType(.u8, [0])], output: TensorType(.f32, [3])),
        Case(name: "l2 width 0", op: .l2Normalize, inputs: [TensorType(.f32, [2, 0])], output: TensorType(.f32, [2, 0]), attributes: [Float(1e-12).bitPattern]),
        Case(name: "concat empty part", op: .concat, inputs: [TensorType(.f32, [2, 0]), TensorType(.f32, [2, 3])], output: TensorType(.f32, [2, 3]), attributes: [1]),
        Case(name: "slice length 0", op: .slice, inputs: [TensorType(.f32, [2, 3])], output: TensorType(.f32, [2, 0]), attributes: [1, 3, 0]),
        Case(name: "gather t 0", op: .gather, inputs: [TensorType(.f32, [3, 2]), TensorType(.i32, [0])], output: TensorType(.f32, [0, 2])),
        Case(name: "convert empty", op: .convert, inputs: [TensorType(.f16, [0])], output: TensorType(.f32, [0])),
    ]

    @Test(arguments: cases, [1, 2])
    func emptyShapesRun(c: Case, threads: Int) throws {
        var tensors: [TensorEntry] = []
        var arena: UInt64 = 0
        var ids: [Int] = []
        for (i, t) in c.inputs.enumerated() {
            let bytes = t.elementCount * t.dtype.byteWidth
            tensors.append(TensorEntry(name: "in\(i)", type: t, location: .arena(offset: arena)))
            arena += UInt64((bytes + 63) / 64 * 64)
            ids.append(i)
        }
        tensors.append(TensorEntry(name: "out", type: c.output, location: .arena(offset: arena)))
        arena += UInt64((c.output.elementCount * 4 + 63) / 64 * 64)
        let doc = VLADocument(
            tensors: tensors,
            programs: [Program(name: "p", inputs: ids, outputs: [ids.count], operations: [Operation(c.op, inputs: ids, outputs: [ids.count], attributes: c.attributes)])],
            arenaSize: arena)
        let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: threads))
        try interpreter.run(0)
        let out = try interpreter.floats(ids.count)
        #expect(out.count == c.output.elementCount)
        if c.name.hasPrefix("linear k 0") || c.name.hasPrefix("mean_pool") || c.name.hasPrefix("attention tk 0") {
            // Empty sums: linear gives the (zero) bias, mean_pool and attention over no keys give 0.
            #expect(out.allSatisfy { $0 == 0 })
        }
    }
}
