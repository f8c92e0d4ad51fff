import Foundation
import VLAFormat
import VLAModels
import VLARuntime
import VLATokenizer

/// What the instruction-dependent evaluation produced for one instruction.
struct Evaluated {
    var prepared: Compiler.Prepared
    /// use_initial_image = false: every generated leaf, concatenated in leaf order.
    var generated: [Float]?
    /// use_initial_image = true: the projected block `[n, d]`.
    var projected: [Float]?
}

extension Compiler {
    /// The generated base-network leaves of one evaluated instruction, by leaf name, as the policy's `reset`
    /// produces them: the evaluation's own output split by leaf (`use_initial_image = false`), or the reset HN run
    /// on the frozen encoder's CLS `cls` of the first frame. For checks against reference leaves (the parity tests).
    func generatedLeaves(_ ev: Evaluated, cls: [Float]) throws -> [String: [Float]] {
        var leaves: [String: [Float]] = [:]
        if let generated = ev.generated {
            var offset = 0
            for (name, shape) in model.leaves {
                let n = shape.reduce(1, *)
                leaves[name] = Array(generated[offset..<(offset + n)])
                offset += n
            }
            return leaves
        }
        let reset = try model.buildResetHN(projected: nil, length: ev.prepared.count)
        let interpreter = try Interpreter(document: reset.document)
        guard let clsInput = reset.input("cls"), let tokens = reset.input("instruction.tokens"), let projected = ev.projected else {
            throw CompileError(.model, "the reset HN has no cls or instruction.tokens input, or the evaluation no projected block")
        }
        try interpreter.setFloats(clsInput, cls)
        try interpreter.setFloats(tokens, projected)
        try interpreter.run(0)
        for (name, _) in model.leaves {
            guard let output = reset.output("generated.\(name)") else { throw CompileError(.model, "the reset HN has no output generated.\(name)") }
            leaves[name] = try interpreter.floats(output)
        }
        return leaves
    }
}

extension Compiler {
    /// Runs T5 and the instruction-dependent HN part for a batch of instructions of one length bucket.
    ///
    /// The batch is always `batchSize` rows (missing rows repeat the first), so each instruction's numbers
    /// depend only on itself, the model and the options.
    func evaluate(_ items: [Prepared], length t: Int, cache: inout [Int: (Interpreter, BuiltModel, Interpreter, BuiltModel)]) throws(CompileError) -> [Evaluated] {
        let b = options.batchSize
        let dT = model.textDim
        do {
            if cache[t] == nil {
                let t5m = try t5.buildBatched(batch: b, length: t)
                let hnm = model.config.useInitialImage ? try model.buildProjection(batch: b, length: t) : try model.buildFullHN(batch: b, length: t)
                cache[t] = (
                    try Interpreter(document: t5m.document, options: runtime, constants: constants), t5m,
                    try Interpreter(document: hnm.document, options: runtime, constants: constants), hnm)
            }
            guard let (ti, tm, hi, hm) = cache[t] else { return [] }
            var emb = [Float](repeating: 0, count: b * t * dT)
            var mask = [UInt8](repeating: 0, count: b * t)
            for r in 0..<b {
                let p = items[r < items.count ? r : 0]
                for j in 0..<t {
                    let id = Int(p.ids[j])
                    guard id >= 0, (id + 1) * dT <= t5Table.count else {
                        throw CompileError(.evaluation, "line \(p.task.line): token id \(id) outside the T5 vocabulary")
                    }
                    let dst = (r * t + j) * dT
                    for k in 0..<dT { emb[dst + k] = t5Table[id * dT + k] }
                }
                for j in 0..<t { mask[r * t + j] = p.mask[j] }
            }
            try ti.setFloats(tm.input("embeddings") ?? -1, emb)
            try ti.setBytes(tm.input("mask") ?? -1, mask)
            try ti.run(0)
            let hidden = try ti.floats(tm.output("last_hidden_state") ?? -1)
            try hi.setFloats(hm.input("tokens") ?? -1, hidden)
            var out: [Evaluated] = []
            let d = model.config.contextDim
            if model.config.useInitialImage {
                try hi.run(0)
                let proj = try hi.floats(hm.output("projected") ?? -1)
                for (r, p) in items.enumerated() {
                    let start = r * t * d
                    out.append(Evaluated(prepared: p, generated: nil, projected: Array(proj[start..<(start + p.count * d)])))
                }
            } else {
                let tt = t + 1
                var full = [UInt8](repeating: 0, count: b * tt * tt)
                var last = [UInt8](repeating: 0, count: b * tt)
                for r in 0..<b {
                    for q in 0..<tt {
                        for k in 0..<tt {
                            let v: UInt8 = k < t ? mask[r * t + k] : (q == tt - 1 ? 1 : 0)
                            full[(r * tt + q) * tt + k] = v
                        }
                    }
                    for k in 0..<tt { last[r * tt + k] = k < t ? mask[r * t + k] : 1 }
                }
                try hi.setBytes(hm.input("mask") ?? -1, full)
                try hi.setBytes(hm.input("last_mask") ?? -1, last)
                try hi.run(0)
                let g = try hi.floats(hm.output("generated") ?? -1)
                let total = model.generatedCount
                for (r, p) in items.enumerated() {
                    out.append(Evaluated(prepared: p, generated: Array(g[(r * total)..<((r + 1) * total)]), projected: nil))
                }
            }
            return out
        } catch let e as CompileError {
            throw e
        } catch {
            throw CompileError(.evaluation, "text encoder and HN (length \(t))", cause: error)
        }
    }
}

