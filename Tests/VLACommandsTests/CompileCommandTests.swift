import ArgumentParser
import Foundation
import Testing
@testable import VLACommands
import VLAFormat

/// `vlac compile` in-process: help golden, flag validation, a run with a bad line.
@Suite struct CompileCommandTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    @Test func helpMatchesGolden() {
        let help = VLAC.helpMessage(for: Compile.self, columns: 100)
        assertSnapshot(help, named: "help-compile.txt")
        #expect(help.contains("Examples (in Examples/hypervla-tiny):"))
        #expect(help.contains("--instructions <tasks.txt>"))
    }

    @Test func badFlagsAreUsageErrors() {
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--batch", "0"]) }
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--robot", "r2d2"]) }
        #expect(throws: (any Error).self) { try Compile.parse(["--model", "m", "-o", "o"]) }
    }

    /// A list with one good line and one non-UTF-8 line: the good policy is written and verifies, the run
    /// fails with exit status 1.
    @Test func runWritesGoodLinesAndFailsOnBadOnes() throws {
        let dir = NSTemporaryDirectory() + "vlac-compile-cmd-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tasks = dir + "/tasks.txt"
        FileManager.default.createFile(atPath: tasks, contents: Data(Array("pick coke can\n".utf8) + [0xC3, 0x28, 0x0A]))
        let cmd = try Compile.parse([
            "--instructions", tasks, "--model", Self.root + "/Examples/hypervla-tiny/model-no-image", "-o", dir + "/out", "--quiet",
        ])
        #expect(throws: ExitCode.self) { try cmd.run() }
        let policies = try FileManager.default.contentsOfDirectory(atPath: dir + "/out/policies")
        #expect(policies.count == 1 && policies[0].hasPrefix("pick-coke-can-"))
        let file = try VLAFile(path: dir + "/out/policies/" + policies[0])
        #expect(file.programs.map(\.name) == ["step"])
        let manifest = try #require(FileManager.default.contents(atPath: dir + "/out/manifest.json"))
        #expect(try JSONSerialization.jsonObject(with: manifest) is [String: Any])
    }

    /// `--precision int8` with a calibration folder: the summary line, and a manifest (with its precision and
    /// per-policy deviation objects) that fits Schemas/manifest.schema.json.
    @Test func int8RunWritesAManifestThatFitsTheSchema() throws {
        let dir = NSTemporaryDirectory() + "vlac-compile-int8-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/frames", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data("pick coke can\nopen the drawer\n".utf8))
        // A 40 × 30 PPM frame.
        let pixels = (0..<(40 * 30 * 3)).map { UInt8(($0 * 7) % 256) }
        FileManager.default.createFile(atPath: dir + "/frames/a.ppm", contents: Data(Array("P6\n40 30\n255\n".utf8) + pixels))
        let cmd = try Compile.parse([
            "--instructions", dir + "/tasks.txt", "--model", Self.root + "/Examples/hypervla-tiny/model", "-o", dir + "/out",
            "--precision", "int8", "--calibration", dir + "/frames", "--quiet",
        ])
        try cmd.run()
        let data = try #require(FileManager.default.contents(atPath: dir + "/out/manifest.json"))
        let manifest = try JSONSerialization.jsonObject(with: data)
        let validator = DumpSchemaTests(schemaFile: "manifest.schema.json")
        #expect(validator.problems(manifest, validator.schema, at: "$").isEmpty, "\(validator.problems(manifest, validator.schema, at: "$"))")
        let object = try #require(manifest as? [String: Any])
        #expect((object["precision"] as? [String: Any])?["mode"] as? String == "int8")
        #expect(((object["policies"] as? [[String: Any]]) ?? []).allSatisfy { $0["deviation"] != nil })
        // Flags that make no sense together are usage errors.
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--precision", "int4"]) }
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--calibration", "d"]) }
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--max-deviation", "0.1"]) }
        #expect(throws: (any Error).self) { try Compile.parse(["--instructions", "t", "--model", "m", "-o", "o", "--precision", "bf16", "--max-deviation", "-1"]) }
    }
    /// Options that change only the policy (robot mapping, crop) leave the shared blobs' bytes alone: compiling
    /// the model for widowx_bridge and then for google_robot with a crop into one folder writes one set of
    /// blobs, which both policies reference, and the blobs' provenance records none of those options.
    @Test func robotsShareOneSetOfBlobs() throws {
        let dir = NSTemporaryDirectory() + "vlac-compile-robots-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/tasks.txt", contents: Data("pick coke can\n".utf8))
        func compile(_ extra: [String]) throws {
            try Compile.parse([
                "--instructions", dir + "/tasks.txt", "--model", Self.root + "/Examples/hypervla-tiny/model", "-o", dir + "/out", "--quiet",
            ] + extra).run()
        }
        func shared() throws -> [String: Data] {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/out/shared").sorted()
            return try Dictionary(uniqueKeysWithValues: names.map { ($0, try #require(FileManager.default.contents(atPath: dir + "/out/shared/" + $0))) })
        }
        try compile(["--robot", "widowx_bridge"])
        let first = try shared()
        #expect(first.keys.filter { $0.hasPrefix("backbone-") }.count == 1)
        try compile(["--robot", "google_robot", "--crop", "--keep-stale"])
        let second = try shared()
        #expect(second.keys.sorted() == first.keys.sorted(), "a second set of blobs: \(second.keys.sorted())")
        #expect(second == first)
        let policies = try FileManager.default.contentsOfDirectory(atPath: dir + "/out/policies").sorted()
        #expect(policies.count == 2)
        let files = try policies.map { try VLAFile(path: dir + "/out/policies/" + $0) }
        #expect(Set(files.map(\.metadata.action.robot)) == [.widowxBridge, .googleRobot])
        #expect(Set(files.map(\.metadata.image.crop)) == [.none, .central])
        #expect(files[0].sharedRefs.map(\.sha256) == files[1].sharedRefs.map(\.sha256))
        for name in first.keys {
            let blob = try VLAFile(path: dir + "/out/shared/" + name)
            let keys = blob.provenance.options.map(\.key)
            #expect(!keys.contains("robot") && !keys.contains("crop") && !keys.contains("dataset") && !keys.contains("batch"), "\(name): \(keys)")
            #expect(blob.metadata.image.crop == .none)
        }
    }
}
