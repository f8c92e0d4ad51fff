import Testing
import VLAFormat
@testable import VLARuntime

/// Hostile documents: seeded random mutations of every op case must make prepare throw or give an interpreter
/// whose runs finish (an error or a result), never a trap.
@Suite struct MutationTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static func mutate(_ doc: inout VLADocument, _ rng: inout SplitMix) {
        let interesting = [0, 1, 2, 3, 7, 64, 255, 1 << 20, 1 << 31, Int(Int32.max), -1, Int.max / 2]
        switch rng.below(9) {
        case 0:  // a dimension
            let t = rng.below(doc.tensors.count)
            guard !doc.tensors[t].type.shape.isEmpty else { return }
            let a = rng.below(doc.tensors[t].type.shape.count)
            doc.tensors[t].type.shape[a] = rng.below(2) == 0 ? interesting[rng.below(interesting.count)] : doc.tensors[t].type.shape[a] + rng.below(3) - 1
        case 1:  // a dtype
            let t = rng.below(doc.tensors.count)
            doc.tensors[t].type.dtype = DType.allCases[rng.below(DType.allCases.count)]
        case 2:  // an arena offset
            let t = rng.below(doc.tensors.count)
            if case .arena = doc.tensors[t].location {
                doc.tensors[t].location = .arena(offset: UInt64(truncatingIfNeeded: interesting[rng.below(interesting.count)] + rng.below(8)))
            } else {
                doc.tensors[t].location = .arena(offset: UInt64(rng.below(Int(doc.arenaSize) + 1)))
            }
        case 3:  // an operand id
            var op = doc.programs[0].operations[0]
            if rng.below(2) == 0, !op.inputs.isEmpty {
                op.inputs[rng.below(op.inputs.count)] = rng.below(doc.tensors.count + 2) - 1
            } else {
                op.outputs[0] = rng.below(doc.tensors.count + 2) - 1
            }
            doc.programs[0].operations[0] = op
        case 4:  // an attribute word
            var op = doc.programs[0].operations[0]
            if op.attributes.isEmpty { op.attributes.append(UInt32(truncatingIfNeeded: rng.next())) } else {
                op.attributes[rng.below(op.attributes.count)] = rng.below(2) == 0 ? UInt32(truncatingIfNeeded: rng.next()) : UInt32(rng.below(5))
            }
            doc.programs[0].operations[0] = op
        case 5:  // the arena size
            doc.arenaSize = UInt64(rng.below(Int(doc.arenaSize) + 1))
        case 6:  // a scale id
            let t = rng.below(doc.tensors.count)
            doc.tensors[t].scaleTensor = rng.below(3) == 0 ? nil : rng.below(doc.tensors.count + 1) - 1
        case 7:  // drop or add an input
            var op = doc.programs[0].operations[0]
            if rng.below(2) == 0, !op.inputs.isEmpty { op.inputs.removeLast() } else { op.inputs.append(rng.below(doc.tensors.count)) }
            doc.programs[0].operations[0] = op
        default:  // inline payload length
            let t = rng.below(doc.tensors.count)
            if case .inline(var bytes) = doc.tensors[t].location {
                if rng.below(2) == 0, !bytes.isEmpty { bytes.removeLast(rng.below(bytes.count) + 1) } else { bytes.append(0) }
                doc.tensors[t].location = .inline(bytes)
            }
        }
    }

    @Test(arguments: [false, true])
    func mutatedDocumentsNeverTrap(inputsInArena: Bool) throws {
        let fixtures = try OpFixtures.loaded.get()
        var rng = SplitMix(state: inputsInArena ? 2 : 1)
        var prepared = 0, rejected = 0
        for c in fixtures.cases {
            let base = try OpDocument(c, fixtures, inputsInArena: inputsInArena).document
            for _ in 0..<24 {
                var doc = base
                for _ in 0..<(1 + rng.below(3)) { Self.mutate(&doc, &rng) }
                do {
                    let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 1 + rng.below(2)))
                    // Fill every arena input with random bytes (gather ids included), then run.
                    for id in doc.programs[0].inputs {
                        let t = doc.tensors[id].type
                        let bytes = (0..<(t.elementCount * t.dtype.byteWidth)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        try? interpreter.setRaw(id, bytes)
                    }
                    _ = try? interpreter.run(0)
                    prepared += 1
                } catch {
                    #expect(!error.message.isEmpty)
                    rejected += 1
                }
            }
        }
        #expect(prepared > 0 && rejected > 0, "prepared \(prepared), rejected \(rejected)")
    }

    @Test func gatherIdOutOfRangeAtRunTime() throws {
        let table = TensorEntry(name: "table", type: TensorType(.f32, [3, 2]), location: .inline([UInt8](repeating: 0, count: 24)))
        let ids = TensorEntry(name: "ids", type: TensorType(.i32, [2]), location: .arena(offset: 0))
        let y = TensorEntry(name: "y", type: TensorType(.f32, [2, 2]), location: .arena(offset: 64))
        let doc = VLADocument(
            tensors: [table, ids, y],
            programs: [Program(name: "p", inputs: [1], outputs: [2], operations: [Operation(.gather, inputs: [0, 1], outputs: [2])])],
            arenaSize: 128)
        let interpreter = try Interpreter(document: doc)
        try interpreter.setInt32s(1, [2, 0])
        try interpreter.run(0)
        try interpreter.setInt32s(1, [1, 3])
        let error = try #require(throws: RuntimeError.self) { try interpreter.run(0) }
        #expect(error.code == .outOfBounds)
        #expect(error.description.contains("id 3 at position 1 of \"ids\""))
    }

    @Test func constantGatherIdOutOfRangeAtPrepare() throws {
        let table = TensorEntry(name: "table", type: TensorType(.f32, [3, 2]), location: .inline([UInt8](repeating: 0, count: 24)))
        let ids = TensorEntry(name: "ids", type: TensorType(.i32, [1]), location: .inline([0xFF, 0xFF, 0xFF, 0xFF]))
        let y = TensorEntry(name: "y", type: TensorType(.f32, [1, 2]), location: .arena(offset: 0))
        let doc = VLADocument(
            tensors: [table, ids, y],
            programs: [Program(name: "p", inputs: [], outputs: [2], operations: [Operation(.gather, inputs: [0, 1], outputs: [2])])],
            arenaSize: 64)
        let error = try #require(throws: RuntimeError.self) { try Interpreter(document: doc) }
        #expect(error.code == .outOfBounds)
        #expect(error.description.contains("id -1"))
    }

    @Test func overlappingOutputIsRejected() throws {
        let w = TensorEntry(name: "w", type: TensorType(.f32, [4, 4]), location: .inline([UInt8](repeating: 0, count: 64)))
        let x = TensorEntry(name: "x", type: TensorType(.f32, [2, 4]), location: .arena(offset: 0))
        let y = TensorEntry(name: "y", type: TensorType(.f32, [2, 4]), location: .arena(offset: 16))
        let doc = VLADocument(
            tensors: [w, x, y],
            programs: [Program(name: "p", inputs: [1], outputs: [2], operations: [Operation(.linear, inputs: [1, 0], outputs: [2])])],
            arenaSize: 64)
        let error = try #require(throws: RuntimeError.self) { try Interpreter(document: doc) }
        #expect(error.code == .invalidProgram)
        #expect(error.description.contains("overlaps input \"x\""))
    }
}
