import ArgumentParser
import Foundation
import VLACompiler
import VLAFormat
import VLARuntime

#if canImport(Glibc)
import Glibc
#endif

/// `vlac compile`: one verified policy file per instruction, shared blobs by hash, and a manifest.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a HyperVLA model and a list of instructions into policy files.",
        discussion: """
            Everything that depends only on the instruction is computed now: the instruction is tokenized \
            (T5, at most 32 tokens, </s>, padding 0), encoded by the T5 encoder and fed to the hypernetwork. \
            With use_initial_image = false the generated policy weights are baked into the policy, which has \
            one program, step. With use_initial_image = true (the released configuration) the policy holds \
            the instruction's projected token block and a reset program that runs the frozen DINOv2 on the \
            episode's first frame and the hypernetwork's tail, writing the weights that step reads.

            Writes OUT/policies/<slug>-<hash8>.vla (one per distinct instruction), OUT/shared/<role>-<sha256>.vla \
            (the fine-tuned backbone; for use_initial_image also the frozen encoder and the HN tail) and \
            OUT/manifest.json (last). Files are written atomically; unchanged files are not rewritten, and \
            instructions whose manifest entry is still valid are skipped. After the new manifest is written, \
            the files the previous manifest named and the new one does not (an instruction dropped from the \
            list, blobs of a changed model) are removed, if they still hold the bytes vlac wrote; \
            --keep-stale keeps them. Nothing else in OUT is touched.

            While it runs, a compile holds a lock on OUT (OUT/.vlac-compile.lock, deleted at the end): a second \
            compile into the same folder fails at once, naming the process that holds it. A compile killed at \
            any moment leaves no partial file under a final name and a manifest whose files are all complete; \
            the next run removes the temporary files (*.vla.tmp-XXXXXX) and the files the killed run wrote \
            that no manifest names, and rewrites what is missing or wrong.

            tasks.txt: one instruction per line; blank lines and # comments are skipped; duplicates are \
            compiled once; a line over 32 tokens is truncated with a warning naming the line. A line that \
            fails is reported as FILE:LINE and the others are still written (--strict stops instead).

            --precision sets the number format of the backbone that every step runs (the shared backbone \
            blob; the frozen encoder, the hypernetwork and the policy's own weights stay fp32): fp32 (the \
            default), bf16 (weights bf16, activations rounded to bf16, f32 sums; AMX or AVX-512 on x86, \
            BFMMLA or Advanced SIMD on Arm) or int8 (weights int8 per output column, activations 8-bit per token \
            with a zero point at run time (format 1.4), exact int32 sums; AMX or AVX-512 VNNI on x86, SMMLA or \
            SDOT on Arm); with bf16 and int8, attention's two products also take bf16 operands with f32 sums (AMX \
            where the CPU has it, else the f32 kernel on bf16-rounded values), and the patch embedding \
            becomes a bf16 product (at int8 too: it hurts most there). The compiler then \
            measures what it costs: the \
            backbone's output and each policy's raw action chunk against the fp32 program, on the built-in \
            test frame and on every image in --calibration DIR (PNG or PPM, preprocessed like camera frames), \
            records the figures in the backbone blob, the policies and manifest.json, and refuses (writes \
            nothing for) a backbone or a policy whose relative L2 deviation is over --max-deviation.

            Examples (in Examples/hypervla-tiny):
              vlac compile --instructions tasks.txt --model model -o out
              vlac verify out/policies/open-the-top-drawer-12fedafa.vla
              vlac compile --instructions tasks.txt --model model -o out --precision int8
            """)

    @Option(name: .customLong("instructions"), help: ArgumentHelp("The task list: one instruction per line (- reads standard input).", valueName: "tasks.txt"))
    var instructions: String

    @Option(help: ArgumentHelp("The HyperVLA model directory (config.json, dataset_statistics.json, params.*).", valueName: "dir"))
    var model: String

    @Option(help: ArgumentHelp("The T5 text-encoder directory (default: named in config.json, else MODEL/text_encoder or MODEL/text-encoder).", valueName: "dir"))
    var textEncoder: String?

    @Option(help: ArgumentHelp("The frozen DINOv2 directory (default: named in config.json, else MODEL/vision_encoder or MODEL/vision-encoder).", valueName: "dir"))
    var visionEncoder: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The output directory.", valueName: "out"))
    var output: String

    @Flag(help: "Write self-contained policies (shared parts embedded) instead of shared blobs.")
    var embedShared = false

    @Option(help: ArgumentHelp("Which dataset's action statistics in a dataset_statistics.json keyed by dataset name (default: the one the released evaluation uses for --robot, else the only one).", valueName: "name"))
    var dataset: String?

    @Option(help: ArgumentHelp("Robot gripper mapping: none, google_robot, widowx_bridge or libero.", valueName: "robot"))
    var robot: String = "none"

    @Flag(help: "Record HyperVLA's --crop in the image contract (central crop of area 0.9).")
    var crop = false

    @Option(help: ArgumentHelp("Instructions per T5/HN pass.", valueName: "n"))
    var batch: Int = 8

    @Option(help: ArgumentHelp("Threads working on instructions: each evaluates batches (T5 and the HN) and emits and writes policies; the weights are shared (the bytes written do not depend on it).", valueName: "n"))
    var jobs: Int = 1

    @Flag(help: "Keep the files of the previous run that the new manifest no longer names (they are listed as stale in it and removed by a later run without this flag).")
    var keepStale = false

    @Option(help: ArgumentHelp("Number format of the backbone's products: fp32, bf16 or int8.", valueName: "precision"))
    var precision: String = "fp32"

    @Option(help: ArgumentHelp("Largest relative L2 deviation from fp32 allowed for the backbone output and each raw action chunk, on the test frame and every calibration frame (default: 0.1 for int8, 0.02 for bf16).", valueName: "x"))
    var maxDeviation: Double?

    @Option(help: ArgumentHelp("A folder of PNG or PPM camera frames on which to measure the deviation of --precision (besides the built-in test frame).", valueName: "dir"))
    var calibration: String?

    @Flag(help: "Stop at the first failing instruction.")
    var strict = false

    @Flag(name: .shortAndLong, help: "No progress output (warnings and errors are still printed).")
    var quiet = false

    @Flag(help: "Print a JSON summary on standard output (policies, shared blobs, failures by line; Schemas/compile-summary.schema.json) instead of the summary lines.")
    var json = false

    func validate() throws {
        if batch < 1 || batch > 256 { throw ValidationError("--batch must be in 1...256") }
        if jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be in 1...64") }
        if !["none", "google_robot", "widowx_bridge", "libero"].contains(robot) {
            throw ValidationError("--robot must be none, google_robot, widowx_bridge or libero")
        }
        if Precision(rawValue: precision) == nil { throw ValidationError("--precision must be fp32, bf16 or int8, not \"\(precision)\"") }
        if let m = maxDeviation, !(m.isFinite && m >= 0) { throw ValidationError("--max-deviation must be a finite number ≥ 0") }
        if calibration != nil && precision == "fp32" { throw ValidationError("--calibration measures the deviation of --precision bf16 or int8; with fp32 there is none") }
        if maxDeviation != nil && precision == "fp32" { throw ValidationError("--max-deviation bounds the deviation of --precision bf16 or int8; with fp32 there is none") }
    }

    func run() throws {
        let (bytes, listName) = try Self.readTaskList(instructions)
        let tasks = TaskList(bytes: bytes, name: listName)
        let stderr = StandardError()
        for w in tasks.warnings { stderr.write("warning: \(w)\n") }
        for e in tasks.errors { stderr.write("error: \(e)\n") }
        if strict, let first = tasks.errors.first { throw CommandFailure(first) }
        var report = CompileReport(output: output, failures: tasks.failures)
        if tasks.tasks.isEmpty && !tasks.errors.isEmpty {
            // Nothing could be read (a UTF-16 file, say): the model is not loaded and OUT is not touched.
            if json { print(report.json().serialized()) }
            throw ExitCode(1)
        }
        var options = CompileOptions()
        options.textEncoder = textEncoder
        options.visionEncoder = visionEncoder
        options.dataset = dataset
        options.embedShared = embedShared
        options.batchSize = batch
        options.jobs = jobs
        options.crop = crop
        options.robot = ["none": .none, "google_robot": .googleRobot, "widowx_bridge": .widowxBridge, "libero": .libero][robot] ?? .none
        options.precision = Precision(rawValue: precision) ?? .fp32
        options.maxDeviation = maxDeviation
        if let calibration { options.calibrationImages = try Self.calibrationImages(calibration) }
        // Progress (phases, then a bar) only on a terminal; a log gets one line per policy.
        let tty = isatty(2) == 1 && !quiet
        let start = Date()
        let phase = { (what: String) in
            if tty { stderr.write("\r\u{1B}[K\(what) … (\(String(format: "%.1f", Date().timeIntervalSince(start))) s)") }
        }
        let compiler = try Compiler(model: model, options: options, progress: phase)
        let lines = Dictionary(tasks.tasks.map { ($0.text, $0.line) }, uniquingKeysWith: { a, _ in a })
        let summary = try compiler.compile(tasks: tasks, listName: listName, to: output, strict: strict, keepStale: keepStale) { event in
            switch event {
            case .phase(let what):
                phase(what)
            case .warning(let w):
                if tty { stderr.write("\r\u{1B}[K") }
                stderr.write("warning: \(w)\n")
            case .failed(let line, let message):
                if tty { stderr.write("\r\u{1B}[K") }
                stderr.write("error: \(listName):\(line): \(message)\n")
                report.failures.append(TaskLineFailure(line: line, message: message))
            case .policy(let done, let total, let instruction, let file, let bytes, let upToDate):
                report.policies.append(.init(instruction: instruction, line: lines[instruction] ?? 0, file: file, bytes: bytes, upToDate: upToDate))
                guard !quiet && !json else { return }
                let elapsed = Date().timeIntervalSince(start)
                let rate = elapsed > 0 ? Double(done) / elapsed : 0
                let eta = rate > 0 ? Double(total - done) / rate : 0
                if tty {
                    let width = 24
                    let filled = total > 0 ? width * done / total : width
                    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                    stderr.write("\r\u{1B}[K[\(bar)] \(done)/\(total) \(String(format: "%.1f", rate))/s ETA \(String(format: "%.0f", eta))s  \(instruction.prefix(40))")
                } else {
                    stderr.write("\(done)/\(total) \(upToDate ? "up to date" : "compiled") \(file)\n")
                }
            }
        }
        report.shared = summary.sharedFiles
        report.removed = summary.removed
        report.kept = summary.kept
        let failed = report.failures.count
        if tty { stderr.write("\r\u{1B}[K") }
        if !quiet && !json {
            let t = Date().timeIntervalSince(start)
            stderr.write(
                "\(summary.policies) policies (\(summary.upToDate) up to date, \(summary.policyBytes) bytes), \(summary.sharedBlobs) shared blobs (\(summary.sharedBytes) bytes), \(failed) failed; load \(String(format: "%.2f", summary.loadSeconds)) s, compile \(String(format: "%.2f", t)) s\n")
            let p = summary.phases
            let f = { (x: Double) in String(format: "%.2f", x) }
            stderr.write("CPU time (summed over jobs): shared parts \(f(p.context)) s, T5+HN \(f(p.evaluate)) s, emit \(f(p.emit)) s, hash+write \(f(p.write)) s\n")
        }
        if !summary.temporariesRemoved.isEmpty {
            stderr.write("removed \(summary.temporariesRemoved.count) temporary files of an interrupted run\n")
        }
        for file in summary.removed where !quiet && !json { stderr.write("removed stale \(file)\n") }
        if !summary.removed.isEmpty || !summary.kept.isEmpty {
            stderr.write("\(summary.removed.count) stale files removed, \(summary.kept.count) kept\(summary.kept.isEmpty ? "" : " (listed as stale in manifest.json)")\n")
        }
        let r = compiler.precisionReport
        if !quiet && !json && r.precision != .fp32 {
            let f = { (x: Double) in String(format: "%.3g", x) }
            stderr.write(
                "precision \(r.precision): \(r.convertedLinears) products converted; backbone output vs fp32: relative L2 \(f(r.backbone.relativeL2)), max abs \(f(r.backbone.maxAbs)) on the test frame"
                    + (r.calibrationFrames > 0 ? "; worst of \(r.calibrationFrames) calibration frames: relative L2 \(f(r.calibrationBackbone.relativeL2)), max abs \(f(r.calibrationBackbone.maxAbs))" : "")
                    + " (bound \(f(r.bound)); per policy in manifest.json)\n")
        }
        if json { print(report.json().serialized()) }
        if failed > 0 { throw ExitCode(1) }
    }

    /// The bytes of the task list and the name messages give it: `-` is standard input (`<stdin>`); any other
    /// path is opened and read to its end, so `/dev/stdin` and a pipe from process substitution
    /// (`<(grep drawer tasks.txt)`, a path like `/dev/fd/63`) work as well as a file.
    static func readTaskList(_ path: String) throws -> (bytes: [UInt8], name: String) {
        let usage = "--instructions takes a text file, one instruction per line, or - for standard input"
        if path == "-" {
            do { return (Array(try FileHandle.standardInput.readToEnd() ?? Data()), "<stdin>") } catch {
                throw CommandFailure("standard input: cannot read the task list (\(error.localizedDescription))")
            }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CommandFailure("\(path): no such file (\(usage))") }
        guard !isDir.boolValue else { throw CommandFailure("\(path): a folder, not a task list (\(usage))") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandFailure("\(path): cannot open the task list (check its permissions)") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.readToEnd() ?? Data() } catch {
            throw CommandFailure("\(path): cannot read the task list (\(error.localizedDescription))")
        }
        let name = path == "/dev/stdin" ? "<stdin>" : path.hasPrefix("/dev/") || path.hasPrefix("/proc/") ? path : (path as NSString).lastPathComponent
        return (Array(data), name)
    }

    /// The PNG and PPM images of `dir` (sorted by name), decoded; the compiler preprocesses them with each model's
    /// image contract (the rtx pad, the crop) and normalizes them like camera frames.
    static func calibrationImages(_ dir: String) throws -> [CalibrationImage] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted() } catch {
            throw CommandFailure("\(dir): cannot list the calibration folder (--calibration takes a folder of PNG or PPM frames)")
        }
        var images: [CalibrationImage] = []
        for name in names where [".png", ".ppm"].contains(where: { name.lowercased().hasSuffix($0) }) {
            let path = dir + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot read") }
            let image: RGBImage
            do { image = try RGBImage(decoding: [UInt8](data)) } catch { throw CommandFailure("\(path): \(error)") }
            images.append(CalibrationImage(name: name, height: image.height, width: image.width, rgb: image.pixels))
        }
        if images.isEmpty { throw CommandFailure("\(dir): no .png or .ppm frames for --calibration") }
        return images
    }
}

