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
        #expect(help.contains("Example:"))
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
        try? FileManager.default.removeItem(atPath: dir)
    }
}
