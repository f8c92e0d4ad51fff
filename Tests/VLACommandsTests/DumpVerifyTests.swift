import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLAFormat
import VLATestSupport

@Suite struct DumpVerifyTests {
    static func samplePolicy() throws -> VLAFile {
        try VLAFile(bytes: SampleDocuments.policyAndBlob().policy)
    }

    @Test func dumpTextMatchesGolden() throws {
        assertSnapshot(FileReport(path: "sample-policy.vla", file: try Self.samplePolicy()).text(), named: "dump-policy.txt")
    }

    @Test func dumpJSONMatchesGolden() throws {
        let json = FileReport(path: "sample-policy.vla", file: try Self.samplePolicy()).json().serialized() + "\n"
        assertSnapshot(json, named: "dump-policy.json")
        // It is JSON that a standard parser reads, with the documented version field.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(parsed["formatVersion"] as? Int == FileReport.jsonFormatVersion)
        #expect((parsed["tensors"] as? [Any])?.count == 26)
    }

    @Test func dumpBlobMatchesGolden() throws {
        let blob = try VLAFile(bytes: SampleDocuments.policyAndBlob().blob)
        assertSnapshot(FileReport(path: "sample-blob.vla", file: blob).text(), named: "dump-blob.txt")
    }

    /// Format 1.1: a policy whose step calls a blob program, and the blob with its program and test frame.
    @Test func dumpOfCallsAndBlobProgramsMatchesGolden() throws {
        let (policy, blob) = try SampleDocuments.callPolicyAndBlob()
        let p = try VLAFile(bytes: policy), b = try VLAFile(bytes: blob)
        assertSnapshot(FileReport(path: "sample-call-policy.vla", file: p).text(), named: "dump-call-policy.txt")
        assertSnapshot(FileReport(path: "sample-call-policy.vla", file: p).json().serialized() + "\n", named: "dump-call-policy.json")
        assertSnapshot(FileReport(path: "sample-program-blob.vla", file: b).text(), named: "dump-program-blob.txt")
    }

    @Test func hostileNamesAreEscaped() throws {
        var doc = SampleDocuments.blob()
        doc.tensors[0].name = "evil\u{1b}[2J\u{202e}name\n"
        doc.metadata.instruction = "tab\there \"quoted\" \\ and \u{7}bell"
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        let text = FileReport(path: "x.vla", file: file).text()
        #expect(!text.contains("\u{1b}"))
        #expect(!text.contains("\u{202e}"))
        #expect(!text.contains("\u{7}"))
        #expect(text.contains(#""evil\u{1b}[2J\u{202e}name\n""#))
        #expect(text.contains(#""tab\there \"quoted\" \\ and \u{7}bell""#))
        let json = FileReport(path: "x.vla", file: file).json().serialized()
        #expect(!json.contains("\u{1b}"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let tensors = try #require(parsed["tensors"] as? [[String: Any]])
        #expect(tensors[0]["name"] as? String == "evil\u{1b}[2J\u{202e}name\n")
    }

    @Test func helpTextsMatchGolden() {
        assertSnapshot(VLAC.helpMessage(columns: 100), named: "help-vlac.txt")
        assertSnapshot(VLAC.helpMessage(for: Dump.self, columns: 100), named: "help-dump.txt")
        assertSnapshot(VLAC.helpMessage(for: Verify.self, columns: 100), named: "help-verify.txt")
    }

    @Test func parsesArguments() throws {
        let dump = try #require(try VLAC.parseAsRoot(["dump", "--json", "a.vla"]) as? Dump)
        #expect(dump.json && dump.file == "a.vla")
        let verify = try #require(try VLAC.parseAsRoot(["verify", "a.vla", "--shared", "s1", "--shared", "s2"]) as? Verify)
        #expect(verify.sharedFolders == ["s1", "s2"])
        #expect(throws: (any Error).self) { try VLAC.parseAsRoot(["dump"]) }
    }
}

