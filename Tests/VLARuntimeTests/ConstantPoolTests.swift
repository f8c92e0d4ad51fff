import Testing
import VLAFormat
@testable import VLARuntime

/// Interpreters prepared with one `ConstantPool` share the copies of the same payload arrays and compute what
/// interpreters with their own copies compute.
@Suite struct ConstantPoolTests {
    /// `y [rows, 3] = x [rows, 2] · W [2, 3]` with W inline (the same array in every document).
    static func document(rows: Int, weights: [UInt8]) -> VLADocument {
        let w = TensorEntry(name: "w", type: TensorType(.f32, [2, 3]), location: .inline(weights))
        let x = TensorEntry(name: "x", type: TensorType(.f32, [rows, 2]), location: .arena(offset: 0))
        let y = TensorEntry(name: "y", type: TensorType(.f32, [rows, 3]), location: .arena(offset: 256))
        return VLADocument(
            tensors: [w, x, y],
            programs: [Program(name: "p", inputs: [1], outputs: [2], operations: [Operation(.linear, inputs: [1, 0], outputs: [2])])],
            arenaSize: 512)
    }

    static func bytes(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

    @Test func sharedArraysAreCopiedOnceAndGiveTheSameResults() throws {
        let weights = Self.bytes([1, 2, 3, -1, 0.5, 4])
        let pool = ConstantPool()
        let x: [Float] = [2, 1, -1, 3, 0, 0.25]
        // Hand-computed x · W for the three rows.
        let expected: [Float] = [1, 4.5, 10, -4, -0.5, 9, -0.25, 0.125, 1]
        for rows in [1, 2, 3] {
            let i = try Interpreter(document: Self.document(rows: rows, weights: weights), constants: pool)
            try i.setFloats(1, Array(x[0..<(rows * 2)]))
            try i.run(0)
            #expect(try i.floats(2) == Array(expected[0..<(rows * 3)]))
        }
        // Three documents holding the same array: one 64-byte aligned copy.
        #expect(pool.bytes == 64)
        // Another array with equal bytes is another payload (identity, not content).
        let other = Array(weights)
        var copy = other
        copy[0] = weights[0]
        _ = try Interpreter(document: Self.document(rows: 1, weights: copy), constants: pool)
        #expect(pool.bytes == 128)
    }

    @Test func poolOutlivesItsOwner() throws {
        var i: Interpreter?
        do {
            let pool = ConstantPool()
            i = try Interpreter(document: Self.document(rows: 1, weights: Self.bytes([1, 0, 0, 0, 1, 0])), constants: pool)
        }
        let interpreter = try #require(i)
        try interpreter.setFloats(1, [3, 4])
        try interpreter.run(0)
        #expect(try interpreter.floats(2) == [3, 4, 0])
    }
}
