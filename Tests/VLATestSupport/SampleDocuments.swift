import VLAFormat

/// Documents that exercise every section kind, dtype, storage kind and op shape the format has.
public enum SampleDocuments {
    /// Little-endian bytes of f32 values.
    public static func f32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { le32($0.bitPattern) }
    }

    /// Little-endian bytes of i32 values.
    public static func i32Bytes(_ values: [Int32]) -> [UInt8] {
        values.flatMap { le32(UInt32(bitPattern: $0)) }
    }

    /// Little-endian bytes of u16 values (f16 and bf16 payloads).
    public static func u16Bytes(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
    }

    static func le32(_ b: UInt32) -> [UInt8] {
        [UInt8(b & 0xff), UInt8((b >> 8) & 0xff), UInt8((b >> 16) & 0xff), UInt8(b >> 24)]
    }

    /// Deterministic pseudo-random floats in [-1, 1).
    public static func floats(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(rng.next() >> 40) / Float(1 << 23) - 1 }
    }

    /// A shared blob holding two tensors (a backbone stand-in).
    public static func blob() -> VLADocument {
        VLADocument(
            isSharedBlob: true,
            tensors: [
                TensorEntry(name: "backbone/proj", type: TensorType(.f32, [6, 4]), location: .inline(f32Bytes(floats(24, seed: 1)))),
                TensorEntry(name: "backbone/bias", type: TensorType(.f32, [4]), location: .inline(f32Bytes(floats(4, seed: 2)))),
            ],
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "backbone"),
            provenance: Provenance(compiler: "vlac-tests", sources: [], options: []))
    }

    /// A policy with every dtype, every storage kind, two programs, test vectors and a shared reference.
    ///
    /// - Parameter blobHash: SHA-256 of the blob file the policy references (from ``blob()``).
    /// - Parameter blobSize: Its size in bytes.
    public static func policy(blobHash: [UInt8], blobSize: UInt64) -> VLADocument {
        var t: [TensorEntry] = []
        func add(_ name: String, _ dtype: DType, _ shape: [Int], _ location: TensorLocation, scale: Int? = nil) -> Int {
            t.append(TensorEntry(name: name, type: TensorType(dtype, shape), location: location, scaleTensor: scale))
            return t.count - 1
        }
        // reset: ids → gather → linear (f16 weights) → write a "generated" weight into the arena.
        let table = add("reset/table", .f32, [10, 6], .inline(f32Bytes(floats(60, seed: 3))))
        let ids = add("reset/ids", .i32, [3], .inline(i32Bytes([4, 0, 9])))
        let embedded = add("reset/embedded", .f32, [3, 6], .arena(offset: 0))
        let wHalf = add("reset/w_f16", .f16, [6, 4], .inline(u16Bytes((0..<24).map { UInt16(0x3C00 + $0) })))
        let generated = add("policy/generated", .f32, [3, 4], .arena(offset: 128))
        let seed = add("reset/seed", .f32, [3, 6], .arena(offset: 192))
        let added = add("reset/added", .f32, [3, 6], .arena(offset: 320))
        // step: x → linear (shared proj + shared bias) → layer_norm → attention (mask) → linear (i8) → bf16 path.
        let x = add("step/x", .f32, [3, 6], .arena(offset: 448))
        let proj = add("backbone/proj", .f32, [6, 4], .external(ref: 0, index: 0))
        let bias = add("backbone/bias", .f32, [4], .external(ref: 0, index: 1))
        let h = add("step/h", .f32, [3, 4], .arena(offset: 576))
        let gamma = add("step/ln_gamma", .f32, [4], .inline(f32Bytes([1, 1, 1, 1])))
        let beta = add("step/ln_beta", .f32, [4], .inline(f32Bytes([0, 0, 0, 0])))
        let normed = add("step/normed", .f32, [3, 4], .arena(offset: 640))
        let q = add("step/q", .f32, [3, 2, 2], .arena(offset: 640))
        let mask = add("step/mask", .u8, [3, 3], .inline([1, 1, 0, 1, 1, 0, 1, 1, 1]))
        let attended = add("step/attended", .f32, [3, 2, 2], .arena(offset: 704))
        let attendedFlat = add("step/attended_flat", .f32, [3, 4], .arena(offset: 704))
        let scale = add("step/w_i8.scale", .f32, [7], .inline(f32Bytes([0.5, 0.25, 1, 2, 0.125, 1, 0.75])))
        let wI8 = add("step/w_i8", .i8, [4, 7], .inline((0..<28).map { UInt8(bitPattern: Int8($0 - 14)) }), scale: scale)
        let chunk = add("step/chunk", .f32, [3, 7], .arena(offset: 768))
        let bf = add("step/bf16_const", .bf16, [7], .inline(u16Bytes([0x3F80, 0x4000, 0xBF80, 0, 0x3F00, 0x4040, 0x3E80])))
        let bfF32 = add("step/bf16_f32", .f32, [7], .arena(offset: 896))
        let out = add("step/out", .f32, [3, 7], .arena(offset: 960))
        // The reset test vector, computed here independently of the runtime: generated = (table[ids] + seed) · w.
        let seedValues = floats(18, seed: 4)
        let tableValues = floats(60, seed: 3)
        let wValues = (0..<24).map { Float(Float16(bitPattern: UInt16(0x3C00 + $0))) }
        var expected = [Float](repeating: 0, count: 12)
        for (row, id) in [4, 0, 9].enumerated() {
            for n in 0..<4 {
                var acc: Double = 0
                for k in 0..<6 { acc += Double(tableValues[id * 6 + k] + seedValues[row * 6 + k]) * Double(wValues[k * 4 + n]) }
                expected[row * 4 + n] = Float(acc)
            }
        }
        let inputValue = add("test/0/seed", .f32, [3, 6], .inline(f32Bytes(seedValues)))
        let expectedValue = add("test/0/generated", .f32, [3, 4], .inline(f32Bytes(expected)))

        let reset = Program(
            name: "reset", inputs: [seed], outputs: [generated],
            operations: [
                Operation(.gather, inputs: [table, ids], outputs: [embedded]),
                Operation(.add, inputs: [embedded, seed], outputs: [added]),
                Operation(.linear, inputs: [added, wHalf], outputs: [generated]),
            ])
        let step = Program(
            name: "step", inputs: [x], outputs: [out],
            operations: [
                Operation(.linear, inputs: [x, proj, bias], outputs: [h]),
                Operation(.layerNorm, inputs: [h, gamma, beta], outputs: [normed], attributes: [Float(1e-6).bitPattern]),
                Operation(.attention, inputs: [q, q, q, mask], outputs: [attended],
                          attributes: [Float(0.7071).bitPattern, AttentionFlags.hasMask]),
                Operation(.linear, inputs: [attendedFlat, wI8], outputs: [chunk]),
                Operation(.convert, inputs: [bf], outputs: [bfF32]),
                Operation(.add, inputs: [chunk, bfF32], outputs: [out]),
            ])
        return VLADocument(
            tensors: t,
            metadata: Metadata(
                instruction: "put the carrot on the plate",
                model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))),
                role: "policy",
                action: ActionContract(
                    actionDim: 7, horizon: 3, squashedDims: 6, squashBound: 5, gripper: .logitThreshold, gripperDim: 6,
                    normalization: .meanStd, mean: [0.1, 0.2, 0.3, 0, 0, 0, 0], std: [1, 1, 1, 0.5, 0.5, 0.5, 1],
                    mask: [true, true, true, true, true, true, false], ensembling: .uniform, ensembleWindow: 3,
                    rotation: .eulerToAxisAngle, robot: .googleRobot),
                image: ImageContract(
                    height: 224, width: 224, resize: .lanczos3Antialias, crop: .central, cropArea: 0.9,
                    mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])),
            programs: [reset, step],
            arenaSize: 1088,
            provenance: Provenance(
                compiler: "vlac-tests",
                sources: [Provenance.Source(name: "model/config.json", sha256: SHA256.hash(Array("{}".utf8)), size: 2)],
                options: [Provenance.Option(key: "embed-shared", value: "false"), Provenance.Option(key: "quantize", value: "none")]),
            testVectors: [
                TestVector(program: 0, inputs: [.init(target: seed, value: inputValue)], expected: [.init(target: generated, value: expectedValue)], tolerance: 1e-4)
            ],
            sharedRefs: [SharedReference(sha256: blobHash, role: "backbone", size: blobSize)])
    }

    /// The blob's bytes and a policy referencing it, serialized.
    public static func policyAndBlob() throws -> (policy: [UInt8], blob: [UInt8]) {
        let blob = try VLAWriter.serialize(blob())
        let policy = try VLAWriter.serialize(policy(blobHash: SHA256.hash(blob), blobSize: UInt64(blob.count)))
        return (policy, blob)
    }
}