/// Runs the built `vlac` executable, as a user would.
@Suite struct VLACExecutableTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func vlac(_ arguments: [String]) throws -> Run {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("vlac")
        let process = Process()
        process.executableURL = exe
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: url.appendingPathComponent("shared"), withIntermediateDirectories: true)
        return url
    }

    @Test func verifyResolvesTheSharedBlobByHash() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The call sample: it has no action contract, so the policy conventions do not apply to it.
        let (policy, blob) = try SampleDocuments.callPolicyAndBlob()
        let policyPath = dir.appendingPathComponent("policies/sample.vla").path
        try Data(policy).write(to: URL(fileURLWithPath: policyPath))
        // Missing blob: non-zero, the message names the hash and says what to do.
        var run = try Self.vlac(["verify", policyPath])
        #expect(run.status != 0)
        #expect(run.stderr.contains(hexString(SHA256.hash(blob))))
        #expect(run.stderr.contains("--shared"))
        // Present under ../shared with the compile naming: ok.
        let blobPath = dir.appendingPathComponent("shared/backbone-\(hexString(SHA256.hash(blob))).vla").path
        try Data(blob).write(to: URL(fileURLWithPath: blobPath))
        run = try Self.vlac(["verify", policyPath])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("shared blob   ok"))
        // The work of each program with its calls, against the budget (the call sample's step is tiny).
        #expect(run.stdout.contains("  work          ok  step "), "\(run.stdout)")
        #expect(run.stdout.contains("per run (budget 5.5e11)"), "\(run.stdout)")
        // Altered blob under the right name: refused.
        var altered = blob
        altered[altered.count - 40] ^= 1
        try Data(altered).write(to: URL(fileURLWithPath: blobPath))
        run = try Self.vlac(["verify", policyPath])
        #expect(run.status != 0)
        #expect(run.stderr.contains("shared_blob"))
    }

    /// The format sample has an action contract but its `reset` writes an output and its `step` does not take
    /// the image contract's frame: the runtime refuses it, so verify does too, naming the rule.
    @Test func verifyChecksThePolicyConventions() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (policy, blob) = try SampleDocuments.policyAndBlob()
        let policyPath = dir.appendingPathComponent("policies/sample.vla").path
        try Data(policy).write(to: URL(fileURLWithPath: policyPath))
        try Data(blob).write(to: URL(fileURLWithPath: dir.appendingPathComponent("shared/backbone-\(hexString(SHA256.hash(blob))).vla").path))
        let run = try Self.vlac(["verify", policyPath])
        #expect(run.status != 0)
        #expect(run.stderr.contains("policy conventions (§8.0): program \"step\""), "\(run.stderr)")
    }

    /// arena16g.vla's kind: a policy whose session arena is over the runtime's default limit verifies
    /// structurally, but the runtime would refuse every session, so verify fails too, naming the limit; with the
    /// robot's raised limit (--max-arena-bytes) it passes.
    @Test func verifyChecksTheSessionArenaAgainstTheRuntimeLimit() throws {
        let files = try DemoPolicy.make(withReset: true)
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(files.blob).write(to: dir.appendingPathComponent("shared/\(files.blobName)"))
        func policy(arena: UInt64) throws -> String {
            var doc = try VLAFile(bytes: files.policy).document()
            doc.arenaSize = arena
            let path = dir.appendingPathComponent("policies/arena-\(arena).vla").path
            try Data(try VLAWriter.serialize(doc)).write(to: URL(fileURLWithPath: path))
            return path
        }
        // 16 GiB against the default limit: refused before any test vector allocates it.
        var run = try Self.vlac(["verify", try policy(arena: 1 << 34)])
        #expect(run.status != 0)
        #expect(run.stderr.contains("a session needs an arena of 17179869184 bytes, over the runtime's limit of 1073741824 bytes"), "\(run.stderr)")
        // 4 MiB against a robot's 1 MiB limit, then against a limit that fits (the test vectors run under it).
        let small = try policy(arena: 1 << 22)
        run = try Self.vlac(["verify", small, "--max-arena-bytes", "1048576"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("a session needs an arena of 4194304 bytes, over the runtime's limit of 1048576 bytes"), "\(run.stderr)")
        run = try Self.vlac(["verify", small, "--max-arena-bytes", "4194304"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("session       ok  arena 4194304 bytes (runtime limit 4194304)"), "\(run.stdout)")
    }

    @Test func dumpRefusesACorruptFile() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (policy, _) = try SampleDocuments.policyAndBlob()
        policy[500] ^= 0xFF
        let path = dir.appendingPathComponent("corrupt.vla").path
        try Data(policy).write(to: URL(fileURLWithPath: path))
        let run = try Self.vlac(["dump", path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("corrupt.vla: digest_mismatch"))
        #expect(run.stdout.isEmpty)
        let missing = try Self.vlac(["dump", dir.appendingPathComponent("nope.vla").path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot open"))
    }
}

/// `verify` runs the embedded test vectors with this build's interpreter.
@Suite struct TestVectorVerifyTests {
    @Test func sampleVectorsHold() throws {
        let (policy, blob) = try SampleDocuments.policyAndBlob()
        let policyFile = try VLAFile(bytes: policy), blobFile = try VLAFile(bytes: blob)
        let summary = try TestVectorCheck.run(policyFile, blobs: [blobFile])
        #expect(summary.hasPrefix("ok  1 run"), "\(summary)")
    }

    @Test func aWrongExpectedValueIsCaught() throws {
        let (_, blob) = try SampleDocuments.policyAndBlob()
        var doc = SampleDocuments.policy(blobHash: SHA256.hash(blob), blobSize: UInt64(blob.count))
        let id = try #require(doc.tensors.firstIndex { $0.name == "test/0/generated" })
        guard case .inline(var bytes) = doc.tensors[id].location else { Issue.record("not inline"); return }
        bytes[5] ^= 0x40  // perturb the first expected float well beyond 1e-4
        doc.tensors[id].location = .inline(bytes)
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        let error = try #require(throws: CommandFailure.self) { try TestVectorCheck.run(file, blobs: [VLAFile(bytes: blob)]) }
        #expect(error.description.contains("does not hold"))
    }
}

/// `vlac compile` → `vlac dump` on a configuration variant (Tests/Fixtures/HyperVLA/variants): the dump shows the
/// action contract the config asks for; a statistics file without the robot's dataset writes nothing.
@Suite struct ConfigVariantCommandTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// A fresh folder with a one-line task list; `vlac compile` of `variant` for `robot` into its `out`.
    static func compile(_ variant: String, robot: String, in dir: URL, out name: String = "out") throws -> (out: String, run: VLACExecutableTests.Run) {
        let tasks = dir.appendingPathComponent("tasks.txt").path
        if !FileManager.default.fileExists(atPath: tasks) { try Data("pick up the cup\n".utf8).write(to: URL(fileURLWithPath: tasks)) }
        let out = dir.appendingPathComponent(name).path
        let model = root + "/Tests/Fixtures/HyperVLA/variants/" + variant
        return (out, try VLACExecutableTests.vlac(["compile", "--instructions", tasks, "--model", model, "--robot", robot, "-o", out, "--quiet"]))
    }

    @Test func dumpShowsTheActionContract() throws {
        let dir = try VLACExecutableTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (out, run) = try Self.compile("mlp-bounds", robot: "widowx_bridge", in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let policies = try FileManager.default.contentsOfDirectory(atPath: out + "/policies")
        #expect(policies.count == 1)
        run = try VLACExecutableTests.vlac(["dump", out + "/policies/" + policies[0]])
        #expect(run.status == 0)
        for line in [
            "format 1.3", "squash       dims 0..<6: 1.0·tanh(x/2.0)", "normalize    bounds", "dim  low (p01)     high (p99)    unnormalize",
            "robot        widowx_bridge", "option       \"dataset\" = \"bridge_dataset\"",
        ] {
            #expect(run.stdout.contains(line), "\(line) not in:\n\(run.stdout)")
        }
        // Every dim is unnormalized (no mask in the statistics), the gripper included.
        #expect(!run.stdout.contains("  no\n"))
        // The manifest records the dataset the robot picked, as the policy's provenance does.
        let manifest = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"dataset\": \"bridge_dataset\""), "\(manifest)")
        run = try VLACExecutableTests.vlac(["dump", "--json", out + "/policies/" + policies[0]])
        #expect(run.stdout.contains("\"squashScale\": 2.0") && run.stdout.contains("\"normalization\": \"bounds\""))
        // vlac run executes the 1.3 policy: an action of 7 finite values per frame.
        let frame = Self.root + "/Examples/frames/coffee.jpg"
        run = try VLACExecutableTests.vlac(["run", out + "/policies/" + policies[0], "--image", frame, "--image", frame, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let steps = try #require((try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])?["steps"] as? [[String: Any]], "\(run.stdout)")
        #expect(steps.count == 2)
        for step in steps {
            let action = try #require(step["action"] as? [Double])
            #expect(action.count == 7 && action.allSatisfy(\.isFinite))
        }
        // The nosquash variant: no squash at all.
        let out2: String
        (out2, run) = try Self.compile("nosquash", robot: "libero", in: dir, out: "out2")
        #expect(run.status == 0, "\(run.stderr)")
        let p2 = try FileManager.default.contentsOfDirectory(atPath: out2 + "/policies")
        run = try VLACExecutableTests.vlac(["dump", out2 + "/policies/" + p2[0]])
        #expect(run.stdout.contains("squash       none") && run.stdout.contains("normalize    mean_std"), "\(run.stdout)")
    }

    @Test func missingDatasetWritesNothing() throws {
        let dir = try VLACExecutableTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (out, run) = try Self.compile("mlp-bounds", robot: "libero", in: dir)
        #expect(run.status != 0)
        #expect(run.stderr.contains("dataset_statistics.json: no dataset \"libero\""), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
