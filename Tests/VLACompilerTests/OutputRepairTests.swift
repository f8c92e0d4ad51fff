import Foundation
import Testing
import VLAFormat
@testable import VLACompiler

/// What a compile does about other writers and earlier damage in its output folder: the lock against a
/// concurrent compile, a manifest edited to map an instruction to another one's file, the temporary files
/// and journaled files that killed runs leave. (Killing a real `vlac compile` is `CompileKillTests`.)
@Suite(.serialized) struct OutputRepairTests {
    static let model = Paths.tiny + "/model-no-image"
    static let two = "pick coke can\nopen the top drawer\n"

    static func tasks(_ text: String) -> TaskList { TaskList(bytes: Array(text.utf8), name: "tasks.txt") }

    static func manifest(_ dir: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: dir + "/manifest.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Rewrites the `policies` entries of `dir`'s manifest with `edit`.
    static func editPolicies(_ dir: String, _ edit: (inout [[String: Any]]) throws -> Void) throws {
        var m = try manifest(dir)
        var policies = try #require(m["policies"] as? [[String: Any]])
        try edit(&policies)
        m["policies"] = policies
        try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    /// A manifest edited so that instruction A names B's file (with B's hash and size) is not "up to date":
    /// the file records B, so A is compiled again, into its own file, and the folder ends as a clean compile.
    @Test func manifestMappingAnInstructionToAnotherFileIsNotTrusted() throws {
        let c = try SharedCompilers.get(Self.model)
        let out = Paths.temporary("repair-mapping")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        let clean = try OutputTests.files(out)
        var cokeFile = ""
        try Self.editPolicies(out) { policies in
            let coke = try #require(policies.firstIndex { $0["instruction"] as? String == "pick coke can" })
            let drawer = try #require(policies.firstIndex { $0["instruction"] as? String == "open the top drawer" })
            cokeFile = try #require(policies[coke]["file"] as? String)
            for key in ["file", "sha256", "size"] { policies[coke][key] = policies[drawer][key] }
        }
        try FileManager.default.removeItem(atPath: out + "/" + cokeFile)

        let s = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        #expect(s.upToDate == 1 && s.policies == 2)
        let after = try OutputTests.files(out)
        #expect(after == clean)
        let file = try VLAFile(path: out + "/" + cokeFile)
        #expect(file.metadata.instruction == "pick coke can")
    }

    /// A policy whose manifest entry names a shared blob that this run does not write (what a compiler whose
    /// backbone changed without a new version met: the old blob was replaced, the policy kept naming it) is not
    /// "up to date": it is compiled again, and the folder ends as a clean compile whose policies name the blob
    /// that is there.
    @Test func policyNamingABlobThisRunDoesNotWriteIsRecompiled() throws {
        let c = try SharedCompilers.get(Self.model)
        let out = Paths.temporary("repair-stale-blob")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        let clean = try OutputTests.files(out)
        try Self.editPolicies(out) { policies in
            #expect(policies.allSatisfy { ($0["shared"] as? [String])?.isEmpty == false })
            for i in policies.indices { policies[i]["shared"] = [String(repeating: "0", count: 64)] }
        }

        let s = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        #expect(s.upToDate == 0 && s.policies == 2)
        #expect(try OutputTests.files(out) == clean)
    }

    /// While one compile holds the folder, another fails at once with an error naming the holder's process;
    /// once it is released the compile runs and deletes the lock file at the end.
    @Test func concurrentCompileIntoTheSameFolderFails() throws {
        let c = try SharedCompilers.get(Self.model)
        let out = Paths.temporary("repair-lock")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let held = try OutputLock(folder: out)
        do {
            _ = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
            Issue.record("expected the lock to refuse the second compile")
        } catch {
            #expect(error.code == .output)
            #expect(error.message.contains("another vlac compile (process \(getpid())) is writing to this output folder"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/manifest.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/policies").isEmpty)
        held.release()
        let s = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        #expect(s.policies == 2 && s.upToDate == 0)
        #expect(!FileManager.default.fileExists(atPath: out + "/" + OutputLock.fileName))
    }

    /// Temporary files in the writer's own pattern (what a kill between create and rename leaves) are removed
    /// at the start of the next run; look-alikes that are not its pattern, or not beside its outputs, stay.
    @Test func temporariesOfAKilledRunAreRemoved() throws {
        let c = try SharedCompilers.get(Self.model)
        let out = Paths.temporary("repair-temporaries")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        let clean = try OutputTests.files(out)
        let planted = ["manifest.json.tmp-q1W2e3", "policies/pick-coke-can-00000000.vla.tmp-Ab12Cd", "shared/backbone-00.vla.tmp-000000"]
        let foreign = ["notes.txt.tmp-abcdef", "policies/mine.vla.tmp-12", "policies/mine.vla.tmp-abc-ef", "shared/x.vla.tmp-Ab12Cd.bak"]
        for f in planted + foreign { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: out + "/" + f)) }
        let s = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        #expect(s.temporariesRemoved == planted)
        #expect(s.upToDate == 2)
        var expected = clean
        for f in foreign { expected[f] = [1, 2, 3] }
        #expect(try OutputTests.files(out) == expected)
        #expect(AtomicFile.finalName(ofTemporary: "a.vla.tmp-Ab12Cd") == "a.vla")
        #expect(AtomicFile.finalName(ofTemporary: ".tmp-Ab12Cd") == nil && AtomicFile.finalName(ofTemporary: "a.vla.tmp-Ab1_Cd") == nil)
    }

    /// A run killed after writing a policy that no manifest names (here: a policy for an instruction that the
    /// next list no longer has, journaled in the lock file it left) does not leave that file forever: the
    /// next run removes it, and leaves torn or foreign journal lines alone.
    @Test func filesJournaledByAnInterruptedRunAreRemoved() throws {
        let c = try SharedCompilers.get(Self.model)
        let out = Paths.temporary("repair-journal")
        let other = Paths.temporary("repair-journal-other")
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: other)
        }
        _ = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        let clean = try OutputTests.files(out)
        // What the killed run wrote: a policy for "put carrot on plate", journaled but in no manifest.
        _ = try c.compile(tasks: Self.tasks("put carrot on plate\n"), listName: "tasks.txt", to: other)
        let m = try Self.manifest(other)
        let entry = try #require((m["policies"] as? [[String: Any]])?.first)
        let file = try #require(entry["file"] as? String), sha = try #require(entry["sha256"] as? String)
        let size = try #require(entry["size"] as? Int)
        try FileManager.default.copyItem(atPath: other + "/" + file, toPath: out + "/" + file)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/policies/mine.vla"))
        let journal = "pid 999999\nfile \(sha) \(size) \(file)\nfile \(sha) 4 policies/mine.vla\nfile \(sha) 12 ../escape.vla\nfile 12"
        try Data(journal.utf8).write(to: URL(fileURLWithPath: out + "/" + OutputLock.fileName))

        let s = try c.compile(tasks: Self.tasks(Self.two), listName: "tasks.txt", to: out)
        #expect(s.removed == [file])
        #expect(s.kept.isEmpty && s.upToDate == 2)
        var expected = clean
        expected["policies/mine.vla"] = Array("mine".utf8)
        #expect(try OutputTests.files(out) == expected)
    }
}
