import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLATestSupport

/// Every `--json` output of every command, run as a subprocess on real inputs (the demo policy, a policy
/// compiled from Examples/hypervla-tiny, the checkpoint, tokenizer and model fixtures): it is one JSON value
/// that ends in exactly one newline, and it fits its schema in `Schemas/`. Drift tests show that each schema
/// catches a renamed key.
@Suite struct JSONOutputTests {
    /// One `vlac` run: its arguments (`$ROOT` is the repository, `$DEMO` the demo policy's folder, `$TASKS` a
    /// task list of two instructions, `$TINY` the output folder of hypervla-tiny compiled from it, `$POLICY`
    /// its first policy, `$LONE` a copy of that policy without its shared blobs, `$EMPTY` an empty file), its
    /// exit status and the schema its output fits.
    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var schema: String
        var status: Int32 = 0
        var testDescription: String { "vlac " + arguments.joined(separator: " ") }
    }

    static let root = FirstHourTests.root
    static let checkpoints = "$ROOT/Tests/Fixtures/VLACheckpoint/"
    static let models = "$ROOT/Tests/Fixtures/VLAModels/"
    static let tokenizers = "$ROOT/Tests/Fixtures/VLATokenizer/"
    static let images = "$ROOT/Tests/Fixtures/VLACommands/images/"

    static let cases: [Case] = [
        // compile, verify and dump: the schemas that came first.
        Case(arguments: ["compile", "--instructions", "$TASKS", "--model", "$ROOT/Examples/hypervla-tiny/model", "-o", "$TINY", "--json"], schema: "compile-summary.schema.json"),
        Case(arguments: ["verify", "$POLICY", "--json"], schema: "verify.schema.json"),
        Case(arguments: ["verify", "$LONE", "--json"], schema: "verify.schema.json", status: 1),
        Case(arguments: ["dump", "$POLICY", "--json"], schema: "vla-dump.schema.json"),
        // run and bench.
        Case(arguments: ["run", "$DEMO/policies/demo.vla", "--image", images + "rgb.png", "--image", images + "rgb.ppm", "--json"], schema: "run.schema.json"),
        Case(arguments: ["run", "$DEMO/policies/demo.vla", "--image", images + "rgba.png", "--raw", "--json"], schema: "run.schema.json"),
        Case(arguments: ["bench", "$DEMO/policies/demo.vla", "--steps", "2", "--warmup", "0", "--json"], schema: "bench.schema.json"),
        Case(arguments: ["bench", "$DEMO/policies/demo.vla", "--steps", "1", "--warmup", "0", "--kernels", "portable", "--json"], schema: "bench.schema.json"),
        // inspect: every checkpoint format, a Hugging Face folder, a HyperVLA model folder.
        Case(arguments: ["inspect", checkpoints + "toy.onnx", "--graph", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "dtypes.safetensors", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "compressed.npz", "--no-hash", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "scalar.v1.npy", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "flax.msgpack", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "state_dict.pt", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", checkpoints + "hf-sharded", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", "$ROOT/Examples/hypervla-tiny/model", "--json"], schema: "inspect.schema.json"),
        Case(arguments: ["inspect", "$ROOT/Examples/hypervla-tiny/model-no-image", "--no-hash", "--json"], schema: "inspect.schema.json"),
        // tokenize: SentencePiece, tokenizer.json, HyperVLA's processor, the benchmark.
        Case(arguments: ["tokenize", "--tokenizer", tokenizers + "tiny.model", "--json", "hello world", "pick up the can"], schema: "tokenize.schema.json"),
        Case(arguments: ["tokenize", "--tokenizer", tokenizers + "t5-nobf.tokenizer.json", "--hypervla", "--json", "open the drawer"], schema: "tokenize.schema.json"),
        Case(arguments: ["tokenize", "--tokenizer", tokenizers + "t5-bf.model", "--bench", tokenizers + "corpus.txt", "--repeat", "1", "--json"], schema: "tokenize.schema.json"),
        Case(arguments: ["tokenize", "--tokenizer", tokenizers + "tiny.model", "--bench", "$EMPTY", "--json"], schema: "tokenize.schema.json"),
        // encode: T5, BERT with --tokens, DINOv2 with --tokens.
        Case(arguments: ["encode", "text", "--model", models + "t5-tiny-gated", "--ids", "37,3,1", "--json"], schema: "encode.schema.json"),
        Case(arguments: ["encode", "text", "--model", models + "bert-tiny", "--ids", "2,17,3", "--tokens", "--json"], schema: "encode.schema.json"),
        Case(arguments: ["encode", "image", "--model", models + "dinov2-tiny", models + "dinov2-tiny/image-24x20.png", "--tokens", "--json"], schema: "encode.schema.json"),
    ]

    /// The folders the placeholders stand for, made once per process and removed when it exits.
    struct Inputs: Sendable {
        var demo: String
        var tasks: String
        var tiny: String
        var policy: String
        var lone: String
        var compileOutput: String
    }

    static let inputs = Result { () throws -> Inputs in
        let tiny = try FirstHourTests.temporary("json-tiny")
        for path in [tiny, tiny + "-tasks.txt", tiny + "-empty.txt"] { ProcessTemporaries.removeAtExit(path) }
        try Data("open the drawer\npick coke can\n".utf8).write(to: URL(fileURLWithPath: tiny + "-tasks.txt"))
        try Data().write(to: URL(fileURLWithPath: tiny + "-empty.txt"))
        let demo = try RunBenchTests.demoFolder()
        ProcessTemporaries.removeAtExit(demo)
        var inputs = Inputs(demo: demo, tasks: tiny + "-tasks.txt", tiny: tiny, policy: "", lone: "", compileOutput: "")
        let compiled = try FirstHourTests.vlac(cases[0].arguments.map { resolve($0, inputs) })
        guard compiled.status == 0 else { throw CommandFailure("compile failed: \(compiled.err)") }
        guard let name = try FileManager.default.contentsOfDirectory(atPath: tiny + "/policies").sorted().first else {
            throw CommandFailure("compile wrote no policy")
        }
        inputs.policy = tiny + "/policies/" + name
        let lone = try FirstHourTests.temporary("json-lone")
        ProcessTemporaries.removeAtExit(lone)
        inputs.lone = lone + "/" + name
        try FileManager.default.copyItem(atPath: inputs.policy, toPath: inputs.lone)
        inputs.compileOutput = compiled.out
        return inputs
    }

    static func resolve(_ argument: String, _ inputs: Inputs) -> String {
        argument.replacingOccurrences(of: "$ROOT", with: root).replacingOccurrences(of: "$DEMO", with: inputs.demo)
            .replacingOccurrences(of: "$TASKS", with: inputs.tasks).replacingOccurrences(of: "$EMPTY", with: inputs.tasks.replacingOccurrences(of: "-tasks.txt", with: "-empty.txt"))
            .replacingOccurrences(of: "$TINY", with: inputs.tiny).replacingOccurrences(of: "$POLICY", with: inputs.policy)
            .replacingOccurrences(of: "$LONE", with: inputs.lone)
    }

    /// The case whose command line starts with `prefix`.
    static func named(_ prefix: String) throws -> Case {
        try #require(cases.first { $0.arguments.joined(separator: " ").hasPrefix(prefix) }, "no case \(prefix)")
    }

    /// What `vlac` printed for `c`: compile's output is the run that made `$TINY` (a second run would only
    /// find every policy up to date).
    static func output(_ c: Case) throws -> (status: Int32, out: String, err: String) {
        let inputs = try Self.inputs.get()
        if c.arguments.first == "compile" { return (0, inputs.compileOutput, "") }
        return try FirstHourTests.vlac(c.arguments.map { resolve($0, inputs) })
    }

    @Test(arguments: cases)
    func jsonOutputEndsInOneNewlineAndFitsItsSchema(_ c: Case) throws {
        let run = try Self.output(c)
        #expect(run.status == c.status, "\(run.err)")
        #expect(run.out.hasSuffix("}\n") && !run.out.hasSuffix("\n\n"), "ends in exactly one newline: \(run.out.suffix(20).debugDescription)")
        // One JSON value and nothing else (JSONSerialization refuses trailing text).
        let found = try FirstHourTests.problems(run.out, schema: c.schema)
        #expect(found.isEmpty, "\(found.prefix(10))")
    }

    /// The problems of `json` with `rename` applied (a key spelled `"old"` becomes `"new"`).
    static func problems(_ json: String, schema: String, renaming old: String, to new: String) throws -> [String] {
        #expect(json.contains("\"\(old)\""), "the output has \(old)")
        return try FirstHourTests.problems(json.replacingOccurrences(of: "\"\(old)\":", with: "\"\(new)\":"), schema: schema)
    }

    /// Each new schema catches a renamed key; those with two shapes (`oneOf`) catch it in both.
    @Test func schemasCatchARenamedKey() throws {
        let run = try Self.output(Self.named("run $DEMO/policies/demo.vla --image $ROOT/Tests/Fixtures/VLACommands/images/rgb.png"))
        #expect(try Self.problems(run.out, schema: "run.schema.json", renaming: "instruction", to: "task") == ["$: missing instruction", "$: unexpected key task"])
        #expect(try Self.problems(run.out, schema: "run.schema.json", renaming: "action", to: "actions").contains("$.steps[0]: missing action"))
        let bench = try Self.output(Self.named("bench"))
        #expect(try Self.problems(bench.out, schema: "bench.schema.json", renaming: "stepMsP99", to: "stepMsP95").contains("$: missing stepMsP99"))
        #expect(try Self.problems(bench.out, schema: "bench.schema.json", renaming: "microseconds", to: "us").contains("$.profile[0]: missing microseconds"))
        let encode = try Self.output(Self.named("encode text --model $ROOT/Tests/Fixtures/VLAModels/bert-tiny"))
        #expect(try Self.problems(encode.out, schema: "encode.schema.json", renaming: "values", to: "data").contains("$.outputs[0]: missing values"))
        let oneOf = ["$: fits 0 of the 2 oneOf branches"]
        for prefix in ["inspect $ROOT/Tests/Fixtures/VLACheckpoint/toy.onnx", "inspect $ROOT/Examples/hypervla-tiny/model --json"] {
            #expect(try Self.problems(try Self.output(Self.named(prefix)).out, schema: "inspect.schema.json", renaming: "bytes", to: "size") == oneOf)
        }
        for prefix in ["tokenize --tokenizer $ROOT/Tests/Fixtures/VLATokenizer/tiny.model", "tokenize --tokenizer $ROOT/Tests/Fixtures/VLATokenizer/t5-bf.model --bench"] {
            #expect(try Self.problems(try Self.output(Self.named(prefix)).out, schema: "tokenize.schema.json", renaming: "formatVersion", to: "version") == oneOf)
        }
    }

    /// The validator's new keywords are not vacuous: a non-finite float spelled as run prints it passes,
    /// another string does not; null passes encode's values and a string does not; a wrong const fails.
    @Test func validatorKeywords() throws {
        let run = try Self.output(Self.named("run $DEMO/policies/demo.vla --image $ROOT/Tests/Fixtures/VLACommands/images/rgb.png")).out
        let value = try #require(run.firstMatch(of: /"action": \[([^,\]]+)/)?.output.1)
        #expect(try FirstHourTests.problems(run.replacingOccurrences(of: "[" + value, with: "[\"nan\""), schema: "run.schema.json").isEmpty)
        #expect(try FirstHourTests.problems(run.replacingOccurrences(of: "[" + value, with: "[\"NaN\""), schema: "run.schema.json") == ["$.steps[0].action[0]: fits none of the anyOf branches: NaN"])
        let encode = try Self.output(Self.named("encode text --model $ROOT/Tests/Fixtures/VLAModels/bert-tiny")).out
        let first = try #require(encode.firstMatch(of: /"values": \[([^,\]]+)/)?.output.1)
        #expect(try FirstHourTests.problems(encode.replacingOccurrences(of: "[" + first, with: "[null"), schema: "encode.schema.json").isEmpty)
        #expect(!(try FirstHourTests.problems(encode.replacingOccurrences(of: "[" + first, with: "[\"0\""), schema: "encode.schema.json")).isEmpty)
        #expect(try FirstHourTests.problems(encode.replacingOccurrences(of: "\"formatVersion\": 1", with: "\"formatVersion\": 2"), schema: "encode.schema.json") == ["$.formatVersion: expected 1"])
        let inspect = try Self.output(Self.named("inspect $ROOT/Examples/hypervla-tiny/model --json")).out
        #expect(try FirstHourTests.problems(inspect.replacingOccurrences(of: "\"hypervla\"", with: "\"hyper\""), schema: "inspect.schema.json") == ["$: fits 0 of the 2 oneOf branches"])
    }

    /// Each command's --help names the schema of its --json output.
    @Test func helpNamesTheSchemas() {
        let commands: [(any ParsableCommand.Type, String)] = [
            (Compile.self, "compile-summary"), (Dump.self, "vla-dump"), (Verify.self, "verify"), (Run.self, "run"), (Bench.self, "bench"),
            (Inspect.self, "inspect"), (Tokenize.self, "tokenize"), (EncodeText.self, "encode"), (EncodeImage.self, "encode"),
        ]
        for (command, schema) in commands {
            let help = VLAC.helpMessage(for: command, columns: 200)
            #expect(help.contains("Schemas/\(schema).schema.json"), "\(command)")
        }
    }

    /// Issue 15: `--quiet` on every command that prints progress. Only compile (a line per policy and the
    /// summary on standard error) and verify (a line per check) print any, and both take --quiet, which
    /// silences it; the others print only what was asked for, on standard output.
    @Test func quietSilencesEveryCommandThatPrintsProgress() throws {
        let inputs = try Self.inputs.get()
        let subcommands: [any ParsableCommand.Type] = [Compile.self, Dump.self, Verify.self, Run.self, Bench.self, Inspect.self, Tokenize.self, EncodeText.self, EncodeImage.self]
        let quiet = subcommands.filter { VLAC.helpMessage(for: $0, columns: 200).contains("--quiet") }.map { $0._commandName }
        #expect(quiet == ["compile", "verify"])
        // compile: the output folder is up to date, so these runs only load the model and check the files.
        let compile = ["compile", "--instructions", inputs.tasks, "--model", Self.root + "/Examples/hypervla-tiny/model", "-o", inputs.tiny]
        let loud = try FirstHourTests.vlac(compile)
        #expect(loud.status == 0 && loud.out.isEmpty && loud.err.contains("2/2 up to date policies/") && loud.err.contains("2 policies (2 up to date"), "\(loud.err)")
        let silent = try FirstHourTests.vlac(compile + ["--quiet"])
        #expect(silent.status == 0 && silent.out.isEmpty && silent.err.isEmpty, "\(silent.err)")
        let verify = try FirstHourTests.vlac(["verify", inputs.policy])
        #expect(verify.status == 0 && verify.out.contains("digest") && verify.out.contains(": ok, all "), "\(verify.out)")
        let verifyQuiet = try FirstHourTests.vlac(["verify", inputs.policy, "--quiet"])
        #expect(verifyQuiet.status == 0 && verifyQuiet.out.isEmpty && verifyQuiet.err.isEmpty)
        // The others write nothing on standard error when they succeed: there is no progress to silence.
        for arguments in [
            ["run", inputs.demo + "/policies/demo.vla", "--image", Self.root + "/Tests/Fixtures/VLACommands/images/rgb.png"],
            ["bench", inputs.demo + "/policies/demo.vla", "--steps", "1", "--warmup", "0"],
            ["inspect", Self.root + "/Examples/hypervla-tiny/model", "--no-hash"],
            ["tokenize", "--tokenizer", Self.root + "/Tests/Fixtures/VLATokenizer/tiny.model", "hello"],
            ["encode", "text", "--model", Self.root + "/Tests/Fixtures/VLAModels/bert-tiny", "--ids", "2,17,3"],
        ] {
            let r = try FirstHourTests.vlac(arguments)
            #expect(r.status == 0 && !r.out.isEmpty && r.err.isEmpty, "\(arguments[0]): \(r.err)")
        }
    }
}
