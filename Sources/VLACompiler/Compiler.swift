import Foundation
import VLAFormat
import VLAJSON
import VLAModels
import VLARuntime
import VLATokenizer

/// The version string recorded in every file the compiler writes.
public let compilerVersion = "vlac 0.1.0"

/// Options of `vlac compile` that change what is written (recorded in provenance and the manifest), and
/// the ones that do not (`threads`).
public struct CompileOptions: Sendable, Hashable {
    /// The T5 directory; nil: `<model>/text_encoder`.
    public var textEncoder: String?
    /// The frozen DINOv2 directory; nil: `<model>/vision_encoder`.
    public var visionEncoder: String?
    /// Which dataset's statistics (when `dataset_statistics.json` has several).
    public var dataset: String?
    /// Self-contained policies (no shared blobs).
    public var embedShared = false
    /// Instructions per T5/HN pass.
    public var batchSize = 8
    /// Kernel threads of each evaluator (does not change the bytes written).
    public var threads = 1
    /// Threads working on instructions at once: one evaluates a batch while the others emit (does not change
    /// the bytes written).
    public var jobs = 1
    /// The robot mapping of the action contract.
    public var robot: RobotMapping = .none
    /// HyperVLA's `--crop` (central crop of area 0.9).
    public var crop = false
    /// The number format of the backbone's matrix products (the shared `backbone` blob that `step` calls).
    public var precision: Precision = .fp32
    /// The largest relative L2 deviation from the f32 program allowed for the backbone's output and for each
    /// policy's raw action chunk, on the test frame and every calibration frame (nil: ``Precision/defaultBound``).
    /// Does not change the bytes written, only whether they are written.
    public var maxDeviation: Double?
    /// Calibration frames, normalized `[224, 224, 3]` like the test frame, with a name each for messages: the
    /// deviation is measured on them too (recorded in the manifest, not in the files).
    public var calibration: [(name: String, frame: [Float])] = []
    /// Calibration frames as decoded camera images: the compiler preprocesses them with the model's own image
    /// contract (the rtx pad where the config asks for it, the crop) and adds them to ``calibration``.
    public var calibrationImages: [CalibrationImage] = []

    /// Creates options with the defaults.
    public init() {}

    /// The options that change outputs, as provenance pairs, in a fixed order.
    var provenancePairs: [Provenance.Option] {
        [
            .init(key: "batch", value: String(batchSize)),
            .init(key: "embed-shared", value: embedShared ? "true" : "false"),
            .init(key: "dataset", value: dataset ?? ""),
            .init(key: "robot", value: robot.description),
            .init(key: "crop", value: crop ? "0.9" : "none"),
            .init(key: "test-frame", value: "vlac-pattern-1"),
        ] + (precision == .fp32 ? [] : [.init(key: "precision", value: precision.description)])
    }

    /// The provenance options of the blobs that `--precision` does not change (frozen encoder, HN tail): a
    /// model compiled at several precisions, for several robots, crops or datasets into one folder shares them.
    /// Only what changes a blob's bytes is recorded: the test frame it holds. The robot mapping, the crop and the
    /// dataset statistics are the policy's (its action and image contracts), the instruction batch only groups
    /// the per-instruction work, and blobs exist only without `--embed-shared`.
    var sharedBlobPairs: [Provenance.Option] { provenancePairs.filter { $0.key == "test-frame" } }

    /// The provenance options of the backbone blob: ``sharedBlobPairs`` and the precision of its products.
    var backbonePairs: [Provenance.Option] { provenancePairs.filter { $0.key == "test-frame" || $0.key == "precision" } }

    /// The deviation bound in force.
    public var deviationBound: Double { maxDeviation ?? precision.defaultBound }

    public static func == (a: CompileOptions, b: CompileOptions) -> Bool {
        a.textEncoder == b.textEncoder && a.visionEncoder == b.visionEncoder && a.dataset == b.dataset
            && a.embedShared == b.embedShared && a.batchSize == b.batchSize && a.threads == b.threads && a.jobs == b.jobs
            && a.robot == b.robot && a.crop == b.crop && a.precision == b.precision && a.maxDeviation == b.maxDeviation
            && a.calibration.map(\.name) == b.calibration.map(\.name) && a.calibration.map(\.frame) == b.calibration.map(\.frame)
            && a.calibrationImages == b.calibrationImages
    }

