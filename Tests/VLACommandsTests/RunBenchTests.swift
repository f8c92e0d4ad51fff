import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLAFormat
import VLARuntime
import VLATestSupport

/// `vlac run` and `vlac bench`: argument parsing in-process, end to end as a subprocess on a demo policy.
@Suite struct RunBenchTests {
    static let demo = Result { try DemoPolicy.make(withReset: true) }

    /// A fresh temporary folder with the demo policy in `policies/` and its blob in `shared/`; the caller removes it.
    static func demoFolder() throws -> String {
        let files = try demo.get()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("shared"), withIntermediateDirectories: true)
        try Data(files.policy).write(to: folder.appendingPathComponent("policies/demo.vla"))
        try Data(files.blob).write(to: folder.appendingPathComponent("shared/\(files.blobName)"))
        return folder.path
    }

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The built `vlac` next to the test bundle.
    static func vlac() throws -> URL {
        let candidates = [".build/debug/vlac", ".build/release/vlac"].map { root.appendingPathComponent($0) }
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }, "build vlac first (swift build)")
    }

    static func execute(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = try vlac()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func parses() throws {
        let run = try #require(try VLAC.parseAsRoot(["run", "p.vla", "--image", "a.png", "--image", "b.ppm", "--shared", "s", "--json"]) as? Run)
        #expect(run.images == ["a.png", "b.ppm"] && run.sharedFolders == ["s"] && run.json)
        #expect(throws: (any Error).self) { try VLAC.parseAsRoot(["run", "p.vla"]) }
        let bench = try #require(try VLAC.parseAsRoot(["bench", "p.vla", "--steps", "7", "--threads", "2"]) as? Bench)
        #expect(bench.steps == 7 && bench.threads == 2)
        #expect(throws: (any Error).self) { try VLAC.parseAsRoot(["bench", "p.vla", "--steps", "0"]) }
    }

    @Test func helpTextsMatchGolden() {
        assertSnapshot(VLAC.helpMessage(for: Run.self, columns: 100), named: "help-run.txt")
        assertSnapshot(VLAC.helpMessage(for: Bench.self, columns: 100), named: "help-bench.txt")
    }

    /// `vlac run --json` prints the actions a PolicySession computes in-process on the same decoded images.
    @Test func runMatchesSession() throws {
        let folder = try Self.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let images = ["rgb.png", "rgb.ppm", "rgba.png", "rgb-progressive.jpg"].map {
            Self.root.appendingPathComponent("Tests/Fixtures/VLACommands/images/\($0)").path
        } + [Self.root.appendingPathComponent("Examples/frames/coffee.jpg").path]
        let policyPath = folder + "/policies/demo.vla"
        let result = try Self.execute(["run", policyPath] + images.flatMap { ["--image", $0] } + ["--json"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.hasSuffix("}\n"), "every JSON output ends with a newline")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        let steps = try #require(parsed["steps"] as? [[String: Any]])
        #expect(steps.count == 5)
        #expect(steps[4]["width"] as? Int == 320 && steps[4]["height"] as? Int == 256)
        let session = try PolicySession(policy: Policy(path: policyPath))
        for (t, path) in images.enumerated() {
            let image = try RGBImage(decoding: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
            if t == 0 { try session.reset(frame: image.pixels.span, height: image.height, width: image.width) }
            let want = try session.step(frame: image.pixels.span, height: image.height, width: image.width)
            let got = try #require(steps[t]["action"] as? [Double])
            #expect(got.count == want.count)
            for (a, b) in zip(got, want) { #expect(abs(a - Double(b)) <= 1e-6 * max(1, abs(Double(b)))) }
        }
    }

    @Test func runErrors() throws {
        let folder = try Self.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let missing = try Self.execute(["run", folder + "/policies/demo.vla", "--image", folder + "/nope.png"])
        #expect(missing.status != 0 && missing.err.contains("nope.png"))
        let notImage = try Self.execute(["run", folder + "/policies/demo.vla", "--image", folder + "/policies/demo.vla"])
        // A file that is no image: the message lists the formats vlac reads.
        #expect(notImage.status != 0 && notImage.err.contains("not an image vlac reads"), "\(notImage.err)")
        #expect(notImage.err.contains("PNG") && notImage.err.contains("JPEG") && notImage.err.contains("PPM"))
        try FileManager.default.removeItem(atPath: folder + "/shared")
        let noBlob = try Self.execute(["run", folder + "/policies/demo.vla", "--image", folder + "/x.png"])
        #expect(noBlob.status != 0 && noBlob.err.contains("sha256:"), "\(noBlob.err)")
    }

    @Test func benchReports() throws {
        let folder = try Self.demoFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try Self.execute(["bench", folder + "/policies/demo.vla", "--steps", "2", "--warmup", "1", "--json"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.hasSuffix("}\n"), "every JSON output ends with a newline")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect(parsed["allocationsPerStep"] as? Double == 0)
        #expect((parsed["profile"] as? [Any])?.count == 4)
        #expect((parsed["stepMsP50"] as? Double ?? 0) > 0)
        #expect(parsed["mappedBytes"] as? Int == (try Self.demo.get().policy.count + Self.demo.get().blob.count))
    }

    /// On a compiled hypervla-tiny policy (two `call`s), the profile ranks ops of the called programs.
    @Test func benchProfilesInsideCalls() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-bench-\(UUID().uuidString)").path
        let tasks = out + "-tasks.txt"
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: tasks)
        }
        try Data("open the drawer\n".utf8).write(to: URL(fileURLWithPath: tasks))
        let model = Self.root.appendingPathComponent("Examples/hypervla-tiny/model").path
        let compiled = try Self.execute(["compile", "--instructions", tasks, "--model", model, "-o", out])
        #expect(compiled.status == 0, "\(compiled.err)")
        let policy = out + "/policies/" + (try #require(try FileManager.default.contentsOfDirectory(atPath: out + "/policies").first))
        let result = try Self.execute(["bench", policy, "--steps", "1", "--warmup", "1", "--top", "1000", "--json"])
        #expect(result.status == 0, "\(result.err)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        let rows = try #require(parsed["profile"] as? [[String: Any]])
        let file = try VLAFile(path: policy)
        let step = try #require(file.programs.firstIndex { $0.name == "step" })
        #expect(file.programs[step].operations.filter { $0.opcode == .call }.count == 2)
        // Rows name the called program and its op (`backbone:17`), with the op's output type.
        let names = Set(rows.compactMap { $0["name"] as? String })
        #expect(names.contains("backbone:0") && names.contains("policy-tail:0") && names.contains("backbone:copies"))
        let patch = try #require(rows.first { $0["name"] as? String == "backbone:0" })
        #expect(patch["op"] as? String == "patch_embed" && patch["program"] as? String == "backbone" && patch["programOp"] as? Int == 0)
        #expect((patch["output"] as? String ?? "").hasPrefix("f32[") && (patch["GFLOPPerSecond"] as? Double ?? 0) > 0)
        let shares = rows.compactMap { $0["share"] as? Double }.reduce(0, +)
        #expect(abs(shares - 1) < 1e-3, "shares sum to \(shares)")
        let parts = try #require(parsed["parts"] as? [[String: Any]])
        #expect(Set(parts.compactMap { $0["name"] as? String }) == ["backbone", "policy-tail"])
        for key in ["programMsP50", "stepMsP50", "programGFLOPPerSecond", "allocationsPerStep"] { #expect(parsed[key] is Double, "\(key)") }
        // The text profile lists the same kind of rows.
        let text = try Self.execute(["bench", policy, "--steps", "1", "--warmup", "0", "--top", "5"])
        #expect(text.status == 0 && text.out.contains("backbone:") && text.out.contains("calls expanded"), "\(text.out)")
    }
}
