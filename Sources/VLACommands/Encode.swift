import ArgumentParser
import Foundation
import VLAFormat
import VLAJSON
import VLAModels
import VLARuntime
import VLATokenizer

/// `vlac encode text|image`: run a foundation model on one input and print its output vectors.
struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a foundation model (T5 encoder, BERT, DINOv2) on one input and print the output vectors.",
        discussion: """
            For checking vlac's models against the Python libraries. The model is built from a Hugging Face \
            directory (config.json and weights) as a program of vlac's op set and run by the runtime's \
            interpreter, the same code the compiler and the robot use.

            Examples:
              vlac encode text --model all-MiniLM-L6-v2 "pick up the red block"
              vlac encode text --model t5-base --tokens "put the eggplant in the basket"
              vlac encode image --model dinov2-base --json frame.png
            """,
        subcommands: [EncodeText.self, EncodeImage.self]
    )
}

/// Options shared by both encoders.
struct EncodeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A Hugging Face model directory: config.json and weights.", valueName: "dir"))
    var model: String

    @Flag(help: "Print every token's vector (last hidden state), not only the summary vector.")
    var tokens = false

    @Flag(help: "Print JSON (Schemas/encode.schema.json): the model and each output's name, shape and values.")
    var json = false

    @Option(help: ArgumentHelp("Kernel threads.", valueName: "n"))
    var threads = 1

    @Option(help: ArgumentHelp("Run the forward pass this many times and print its median and minimum time to standard error.", valueName: "n"))
    var `repeat`: Int = 1

    func check() throws {
        if threads < 1 || threads > 64 { throw ValidationError("--threads must be 1...64") }
        if self.repeat < 1 || self.repeat > 10_000 { throw ValidationError("--repeat must be 1...10000") }
    }
}

/// `vlac encode text`.
struct EncodeText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Encode text with a T5 encoder or a BERT-family model.",
        discussion: """
            The tokenizer comes from the model directory (tokenizer.json, spiece.model or vocab.txt). \
            T5 uses HyperVLA's text processor: </s> appended, 32 tokens, padded with <pad>; it prints the last \
            hidden state of the real tokens. BERT models print the sentence-transformers embedding: mean \
            pooling over the tokens, then L2 normalization (with --tokens, also the last hidden state).

            Example:
              vlac encode text --model all-MiniLM-L6-v2 "pick up the red block"
            """
    )

    @OptionGroup var options: EncodeOptions

    @Option(help: ArgumentHelp("Token ids to use instead of tokenizing (comma-separated).", valueName: "ids"))
    var ids: String?

    @Argument(help: ArgumentHelp("The text to encode.", valueName: "text"))
    var text: String?

    func validate() throws {
        if (text == nil) == (ids == nil) { throw ValidationError("give either the text or --ids, not both or neither") }
        try options.check()
    }

    func run() throws { print(try output()) }

    /// What `run` prints.
    func output() throws -> String {
        let model = try FoundationModel.open(directory: options.model)
        var outputs: [(name: String, shape: [Int], values: [Float])] = []
        var summary = ""
        switch model {
        case .t5(let t5):
            let (ids, mask) = try tokenize(t5: true)
            let built = try t5.build(ids: ids, mask: mask)
            let values = try ModelRunner.run(built, threads: options.threads, repeat: options.repeat)
            let real = mask.reduce(0) { $0 + Int($1) }
            let h = try value(values, "last_hidden_state")
            let d = t5.config.dModel
            summary = "t5 encoder, \(ids.count) tokens (\(real) real): last hidden state [\(real), \(d)]"
            outputs.append(("last_hidden_state", [real, d], Array(h[0..<(real * d)])))
        case .bert(let bert):
            let (ids, mask) = try tokenize(t5: false)
            let built = try bert.build(ids: ids, mask: mask, pooling: true)
            let values = try ModelRunner.run(built, threads: options.threads, repeat: options.repeat)
            let d = bert.config.hiddenSize
            summary = "bert encoder, \(ids.count) tokens: sentence embedding [\(d)] (mean pooling, L2-normalized)"
            outputs.append(("embedding", [d], try value(values, "embedding")))
            if options.tokens { outputs.append(("last_hidden_state", [ids.count, d], try value(values, "last_hidden_state"))) }
        case .dinov2:
            throw ValidationError("\(options.model) is a DINOv2 (image) model: use `vlac encode image`")
        }
        return EncodeOutput.render(summary: summary, outputs: outputs, json: options.json)
    }

    /// Token ids and mask: from --ids, or from the directory's tokenizer.
    func tokenize(t5: Bool) throws -> ([Int32], [UInt8]) {
        if let ids {
            var out: [Int32] = []
            for part in ids.split(separator: ",") {
                guard let v = Int32(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--ids: \"\(part)\" is not an integer")
                }
                out.append(v)
            }
            guard !out.isEmpty else { throw ValidationError("--ids is empty") }
            return (out, [UInt8](repeating: 1, count: out.count))
        }
        return try TextInput(directory: options.model, t5: t5).encode(text ?? "")
    }
}