    public func hash(into h: inout Hasher) {
        h.combine(textEncoder); h.combine(visionEncoder); h.combine(dataset); h.combine(embedShared)
        h.combine(batchSize); h.combine(robot); h.combine(crop); h.combine(precision); h.combine(calibration.count)
        h.combine(calibrationImages.count)
    }
}

/// A decoded calibration image: RGB bytes, row-major `[height, width, 3]`.
public struct CalibrationImage: Sendable, Hashable {
    /// A name for messages (the file name).
    public var name: String
    public var height: Int
    public var width: Int
    public var rgb: [UInt8]

    public init(name: String, height: Int, width: Int, rgb: [UInt8]) {
        self.name = name
        self.height = height
        self.width = width
        self.rgb = rgb
    }
}

extension Precision {
    /// The default of `--max-deviation`: the relative L2 error allowed for the backbone output and each raw
    /// action chunk (int8: 0.1, bf16: 0.02, fp32: 0).
    public var defaultBound: Double {
        switch self {
        case .fp32: 0
        case .bf16: 0.02
        case .int8: 0.1
        }
    }
}

/// What a reduced precision costs against the f32 backbone, measured by the compiler (`vlac compile --precision`).
public struct PrecisionReport: Sendable {
    /// The precision of the backbone's products.
    public var precision: Precision
    /// The relative L2 bound in force (`--max-deviation`).
    public var bound: Double
    /// How many `linear` ops became `linear_i8` / `linear_bf16`.
    public var convertedLinears: Int
    /// The backbone's output (patch tokens) on the fixed test frame, against the f32 program.
    public var backbone = Deviation()
    /// The worst over the calibration frames.
    public var calibrationBackbone = Deviation()
    /// Calibration frames measured.
    public var calibrationFrames = 0
    /// The first calibration frame over the bound, if any.
    public var worstFrame: String?

    /// Creates an empty report.
    public init(precision: Precision, bound: Double, convertedLinears: Int) {
        self.precision = precision
        self.bound = bound
        self.convertedLinears = convertedLinears
    }
}

/// What the compiler reports while it works.
public enum CompileEvent: Sendable {
    /// A phase of the run starts (`"writing 3 shared blobs (345.2 MB)"`), for progress on a terminal.
    case phase(String)
    /// A warning about a line or an input (`tasks.txt:3: ...`).
    case warning(String)
    /// One instruction finished: `done` of `total`, its policy file (relative to OUT) and whether it was
    /// already up to date.
    case policy(done: Int, total: Int, instruction: String, file: String, bytes: Int, upToDate: Bool)
    /// One instruction failed; the others are still written.
    case failed(line: Int, message: String)
}

/// The end-of-run numbers.
public struct CompileSummary: Sendable {
    /// Policies written or found up to date.
    public var policies = 0
    /// Of those, the ones already up to date.
    public var upToDate = 0
    /// Shared blobs referenced.
    public var sharedBlobs = 0
    /// Bytes of policy files.
    public var policyBytes = 0
    /// Bytes of shared blobs.
    public var sharedBytes = 0
    /// The shared blobs, by role, file (relative to OUT) and size.
    public var sharedFiles: [(role: String, file: String, bytes: Int)] = []
    /// Failed instructions.
    public var failed = 0
    /// Seconds spent loading the model (hashing, weights, shared blobs).
    public var loadSeconds = 0.0
    /// Seconds spent compiling instructions (tokenize → T5 → HN → emit).
    public var compileSeconds = 0.0
    /// Seconds per phase (summed over threads).
    public var phases = PhaseTimes()
    /// Files of the previous run removed because the new manifest no longer names them.
    public var removed: [String] = []
    /// Files of the previous run kept although no entry names them (`--keep-stale`, or a failed instruction).
    public var kept: [String] = []
    /// Temporary files that killed runs left (`policies/NAME.vla.tmp-XXXXXX`, ...), removed at the start.
    public var temporariesRemoved: [String] = []
}