extension SampleDocuments {
    /// A format 1.1 shared blob with a program: `features` (x f32[rows, 6] → relu(x·w + b) f32[rows, 4]) and a
    /// stored test frame `test/frame` f32[frameRows, 6] that policies bind their test vector to.
    public static func callBlob(rows: Int = 3, frameRows: Int = 3) -> VLADocument {
        VLADocument(
            isSharedBlob: true,
            tensors: [
                TensorEntry(name: "backbone/w", type: TensorType(.f32, [6, 4]), location: .inline(f32Bytes(floats(24, seed: 11)))),
                TensorEntry(name: "backbone/b", type: TensorType(.f32, [4]), location: .inline(f32Bytes(floats(4, seed: 12)))),
                TensorEntry(name: "backbone/x", type: TensorType(.f32, [rows, 6]), location: .arena(offset: 0)),
                TensorEntry(name: "backbone/h", type: TensorType(.f32, [rows, 4]), location: .arena(offset: 128)),
                TensorEntry(name: "backbone/y", type: TensorType(.f32, [rows, 4]), location: .arena(offset: 192)),
                TensorEntry(name: "test/frame", type: TensorType(.f32, [frameRows, 6]), location: .inline(f32Bytes(floats(frameRows * 6, seed: 13)))),
            ],
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "backbone"),
            programs: [
                Program(name: "features", inputs: [2], outputs: [4], operations: [
                    Operation(.linear, inputs: [2, 0, 1], outputs: [3]),
                    Operation(.relu, inputs: [3], outputs: [4]),
                ])
            ],
            arenaSize: 256,
            provenance: Provenance(compiler: "vlac-tests", sources: [], options: []))
    }

    /// The expected output of ``callPolicy(blobHash:blobSize:)``'s `step` on the blob's test frame, computed here
    /// in float64 from the stored values (independent of the runtime): `relu(frame·w + b)·v`.
    public static func callPolicyExpected() -> [Float] {
        let frame = floats(18, seed: 13), w = floats(24, seed: 11), b = floats(4, seed: 12), v = floats(28, seed: 14)
        var features = [Double](repeating: 0, count: 12)
        for r in 0..<3 {
            for n in 0..<4 {
                var acc = Double(b[n])
                for k in 0..<6 { acc += Double(frame[r * 6 + k]) * Double(w[k * 4 + n]) }
                features[r * 4 + n] = max(Double(Float(acc)), 0)
            }
        }
        var out = [Float](repeating: 0, count: 21)
        for r in 0..<3 {
            for n in 0..<7 {
                var acc: Double = 0
                for k in 0..<4 { acc += features[r * 4 + k] * Double(v[k * 7 + n]) }
                out[r * 7 + n] = Float(acc)
            }
        }
        return out
    }

    /// A format 1.1 policy whose `step` calls program 0 of ``callBlob(rows:frameRows:)`` and then applies its own
    /// linear layer; its test vector's input is the blob's `test/frame` (an external tensor).
    public static func callPolicy(blobHash: [UInt8], blobSize: UInt64) -> VLADocument {
        VLADocument(
            tensors: [
                TensorEntry(name: "step/x", type: TensorType(.f32, [3, 6]), location: .arena(offset: 0)),
                TensorEntry(name: "step/features", type: TensorType(.f32, [3, 4]), location: .arena(offset: 128)),
                TensorEntry(name: "policy/v", type: TensorType(.f32, [4, 7]), location: .inline(f32Bytes(floats(28, seed: 14)))),
                TensorEntry(name: "step/out", type: TensorType(.f32, [3, 7]), location: .arena(offset: 192)),
                TensorEntry(name: "test/frame", type: TensorType(.f32, [3, 6]), location: .external(ref: 0, index: 5)),
                TensorEntry(name: "test/step/out", type: TensorType(.f32, [3, 7]), location: .inline(f32Bytes(callPolicyExpected()))),
            ],
            metadata: Metadata(
                instruction: "pick up the sample",
                model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "policy"),
            programs: [
                Program(name: "step", inputs: [0], outputs: [3], operations: [
                    Operation(.call, inputs: [0], outputs: [1], attributes: [0, 0]),
                    Operation(.linear, inputs: [1, 2], outputs: [3]),
                ])
            ],
            arenaSize: 320,
            provenance: Provenance(compiler: "vlac-tests", sources: [], options: []),
            testVectors: [TestVector(program: 0, inputs: [.init(target: 0, value: 4)], expected: [.init(target: 3, value: 5)], tolerance: 1e-5)],
            sharedRefs: [SharedReference(sha256: blobHash, role: "backbone", size: blobSize)])
    }

    /// ``callBlob(rows:frameRows:)``'s bytes and ``callPolicy(blobHash:blobSize:)`` referencing it, serialized.
    public static func callPolicyAndBlob(rows: Int = 3, frameRows: Int = 3) throws -> (policy: [UInt8], blob: [UInt8]) {
        let blob = try VLAWriter.serialize(callBlob(rows: rows, frameRows: frameRows))
        let policy = try VLAWriter.serialize(callPolicy(blobHash: SHA256.hash(blob), blobSize: UInt64(blob.count)))
        return (policy, blob)
    }
}

