import Foundation
import Testing
import VLAFormat
@testable import VLACompiler

/// Files of an earlier run that the new manifest no longer names: removed after the manifest is written,
/// kept with `keepStale` (and listed as stale), never anything vlac did not write; `--jobs` changes no byte.
@Suite(.serialized) struct StaleFileTests {
    static let abc = "pick coke can\nopen the top drawer\nput carrot on plate\n"

    static func tasks(_ text: String) -> TaskList { TaskList(bytes: Array(text.utf8), name: "tasks.txt") }

    /// Every file under `dir` (relative paths), bytes included.
    static func files(_ dir: String) throws -> [String: [UInt8]] { try OutputTests.files(dir) }

    /// The files the manifest in `dir` names (policies and shared blobs, plus stale ones).
    static func named(_ dir: String) throws -> Set<String> {
        let m = try #require(ManifestFile.read(dir + "/manifest.json"))
        return Set(m.files.map(\.file))
    }

    static func policyFile(_ dir: String, _ instruction: String) throws -> String {
        let m = try #require(ManifestFile.read(dir + "/manifest.json"))
        return try #require(m.policies.first { $0.instruction == instruction }?.file)
    }

    @Test func droppedInstructionIsRemovedAndUserFilesAreKept() throws {
        let c = try SharedCompilers.get(Paths.tiny + "/model-no-image")
        let out = Paths.temporary("stale-drop")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks(Self.abc), listName: "tasks.txt", to: out)
        let carrot = try Self.policyFile(out, "put carrot on plate")
        // The user's own files, beside and inside vlac's folders.
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/policies/my-policy.vla"))
        let s = try c.compile(tasks: Self.tasks("pick coke can\nopen the top drawer\n"), listName: "tasks.txt", to: out)
        #expect(s.removed == [carrot])
        #expect(s.kept.isEmpty && s.upToDate == 2)
        let after = try Self.files(out)
        #expect(after[carrot] == nil)
        #expect(after["notes.txt"] == Array("mine".utf8))
        #expect(after["policies/my-policy.vla"] == Array("mine".utf8))
        // Exactly the manifest's files, the manifest and the user's files remain.
        #expect(Set(after.keys) == (try Self.named(out)).union(["manifest.json", "notes.txt", "policies/my-policy.vla"]))
    }

    @Test func keepStaleListsThemAndALaterRunRemovesThem() throws {
        let c = try SharedCompilers.get(Paths.tiny + "/model-no-image")
        let out = Paths.temporary("stale-keep")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks(Self.abc), listName: "tasks.txt", to: out)
        let carrot = try Self.policyFile(out, "put carrot on plate")
        let one = Self.tasks("pick coke can\n")
        let s1 = try c.compile(tasks: one, listName: "tasks.txt", to: out, keepStale: true)
        #expect(s1.removed.isEmpty && s1.kept.count == 2 && s1.kept.contains(carrot))
        #expect(FileManager.default.fileExists(atPath: out + "/" + carrot))
        let manifest = String(decoding: try #require(FileManager.default.contents(atPath: out + "/manifest.json")), as: UTF8.self)
        #expect(manifest.contains("\"stale\": ["))
        // The same list again without the flag: the kept files go, the manifest no longer lists them.
        let s2 = try c.compile(tasks: one, listName: "tasks.txt", to: out)
        #expect(s2.removed.sorted() == s1.kept.sorted())
        #expect(!FileManager.default.fileExists(atPath: out + "/" + carrot))
        let m2 = String(decoding: try #require(FileManager.default.contents(atPath: out + "/manifest.json")), as: UTF8.self)
        #expect(!m2.contains("\"stale\""))
    }

    /// A changed model replaces every policy and shared blob: the old ones are removed.
    @Test func changedModelRemovesOldPoliciesAndBlobs() throws {
        let out = Paths.temporary("stale-model")
        let copy = try Paths.copyOfTiny("stale-model-copy")
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let list = Self.tasks("pick coke can\nopen the top drawer\n")
        _ = try SharedCompilers.get(Paths.tiny + "/model").compile(tasks: list, listName: "tasks.txt", to: out)
        let before = try Self.named(out)
        // Change the statistics: every policy and the blobs' metadata change.
        try Paths.changeStatistics(copy + "/model")
        let s = try Compiler(model: copy + "/model").compile(tasks: list, listName: "tasks.txt", to: out)
        let after = try Self.named(out)
        #expect(s.upToDate == 0 && s.policies == 2)
        #expect(Set(s.removed) == before.subtracting(after))
        #expect(before.subtracting(after).count >= 2)
        #expect(Set(try Self.files(out).keys) == after.union(["manifest.json"]))
    }

    /// A run that fails before writing its manifest (--strict) leaves the previous manifest and its files;
    /// without --strict the failed instruction is left out and the dropped one removed.
    @Test func failureMidwayLeavesThePreviousRunIntact() throws {
        let c = try SharedCompilers.get(Paths.tiny + "/model-no-image")
        let out = Paths.temporary("stale-fail"), probe = Paths.temporary("stale-probe")
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: probe)
        }
        _ = try c.compile(tasks: Self.tasks("pick coke can\nopen the top drawer\n"), listName: "tasks.txt", to: out)
        let before = try Self.files(out)
        // Block the new instruction's policy path with a directory: writing it fails.
        let next = Self.tasks("pick coke can\nput carrot on plate\n")
        _ = try c.compile(tasks: next, listName: "tasks.txt", to: probe)
        let carrot = try Self.policyFile(probe, "put carrot on plate")
        try FileManager.default.createDirectory(atPath: out + "/" + carrot + "/blocker", withIntermediateDirectories: true)
        #expect(throws: CompileError.self) { try c.compile(tasks: next, listName: "tasks.txt", to: out, strict: true) }
        var now = try Self.files(out)
        now[carrot + "/blocker"] = nil
        #expect(now == before, "a failed --strict run changed OUT")
        // Without --strict: the failure is reported, the rest written, the dropped instruction removed.
        var events: [String] = []
        let s = try c.compile(tasks: next, listName: "tasks.txt", to: out) { e in
            if case .failed(let line, _) = e { events.append("failed \(line)") }
        }
        #expect(events == ["failed 2"])
        #expect(s.failed == 1 && s.policies == 1 && s.removed.count == 1)
        let m = try #require(ManifestFile.read(out + "/manifest.json"))
        #expect(m.policies.map(\.instruction) == ["pick coke can"])
    }

    /// A manifest naming files outside policies/ and shared/ (or escaping OUT) makes vlac remove nothing there.
    @Test func manifestPathsOutsideItsFoldersAreIgnored() throws {
        let out = Paths.temporary("stale-paths")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try FileManager.default.createDirectory(atPath: out + "/sub", withIntermediateDirectories: true)
        let victim = Array("keep me".utf8)
        let sha = hexString(VLAFormat.SHA256.hash(victim))
        for f in ["notes.vla", "sub/x.vla"] { try Data(victim).write(to: URL(fileURLWithPath: out + "/" + f)) }
        let json = """
            {"key": "\(String(repeating: "0", count: 64))", "policies": [
              {"instruction": "a", "file": "policies/../notes.vla", "sha256": "\(sha)", "size": 7}],
             "shared": [{"role": "backbone", "file": "sub/x.vla", "sha256": "\(sha)", "size": 7},
                        {"role": "backbone", "file": "shared/../../x.vla", "sha256": "\(sha)", "size": 7}],
             "stale": [{"file": "notes.vla", "sha256": "\(sha)", "size": 7}]}
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: out + "/manifest.json"))
        let crafted = try #require(ManifestFile.read(out + "/manifest.json"))
        #expect(crafted.files.isEmpty)
        let s = try SharedCompilers.get(Paths.tiny + "/model-no-image").compile(tasks: Self.tasks("pick coke can\n"), listName: "tasks.txt", to: out)
        #expect(s.removed.isEmpty)
        for f in ["notes.vla", "sub/x.vla"] { #expect(FileManager.default.contents(atPath: out + "/" + f) == Data(victim)) }
    }

    /// Two jobs write the same bytes as one.
    @Test(arguments: ["model", "model-no-image"])
    func jobsDoNotChangeBytes(model: String) throws {
        var o = CompileOptions()
        o.jobs = 2
        o.batchSize = 2
        var o1 = o
        o1.jobs = 1
        let list = Self.tasks(Self.abc + "close the middle drawer\nput the spoon on the towel\n")
        let a = Paths.temporary("jobs-1"), b = Paths.temporary("jobs-2")
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        let s1 = try Compiler(model: Paths.tiny + "/" + model, options: o1).compile(tasks: list, listName: "tasks.txt", to: a)
        var done: [Int] = []
        let s2 = try Compiler(model: Paths.tiny + "/" + model, options: o).compile(tasks: list, listName: "tasks.txt", to: b) { e in
            if case .policy(let d, _, _, _, _, _) = e { done.append(d) }
        }
        #expect(s1.policies == 5 && s2.policies == 5)
        #expect(done == [1, 2, 3, 4, 5])
        #expect(try Self.files(a) == (try Self.files(b)))
    }
}