/// Compiles instructions into HyperVLA policies (`vlac compile`).
///
/// ```swift
/// let c = try Compiler(model: "Examples/hypervla-tiny", options: CompileOptions())
/// let summary = try c.compile(tasks: TaskList(bytes: bytes, name: "tasks.txt"), to: "out") { print($0) }
/// ```
///
/// `@unchecked Sendable`: every stored property is immutable after `init` (built documents are values, the
/// model's checkpoint bytes are read-only); each `compile` call makes its own interpreters.
public final class Compiler: @unchecked Sendable {
    /// The model.
    public let model: HyperVLAModel
    /// Options.
    public let options: CompileOptions
    let t5: T5Encoder
    /// T5's token-embedding table `[vocab, d_model]`, converted once.
    let t5Table: [Float]
    let text: TextProcessor
    let frozen: DINOv2?
    let backbone: BuiltModel
    let frozenModel: BuiltModel?
    let sources: [Provenance.Source]
    /// SHA-256 identifying the model (over every source's name and hash).
    public let modelDigest: [UInt8]
    let runtime: RuntimeOptions
    /// Constant copies shared by the evaluators of every token length (built from the same cached weights).
    let constants = ConstantPool()
    /// The fixed test frame (normalized, `[224, 224, 3]`) and what the shared parts compute on it.
    let frame: [Float]
    /// The frame's little-endian bytes (every policy embeds them).
    let frameBytes: [UInt8]
    let framePatches: [Float]
    let frameCLS: [Float]
    let loadSeconds: Double
    /// What the reduced precision costs against the f32 backbone (fp32: nothing measured).
    public let precisionReport: PrecisionReport
    /// With a reduced precision: the f32 backbone's patch tokens on the test frame, and per calibration frame the
    /// f32 and the reduced patch tokens (the policies' raw chunks are compared on them).
    let framePatchesFP32: [Float]
    let calibrationPatches: [(fp32: [Float], reduced: [Float])]

