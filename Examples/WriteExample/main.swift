// write-example: builds a small policy-shaped .vla file with the VLAFormat writer API.
//
//   write-example OUT.vla
//
// The file has one `step` program (linear → relu → linear with int8 weights → scaled_tanh), an action
// contract (7 dims, horizon 1, mean/std unnormalization, a gripper threshold), an image contract, provenance
// and one test vector whose expected output is computed here by hand. `vlac dump` and `vlac verify` read it.
// Until `vlac compile` exists, `make demo` runs this and dumps the result.

import Glibc
import VLAFormat

/// Little-endian bytes of f32 values.
func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in
        let b = v.bitPattern
        return [UInt8(b & 0xff), UInt8((b >> 8) & 0xff), UInt8((b >> 16) & 0xff), UInt8(b >> 24)]
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: write-example OUT.vla")
    exit(64)
}

// Weights: features (4) → hidden (8) → action (7). Small integers keep the hand computation exact.
let w1: [Float] = (0..<32).map { Float(($0 * 7) % 5) - 2 }  // [4, 8]
let b1: [Float] = (0..<8).map { Float($0 % 3) - 1 }
let q2: [Int8] = (0..<56).map { Int8(($0 * 5) % 9) - 4 }  // [8, 7], int8
let s2: [Float] = (0..<7).map { 0.25 * Float($0 + 1) }  // per-output-channel scale
let features: [Float] = [1, -2, 0.5, 3]

// The same computation the runtime does, by hand, for the test vector.
var hidden = [Float](repeating: 0, count: 8)
for n in 0..<8 {
    var acc = b1[n]
    for k in 0..<4 { acc += features[k] * w1[k * 8 + n] }
    hidden[n] = max(acc, 0)
}
var expected = [Float](repeating: 0, count: 7)
for n in 0..<7 {
    var acc: Float = 0
    for k in 0..<8 { acc += hidden[k] * Float(q2[k * 7 + n]) * s2[n] }
    expected[n] = 5 * tanh(acc / 5)
}

let tensors: [TensorEntry] = [
    TensorEntry(name: "step/features", type: TensorType(.f32, [1, 4]), location: .arena(offset: 0)),
    TensorEntry(name: "policy/w1", type: TensorType(.f32, [4, 8]), location: .inline(f32Bytes(w1))),
    TensorEntry(name: "policy/b1", type: TensorType(.f32, [8]), location: .inline(f32Bytes(b1))),
    TensorEntry(name: "step/h1", type: TensorType(.f32, [1, 8]), location: .arena(offset: 64)),
    TensorEntry(name: "step/h1_relu", type: TensorType(.f32, [1, 8]), location: .arena(offset: 128)),
    TensorEntry(name: "policy/w2", type: TensorType(.i8, [8, 7]), location: .inline(q2.map { UInt8(bitPattern: $0) }), scaleTensor: 6),
    TensorEntry(name: "policy/w2.scale", type: TensorType(.f32, [7]), location: .inline(f32Bytes(s2))),
    TensorEntry(name: "step/raw", type: TensorType(.f32, [1, 7]), location: .arena(offset: 0)),
    TensorEntry(name: "step/chunk", type: TensorType(.f32, [1, 7]), location: .arena(offset: 64)),
    TensorEntry(name: "test/0/features", type: TensorType(.f32, [1, 4]), location: .inline(f32Bytes(features))),
    TensorEntry(name: "test/0/chunk", type: TensorType(.f32, [1, 7]), location: .inline(f32Bytes(expected))),
]
let step = Program(
    name: "step", inputs: [0], outputs: [8],
    operations: [
        Operation(.linear, inputs: [0, 1, 2], outputs: [3]),
        Operation(.relu, inputs: [3], outputs: [4]),
        Operation(.linear, inputs: [4, 5], outputs: [7]),
        Operation(.scaledTanh, inputs: [7], outputs: [8], attributes: [Float(5).bitPattern]),
    ])

let metadata = Metadata(
    instruction: "pick up the red block and place it in the bowl",
    model: ModelIdentity(name: "write-example", digest: SHA256.hash(Array("write-example weights v1".utf8))),
    role: "policy",
    action: ActionContract(
        actionDim: 7, horizon: 1, squashedDims: 0, squashBound: 0, gripper: .logitThreshold, gripperDim: 6,
        normalization: .meanStd, mean: [0.01, -0.02, 0.0, 0.0, 0.01, 0.0, 0.5],
        std: [0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 1.0], mask: [true, true, true, true, true, true, false],
        ensembling: .none, ensembleWindow: 0, rotation: .eulerToAxisAngle, robot: .widowxBridge),
    image: ImageContract(
        height: 224, width: 224, resize: .lanczos3Antialias, crop: .central, cropArea: 0.9,
        mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
let document = VLADocument(
    tensors: tensors, metadata: metadata, programs: [step], arenaSize: 192,
    provenance: Provenance(
        compiler: "write-example (VLAFormat \(Layout.majorVersion).\(Layout.minorVersion))",
        sources: [Provenance.Source(name: "example/weights", sha256: SHA256.hash(f32Bytes(w1)), size: UInt64(w1.count * 4))],
        options: [Provenance.Option(key: "quantize", value: "w2:int8-per-channel")]),
    testVectors: [
        TestVector(program: 0, inputs: [.init(target: 0, value: 9)], expected: [.init(target: 8, value: 10)], tolerance: 1e-5)
    ])

do {
    try VLAWriter.write(document, to: arguments[1])
    print("wrote \(arguments[1])")
} catch {
    print("write-example: \(error)")
    exit(1)
}
