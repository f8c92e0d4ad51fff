import Foundation
import Testing
import VLAFormat
import VLAModels
import VLARuntime
@testable import VLACompiler

/// `vlac compile --precision` on the tiny demo model: the backbone blob's products in int8 or bf16, the
/// deviation from the f32 program measured, recorded, bounded, and the files verifying.
@Suite struct PrecisionTests {
    static func compiler(_ model: String, _ precision: Precision, embed: Bool = false, bound: Double? = nil, calibration: [(String, [Float])] = []) throws -> Compiler {
        var o = CompileOptions()
        o.precision = precision
        o.embedShared = embed
        o.maxDeviation = bound
        o.calibration = calibration.map { (name: $0.0, frame: $0.1) }
        return try Compiler(model: Paths.tiny + "/" + model, options: o)
    }

    static let tasks = TaskList(bytes: Array("pick coke can\nopen the top drawer\n".utf8), name: "t")

    @Test(arguments: [(Precision.int8, "model"), (.int8, "model-no-image"), (.bf16, "model"), (.bf16, "model-no-image")])
    func tinyModelCompilesAndVerifies(precision: Precision, model: String) throws {
        let c = try Self.compiler(model, precision)
        let out = Paths.temporary("precision-\(precision)-\(model)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try c.compile(tasks: Self.tasks, listName: "t", to: out)
        #expect(s.policies == 2 && s.failed == 0)
        let r = c.precisionReport
        #expect(r.precision == precision && r.convertedLinears == 13)  // 2 layers × (q, k, v, o, fc1, fc2), patch embedding
        #expect(r.backbone.relativeL2 > 0 && r.backbone.relativeL2 < precision.defaultBound, "\(r.backbone)")
        // The backbone blob: format 1.4 (every attention with bf16 products, flag bit 2; at int8 also every linear_i8
        // with the zero-point flag), every linear converted, the weights in the narrow type, the figures in provenance.
        // The patch embedding is a product (slices, concat, a linear), in bf16 at both precisions.
        let blobs = try FileManager.default.contentsOfDirectory(atPath: out + "/shared")
        let backbone = try VLAFile(path: out + "/shared/" + (try #require(blobs.first { $0.hasPrefix("backbone-") })))
        #expect(backbone.header.minor == 4)
        let attention = try #require(backbone.programs.first { $0.name == "backbone" }).operations.filter { $0.opcode == .attention }
        #expect(attention.count == 2 && attention.allSatisfy { $0.hasBF16Attention })
        let program = try #require(backbone.programs.first { $0.name == "backbone" })
        let op: OpCode = precision == .int8 ? .linearI8 : .linearBF16
        #expect(program.operations.filter { $0.opcode == .linearI8 }.count == (precision == .int8 ? 12 : 0))
        #expect(program.operations.filter { $0.opcode == .linearBF16 }.count == (precision == .int8 ? 1 : 13))
        #expect(!program.operations.contains { $0.opcode == .linear || $0.opcode == .patchEmbed })
        let patch = try #require(program.operations.first {
            $0.inputs.count > 1 && backbone.tensors[$0.inputs[1]].name.hasSuffix("patch_embeddings.projection.kernel")
        })
        #expect(patch.opcode == .linearBF16 && backbone.tensors[patch.inputs[1]].type.dtype == .bf16)
        for o in program.operations where o.opcode == op && o != patch {
            #expect(backbone.tensors[o.inputs[1]].type.dtype == (precision == .int8 ? .i8 : .bf16))
            #expect(o.attributes == (precision == .int8 ? [Layout.linearI8ZeroPoint] : []))
        }
        let options = Dictionary(backbone.provenance.options.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(options["precision"] == precision.description)
        #expect(options["deviation.backbone.rel_l2"] == Compiler.figure(r.backbone.relativeL2))
        // The policy-tail program (the policy's own generated weights) stays f32.
        let tail = try #require(backbone.programs.first { $0.name == "policy-tail" })
        #expect(!tail.operations.contains { $0.opcode.isReducedPrecisionLinear || $0.hasBF16Attention })
        // Policies: test vectors hold; the step vector's tolerance comes from the measured deviation.
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as? [String: Any])
        let mp = try #require(manifest["precision"] as? [String: Any])
        #expect(mp["mode"] as? String == precision.description && mp["convertedLinears"] as? Int == 13)
        for entry in try #require(manifest["policies"] as? [[String: Any]]) {
            let path = out + "/" + (try #require(entry["file"] as? String))
            let file = try VLAFile(path: path)
            let resolved = try SharedBlobResolver(searchPaths: SharedBlobResolver.defaultSearchPaths(forPolicyAt: path)).resolve(for: file)
            for v in try TestVectors.run(file: file, blobs: resolved) { #expect(v.passed, "\(path) vector \(v.index): \(v.maxAbsDifference)") }
            let d = try #require(entry["deviation"] as? [String: Any])
            let test = try #require(d["testFrame"] as? [String: Any])
            let maxAbs = try #require((test["maxAbs"] as? NSNumber)?.doubleValue)
            #expect(((test["relativeL2"] as? NSNumber)?.doubleValue ?? 1) < precision.defaultBound)
            let tolerance = try #require(file.testVectors.last?.tolerance)
            #expect(abs(Double(tolerance) - max(1e-4, maxAbs)) <= 1e-5 * maxAbs, "tolerance \(tolerance), max abs \(maxAbs)")
            #expect(d["gripperDecisions"] as? Int == c.model.config.horizon)
            #expect(file.provenance.options.contains { $0.key == "deviation.actions.rel_l2" })
        }
    }

    /// Only the backbone blob depends on the precision: the frozen encoder and HN tail are the fp32 run's files.
    @Test func otherBlobsAreSharedAcrossPrecisions() throws {
        let out = Paths.temporary("precision-shared")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try SharedCompilers.get(Paths.tiny + "/model").compile(tasks: Self.tasks, listName: "t", to: out + "/fp32")
        _ = try Self.compiler("model", .int8).compile(tasks: Self.tasks, listName: "t", to: out + "/int8")
        let a = try FileManager.default.contentsOfDirectory(atPath: out + "/fp32/shared").sorted()
        let b = try FileManager.default.contentsOfDirectory(atPath: out + "/int8/shared").sorted()
        #expect(a.filter { !$0.hasPrefix("backbone-") } == b.filter { !$0.hasPrefix("backbone-") })
        #expect(a.filter { $0.hasPrefix("backbone-") } != b.filter { $0.hasPrefix("backbone-") })
        // fp32 stays as before: no attention with bf16 products, a format below 1.4.
        let fp32 = try VLAFile(path: out + "/fp32/shared/" + (try #require(a.first { $0.hasPrefix("backbone-") })))
        #expect(fp32.header.minor < 4)
        #expect(fp32.programs.flatMap(\.operations).contains { $0.opcode == .attention })
        #expect(!fp32.programs.flatMap(\.operations).contains { $0.hasBF16Attention })
        #expect(!CompileOptions().provenancePairs.contains { $0.key == "precision" })
    }

    @Test func selfContainedPoliciesAtInt8() throws {
        let out = Paths.temporary("precision-embed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try Self.compiler("model-no-image", .int8, embed: true).compile(tasks: Self.tasks, listName: "t", to: out)
        #expect(s.policies == 2 && s.sharedBlobs == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: out + "/policies") {
            let file = try VLAFile(path: out + "/policies/" + name)
            #expect(file.header.minor == 4)
            #expect(file.programs.flatMap(\.operations).filter { $0.opcode == .linearI8 }.allSatisfy { $0.attributes == [Layout.linearI8ZeroPoint] })
            for v in try TestVectors.run(file: file, blobs: []) { #expect(v.passed, "\(name) vector \(v.index): \(v.maxAbsDifference)") }
        }
    }

    /// Over the bound: the compiler refuses before writing anything and names the products that hurt most.
    @Test func overTheBoundNothingIsWritten() throws {
        do throws(CompileError) {
            var o = CompileOptions()
            o.precision = .int8
            o.maxDeviation = 1e-5
            _ = try Compiler(model: Paths.tiny + "/model", options: o)
            Issue.record("accepted a deviation over 1e-5")
        } catch {
            #expect(error.code == .deviation)
            #expect(error.message.contains("over the bound of 0.001 %") && error.message.contains("hurt most"), "\(error)")
            #expect(error.message.contains("encoder.layer."), "\(error)")
            // The tiny model's patch embedding (a bf16 product at int8) hurts most: ranked from the backbone that has it.
            #expect(error.message.contains("embeddings.patch_embeddings.projection.kernel (bf16, "), "\(error)")
        }
    }

    /// A bound between the backbone's deviation and the largest policy's: the backbone passes, the policies over
    /// it are refused (reported per line, not written), the others are written.
    @Test func policiesOverTheBoundAreNotWritten() throws {
        let data = try #require(FileManager.default.contents(atPath: Paths.tiny + "/tasks.txt"))
        let tasks = TaskList(bytes: [UInt8](data), name: "tasks.txt")
        let probe = try Self.compiler("model", .int8)
        let out = Paths.temporary("precision-policy-bound")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try probe.compile(tasks: tasks, listName: "tasks.txt", to: out + "/probe")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/probe/manifest.json"))) as? [String: Any])
        let policyRel = try (manifest["policies"] as? [[String: Any]] ?? []).map { e -> Double in
            let d = try #require(e["deviation"] as? [String: Any]), t = try #require(d["testFrame"] as? [String: Any])
            return try #require((t["relativeL2"] as? NSNumber)?.doubleValue)
        }
        let backbone = probe.precisionReport.backbone.relativeL2
        let highest = try #require(policyRel.max())
        try #require(highest > backbone, "no raw chunk deviates more than the backbone here; the test needs one")
        let bound = (backbone + highest) / 2
        let over = policyRel.filter { $0 > bound }.count
        let c = try Self.compiler("model", .int8, bound: bound)
        var failures: [String] = []
        let s = try c.compile(tasks: tasks, listName: "tasks.txt", to: out + "/bounded") { e in
            if case .failed(_, let message) = e { failures.append(message) }
        }
        #expect(over > 0 && s.failed == over && s.policies == policyRel.count - over)
        #expect(failures.allSatisfy { $0.contains("raw action chunk deviates") && $0.contains("the policy was not written") }, "\(failures)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: out + "/bounded/policies")) ?? []).count == policyRel.count - over)
    }

    @Test func calibrationFramesAreMeasured() throws {
        let frames = try goldenFrames().prefix(2).enumerated().map { ("frame\($0.offset)", $0.element) }
        let c = try Self.compiler("model", .bf16, calibration: frames)
        #expect(c.precisionReport.calibrationFrames == 2 && c.precisionReport.calibrationBackbone.relativeL2 > 0)
        let out = Paths.temporary("precision-calibration")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks, listName: "t", to: out)
        let text = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
        #expect(text.contains("\"calibrationFrames\": 2"))
        #expect(!text.contains("\"calibration\": {\"relativeL2\": 0, \"maxAbs\": 0}"), "calibration figures missing:\n\(text)")
        // The calibration frames change the manifest only, never a file's bytes.
        let plain = Paths.temporary("precision-calibration-plain")
        defer { try? FileManager.default.removeItem(atPath: plain) }
        _ = try Self.compiler("model", .bf16).compile(tasks: Self.tasks, listName: "t", to: plain)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/policies").sorted() == FileManager.default.contentsOfDirectory(atPath: plain + "/policies").sorted())
    }

    /// Calibration images go through the model's own image contract: a model trained with `image_aug_style: "rtx"`
    /// gets the 256 × 320 pad first (as its camera frames will), a LIBERO policy of it does not.
    @Test func calibrationImagesUseTheModelsImageContract() throws {
        let copy = try Paths.copyOfTiny("precision-calibration-rtx")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let path = copy + "/model-no-image/config.json"
        let text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        try #require(text.contains("\"image_aug_style\": \"octo\""))
        try text.replacingOccurrences(of: "\"image_aug_style\": \"octo\"", with: "\"image_aug_style\": \"rtx\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        // A 90 × 300 frame: the pad changes it a lot (a wide band of zeros above and below).
        var rng = SplitMix(seed: 7)
        let image = CalibrationImage(name: "wide.png", height: 90, width: 300, rgb: (0..<(90 * 300 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        func expected(pad: Bool) throws -> [Float] {
            let pre = ImagePreprocessor(contract: Compiler.imageContract(crop: false, pad: pad))
            try pre.prepare(frame: image.rgb.span, frameHeight: image.height, frameWidth: image.width)
            var frame = [Float](repeating: 0, count: 224 * 224 * 3)
            var out = frame.mutableSpan
            pre.normalize(into: &out)
            return frame
        }
        for (robot, pad) in [(RobotMapping.widowxBridge, true), (.libero, false)] {
            var o = CompileOptions()
            o.precision = .bf16
            o.robot = robot
            o.dataset = "bridge_dataset"  // model-no-image's only dataset, whatever the robot
            o.textEncoder = copy + "/text-encoder"
            o.calibrationImages = [image]
            let c = try Compiler(model: copy + "/model-no-image", options: o)
            #expect(c.options.calibration.map(\.name) == ["wide.png"] && c.options.calibrationImages.isEmpty)
            let got = try #require(c.options.calibration.first).frame
            #expect(got == (try expected(pad: pad)), "\(robot)")
            #expect(got != (try expected(pad: !pad)), "\(robot)")
            #expect(c.precisionReport.calibrationFrames == 1)
        }
    }
}
