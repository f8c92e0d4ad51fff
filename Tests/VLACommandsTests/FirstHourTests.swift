import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLAFormat

/// The first hour with vlac: each mistake a new user makes with `compile`, `run`, `verify` and `inspect` gets a
/// message that says what to do, and the inputs a shell user tries (standard input, process substitution) work.
@Suite struct FirstHourTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let tiny = root + "/Examples/hypervla-tiny"

    /// A fresh temporary folder.
    static func temporary(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "vlac-first-hour-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs the built `vlac` with `stdin` as its standard input (through `bash -c` when `shell` is set).
    static func vlac(_ arguments: [String], stdin: [UInt8]? = nil, shell: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("vlac")
        let process = Process()
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", shell, "bash", exe.path]
        } else {
            process.executableURL = exe
            process.arguments = arguments
        }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// The message `vlac compile ARGS` fails with, in-process.
    static func compileError(_ arguments: [String]) throws -> String {
        let cmd = try Compile.parse(arguments + ["--quiet"])
        let error = try #require(throws: (any Error).self) { try cmd.run() }
        return "\(error)"
    }

    /// A copy of a demo model folder (`model` or `model-no-image`) whose config.json is edited by `edit`.
    static func model(_ source: String, in dir: String, edit: (inout [String: Any]) -> Void) throws -> String {
        let path = dir + "/" + source
        try FileManager.default.copyItem(atPath: tiny + "/" + source, toPath: path)
        let data = try #require(FileManager.default.contents(atPath: path + "/config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path + "/config.json"))
        return path
    }

    static func schema(_ name: String) -> DumpSchemaTests { DumpSchemaTests(schemaFile: name) }

    static func problems(_ json: String, schema name: String) throws -> [String] {
        let validator = schema(name)
        #expect(!validator.schema.isEmpty, "Schemas/\(name) must load")
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return validator.problems(value, validator.schema, at: "$")
    }

    // MARK: compile: model folders

    @Test func aModelFolderThatDoesNotExistIsNamedAsSuch() throws {
        let dir = try Self.temporary("nonexistent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = try Self.compileError(["--instructions", Self.tiny + "/tasks.txt", "--model", dir + "/no/such/model", "-o", dir + "/out"])
        #expect(message.contains("no/such/model: the model folder does not exist"), "\(message)")
        #expect(!message.contains("vision_encoder"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    @Test func anEmptyModelFolderSaysWhatAModelFolderHolds() throws {
        let dir = try Self.temporary("empty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/model", withIntermediateDirectories: true)
        let message = try Self.compileError(["--instructions", Self.tiny + "/tasks.txt", "--model", dir + "/model", "-o", dir + "/out"])
        #expect(message.contains("not a HyperVLA model folder: no config.json, dataset_statistics.json, params.*"), "\(message)")
        #expect(message.contains("a HyperVLA model folder holds config.json, dataset_statistics.json and params.safetensors"), "\(message)")
    }

    /// Without a `vlac` section, a missing text encoder names both default folder names and the flag; a
    /// `text-encoder` folder (the hyphen the examples use) is then found; and a use_initial_image = false model
    /// compiles with no vision-encoder folder at all.
    @Test func textEncoderFolderNamesAndNoVisionEncoderWithoutTheInitialImage() throws {
        let dir = try Self.temporary("encoders")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.model("model-no-image", in: dir) { config in
            var vlac = config["vlac"] as? [String: Any] ?? [:]
            vlac["text_encoder"] = nil
            vlac["vision_encoder"] = nil
            config["vlac"] = vlac
        }
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data("pick coke can\n".utf8))
        let arguments = ["--instructions", dir + "/tasks.txt", "--model", model, "-o", dir + "/out"]
        let message = try Self.compileError(arguments)
        #expect(message.contains("no text encoder: neither \(model)/text_encoder nor \(model)/text-encoder is a folder"), "\(message)")
        #expect(message.contains("pass --text-encoder DIR"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        try FileManager.default.copyItem(atPath: Self.tiny + "/text-encoder", toPath: model + "/text-encoder")
        try Compile.parse(arguments + ["--quiet"]).run()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/policies").count == 1)
        // A flag that names no folder says which flag.
        let flagged = try Self.compileError(arguments + ["--text-encoder", dir + "/t5"])
        #expect(flagged.contains("\(dir)/t5: no such folder (given with --text-encoder"), "\(flagged)")
    }

    /// use_initial_image = false without vlac.image_encoder_config: only the vision encoder's config.json is read
    /// (a folder holding just that compiles); with neither, the message says so and what to pass.
    @Test func withoutTheInitialImageOnlyTheVisionConfigIsRead() throws {
        let dir = try Self.temporary("vision-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.model("model-no-image", in: dir) { config in
            var vlac = config["vlac"] as? [String: Any] ?? [:]
            vlac["image_encoder_config"] = nil
            vlac["vision_encoder"] = "vision-encoder"
            vlac["text_encoder"] = Self.tiny + "/text-encoder"
            config["vlac"] = vlac
        }
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data("pick coke can\n".utf8))
        let arguments = ["--instructions", dir + "/tasks.txt", "--model", model, "-o", dir + "/out"]
        let message = try Self.compileError(arguments)
        #expect(message.contains("vision-encoder/config.json: not found, and \(model)/config.json has no vlac.image_encoder_config"), "\(message)")
        #expect(message.contains("with use_initial_image = false only that config.json is read"), "\(message)")
        try FileManager.default.createDirectory(atPath: model + "/vision-encoder", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.tiny + "/vision-encoder/config.json", toPath: model + "/vision-encoder/config.json")
        try Compile.parse(arguments + ["--quiet"]).run()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/policies").count == 1)
    }

    /// A frozen encoder of another width than the model's CLS projection is refused once, before any weights are
    /// read and before anything is written.
    @Test func aVisionEncoderOfTheWrongWidthIsRefusedBeforeAnyWork() throws {
        let dir = try Self.temporary("width")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/wide", withIntermediateDirectories: true)
        let configData = try #require(FileManager.default.contents(atPath: Self.tiny + "/vision-encoder/config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: configData) as? [String: Any])
        config["hidden_size"] = 48
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/wide/config.json"))
        let message = try Self.compileError([
            "--instructions", Self.tiny + "/tasks.txt", "--model", Self.tiny + "/model", "--vision-encoder", dir + "/wide", "-o", dir + "/out",
        ])
        #expect(message.contains("\(dir)/wide: DINOv2 hidden_size 48 does not match initial_image_projection/kernel's input width 32"), "\(message)")
        #expect(message.contains("--vision-encoder"), "\(message)")
        #expect(!message.contains("tasks.txt:"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    // MARK: compile: task lists

    /// `--instructions -`, `/dev/stdin` and a process substitution read the list from a pipe; the policy is the
    /// one a file gives, and `--json` prints a summary that fits Schemas/compile-summary.schema.json.
    @Test func taskListsFromPipes() throws {
        let dir = try Self.temporary("pipes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = Self.tiny + "/model-no-image"
        let list = Array("pick coke can\n".utf8)
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data(list))
        try Compile.parse(["--instructions", dir + "/tasks.txt", "--model", model, "-o", dir + "/file", "--quiet"]).run()
        let want = try FileManager.default.contentsOfDirectory(atPath: dir + "/file/policies")
        for (name, source) in [("dash", "-"), ("devstdin", "/dev/stdin")] {
            let run = try Self.vlac(["compile", "--instructions", source, "--model", model, "-o", dir + "/" + name, "--json"], stdin: list)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out.hasSuffix("}\n"))
            #expect(try Self.problems(run.out, schema: "compile-summary.schema.json").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/\(name)/policies") == want, "\(source)")
        }
        let substituted = try Self.vlac([], shell: "\"$1\" compile --instructions <(printf 'pick coke can\\n') --model '\(model)' -o '\(dir)/subst' --quiet")
        #expect(substituted.status == 0, "\(substituted.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/subst/policies") == want)
        // A list that is not there says what --instructions takes.
        let missing = try Self.compileError(["--instructions", dir + "/nope.txt", "--model", model, "-o", dir + "/x"])
        #expect(missing.contains("nope.txt: no such file (--instructions takes a text file, one instruction per line, or - for standard input)"), "\(missing)")
    }

    /// A UTF-16 list is one error that says UTF-16, before the model is loaded; a UTF-8 byte-order mark is skipped
    /// (the policy is byte-identical to the one of the list without it).
    @Test func utf16ListsAndByteOrderMarks() throws {
        let dir = try Self.temporary("bom")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = Self.tiny + "/model-no-image"
        let text = "pick coke can\n"
        var utf16: [UInt8] = [0xFF, 0xFE]
        for u in text.utf16 { utf16 += [UInt8(u & 0xFF), UInt8(u >> 8)] }
        FileManager.default.createFile(atPath: dir + "/utf16.txt", contents: Data(utf16))
        let run = try Self.vlac(["compile", "--instructions", dir + "/utf16.txt", "--model", model, "-o", dir + "/u16"])
        #expect(run.status == 1)
        #expect(run.err.contains("utf16.txt:1: the file looks like UTF-16 (little-endian, byte-order mark FF FE), not UTF-8"), "\(run.err)")
        #expect(!run.err.contains("not valid UTF-8"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/u16"))
        // Without a mark: zero bytes between ASCII letters.
        FileManager.default.createFile(atPath: dir + "/nomark.txt", contents: Data(utf16.dropFirst(2)))
        let noMark = try Self.vlac(["compile", "--instructions", dir + "/nomark.txt", "--model", model, "-o", dir + "/u16", "--json"])
        #expect(noMark.status == 1 && noMark.err.contains("looks like UTF-16 (little-endian)"), "\(noMark.err)")
        #expect(try Self.problems(noMark.out, schema: "compile-summary.schema.json").isEmpty)
        FileManager.default.createFile(atPath: dir + "/plain.txt", contents: Data(text.utf8))
        FileManager.default.createFile(atPath: dir + "/bom.txt", contents: Data([0xEF, 0xBB, 0xBF] + Array(text.utf8)))
        for name in ["plain", "bom"] {
            try Compile.parse(["--instructions", dir + "/\(name).txt", "--model", model, "-o", dir + "/out-" + name, "--quiet"]).run()
        }
        let plain = try FileManager.default.contentsOfDirectory(atPath: dir + "/out-plain/policies")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out-bom/policies") == plain)
        let a = try #require(FileManager.default.contents(atPath: dir + "/out-plain/policies/" + plain[0]))
        let b = try #require(FileManager.default.contents(atPath: dir + "/out-bom/policies/" + plain[0]))
        #expect(a == b)
    }

    /// `--json` with a failing line: the summary names the line, `ok` is false, and the exit status is 1.
    @Test func compileJSONNamesFailedLines() throws {
        let dir = try Self.temporary("json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data(Array("pick coke can\n".utf8) + [0xC3, 0x28, 0x0A]))
        let run = try Self.vlac(["compile", "--instructions", dir + "/tasks.txt", "--model", Self.tiny + "/model", "-o", dir + "/out", "--json"])
        #expect(run.status == 1, "\(run.err)")
        #expect(try Self.problems(run.out, schema: "compile-summary.schema.json").isEmpty, "\(run.out)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        let failures = try #require(object["failures"] as? [[String: Any]])
        #expect(failures.count == 1 && failures[0]["line"] as? Int == 2)
        let policies = try #require(object["policies"] as? [[String: Any]])
        #expect(policies.count == 1 && policies[0]["line"] as? Int == 1)
        #expect((object["sharedBlobs"] as? [Any])?.count == 3)
        // The validator is not vacuous.
        #expect(!(try Self.problems(run.out.replacingOccurrences(of: "\"upToDate\"", with: "\"fresh\""), schema: "compile-summary.schema.json")).isEmpty)
    }

    // MARK: verify, run, inspect on a compiled folder

    /// Compiles two instructions of the demo model (three shared blobs) into a fresh folder, which the caller
    /// removes (this removes it if the compile fails).
    static func compiled(_ name: String) throws -> (dir: String, policy: String) {
        let dir = try temporary(name)
        do {
            FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data("pick coke can\n".utf8))
            try Compile.parse(["--instructions", dir + "/tasks.txt", "--model", tiny + "/model", "-o", dir + "/out", "--quiet"]).run()
            let policy = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/policies").first)
            return (dir, dir + "/out/policies/" + policy)
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    @Test func verifyPrintsTheVerdictOnceAtTheEnd() throws {
        let (dir, policy) = try Self.compiled("verify")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var run = try Self.vlac(["verify", policy])
        #expect(run.status == 0, "\(run.err)")
        let lines = run.out.split(separator: "\n")
        #expect(lines.last == "\(policy): ok, all 9 checks hold", "\(run.out)")
        #expect(run.out.contains("  session       ok  arena "), "\(run.out)")
        #expect(lines.filter { $0.contains(": ok") }.count == 1)
        var json = try Self.vlac(["verify", policy, "--json"])
        #expect(json.status == 0 && json.out.hasSuffix("}\n"))
        #expect(try Self.problems(json.out, schema: "verify.schema.json").isEmpty, "\(json.out)")
        let quiet = try Self.vlac(["verify", policy, "--quiet"])
        #expect(quiet.status == 0 && quiet.out.isEmpty && quiet.err.isEmpty)
        // A missing blob: the checks that held, the failing one, and the verdict once, as the error.
        try FileManager.default.moveItem(atPath: dir + "/out/shared", toPath: dir + "/elsewhere")
        run = try Self.vlac(["verify", policy])
        #expect(run.status == 1)
        #expect(!run.out.contains(": ok"), "\(run.out)")
        #expect(run.out.contains("  shared blobs  FAILED"), "\(run.out)")
        #expect(run.err.components(separatedBy: "Error:").count == 2, "\(run.err)")
        #expect(run.err.contains("\(policy): shared blobs: "), "\(run.err)")
        json = try Self.vlac(["verify", policy, "--json"])
        #expect(json.status == 1 && json.err.isEmpty)
        #expect(try Self.problems(json.out, schema: "verify.schema.json").isEmpty, "\(json.out)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false && (object["error"] as? String)?.hasPrefix("shared blobs: ") == true)
    }

    /// The shared-blob errors of `vlac run`: the policy path once; every missing blob named; a blob that is there
    /// but corrupt is not a "pass --shared" problem; `--shared` given a blob file or the output folder gets a hint.
    @Test func runSharedBlobMessages() throws {
        let (dir, policy) = try Self.compiled("run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = Self.root + "/Tests/Fixtures/VLACommands/images/rgb.png"
        let blobs = try FileManager.default.contentsOfDirectory(atPath: dir + "/out/shared").sorted()
        #expect(blobs.count == 3)
        try FileManager.default.moveItem(atPath: dir + "/out/shared", toPath: dir + "/kept")
        var run = try Self.vlac(["run", policy, "--image", image])
        #expect(run.status != 0)
        #expect(run.err.components(separatedBy: policy).count == 2, "\(run.err)")
        #expect(run.err.contains("3 shared blobs not found: "), "\(run.err)")
        for blob in blobs { #expect(run.err.contains(String(blob.dropLast(4).suffix(64))), "\(blob)") }
        #expect(run.err.contains("--shared DIR"))
        // --shared at a blob file and at the output folder.
        try FileManager.default.createDirectory(atPath: dir + "/out/shared", withIntermediateDirectories: true)
        run = try Self.vlac(["run", policy, "--image", image, "--shared", dir + "/kept/" + blobs[0], "--shared", dir + "/out"])
        #expect(run.err.contains("(a file, not a folder: --shared takes the folder that holds the blobs, such as \(dir)/kept)"), "\(run.err)")
        #expect(run.err.contains("\(dir)/out (the output folder of vlac compile: its blobs are in \(dir)/out/shared)"), "\(run.err)")
        // A corrupt blob under its own name: refused, and no advice to pass its folder.
        try FileManager.default.removeItem(atPath: dir + "/out/shared")
        try FileManager.default.moveItem(atPath: dir + "/kept", toPath: dir + "/out/shared")
        let path = dir + "/out/shared/" + blobs[0]
        #expect(FileManager.default.fileExists(atPath: path))
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[bytes.count - 100] ^= 1
        try bytes.write(to: URL(fileURLWithPath: path))
        run = try Self.vlac(["run", policy, "--image", image])
        #expect(run.status != 0)
        #expect(run.err.contains("was found but refused: "), "\(run.err)")
        #expect(run.err.contains("/\(blobs[0]): digest_mismatch"), "\(run.err)")
        #expect(run.err.contains("replace it with the blob vlac compile wrote"), "\(run.err)")
        #expect(!run.err.contains("--shared"), "\(run.err)")
    }

    @Test func inspectRecognisesVLAFilesAndOtherFormats() throws {
        let (dir, policy) = try Self.compiled("inspect")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var run = try Self.vlac(["inspect", policy])
        #expect(run.status != 0)
        #expect(run.err.contains("a .vla file (a compiled policy or shared blob), not a checkpoint: vlac dump \(policy)"), "\(run.err)")
        #expect(!run.err.contains("msgpack"))
        FileManager.default.createFile(atPath: dir + "/model.safetensors", contents: Data("version https://git-lfs.github.com/spec/v1\noid sha256:00\n".utf8))
        run = try Self.vlac(["inspect", dir + "/model.safetensors"])
        #expect(run.err.contains("a Git LFS pointer, not the weights: fetch them with git lfs pull"), "\(run.err)")
        FileManager.default.createFile(atPath: dir + "/weights.bin", contents: Data([0x1F, 0x8B, 8, 0, 0, 0]))
        run = try Self.vlac(["inspect", dir + "/weights.bin"])
        #expect(run.err.contains("gzip-compressed: decompress it first"), "\(run.err)")
    }

    /// A HyperVLA model folder lists its params.* files and the encoder folders config.json names.
    @Test func inspectListsAHyperVLAModelFolder() throws {
        let run = try Self.vlac(["inspect", Self.tiny + "/model", "--no-hash"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.hasPrefix("\(Self.tiny)/model: HyperVLA model folder, 3 params files\n"), "\(run.out.prefix(300))")
        #expect(run.out.contains("  text encoder: \(Self.tiny)/model/../text-encoder (named in config.json; vlac inspect"))
        #expect(run.out.contains("  vision encoder: \(Self.tiny)/model/../vision-encoder (named in config.json"))
        for name in ["params.msgpack", "params.npz", "params.safetensors"] { #expect(run.out.contains("\(Self.tiny)/model/\(name): ")) }
        #expect(run.out.contains("task_token_projection/kernel"))
        let json = try Self.vlac(["inspect", Self.tiny + "/model", "--no-hash", "--json"])
        #expect(json.status == 0 && json.out.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "hypervla")
        #expect((object["params"] as? [[String: Any]])?.map { $0["format"] as? String } == ["msgpack", "npz", "safetensors"])
        #expect((object["encoders"] as? [Any])?.count == 2)
    }
}