/// Text → token ids and mask with a model directory's tokenizer, as the reference libraries call it.
///
/// T5: HyperVLA's text processor (`</s>`, 32 tokens, `<pad>`). BERT: the tokenizer.json's special tokens,
/// no padding (sentence-transformers pads a batch to its longest sentence: none for one sentence),
/// truncation at sentence_bert_config.json's `max_seq_length` (else 512).
struct TextInput {
    /// The tokenizer files looked for, in order.
    static let candidates = ["tokenizer.json", "spiece.model", "vocab.txt"]

    let tokenizer: Tokenizer
    let postProcessing: PostProcessing

    /// Loads the tokenizer of `dir` once.
    init(directory dir: String, t5: Bool) throws {
        guard let name = TextInput.candidates.first(where: { FileManager.default.fileExists(atPath: dir + "/" + $0) }),
            let data = try RegularFile.read(dir + "/" + name)
        else {
            throw ValidationError("\(dir) has no tokenizer (looked for \(TextInput.candidates.joined(separator: ", "))); pass --ids")
        }
        if t5 {
            let p = try TextProcessor.hyperVLA(fileBytes: data, fileName: name)
            tokenizer = p.tokenizer
            postProcessing = p.postProcessing
        } else {
            tokenizer = try Tokenizer(fileBytes: data, fileName: name)
            var post = tokenizer.defaultPostProcessing
            post.padToLength = nil
            post.maxLength = TextInput.sentenceMaxLength(dir)
            postProcessing = post
        }
    }

    /// Token ids and attention mask (1 real, 0 padding) of `text`.
    func encode(_ text: String) throws -> ([Int32], [UInt8]) {
        let e = try tokenizer.encode(text, postProcessing: postProcessing)
        return (e.ids, e.attentionMask.map { $0 == 0 ? 0 : 1 })
    }

    /// `max_seq_length` from sentence_bert_config.json, else 512.
    static func sentenceMaxLength(_ dir: String) -> Int {
        guard let data = try? RegularFile.read(dir + "/sentence_bert_config.json"),
            let json = try? JSONValue(parsing: data), let n = json["max_seq_length"]?.double, n >= 2, n <= 8192
        else { return 512 }
        return Int(n)
    }
}