    /// Opens the model and the foundation-model directories, hashes every source file, builds the shared
    /// parts and evaluates them on the fixed test frame.
    ///
    /// Folders are checked before anything is loaded: a model folder that does not exist or lacks one of its
    /// files, an encoder folder that is missing (with the flag that names it), and a frozen encoder whose width
    /// does not fit the model are each reported once, before any work.
    ///
    /// - Parameters:
    ///   - directory: The HyperVLA model folder.
    ///   - options: What to compile.
    ///   - progress: Called with a short phrase as each loading phase starts (`"hashing 9 source files (1.2 MB)"`).
    /// - Throws: `CompileError` `.model` with every config/tensor problem listed.
    public init(model directory: String, options: CompileOptions = CompileOptions(), progress: (String) -> Void = { _ in }) throws(CompileError) {
        let start = Date()
        var options = options
        runtime = RuntimeOptions(threads: max(1, options.threads))
        progress("reading the model")
        try Self.checkModelFolder(directory)
        // Foundation-model directories: the flags, else named in config.json's "vlac" section (relative to
        // the model directory), else text_encoder/ or text-encoder/ (vision_encoder/ or vision-encoder/) inside it.
        var named: [String: String] = [:]
        var backboneJSON: JSONValue?
        var useInitialImage = true
        if let data = try Compiler.readIfPresent(directory + "/config.json"), let json = try? JSONValue(parsing: data) {
            if let v = json["vlac"] {
                for key in ["text_encoder", "vision_encoder"] {
                    if let s = v[key]?.string { named[key] = s.hasPrefix("/") ? s : directory + "/" + s }
                }
                backboneJSON = v["image_encoder_config"]
            }
            if let c = try? HyperVLAConfig(json: json) { useInitialImage = c.useInitialImage }
        }
        let textFolder = EncoderFolder(role: .text, flag: options.textEncoder, named: named["text_encoder"], model: directory)
        let visionFolder = EncoderFolder(role: .vision, flag: options.visionEncoder, named: named["vision_encoder"], model: directory)
        let textDir = textFolder.path, visionDir = visionFolder.path
        try textFolder.requireFolder()
        // The frozen encoder's weights are read only for use_initial_image; otherwise at most its config.json
        // (the backbone's architecture, unless config.json states it).
        if useInitialImage { try visionFolder.requireFolder() }
        var visionJSON: JSONValue = .null
        var visionConfig: DINOv2.Config?
        var frozenEncoder: DINOv2?
        var frozenConfig: DINOv2.Config?
        do {
            if let data = try Compiler.readIfPresent(visionDir + "/config.json") {
                do { visionJSON = try JSONValue(parsing: data) } catch {
                    throw CompileError(.model, "\(visionDir)/config.json: \(error)")
                }
                // The config alone first: the widths are checked before any weights are read.
                let config = try DINOv2(config: visionJSON, weights: InMemoryWeights(), checkWeights: false).config
                if useInitialImage { frozenConfig = config }
                if backboneJSON == nil { visionConfig = config }
            }
            if let backboneJSON {
                // The fine-tuned backbone's own architecture, when the model directory states it.
                visionJSON = backboneJSON
                visionConfig = try DINOv2(config: backboneJSON, weights: InMemoryWeights(), checkWeights: false).config
            }
            guard let visionConfig else {
                throw CompileError(
                    .model,
                    "\(visionDir)/config.json: not found, and \(directory)/config.json has no vlac.image_encoder_config: one of them gives the fine-tuned DINOv2 backbone's architecture\(useInitialImage ? "" : " (with use_initial_image = false only that config.json is read, no weights)"); \(visionFolder.remedy)")
            }
            model = try HyperVLAModel(directory: directory, dataset: options.dataset, robot: options.robot, backbone: visionConfig)
            if model.config.useInitialImage {
                guard let frozenConfig else {
                    throw CompileError(.model, "\(visionDir)/config.json: not found; the frozen DINOv2 folder is needed for use_initial_image = true (\(visionFolder.remedy))")
                }
                // The frozen encoder's CLS token feeds initial_image_projection: a wider or narrower encoder would
                // fail on every instruction, so it is refused here, before its weights are read or anything is written.
                guard frozenConfig.hiddenSize == model.frozenDim else {
                    throw CompileError(
                        .model,
                        "\(visionDir): DINOv2 hidden_size \(frozenConfig.hiddenSize) does not match initial_image_projection/kernel's input width \(model.frozenDim) (the frozen encoder's CLS token feeds it); pass the --vision-encoder DIR the model was trained with")
                }
                progress("reading the vision encoder")
                switch try FoundationModel.open(directory: visionDir) {
                case .dinov2(let m): frozenEncoder = m
                default: throw CompileError(.model, "\(visionDir): not a DINOv2 folder (\(visionFolder.remedy))")
                }
            }
            progress("reading the text encoder")
            switch try FoundationModel.open(directory: textDir) {
            case .t5(let m): t5 = m
            default: throw CompileError(.model, "\(textDir): not a T5 folder (\(textFolder.remedy))")
            }
        } catch let e as CompileError {
            throw e
        } catch let e as ModelError {
            throw CompileError(.model, e.description)
        } catch {
            throw CompileError(.model, "\(error)")
        }
        do { t5Table = try t5.embeddingTable() } catch { throw CompileError(.model, "\(textDir): \(error)") }
        if t5.config.dModel != model.textDim {
            throw CompileError(.model, "\(textDir): T5 d_model \(t5.config.dModel) does not match task_token_projection/kernel's input width \(model.textDim)")
        }
        // Tokenizer: tokenizer.json preferred (transformers' T5 tokenizer), else spiece.model.
        var processor: TextProcessor?
        for name in ["tokenizer.json", "spiece.model"] {
            guard let data = try Compiler.readIfPresent(textDir + "/" + name) else { continue }
            do { processor = try TextProcessor.hyperVLA(fileBytes: data, fileName: name) } catch {
                throw CompileError(.model, "\(textDir)/\(name): \(error)")
            }
            break
        }
        guard let processor else { throw CompileError(.model, "\(textDir): no tokenizer.json or spiece.model (\(textFolder.remedy))") }
        text = processor
        frozen = model.config.useInitialImage ? frozenEncoder : nil
        // Sources: every file of the three directories, by role-relative name.
        var toHash: [(path: String, name: String)] = []
        for (name, path) in model.files { toHash.append((path, "model/" + name)) }
        for (role, dir) in [("text-encoder", textDir), ("vision-encoder", visionDir)] {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            for f in files {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue, !f.hasPrefix(".") else { continue }
                // The frozen encoder's weights matter only when it is used; its config always does.
                if role == "vision-encoder", !model.config.useInitialImage, f != "config.json" { continue }
                toHash.append((dir + "/" + f, role + "/" + f))
            }
        }
        let hashBytes = toHash.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1.path)[.size] as? Int) ?? 0) }
        progress("hashing \(toHash.count) source files (\(Self.megabytes(hashBytes)))")
        let src = try Self.hashFiles(toHash, jobs: options.jobs)
        sources = src
        var h = VLAFormat.SHA256()
        for s in src {
            h.update(Array(s.name.utf8) + [0])
            h.update(s.sha256)
        }
        modelDigest = h.finalize()
        _ = visionJSON
        let fp32Backbone: BuiltModel, reducible: BuiltModel
        var converted: [String] = [], keptBF16: Set<String> = []
        progress("building the backbone")
        do {
            let bbConfig = try DINOv2(config: visionJSON, weights: InMemoryWeights(), checkWeights: false).config
            let bb = try DINOv2(config: visionJSON, weights: model.backboneWeights(config: bbConfig))
            fp32Backbone = try bb.build(height: 224, width: 224, interpolation: .jaxBicubic)
            // Reduced precision converts the patch embedding too: built as its product (a `linear`, the same f32
            // bits as `patch_embed`), which the conversion then treats like the others.
            reducible = options.precision == .fp32
                ? fp32Backbone : try bb.build(height: 224, width: 224, interpolation: .jaxBicubic, patchEmbeddingAsProduct: true)
            keptBF16 = [bb.patchKernelName]
            (backbone, converted) = ReducedPrecision.apply(reducible, precision: options.precision, keepingBF16: keptBF16)
            frozenModel = try frozen?.build(height: 224, width: 224, interpolation: .jaxBicubic)
        } catch {
            throw CompileError(.model, "backbone: \(error)")
        }
        frame = Self.testFrame()
        frameBytes = Bytes.of(frame)
        // Calibration images through this model's image contract, as camera frames will be.
        options.calibration += try Self.calibrationFrames(
            options.calibrationImages,
            contract: Self.imageContract(crop: options.crop, pad: Self.padsFrames(config: model.config, robot: options.robot)))
        options.calibrationImages = []
        self.options = options
        progress("evaluating the backbone on the test frame")
        do {
            let ib = try Interpreter(document: backbone.document, options: runtime)
            func patches(_ i: Interpreter, _ m: BuiltModel, _ f: [Float]) throws -> [Float] {
                try i.setFloats(m.input("pixel_values") ?? -1, f)
                try i.run(0)
                return try i.floats(m.output("patch_tokens") ?? -1)
            }
            framePatches = try patches(ib, backbone, frame)
            var report = PrecisionReport(precision: options.precision, bound: options.deviationBound, convertedLinears: converted.count)
            if options.precision != .fp32 {
                // The f32 program of the same model on the same frames: what the reduced precision costs.
                let fi = try Interpreter(document: fp32Backbone.document, options: runtime)
                framePatchesFP32 = try patches(fi, fp32Backbone, frame)
                report.backbone = Deviation(framePatches, from: framePatchesFP32)
                var calibration: [(fp32: [Float], reduced: [Float])] = []
                for (name, f) in options.calibration {
                    let pair = (try patches(fi, fp32Backbone, f), try patches(ib, backbone, f))
                    let d = Deviation(pair.1, from: pair.0)
                    report.calibrationBackbone = report.calibrationBackbone.worst(d)
                    if d.relativeL2 > report.bound, report.worstFrame == nil { report.worstFrame = name }
                    calibration.append(pair)
                }
                calibrationPatches = calibration
                report.calibrationFrames = options.calibration.count
            } else {
                framePatchesFP32 = framePatches
                calibrationPatches = []
            }
            precisionReport = report
            if let fm = frozenModel {
                let fi = try Interpreter(document: fm.document, options: runtime)
                try fi.setFloats(fm.input("pixel_values") ?? -1, frame)
                try fi.run(0)
                frameCLS = try fi.floats(fm.output("cls") ?? -1)
            } else {
                frameCLS = []
            }
        } catch {
            throw CompileError(.evaluation, "evaluating the backbone on the test frame", cause: error)
        }
        loadSeconds = Date().timeIntervalSince(start)
        let r = precisionReport
        if r.precision != .fp32, max(r.backbone.relativeL2, r.calibrationBackbone.relativeL2) > r.bound {
            let frameName = r.backbone.relativeL2 > r.bound ? "the test frame" : "calibration frame \(r.worstFrame ?? "?")"
            let worst = Self.worstProducts(
                reducible, converted: converted, precision: options.precision, bf16: keptBF16, reference: framePatchesFP32, runtime: runtime)
            throw CompileError(
                .deviation,
                "\(r.precision) backbone output deviates from fp32 by \(Self.percent(max(r.backbone.relativeL2, r.calibrationBackbone.relativeL2))) relative L2 on \(frameName), over the bound of \(Self.percent(r.bound)) (--max-deviation); nothing was written. \(worst)Use a higher precision (--precision bf16 or fp32) or raise --max-deviation")
        }
    }

    /// Which products hurt most: the backbone with only one product converted at a time, measured on the test
    /// frame (one forward pass per product), the three worst named. Empty when it cannot be measured.
    static func worstProducts(
        _ model: BuiltModel, converted: [String], precision: Precision, bf16: Set<String>, reference: [Float], runtime: RuntimeOptions
    ) -> String {
        var ranked: [(name: String, d: Deviation)] = []
        let frame = testFrame()
        for name in converted {
            let one = ReducedPrecision.apply(model, precision: precision, only: [name], keepingBF16: bf16).model
            guard let i = try? Interpreter(document: one.document, options: runtime),
                (try? i.setFloats(one.input("pixel_values") ?? -1, frame)) != nil, (try? i.run(0)) != nil,
                let out = try? i.floats(one.output("patch_tokens") ?? -1)
            else { return "" }
            ranked.append((name, Deviation(out, from: reference)))
        }
        ranked.sort { $0.d.relativeL2 > $1.d.relativeL2 }
        guard !ranked.isEmpty else { return "" }
        // A weight kept bf16 at int8 was measured as bf16: say so.
        let list = ranked.prefix(3).map { r in
            "\(r.name) (\(precision == .int8 && bf16.contains(r.name) ? "bf16, " : "")\(percent(r.d.relativeL2)) alone)"
        }.joined(separator: ", ")
        return "The products that hurt most, each converted alone: \(list). "
    }

    /// `0.0123` → `"1.23 %"`.
    static func percent(_ x: Double) -> String { x.isFinite ? String(format: "%.3g %%", x * 100) : "\(x)" }

    /// The fixed test frame every policy's test vectors use: a deterministic uint8 pattern, then /255 and
    /// ImageNet mean/std, `[224, 224, 3]`.
    public static func testFrame() -> [Float] {
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        var out = [Float](repeating: 0, count: 224 * 224 * 3)
        var s: UInt32 = 0x1234_5678
        for y in 0..<224 {
            for x in 0..<224 {
                for c in 0..<3 {
                    s = s &* 1_664_525 &+ 1_013_904_223
                    let smooth = (x * 3 + y * 2 + c * 60) % 256
                    let v = UInt8((smooth + Int(s >> 28)) % 256)
                    out[(y * 224 + x) * 3 + c] = (Float(v) / 255 - mean[c]) / std[c]
                }
            }
        }
        return out
    }

    /// Hashes `files` in order, on up to `jobs` threads (largest files first).
    /// The bytes of a file a model folder may hold (a config, a tokenizer), or nil if it is not there.
    /// - Throws: `CompileError` `.model` when something other than a regular file is there (a FIFO would
    ///   otherwise block the compile forever) or it cannot be read.
    static func readIfPresent(_ path: String) throws(CompileError) -> [UInt8]? {
        do { return try RegularFile.read(path) } catch { throw CompileError(.model, error.message) }
    }

    static func hashFiles(_ files: [(path: String, name: String)], jobs: Int) throws(CompileError) -> [Provenance.Source] {
        if jobs <= 1 || files.count < 2 {
            var out: [Provenance.Source] = []
            for f in files { out.append(try hashFile(f.path, name: f.name)) }
            return out
        }
        let sizes = files.map { (try? FileManager.default.attributesOfItem(atPath: $0.path)[.size] as? Int) ?? 0 }
        let order = UncheckedBox(files.indices.sorted { sizes[$0] > sizes[$1] })
        let results = ResultSlots<Result<Provenance.Source, CompileError>>(count: files.count)
        let input = UncheckedBox(files)
        DispatchQueue.concurrentPerform(iterations: min(jobs, files.count)) { _ in
            while let k = results.claim() {
                let i = order.value[k], f = input.value[i]
                do throws(CompileError) { results.set(i, .success(try hashFile(f.path, name: f.name))) } catch {
                    results.set(i, .failure(error))
                }
            }
        }
        var out: [Provenance.Source] = []
        for r in results.values { if let r { out.append(try r.get()) } }
        return out
    }

    static func hashFile(_ path: String, name: String) throws(CompileError) -> Provenance.Source {
        guard let fh = FileHandle(forReadingAtPath: path) else { throw CompileError(.model, "\(path): cannot read") }
        defer { try? fh.close() }
        var h = VLAFormat.SHA256()
        var size: UInt64 = 0
        while true {
            let chunk = fh.readData(ofLength: 1 << 24)
            if chunk.isEmpty { break }
            size += UInt64(chunk.count)
            chunk.withUnsafeBytes { h.update($0) }
        }
        return Provenance.Source(name: name, sha256: h.finalize(), size: size)
    }

    // MARK: tokenization

    /// One tokenized instruction.
    struct Prepared {
        var task: TaskLine
        var ids: [Int32]
        var mask: [UInt8]
        /// Real tokens (including `</s>`), ≤ 32.
        var count: Int
    }

    func prepare(_ task: TaskLine, listName: String, warn: (String) -> Void) throws(CompileError) -> Prepared {
        let e: Encoding
        do { e = try text.encode(task.text) } catch {
            throw CompileError(.taskList, "\(listName):\(task.line): cannot tokenize", cause: error)
        }
        let count = e.attentionMask.reduce(0) { $0 + Int($1) }
        if count >= e.ids.count, let full = try? text.tokenizer.encode(task.text, postProcessing: PostProcessing()), full.ids.count + 1 > e.ids.count {
            warn("\(listName):\(task.line): \(full.ids.count + 1) tokens with </s>, over the limit of \(e.ids.count); truncated as the reference tokenizer does")
        }
        guard count >= 1 else { throw CompileError(.taskList, "\(listName):\(task.line): no tokens") }
        return Prepared(task: task, ids: e.ids, mask: e.attentionMask.map { UInt8($0) }, count: count)
    }

    /// The sequence length an instruction of `count` real tokens is evaluated at: the next multiple of 8
    /// (at most the tokenizer's 32). Padded positions are masked as keys everywhere, so the result is that
    /// of the reference's 32-token call; the bucket depends only on the instruction, never on its batch.
    static func bucket(_ count: Int, max: Int) -> Int { Swift.min(max, (count + 7) / 8 * 8) }
}
