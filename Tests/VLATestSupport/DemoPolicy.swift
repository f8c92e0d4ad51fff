import VLAFormat
import VLARuntime

/// A tiny policy that follows the §8.0 conventions (the stand-in for `vlac compile`'s output until it lands):
/// `step` = patch_embed (P = 56, a shared "backbone" blob) → [+ the context `reset` wrote] → linear → the
/// first `horizon` rows, giving a raw `[4, 7]` chunk; `reset` = patch_embed → first row → the arena
/// context that `step` adds. It has HyperVLA's action and image contracts (ImageNet mean/std, lanczos3,
/// central crop 0.9, squash 5, gripper logit, mean/std on 6 dims, uniform ensembling over 4, Euler →
/// axis-angle) and embedded test vectors (`reset` then `step`).
public enum DemoPolicy {
    /// The generated files.
    public struct Files: Sendable {
        /// The policy file's bytes.
        public var policy: [UInt8]
        /// The backbone blob's bytes.
        public var blob: [UInt8]
        /// The name `vlac compile` would give the blob: `backbone-<sha256 hex>.vla`.
        public var blobName: String
    }

    /// Little-endian bytes of f32 values (a bulk copy; the host is little-endian, VLAFormat rejects others).
    static func bytes(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// The action contract of the demo (HyperVLA's, with a chosen robot mapping).
    public static func actionContract(robot: RobotMapping = .googleRobot) -> ActionContract {
        ActionContract(
            actionDim: 7, horizon: 4, squashedDims: 6, squashBound: 5, gripper: .logitThreshold, gripperDim: 6,
            normalization: .meanStd,
            mean: [0.006, -0.002, 0.004, -0.01, 0.02, 0.003, 0.5],
            std: [0.07, 0.06, 0.05, 0.12, 0.1, 0.15, 0.5],
            mask: [true, true, true, true, true, true, false],
            ensembling: .uniform, ensembleWindow: 4, rotation: .eulerToAxisAngle, robot: robot)
    }

    /// The image contract of the demo: HyperVLA's.
    public static func imageContract(crop: Bool = true) -> ImageContract {
        ImageContract(
            height: 224, width: 224, resize: .lanczos3Antialias, crop: crop ? .central : .none, cropArea: crop ? 0.9 : 0,
            mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    /// Builds the blob and the policy.
    /// - Parameters:
    ///   - withReset: Whether the policy has a `reset` program (like `use_initial_image = true`).
    ///   - robot: The robot mapping in the action contract.
    ///   - crop: Whether the image contract crops.
    public static func make(withReset: Bool = true, robot: RobotMapping = .googleRobot, crop: Bool = true) throws -> Files {
        let d = 8, p = 56
        let kernel = SampleDocuments.floats(p * p * 3 * d, seed: 71).map { $0 * 0.02 }
        let kbias = SampleDocuments.floats(d, seed: 72).map { $0 * 0.1 }
        let blobDoc = VLADocument(
            isSharedBlob: true,
            tensors: [
                TensorEntry(name: "backbone/patch_kernel", type: TensorType(.f32, [p, p, 3, d]), location: .inline(bytes(kernel))),
                TensorEntry(name: "backbone/patch_bias", type: TensorType(.f32, [d]), location: .inline(bytes(kbias))),
            ],
            metadata: Metadata(model: ModelIdentity(name: "demo-tiny"), role: "backbone"),
            provenance: Provenance(compiler: "vlac-tests demo policy"))
        let blob = try VLAWriter.serialize(blobDoc)
        let blobHash = SHA256.hash(blob)

        var t: [TensorEntry] = []
        var offset: UInt64 = 0
        func arena(_ name: String, _ shape: [Int]) -> Int {
            let type = TensorType(.f32, shape)
            t.append(TensorEntry(name: name, type: type, location: .arena(offset: offset)))
            offset += UInt64((type.elementCount * 4 + 63) / 64 * 64)
            return t.count - 1
        }
        func inline(_ name: String, _ shape: [Int], _ values: [Float]) -> Int {
            t.append(TensorEntry(name: name, type: TensorType(.f32, shape), location: .inline(bytes(values))))
            return t.count - 1
        }
        let frame = arena("frame", [224, 224, 3])
        let patches = arena("step/patches", [16, d])
        let summed = arena("step/with_context", [16, d])
        let rows = arena("step/rows", [16, 7])
        let chunk = arena("step/chunk", [4, 7])
        let resetPatches = arena("reset/patches", [16, d])
        let resetRow = arena("reset/row", [1, d])
        let context = arena("policy/context", [d])
        // External tensors: resolved in the blob by index; for the in-memory reference run, inline copies.
        let kernelID = t.count
        t.append(TensorEntry(name: "backbone/patch_kernel", type: TensorType(.f32, [p, p, 3, d]), location: .external(ref: 0, index: 0)))
        let kbiasID = t.count
        t.append(TensorEntry(name: "backbone/patch_bias", type: TensorType(.f32, [d]), location: .external(ref: 0, index: 1)))
        let w = inline("policy/head_w", [d, 7], SampleDocuments.floats(d * 7, seed: 73).map { $0 * 0.8 })
        let b = inline("policy/head_b", [7], SampleDocuments.floats(7, seed: 74).map { $0 * 0.3 })

        var stepOps = [Operation(.patchEmbed, inputs: [frame, kernelID, kbiasID], outputs: [patches], attributes: [UInt32(p)])]
        var headInput = patches
        if withReset {
            stepOps.append(Operation(.add, inputs: [patches, context], outputs: [summed]))
            headInput = summed
        }
        stepOps += [
            Operation(.linear, inputs: [headInput, w, b], outputs: [rows]),
            Operation(.slice, inputs: [rows], outputs: [chunk], attributes: [0, 0, 4]),
        ]
        var programs = [Program(name: "step", inputs: [frame], outputs: [chunk], operations: stepOps)]
        if withReset {
            programs.insert(Program(name: "reset", inputs: [frame], outputs: [], operations: [
                Operation(.patchEmbed, inputs: [frame, kernelID, kbiasID], outputs: [resetPatches], attributes: [UInt32(p)]),
                Operation(.slice, inputs: [resetPatches], outputs: [resetRow], attributes: [0, 0, 1]),
                Operation(.reshape, inputs: [resetRow], outputs: [context]),
            ]), at: 0)
        }
        var doc = VLADocument(
            tensors: t,
            metadata: Metadata(
                instruction: "pick up the demo block", model: ModelIdentity(name: "demo-tiny"), role: "policy",
                action: actionContract(robot: robot), image: imageContract(crop: crop)),
            programs: programs, arenaSize: offset,
            provenance: Provenance(compiler: "vlac-tests demo policy"),
            sharedRefs: [SharedReference(sha256: blobHash, role: "backbone", size: UInt64(blob.count))])

        // Test vectors: computed by the interpreter on an all-inline copy of the same document.
        var inlineDoc = doc
        inlineDoc.tensors[kernelID].location = .inline(bytes(kernel))
        inlineDoc.tensors[kbiasID].location = .inline(bytes(kbias))
        inlineDoc.sharedRefs = []
        let interpreter = try Interpreter(document: inlineDoc)
        let input0 = SampleDocuments.floats(224 * 224 * 3, seed: 75).map { $0 * 2 }
        let input1 = SampleDocuments.floats(224 * 224 * 3, seed: 76).map { $0 * 2 }
        var vectors: [TestVector] = []
        let stepIndex = programs.firstIndex { $0.name == "step" } ?? 0
        if withReset {
            try interpreter.setFloats(frame, input0)
            try interpreter.run(0)
            let v0 = inline("test/reset_frame", [224, 224, 3], input0)
            vectors.append(TestVector(program: 0, inputs: [.init(target: frame, value: v0)], expected: [], tolerance: 0))
        }
        try interpreter.setFloats(frame, input1)
        try interpreter.run(stepIndex)
        let expected = try interpreter.floats(chunk)
        let v1 = inline("test/step_frame", [224, 224, 3], input1)
        let v2 = inline("test/step_chunk", [4, 7], expected)
        vectors.append(TestVector(program: stepIndex, inputs: [.init(target: frame, value: v1)], expected: [.init(target: chunk, value: v2)], tolerance: 1e-5))
        doc.tensors = t
        doc.testVectors = vectors
        let policy = try VLAWriter.serialize(doc)
        return Files(policy: policy, blob: blob, blobName: "backbone-\(hexString(blobHash)).vla")
    }
}
