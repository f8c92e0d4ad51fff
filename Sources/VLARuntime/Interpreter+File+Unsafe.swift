import VLAFormat

extension Interpreter {
    /// Prepares the programs of a verified file, binding its inline tensors and the external tensors of its
    /// shared blobs in place (zero copy).
    ///
    /// - Parameters:
    ///   - file: A verified policy or blob.
    ///   - blobs: The file's shared blobs, resolved and checked (``VLAFormat/SharedBlobResolver/resolve(for:)``),
    ///     in the order of `file.sharedRefs`.
    ///   - options: Threads, crossover and limits.
    /// - Throws: ``RuntimeError`` when a blob is missing from `blobs` or preparing fails.
    public convenience init(file: VLAFile, blobs: [VLAFile], options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) {
        guard blobs.count == file.sharedRefs.count else {
            throw RuntimeError(.invalidInput, "the file references \(file.sharedRefs.count) shared blobs, \(blobs.count) were given")
        }
        var bindings: [TensorBinding] = unsafe []
        for (id, tensor) in file.tensors.enumerated() {
            let storage: TensorStorage
            switch tensor.storage {
            case .inline:
                guard let p = unsafe file.unsafePayloadAddress(ofTensor: id) else {
                    throw RuntimeError(.invalidProgram, "tensor \(id) \"\(tensor.name)\" has no payload")
                }
                unsafe storage = .constant(p)
            case .external(let ref, let index):
                guard let p = unsafe blobs[ref].unsafePayloadAddress(ofTensor: index),
                      blobs[ref].tensors[index].type == tensor.type
                else {
                    throw RuntimeError(.invalidInput, "tensor \(id) \"\(tensor.name)\" is not tensor \(index) of shared blob \(ref); resolve blobs with SharedBlobResolver")
                }
                unsafe storage = .constant(p)
            case .arena(let offset):
                unsafe storage = .arena(offset: Int(offset))
            }
            unsafe bindings.append(TensorBinding(name: tensor.name, type: tensor.type, storage: storage, scale: tensor.scaleTensor))
        }
        guard file.arenaSize <= UInt64(options.limits.maxArenaBytes) else {
            throw RuntimeError(.limitExceeded, "arena of \(file.arenaSize) bytes exceeds the limit of \(options.limits.maxArenaBytes)")
        }
        unsafe try self.init(
            tensors: bindings, programs: file.programs, arenaSize: Int(file.arenaSize),
            keepAlive: [file] + blobs as AnyObject, options: options)
    }
}

/// The outcome of one embedded test vector.
public struct TestVectorResult: Sendable, Hashable {
    /// Index of the vector in the file.
    public var index: Int
    /// The program it ran.
    public var program: String
    /// Largest absolute difference between an output and its expected value (∞ where one is NaN and the other not).
    public var maxAbsDifference: Float
    /// The tolerance the file allows.
    public var tolerance: Float
    /// Whether the vector holds.
    public var passed: Bool { maxAbsDifference <= tolerance }
}

/// Runs a file's embedded test vectors.
public enum TestVectors {
    /// Runs every test vector of `file` in order on one interpreter, whose arena starts zeroed and persists
    /// between vectors (so a `reset` vector can prepare a `step` vector).
    ///
    /// - Returns: One result per vector. Failing vectors are results, not errors.
    /// - Throws: ``RuntimeError`` when the programs cannot be prepared or run.
    public static func run(file: VLAFile, blobs: [VLAFile], options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) -> [TestVectorResult] {
        guard !file.testVectors.isEmpty else { return [] }
        let interpreter = try Interpreter(file: file, blobs: blobs, options: options)
        var results: [TestVectorResult] = []
        for (i, vector) in file.testVectors.enumerated() {
            for binding in vector.inputs {
                try interpreter.setRaw(binding.target, file.payload(ofTensor: binding.value) ?? [])
            }
            try interpreter.run(vector.program)
            var worst: Float = 0
            for binding in vector.expected {
                let expected = file.payload(ofTensor: binding.value) ?? []
                let type = file.tensors[binding.target].type
                if type.dtype == .f32 {
                    let got = try interpreter.floats(binding.target)
                    for (k, want) in floats(expected).enumerated() where k < got.count {
                        worst = max(worst, difference(got[k], want))
                    }
                } else {
                    let got = try interpreter.rawBytes(binding.target)
                    if got != expected { worst = .infinity }
                }
            }
            results.append(TestVectorResult(
                index: i, program: file.programs[vector.program].name, maxAbsDifference: worst, tolerance: vector.tolerance))
        }
        return results
    }

    static func difference(_ a: Float, _ b: Float) -> Float {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
        if a == b { return 0 }
        return abs(a - b)
    }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        var out: [Float] = []
        var o = 0
        while o + 4 <= bytes.count {
            var bits = UInt32(bytes[o])
            bits |= UInt32(bytes[o + 1]) << 8
            bits |= UInt32(bytes[o + 2]) << 16
            bits |= UInt32(bytes[o + 3]) << 24
            out.append(Float(bitPattern: bits))
            o += 4
        }
        return out
    }
}

extension Interpreter {
    /// A copy of a tensor's bytes (arena or constant), whatever its dtype.
    /// - Throws: `.invalidInput` for a bad id.
    public func rawBytes(_ tensor: Int) throws(RuntimeError) -> [UInt8] {
        guard tensor >= 0, unsafe tensor < tensors.count else {
            throw RuntimeError(.invalidInput, unsafe "rawBytes: tensor id \(tensor) is outside 0..<\(tensors.count)")
        }
        let t = unsafe tensors[tensor]
        let base: UnsafeRawPointer
        switch unsafe t.storage {
        case .arena(let offset): unsafe base = UnsafeRawPointer(arena + offset)
        case .constant(let p): unsafe base = p
        }
        let n = unsafe TensorSize.bytes(t.type).count
        return unsafe Array(UnsafeRawBufferPointer(start: base, count: n))
    }
}