/// SplitMix64: a small deterministic generator for seeded tests.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SampleDocuments {
    /// A shared blob in the shape of a reduced-precision backbone block (format 1.2): `x [5, 8]` → `linear_i8`
    /// (int8 weights `[8, 6]` with per-column scales, bias) → `mul` by a layer scale → `add` of a residual `r` →
    /// `linear_bf16` (bf16 weights `[6, 4]`, no bias) → `gelu_erf` → `y [5, 4]`. Tensor ids: 0 x, 1 w8 scale, 2 w8,
    /// 3 bias, 4 h, 5 lambda, 6 scaled, 7 r, 8 sum, 9 wbf, 10 z, 11 y.
    public static func reducedPrecisionBlob(int8Weights: [Int8]? = nil, scales: [Float]? = nil) -> VLADocument {
        var t: [TensorEntry] = []
        func add(_ name: String, _ dtype: DType, _ shape: [Int], _ location: TensorLocation, scale: Int? = nil) -> Int {
            t.append(TensorEntry(name: name, type: TensorType(dtype, shape), location: location, scaleTensor: scale))
            return t.count - 1
        }
        let q = int8Weights ?? (0..<48).map { Int8(($0 * 37) % 255 - 127) }
        let x = add("x", .f32, [5, 8], .arena(offset: 0))
        let s = add("w8.scale", .f32, [6], .inline(f32Bytes(scales ?? [0.01, 0.02, 0.005, 0.04, 0.03, 0.0125])))
        let w8 = add("w8", .i8, [8, 6], .inline(q.map { UInt8(bitPattern: $0) }), scale: s)
        let b = add("b", .f32, [6], .inline(f32Bytes(floats(6, seed: 21))))
        let h = add("h", .f32, [5, 6], .arena(offset: 192))
        let lambda = add("lambda", .f32, [6], .inline(f32Bytes(floats(6, seed: 22))))
        let scaled = add("scaled", .f32, [5, 6], .arena(offset: 320))
        let r = add("r", .f32, [5, 6], .arena(offset: 448))
        let sum = add("sum", .f32, [5, 6], .arena(offset: 576))
        let wbf = add("wbf", .bf16, [6, 4], .inline(u16Bytes(floats(24, seed: 23).map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) })))
        let z = add("z", .f32, [5, 4], .arena(offset: 832))
        let y = add("y", .f32, [5, 4], .arena(offset: 704))
        let ops = [
            Operation(.linearI8, inputs: [x, w8, b], outputs: [h]),
            Operation(.mul, inputs: [h, lambda], outputs: [scaled]),
            Operation(.add, inputs: [scaled, r], outputs: [sum]),
            Operation(.linearBF16, inputs: [sum, wbf], outputs: [z]),
            Operation(.geluErf, inputs: [z], outputs: [y]),
        ]
        return VLADocument(
            isSharedBlob: true, tensors: t,
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("sample".utf8))), role: "backbone"),
            programs: [Program(name: "forward", inputs: [x, r], outputs: [y], operations: ops)], arenaSize: 960,
            provenance: Provenance(compiler: "vlac-tests", sources: [], options: []))
    }
}