/// The pieces shared by every policy of one run: blobs, their indices, and cached evaluators.
final class EmitContext {
    var blobs: [(role: String, doc: VLADocument, bytes: [UInt8], sha: [UInt8], index: [String: Int])] = []
    /// Shared-blob policies (format 1.1): the HN tail's program (block length, built model, an evaluator for the
    /// test vectors).
    var hnTail: (length: Int, model: BuiltModel, eval: Interpreter)?
    /// Shared-blob policies: the base net after the backbone reading one flat `generated` input (the
    /// `policy-tail` program of the backbone blob), with an evaluator for the test vectors.
    var flatTail: (model: BuiltModel, eval: Interpreter)?
    var stepTailInputs: BuiltModel?
    var stepTailEval: Interpreter?
    var resetEval: [Int: (BuiltModel, Interpreter)] = [:]
    var resetEmit: [Int: BuiltModel] = [:]
    init() {}

    func ref(_ role: String) -> Int? { blobs.firstIndex { $0.role == role } }
}

extension Compiler {
    var metadataBase: Metadata {
        let c = model.config, s = model.statistics
        // The released MixActionHead: max_action · tanh(x / tanh_scaling_factor) when squash_continuous_action,
        // else no squash; unnormalization as action_proprio_normalization_type says.
        let squash = c.squashContinuousAction
        var action = ActionContract(
            actionDim: UInt32(c.actionDim), horizon: UInt32(c.horizon), squashedDims: squash ? UInt32(c.continuousDims) : 0,
            squashBound: squash ? c.maxAction : 0, gripper: .logitThreshold, gripperDim: UInt32(c.actionDim - 1),
            normalization: s.kind == .bounds ? .bounds : .meanStd, mean: s.mean, std: s.std, mask: s.mask, ensembling: .uniform,
            ensembleWindow: UInt32(c.horizon), rotation: .eulerToAxisAngle, robot: options.robot)
        if squash && c.tanhScalingFactor != c.maxAction { action.squashScale = c.tanhScalingFactor }
        return Metadata(
            instruction: "", model: ModelIdentity(name: model.name, digest: modelDigest), role: "policy", action: action,
            image: Self.imageContract(crop: options.crop, pad: Self.padsFrames(config: c, robot: options.robot)))
    }

    /// Whether the released evaluation pads this model's frames to 256 × 320 first: a model trained with
    /// `image_aug_style: "rtx"` is evaluated in SimplerEnv (google_robot, widowx_bridge) with `padded_resize`;
    /// the released LIBERO evaluation never pads. A policy for no robot follows the training frames (padded).
    public static func padsFrames(config: HyperVLAConfig, robot: RobotMapping) -> Bool {
        config.rtxImageAugmentation && robot != .libero
    }

