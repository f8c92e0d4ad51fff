import ArgumentParser
import Foundation
import Testing
import VLACheckpoint
@testable import VLACommands

/// `vlac inspect`, in process, on the checkpoint fixtures.
@Suite struct InspectTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/VLACheckpoint").path

    static let files = ["dtypes.safetensors", "hf-sharded", "f32.v1.npy", "compressed.npz", "flax.msgpack", "state_dict.pt", "toy.onnx", "onnx-external/model.onnx", "hf-pytorch"]

    @Test(arguments: files)
    func textListsEveryTensorAndTheTotals(_ name: String) throws {
        let c = try Checkpoint(path: Self.fixtures + "/" + name)
        let text = Inspect.render(try CheckpointListing(path: Self.fixtures + "/" + name), json: false, graph: true, hash: true)
        for t in c.tensors { #expect(text.contains(t.name), "\(t.name)") }
        #expect(text.contains("total: \(c.tensors.count) tensors, \(c.totalElements) elements, \(c.totalBytes) bytes"))
        for f in c.files { #expect(text.contains("sha256 \(f.sha256().hex)")) }
    }

    @Test(arguments: files)
    func jsonParsesAndAgreesWithTheCheckpoint(_ name: String) throws {
        let c = try Checkpoint(path: Self.fixtures + "/" + name)
        let json = Inspect.render(try CheckpointListing(path: Self.fixtures + "/" + name), json: true, graph: true, hash: false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["formatVersion"] as? Int == 1)
        #expect(object["format"] as? String == c.format.name)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["name"] as? String } == c.names)
        #expect(tensors.map { $0["shape"] as? [Int] } == c.tensors.map(\.shape))
        #expect(tensors.map { $0["bytes"] as? Int } == c.tensors.map(\.byteCount))
        let totals = try #require(object["totals"] as? [String: Int])
        #expect(totals["bytes"] == c.totalBytes)
    }

    @Test func onnxListsOpsetsAndNodes() throws {
        let c = try Checkpoint(path: Self.fixtures + "/toy.onnx")
        let text = Inspect.render(CheckpointListing(c), json: false, graph: true, hash: false)
        #expect(text.contains("opsets: ai.onnx 17"))
        #expect(text.contains("node 4 MatMul \"mm\""))
        #expect(text.contains("operators: Constant ×4, Add ×1, MatMul ×1"))
    }

    @Test func parsesItsOptions() throws {
        let cmd = try #require(try VLAC.parseAsRoot(["inspect", "x.safetensors", "--json", "--graph", "--no-hash"]) as? Inspect)
        #expect(cmd.path == "x.safetensors" && cmd.json && cmd.graph && cmd.noHash)
        let help = VLAC.helpMessage(for: Inspect.self)
        #expect(help.contains("List the tensors") && help.contains("vlac inspect") && help.contains("<path>"))
    }

    @Test func helpMatchesGolden() {
        assertSnapshot(VLAC.helpMessage(for: Inspect.self, columns: 100), named: "help-inspect.txt")
    }

    @Test func controlCharactersInNamesAreEscaped() {
        #expect(Inspect.escaped("a\u{1b}[31mb") == "a\\u{1b}[31mb")
        #expect(Inspect.escaped("x\u{202e}y") == "x\\u{202e}y")
        #expect(Inspect.quoted("q\"\n\u{1}") == "\"q\\\"\\n\\u0001\"")
    }

    @Test func refusedFilesFailWithTheReadersMessage() throws {
        #expect(throws: CheckpointError.self) { try Inspect.parse([Self.fixtures + "/evil.pt"]).run() }
    }
}

/// `vlac inspect` as a subprocess: exit status, stdout and stderr.
@Suite struct InspectProcessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let exe = Self.root.appendingPathComponent(".build/debug/vlac")
        try #require(FileManager.default.isExecutableFile(atPath: exe.path), "build vlac first (swift build)")
        let p = Process()
        p.executableURL = exe
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func jsonOnStdoutExitZero() throws {
        let r = try run(["inspect", InspectTests.fixtures + "/toy.onnx", "--json"])
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect((object["tensors"] as? [Any])?.count == 11)
    }

    @Test func refusedFileExitsNonZeroWithTheMessage() throws {
        let r = try run(["inspect", InspectTests.fixtures + "/evil.pt"])
        #expect(r.status != 0)
        #expect(r.err.contains("global os.system is not on the allow-list"), "\(r.err)")
    }
}