/// What `vlac compile --json` prints (Schemas/compile-summary.schema.json).
struct CompileReport {
    struct Policy {
        var instruction: String
        var line: Int
        var file: String
        var bytes: Int
        var upToDate: Bool
    }

    var output: String
    var failures: [TaskLineFailure]
    var policies: [Policy] = []
    var shared: [(role: String, file: String, bytes: Int)] = []
    var removed: [String] = []
    var kept: [String] = []

    init(output: String, failures: [TaskLineFailure]) {
        self.output = output
        self.failures = failures
    }

    func json() -> JSON {
        .object([
            ("formatVersion", .int(1)),
            ("output", .string(output)),
            ("ok", .bool(failures.isEmpty)),
            ("policies", .array(policies.map { p in
                .object([
                    ("instruction", .string(p.instruction)), ("line", .int(Int64(p.line))), ("file", .string(p.file)),
                    ("bytes", .int(Int64(p.bytes))), ("upToDate", .bool(p.upToDate)),
                ])
            })),
            ("sharedBlobs", .array(shared.map { .object([("role", .string($0.role)), ("file", .string($0.file)), ("bytes", .int(Int64($0.bytes)))]) })),
            ("failures", .array(failures.sorted { $0.line < $1.line }.map { .object([("line", .int(Int64($0.line))), ("message", .string($0.message))]) })),
            ("staleRemoved", .array(removed.map { .string($0) })),
            ("staleKept", .array(kept.map { .string($0) })),
        ])
    }
}

/// Writes to standard error.
struct StandardError {
    func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