/// `vlac encode image`.
struct EncodeImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Encode an image (PNG, JPEG or PPM) with DINOv2.",
        discussion: """
            The image is used at its own size (crop or resize it beforehand; HyperVLA uses 224×224), scaled \
            to [0, 1] and normalized with ImageNet's mean and std, as DINOv2's image processor does after \
            resizing. The position table is resampled to the patch grid with JAX's bicubic \
            scale_and_translate (as HyperVLA's Flax DINOv2 does) or PyTorch's bicubic (as transformers' \
            torch DINOv2 does). Prints the CLS token; --tokens adds the patch tokens.

            Example:
              vlac encode image --model dinov2-base --interpolation torch --json frame.png
            """
    )

    @OptionGroup var options: EncodeOptions

    @Option(help: ArgumentHelp("Position-table resampling: jax (HyperVLA's Flax model) or torch (transformers' torch model).", valueName: "mode"))
    var interpolation: InterpolationMode = .jax

    @Argument(help: ArgumentHelp("A PNG (8-bit gray, RGB, RGBA or palette; not interlaced) or binary PPM (P6) image.", valueName: "image"))
    var image: String

    func validate() throws { try options.check() }

    func run() throws { print(try output()) }

    /// What `run` prints.
    func output() throws -> String {
        guard let data = FileManager.default.contents(atPath: image) else { throw ValidationError("cannot read \(image)") }
        let decoded: RGBImage
        do { decoded = try RGBImage(decoding: [UInt8](data)) } catch { throw EncodeFailure("\(image): \(error)") }
        guard case .dinov2(let dino) = try FoundationModel.open(directory: options.model) else {
            throw ValidationError("\(options.model) is not a DINOv2 model: use `vlac encode text` for text encoders")
        }
        guard dino.config.channels == 3 else { throw EncodeFailure("the model takes \(dino.config.channels) channels; images are RGB") }
        let built = try dino.build(height: decoded.height, width: decoded.width, interpolation: interpolation.mode)
        let pixels = decoded.normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        let input = built.input("pixel_values") ?? 0
        let values = try ModelRunner.run(built, inputs: [input: pixels], threads: options.threads, repeat: options.repeat)
        let d = dino.config.hiddenSize, p = dino.config.patchSize
        let n = (decoded.height / p) * (decoded.width / p)
        var outputs = [(name: "cls", shape: [d], values: try value(values, "cls"))]
        if options.tokens { outputs.append(("patch_tokens", [n, d], try value(values, "patch_tokens"))) }
        let summary = "dinov2, \(decoded.width)×\(decoded.height) image, \(n) patches, \(interpolation.rawValue) position interpolation"
        return EncodeOutput.render(summary: summary, outputs: outputs, json: options.json)
    }
}

/// The `--interpolation` values.
enum InterpolationMode: String, ExpressibleByArgument, CaseIterable {
    case jax, torch
    var mode: PositionInterpolation { self == .jax ? .jaxBicubic : .torchBicubic }
}

/// An encode failure with a message (printed after `Error:`).
struct EncodeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func value(_ values: [String: [Float]], _ name: String) throws -> [Float] {
    guard let v = values[name] else { throw EncodeFailure("internal: the program has no output \(name)") }
    return v
}

/// Runs a built model on the runtime's interpreter.
enum ModelRunner {
    /// Prepares the program, copies `inputs` (tensor id → f32 values) in, runs it, and reads every output.
    /// With `repeat` > 1, runs the program that many times and prints the median and minimum to stderr.
    static func run(_ built: BuiltModel, inputs: [Int: [Float]] = [:], threads: Int = 1, repeat runs: Int = 1) throws -> [String: [Float]] {
        let interpreter = try Interpreter(document: built.document, options: RuntimeOptions(threads: threads))
        for (id, v) in inputs { try interpreter.setFloats(id, v) }
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<max(runs, 1) {
            let start = clock.now
            try interpreter.run(0)
            let d = clock.now - start
            times.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
        }
        if runs > 1 {
            times.sort()
            let line = "forward: median \(times[times.count / 2]) ms, min \(times[0]) ms over \(runs) runs, \(interpreter.threadCount) thread(s)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        var out: [String: [Float]] = [:]
        for (name, id) in built.outputs { out[name] = try interpreter.floats(id) }
        return out
    }
}

/// Text and JSON rendering of output vectors.
enum EncodeOutput {
    static func render(summary: String, outputs: [(name: String, shape: [Int], values: [Float])], json: Bool) -> String {
        if json {
            let items = outputs.map { o in
                "{\"name\": \"\(o.name)\", \"shape\": [\(o.shape.map(String.init).joined(separator: ", "))], \"values\": [\(o.values.map(number).joined(separator: ", "))]}"
            }
            return "{\"formatVersion\": 1, \"model\": \"\(summary.split(separator: ",").first ?? "")\", \"outputs\": [\(items.joined(separator: ", "))]}"
        }
        var lines = [summary]
        for o in outputs {
            let row = o.shape.last ?? o.values.count
            lines.append("\(o.name) [\(o.shape.map(String.init).joined(separator: ", "))]:")
            var i = 0
            while i < o.values.count {
                lines.append("  " + o.values[i..<min(i + row, o.values.count)].map(number).joined(separator: " "))
                i += row
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Shortest round-trip decimal; JSON has no NaN or infinity, so those print as null.
    static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
}