    /// `images` preprocessed by `contract` and normalized like camera frames, `[224, 224, 3]` each.
    /// - Throws: `CompileError` `.model` naming the image whose size the contract cannot take.
    static func calibrationFrames(_ images: [CalibrationImage], contract: ImageContract) throws(CompileError) -> [(name: String, frame: [Float])] {
        let pre = ImagePreprocessor(contract: contract)
        var frames: [(name: String, frame: [Float])] = []
        for image in images {
            do { try pre.prepare(frame: image.rgb.span, frameHeight: image.height, frameWidth: image.width) } catch {
                throw CompileError(.model, "calibration frame \(image.name) (\(image.width)×\(image.height)): \(error)")
            }
            var frame = [Float](repeating: 0, count: Int(contract.height) * Int(contract.width) * 3)
            var out = frame.mutableSpan
            pre.normalize(into: &out)
            frames.append((image.name, frame))
        }
        return frames
    }

    /// The image contract of every policy: 224 × 224, TensorFlow's antialiased Lanczos-3 resize (after
    /// `resize_with_pad` to 256 × 320 for `pad`), HyperVLA's optional central crop of area 0.9, ImageNet mean
    /// and std.
    public static func imageContract(crop: Bool, pad: Bool = false) -> ImageContract {
        ImageContract(
            height: 224, width: 224, resize: pad ? .padLanczos3Antialias : .lanczos3Antialias, crop: crop ? .central : .none,
            cropArea: crop ? 0.9 : 0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    /// The policy's provenance: the options, with `dataset` naming the statistics' dataset when vlac picked it
    /// from the robot among several.
    var provenance: Provenance {
        var pairs = options.provenancePairs
        if model.statistics.chosenByRobot, let i = pairs.firstIndex(where: { $0.key == "dataset" }) {
            pairs[i].value = model.statistics.dataset
        }
        return Provenance(compiler: compilerVersion, sources: sources, options: pairs)
    }

    /// A shared blob's provenance: only what changes the blob's bytes, so that compiling one model for another
    /// robot, crop or dataset into the same folder writes no new blob. The backbone blob records the precision,
    /// how activations are quantized and the deviation measured on the test frame; the other blobs do not
    /// depend on `--precision` at all.
    func blobProvenance(_ role: String) -> Provenance {
        guard role == "backbone" else {
            return Provenance(compiler: compilerVersion, sources: sources, options: options.sharedBlobPairs)
        }
        var p = Provenance(compiler: compilerVersion, sources: sources, options: options.backbonePairs)
        let r = precisionReport
        switch r.precision {
        case .fp32: return p
        case .int8:
            p.options.append(.init(key: "int8.weights", value: "symmetric per output column, round half to even"))
            p.options.append(.init(key: "int8.activations", value: "per row with a zero point at run time (u8, linear_i8 flag bit 0), round half to even"))
        case .bf16:
            p.options.append(.init(key: "bf16.activations", value: "rounded to bf16 at run time, f32 accumulation"))
        }
        p.options.append(.init(key: "deviation.backbone.rel_l2", value: Self.figure(r.backbone.relativeL2)))
        p.options.append(.init(key: "deviation.backbone.max_abs", value: Self.figure(r.backbone.maxAbs)))
        return p
    }

    /// Builds the shared blobs (unless embedding) and the cached evaluators.
    func makeContext() throws(CompileError) -> EmitContext {
        let ctx = EmitContext()
        do {
            if !options.embedShared {
                // Each blob holds its programs (policies `call` them) and their weights; the backbone blob also
                // holds the fixed test frame that every policy's test vectors read.
                let frameEntry = TensorEntry(name: "test/frame", type: TensorType(.f32, [224, 224, 3]), location: .inline(frameBytes))
                let tail = try model.buildStepTail(leaves: .flat)
                ctx.flatTail = (tail, try Interpreter(document: tail.document, options: runtime))
                var parts: [(String, [BlobProgram], [TensorEntry])] = [
                    ("backbone", [
                        BlobProgram(name: "backbone", model: backbone, prefix: "backbone/", outputs: ["patch_tokens"]),
                        BlobProgram(name: "policy-tail", model: tail, prefix: "tail/"),
                    ], [frameEntry])
                ]
                if let fm = frozenModel {
                    parts.append(("frozen-encoder", [BlobProgram(name: "frozen-encoder", model: fm, prefix: "frozen/", outputs: ["cls"])], []))
                    let length = hnTailLength
                    let m = try model.buildResetHN(projected: nil, length: length, maskInput: true, flatOutput: true)
                    ctx.hnTail = (length, m, try Interpreter(document: m.document, options: runtime))
                    parts.append(("hn-tail", [BlobProgram(name: "hn-tail", model: m, prefix: "hn/")], []))
                }
                for (role, programs, extra) in parts {
                    // The blob's metadata has no crop: the image contract (like the action contract) is the policy's.
                    var blobMetadata = metadataBase
                    blobMetadata.image = Self.imageContract(crop: false)
                    let (doc, index) = sharedBlob(programs: programs, role: role, metadata: blobMetadata, provenance: blobProvenance(role), extra: extra)
                    // The identity comes from the writer's one pass over the bytes.
                    let (bytes, identity) = try VLAWriter.serializeWithIdentity(doc)
                    ctx.blobs.append((role, doc, bytes, identity, index))
                }
            }
            if model.config.useInitialImage && options.embedShared {
                let tail = try model.buildStepTail(leaves: .inputs)
                ctx.stepTailInputs = tail
                ctx.stepTailEval = try Interpreter(document: tail.document, options: runtime)
            }
        } catch {
            throw CompileError(.internalError, "building the shared parts", cause: error)
        }
        return ctx
    }

    /// The block length of the HN tail's program in the `hn-tail` blob: the tokenizer's length. An instruction's
    /// projected block is zero-padded to it and the padded rows are masked as keys (they get exactly zero weight).
    var hnTailLength: Int { max(1, (try? text.encode("a").ids.count) ?? 32) }

    /// Builds, evaluates and serializes one policy; returns its bytes and their SHA-256 identity (from the writer's pass).
    func emit(_ ev: Evaluated, ctx: EmitContext) throws(CompileError) -> PolicyBytes {
        if !ctx.blobs.isEmpty { return try emitCalling(ev, ctx: ctx) }
        let p = ev.prepared
        var A = Assembler()
        var refs: [SharedReference] = []
        var refIndex: [String: Int] = [:]
        func placement(_ role: String) -> Assembler.ConstantPlacement {
            guard let k = ctx.ref(role) else { return .inline }
            if refIndex[role] == nil {
                let blob = ctx.blobs[k]
                refIndex[role] = refs.count
                refs.append(SharedReference(sha256: blob.sha, role: role, size: UInt64(blob.bytes.count)))
            }
            return .external(ref: refIndex[role] ?? 0, index: ctx.blobs[k].index)
        }
        var programs: [Program] = []
        var expected: [Float] = []
        var deviation: PolicyDeviation?
        var resetInput: Int?
        do {
            if let generated = ev.generated {
                // use_initial_image = false: baked weights, step only.
                let tail = try model.buildStepTail(leaves: .constants(generated))
                let ti = try Interpreter(document: tail.document, options: runtime)
                let run = tailRunner(ti, tail)
                expected = try run(framePatches)
                deviation = try actionDeviation(expected, line: p, run)
                let bb = A.importPart(backbone, prefix: "backbone/", base: 0, constants: placement("backbone"))
                let base = (regionEnd(backbone) + 63) / 64 * 64
                let tp = A.importPart(tail, prefix: "policy/", base: base, constants: .inline, inputs: ["patch_tokens": .tensor(bb.outputs["patch_tokens"] ?? -1)])
                programs.append(Program(name: "step", inputs: [bb.inputs["pixel_values"] ?? -1], outputs: [tp.outputs["actions"] ?? -1], operations: bb.ops + tp.ops))
            } else if let projected = ev.projected, let fm = frozenModel, let stepTail = ctx.stepTailInputs, let se = ctx.stepTailEval {
                let n = p.prepared.count
                // Evaluate reset (HN tail on the test frame's CLS), then step.
                if ctx.resetEval[n] == nil {
                    let m = try model.buildResetHN(projected: nil, length: n)
                    ctx.resetEval[n] = (m, try Interpreter(document: m.document, options: runtime, constants: constants))
                }
                guard let (rm, ri) = ctx.resetEval[n] else { throw CompileError(.internalError, "reset evaluator") }
                try ri.setFloats(rm.input("cls") ?? -1, frameCLS)
                try ri.setFloats(rm.input("instruction.tokens") ?? -1, projected)
                try ri.run(0)
                for (name, _) in model.leaves {
                    let v = try ri.floats(rm.output("generated.\(name)") ?? -1)
                    try se.setFloats(stepTail.input("generated.\(name)") ?? -1, v)
                }
                let run = tailRunner(se, stepTail)
                expected = try run(framePatches)
                deviation = try actionDeviation(expected, line: p, run)
                // Persistent slots for the generated leaves.
                var slots: [String: UInt64] = [:]
                var off: UInt64 = 0
                for (name, shape) in model.leaves {
                    slots["generated.\(name)"] = off
                    off += (UInt64(shape.reduce(1, *) * 4) + 63) / 64 * 64
                }
                A.persistent = off
                A.arenaEnd = off
                // reset: frozen encoder, then the HN tail writing the slots.
                let fr = A.importPart(fm, prefix: "frozen/", base: off, constants: placement("frozen-encoder"))
                let hnBase = off + (regionEnd(fm) + 63) / 64 * 64
                let hn = A.importPart(
                    rm, prefix: "hn/", base: hnBase, constants: placement("hn-tail"),
                    inputs: ["cls": .tensor(fr.outputs["cls"] ?? -1), "instruction.tokens": .inline(projected)],
                    outputs: slots)
                resetInput = fr.inputs["pixel_values"]
                programs.append(Program(name: "reset", inputs: [fr.inputs["pixel_values"] ?? -1], outputs: [], operations: fr.ops + hn.ops))
                // step: backbone from the end of the slots, then the policy tail reading the slots.
                let bb = A.importPart(backbone, prefix: "backbone/", base: off, constants: placement("backbone"))
                let tailBase = off + (regionEnd(backbone) + 63) / 64 * 64
                var bind: [String: Assembler.InputBinding] = ["patch_tokens": .tensor(bb.outputs["patch_tokens"] ?? -1)]
                for (k, v) in slots { bind[k] = .arena(v) }
                let tp = A.importPart(stepTail, prefix: "policy/", base: tailBase, constants: .inline, inputs: bind)
                programs.append(Program(name: "step", inputs: [bb.inputs["pixel_values"] ?? -1], outputs: [tp.outputs["actions"] ?? -1], operations: bb.ops + tp.ops))
            } else {
                throw CompileError(.internalError, "nothing evaluated for line \(p.task.line)")
            }
        } catch let e as CompileError {
            throw e
        } catch {
            throw CompileError(.evaluation, "line \(p.task.line) \"\(p.task.text)\"", cause: error)
        }
        // Test vectors: reset (if any) then step on the fixed frame.
        let frameID = A.inlineBytes("test.frame", [224, 224, 3], frameBytes)
        let c = model.config
        let expectedID = A.inline("test.step.actions", [c.horizon, c.actionDim], expected)
        return try policyBytes(
            A, programs: programs, resetInput: resetInput, frame: frameID, expected: expectedID, refs: refs, line: p,
            deviation: deviation)
    }

    /// Builds, evaluates and serializes one policy that calls the programs of the shared blobs (format 1.1).
    ///
    /// The policy holds only what is instruction-specific. `step` is `call backbone` (frame → patch tokens), then
    /// `call policy-tail` (patch tokens and the flat generated parameters `[1, total]` → actions), both programs of
    /// the backbone blob. Without
    /// `use_initial_image` the generated parameters are one inline tensor; with it, `reset` is `call
    /// frozen-encoder` (frame → CLS) then `call hn-tail` (CLS, the instruction's projected block zero-padded to the
    /// tokenizer's length, its mask and the mask's last row → generated parameters into the persistent arena tensor). The test
    /// vectors read the fixed frame from the backbone blob (`test/frame`). Arena: `[0, persistent)` the generated
    /// parameters (use_initial_image only), then the frame, then the patch tokens (reset: the CLS), then the actions.
    func emitCalling(_ ev: Evaluated, ctx: EmitContext) throws(CompileError) -> PolicyBytes {
        let p = ev.prepared
        var A = Assembler()
        var refs: [SharedReference] = []
        func ref(_ role: String) throws(CompileError) -> (ref: Int, blob: VLADocument, index: [String: Int]) {
            guard let k = ctx.ref(role) else { throw CompileError(.internalError, "no \(role) blob") }
            let blob = ctx.blobs[k]
            if let r = refs.firstIndex(where: { $0.sha256 == blob.sha }) { return (r, blob.doc, blob.index) }
            refs.append(SharedReference(sha256: blob.sha, role: role, size: UInt64(blob.bytes.count)))
            return (refs.count - 1, blob.doc, blob.index)
        }
        func bytes(_ type: TensorType) -> UInt64 { UInt64(type.elementCount * type.dtype.byteWidth) }
        func aligned(_ n: UInt64) -> UInt64 { (n + 63) / 64 * 64 }
        /// An arena tensor at `offset`.
        func arena(_ name: String, _ type: TensorType, _ offset: UInt64) -> Int {
            A.tensors.append(TensorEntry(name: name, type: type, location: .arena(offset: offset)))
            A.arenaEnd = max(A.arenaEnd, offset + bytes(type))
            return A.tensors.count - 1
        }
        let c = model.config
        var programs: [Program] = []
        var expected: [Float] = []
        var deviation: PolicyDeviation?
        var resetInput: Int?
        do {
            guard let (tailModel, tailEval) = ctx.flatTail else { throw CompileError(.internalError, "no policy tail") }
            let bb = try ref("backbone")
            let bbProgram = bb.blob.programs[0]
            let frameType = bb.blob.tensors[bbProgram.inputs[0]].type
            let patchType = bb.blob.tensors[bbProgram.outputs[0]].type
            let generatedType = TensorType(.f32, [1, model.generatedCount])
            var persistent: UInt64 = 0
            let generatedID: Int
            let flat: [Float]
            if let generated = ev.generated {
                flat = generated
                generatedID = A.inline("generated", [1, model.generatedCount], generated)
            } else if let projected = ev.projected {
                let n = p.count, d = c.contextDim
                guard let hn = ctx.hnTail, n <= hn.length else { throw CompileError(.internalError, "no HN tail program for \(n) tokens") }
                let length = hn.length
                let block = projected + [Float](repeating: 0, count: (length - n) * d)
                let mask = model.resetMask(tokens: n, length: length)
                // What reset computes on the test frame: the same HN tail program the policy calls.
                try hn.eval.setFloats(hn.model.input("cls") ?? -1, frameCLS)
                try hn.eval.setFloats(hn.model.input("instruction.tokens") ?? -1, block)
                try hn.eval.setBytes(hn.model.input("instruction.mask") ?? -1, mask)
                let t = length + 2
                let lastRow = Array(mask[((t - 1) * t)...])
                try hn.eval.setBytes(hn.model.input("instruction.mask.layer_row") ?? -1, lastRow)
                try hn.eval.run(0)
                flat = try hn.eval.floats(hn.model.output("generated") ?? -1)
                // reset: the frozen encoder, then the HN tail writing the persistent generated parameters.
                let fr = try ref("frozen-encoder"), ht = try ref("hn-tail")
                let frProgram = fr.blob.programs[0]
                generatedID = arena("generated", generatedType, 0)
                persistent = aligned(bytes(generatedType))
                // The block is stored unpadded; reset pads it with rows of an arena tensor in the persistent region
                // that no op writes, so it keeps the zeros the arena starts with.
                var tokens = A.inline("instruction.tokens", [n, d], projected)
                var zeros: Int?
                if n < length {
                    zeros = arena("instruction.padding", TensorType(.f32, [length - n, d]), persistent)
                    persistent += aligned(UInt64((length - n) * d * 4))
                }
                A.persistent = persistent
                let pixels = arena("pixel_values", frameType, persistent)
                let cls = arena("reset/cls", fr.blob.tensors[frProgram.outputs[0]].type, persistent + aligned(bytes(frameType)))
                var padOps: [VLAFormat.Operation] = []
                if let zeros {
                    let full = arena("instruction.tokens.padded", TensorType(.f32, [length, d]), aligned(A.arenaEnd))
                    padOps.append(Operation(.concat, inputs: [tokens, zeros], outputs: [full], attributes: [0]))
                    tokens = full
                }
                A.tensors.append(TensorEntry(name: "instruction.mask", type: TensorType(.u8, [length + 2, length + 2]), location: .inline(mask)))
                let maskID = A.tensors.count - 1
                A.tensors.append(TensorEntry(name: "instruction.mask.layer_row", type: TensorType(.u8, [t]), location: .inline(lastRow)))
                let rowID = A.tensors.count - 1
                resetInput = pixels
                programs.append(Program(name: "reset", inputs: [pixels], outputs: [], operations: padOps + [
                    Operation(.call, inputs: [pixels], outputs: [cls], attributes: [UInt32(fr.ref), 0]),
                    Operation(.call, inputs: [cls, tokens, maskID, rowID], outputs: [generatedID], attributes: [UInt32(ht.ref), 0]),
                ]))
            } else {
                throw CompileError(.internalError, "nothing evaluated for line \(p.task.line)")
            }
            try tailEval.setFloats(tailModel.input("generated") ?? -1, flat)
            let run = tailRunner(tailEval, tailModel)
            expected = try run(framePatches)
            deviation = try actionDeviation(expected, line: p, run)
            // step: the backbone, then the policy tail.
            let tailProgram = bb.blob.programs[1]
            let pixels = resetInput ?? arena("pixel_values", frameType, persistent)
            let patchOffset = persistent + aligned(bytes(frameType))
            let patches = arena("patch_tokens", patchType, patchOffset)
            let actions = arena("actions", bb.blob.tensors[tailProgram.outputs[0]].type, patchOffset + aligned(bytes(patchType)))
            programs.append(Program(name: "step", inputs: [pixels], outputs: [actions], operations: [
                Operation(.call, inputs: [pixels], outputs: [patches], attributes: [UInt32(bb.ref), 0]),
                Operation(.call, inputs: [patches, generatedID], outputs: [actions], attributes: [UInt32(bb.ref), 1]),
            ]))
            // Test vectors: reset (if any) then step on the fixed frame, which the backbone blob stores.
            guard let frameIndex = bb.index["test/frame"] else { throw CompileError(.internalError, "the backbone blob has no test frame") }
            A.tensors.append(TensorEntry(name: "test/frame", type: frameType, location: .external(ref: bb.ref, index: frameIndex)))
        } catch let e as CompileError {
            throw e
        } catch {
            throw CompileError(.evaluation, "line \(p.task.line) \"\(p.task.text)\"", cause: error)
        }
        let frameID = A.tensors.count - 1
        let expectedID = A.inline("test/actions", [c.horizon, c.actionDim], expected)
        return try policyBytes(
            A, programs: programs, resetInput: resetInput, frame: frameID, expected: expectedID, refs: refs, line: p,
            deviation: deviation)
    }

    /// Runs a policy-tail evaluator (its other inputs already set) on patch tokens; returns the raw actions.
    func tailRunner(_ eval: Interpreter, _ m: BuiltModel) -> ([Float]) throws -> [Float] {
        { patches in
            try eval.setFloats(m.input("patch_tokens") ?? -1, patches)
            try eval.run(0)
            return try eval.floats(m.output("actions") ?? -1)
        }
    }

    /// With a reduced precision: the raw action chunk `expected` (computed on the reduced backbone's patch tokens
    /// of the test frame) against the same policy tail on the f32 backbone's, and the same on every calibration
    /// frame; refuses the policy when a relative L2 deviation is over the bound. `run` evaluates the policy tail
    /// on patch tokens. nil at fp32.
    func actionDeviation(_ expected: [Float], line p: Prepared, _ run: ([Float]) throws -> [Float]) throws -> PolicyDeviation? {
        guard options.precision != .fp32 else { return nil }
        let c = model.config
        var d = PolicyDeviation()
        func flips(_ a: [Float], _ b: [Float]) {
            for h in 0..<c.horizon {
                let i = h * c.actionDim + c.actionDim - 1
                guard i < a.count, i < b.count else { continue }
                d.gripperDecisions += 1
                if (a[i] >= 0) != (b[i] >= 0) { d.gripperFlips += 1 }
            }
        }
        let reference = try run(framePatchesFP32)
        d.testFrame = Deviation(expected, from: reference)
        flips(expected, reference)
        var worstFrame: String?
        for (k, pair) in calibrationPatches.enumerated() {
            let a = try run(pair.reduced), b = try run(pair.fp32)
            let one = Deviation(a, from: b)
            if one.relativeL2 > options.deviationBound, worstFrame == nil { worstFrame = options.calibration[k].name }
            d.calibration = d.calibration.worst(one)
            flips(a, b)
        }
        let bound = options.deviationBound
        if d.testFrame.relativeL2 > bound || d.calibration.relativeL2 > bound {
            let onTest = d.testFrame.relativeL2 > bound
            throw CompileError(
                .deviation,
                "line \(p.task.line): with the \(options.precision) backbone the raw action chunk deviates from fp32 by \(Self.percent(onTest ? d.testFrame.relativeL2 : d.calibration.relativeL2)) relative L2 on \(onTest ? "the test frame" : "calibration frame \(worstFrame ?? "?")") (max abs \(String(format: "%.3g", onTest ? d.testFrame.maxAbs : d.calibration.maxAbs)), \(d.gripperFlips) of \(d.gripperDecisions) gripper decisions flipped), over the bound of \(Self.percent(bound)) (--max-deviation); the policy was not written")
        }
        return d
    }

    /// The end of a built model's arena (its planned size).
    func regionEnd(_ m: BuiltModel) -> UInt64 { m.document.arenaSize }
}

extension Compiler.Prepared {
    var prepared: Compiler.Prepared { self }
}

/// One serialized policy: its bytes, their SHA-256 (from the writer's pass) and, with a reduced precision, what
/// it costs against fp32.
struct PolicyBytes {
    var bytes: [UInt8]
    var identity: [UInt8]
    var deviation: PolicyDeviation?
}

/// What a reduced-precision backbone costs one policy: its raw action chunk against the same policy on the f32
/// backbone.
public struct PolicyDeviation: Sendable, Hashable {
    /// On the fixed test frame (recorded in the policy's provenance; sets the step test vector's tolerance).
    public var testFrame = Deviation()
    /// The worst over the calibration frames.
    public var calibration = Deviation()
    /// Gripper decisions (the sign of the gripper logit, per chunk row and frame) that differ from fp32's.
    public var gripperFlips = 0
    /// Gripper decisions compared.
    public var gripperDecisions = 0

    /// Nothing measured yet.
    public init() {}
}

extension Compiler {
    /// The step test vector's tolerance: 1e-4 (what the f32 kernels of two machines may differ by), or with a
    /// reduced precision the raw chunk's largest deviation from fp32 on the test frame when that is larger.
    static func stepTolerance(_ d: PolicyDeviation?) -> Float {
        max(1e-4, Float(d?.testFrame.maxAbs ?? 0))
    }

    /// A measured figure as recorded in a file: three significant digits, so that the bytes do not depend on
    /// the last bits of the machine's f32 kernels.
    static func figure(_ x: Double) -> String { String(format: "%.3g", x) }
}

extension Compiler {
    /// The policy document around its programs: test vectors (`reset` on the fixed frame when there is one,
    /// then `step`, whose last program it is, expecting `expected`), metadata with the instruction, serialized
    /// with its whole-file SHA-256 (one hashing pass).
    func policyBytes(
        _ A: Assembler, programs: [Program], resetInput: Int?, frame: Int, expected: Int, refs: [SharedReference], line p: Prepared,
        deviation: PolicyDeviation? = nil
    ) throws(CompileError) -> PolicyBytes {
        var vectors: [TestVector] = []
        if let resetInput {
            vectors.append(TestVector(program: 0, inputs: [.init(target: resetInput, value: frame)], expected: [], tolerance: 0))
        }
        let step = programs.count - 1
        vectors.append(TestVector(
            program: step, inputs: [.init(target: programs[step].inputs[0], value: frame)],
            expected: [.init(target: programs[step].outputs[0], value: expected)], tolerance: Self.stepTolerance(deviation)))
        var meta = metadataBase
        meta.instruction = p.task.text
        var prov = provenance
        if let deviation {
            prov.options += [
                .init(key: "deviation.actions.rel_l2", value: Self.figure(deviation.testFrame.relativeL2)),
                .init(key: "deviation.actions.max_abs", value: Self.figure(deviation.testFrame.maxAbs)),
            ]
        }
        let doc = VLADocument(
            isSharedBlob: false, tensors: A.tensors, metadata: meta, programs: programs, arenaSize: A.arenaSize,
            provenance: prov, testVectors: vectors, sharedRefs: refs)
        do {
            let (bytes, identity) = try VLAWriter.serializeWithIdentity(doc)
            return PolicyBytes(bytes: bytes, identity: identity, deviation: deviation)
        } catch {
            throw CompileError(.internalError, "serializing the policy for line \(p.task.line)", cause: error)
        }
    }
}
