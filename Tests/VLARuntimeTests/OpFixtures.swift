import Foundation
import VLAFormat

/// The op cases written by `Tests/Reference/gen_ops_reference.py` (numpy, float64 references).
struct OpFixtures: Sendable {
    struct Tensor: Decodable, Sendable {
        var dtype: String
        var shape: [Int]
        var offset: Int
        var bytes: Int
        var scale: Scale?
    }

    struct Scale: Decodable, Sendable {
        var dtype: String
        var shape: [Int]
        var offset: Int
        var bytes: Int
    }

    struct Case: Decodable, Sendable {
        var name: String
        var op: String
        var attributes: [UInt32]
        var inputs: [Tensor]
        var output: Tensor
        /// |vlac − numpy| ≤ atol + rtol·|numpy|, both non-negative (see Docs/Ops.md, "Tolerances").
        var atol: Double
        var rtol: Double
    }

    struct Manifest: Decodable { var cases: [Case] }

    var cases: [Case]
    var blob: [UInt8]

    /// The package root, from this file's path (Tests/VLARuntimeTests/OpFixtures.swift).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static let loaded: Result<OpFixtures, any Error> = Result {
        let dir = packageRoot.appendingPathComponent("Tests/Fixtures/VLARuntime")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("ops.json")))
        let blob = try [UInt8](Data(contentsOf: dir.appendingPathComponent("ops.bin")))
        return OpFixtures(cases: manifest.cases, blob: blob)
    }

    static var caseNames: [String] { (try? loaded.get().cases.map(\.name)) ?? [] }

    func bytes(_ t: Tensor) -> [UInt8] { Array(blob[t.offset..<(t.offset + t.bytes)]) }
    func bytes(_ t: Scale) -> [UInt8] { Array(blob[t.offset..<(t.offset + t.bytes)]) }

    func floats(_ t: Tensor) -> [Float] {
        stride(from: t.offset, to: t.offset + t.bytes, by: 4).map { o in
            Float(bitPattern: UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24)
        }
    }
}

extension DType {
    init?(name: String) {
        guard let d = DType.allCases.first(where: { $0.description == name }) else { return nil }
        self = d
    }
}

/// One op as a document: the case's inputs as inline constants or as arena program inputs, output in the arena.
struct OpDocument {
    var document: VLADocument
    /// (tensor id, raw bytes) to copy into the arena before running.
    var arenaInputs: [(Int, [UInt8])]
    var output: Int

    init(_ c: OpFixtures.Case, _ fixtures: OpFixtures, inputsInArena: Bool) throws {
        guard let opcode = OpCode.all.first(where: { $0.name == c.op }) else { throw FixtureError("unknown op \(c.op)") }
        var tensors: [TensorEntry] = []
        var arena: UInt64 = 0
        func place(_ bytes: Int) -> UInt64 {
            let at = arena
            arena += UInt64((bytes + 63) / 64 * 64)
            return at
        }
        var arenaInputs: [(Int, [UInt8])] = []
        var inputIDs: [Int] = []
        var programInputs: [Int] = []
        for (i, t) in c.inputs.enumerated() {
            guard let dtype = DType(name: t.dtype) else { throw FixtureError("dtype \(t.dtype)") }
            var scaleID: Int?
            if let s = t.scale {
                scaleID = tensors.count
                tensors.append(TensorEntry(name: "in\(i).scale", type: TensorType(.f32, s.shape), location: .inline(fixtures.bytes(s))))
            }
            let id = tensors.count
            // The weights of linear_i8 and linear_bf16 must be constants (the runtime packs them at prepare time).
            let constantWeights = i == 1 && (c.op == "linear_i8" || c.op == "linear_bf16")
            if inputsInArena && !constantWeights {
                tensors.append(TensorEntry(name: "in\(i)", type: TensorType(dtype, t.shape), location: .arena(offset: place(t.bytes)), scaleTensor: scaleID))
                arenaInputs.append((id, fixtures.bytes(t)))
                programInputs.append(id)
            } else {
                tensors.append(TensorEntry(name: "in\(i)", type: TensorType(dtype, t.shape), location: .inline(fixtures.bytes(t)), scaleTensor: scaleID))
            }
            inputIDs.append(id)
        }
        let out = tensors.count
        tensors.append(TensorEntry(name: "out", type: TensorType(.f32, c.output.shape), location: .arena(offset: place(c.output.bytes))))
        let program = Program(
            name: "main", inputs: programInputs, outputs: [out],
            operations: [Operation(opcode, inputs: inputIDs, outputs: [out], attributes: c.attributes)])
        document = VLADocument(tensors: tensors, programs: [program], arenaSize: arena)
        self.arenaInputs = arenaInputs
        output = out
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A runtime configuration the op cases run under.
struct Config: Sendable, CustomTestStringConvertible {
    var threads: Int
    var smallProductRows: Int
    var inputsInArena: Bool
    var testDescription: String { "threads \(threads), own kernel below \(smallProductRows) rows\(inputsInArena ? ", arena inputs" : "")" }

    static let all: [Config] = [
        Config(threads: 1, smallProductRows: 8, inputsInArena: false),
        Config(threads: 2, smallProductRows: 0, inputsInArena: false),
        Config(threads: 1, smallProductRows: Int.max, inputsInArena: false),
        Config(threads: 2, smallProductRows: 8, inputsInArena: true),
    ]
}

import Testing
