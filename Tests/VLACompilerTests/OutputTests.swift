import Foundation
import Testing
import VLAFormat
import VLAModels
@testable import VLACompiler

/// Outputs: byte-identical reruns, up-to-date skipping, rewrites on a changed model, self-contained policies.
@Suite(.serialized) struct OutputTests {
    static let list = "# demo\n\npick coke can\nopen the top drawer\n  pick coke can  \nput carrot on plate\n"

    static func files(_ dir: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        let e = try #require(FileManager.default.enumerator(atPath: dir))
        while let f = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = [UInt8](try #require(FileManager.default.contents(atPath: dir + "/" + f)))
            }
        }
        return out
    }

    @Test(arguments: ["model", "model-no-image"])
    func reproducibleAndIncremental(model: String) throws {
        let tasks = TaskList(bytes: Array(Self.list.utf8), name: "tasks.txt")
        #expect(tasks.tasks.map(\.text) == ["pick coke can", "open the top drawer", "put carrot on plate"])
        #expect(tasks.warnings == ["tasks.txt:5: duplicate of line 3; compiled once"])
        let a = Paths.temporary("repro-a"), b = Paths.temporary("repro-b")
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        let s1 = try SharedCompilers.get(Paths.tiny + "/" + model).compile(tasks: tasks, listName: "tasks.txt", to: a)
        _ = try Compiler(model: Paths.tiny + "/" + model).compile(tasks: tasks, listName: "tasks.txt", to: b)
        let fa = try Self.files(a), fb = try Self.files(b)
        #expect(fa.keys.sorted() == fb.keys.sorted())
        for (k, v) in fa { #expect(fb[k] == v, "\(k) differs between two runs") }
        #expect(s1.policies == 3 && s1.upToDate == 0)
        #expect(fa.keys.filter { $0.hasPrefix("shared/") }.count == (model == "model" ? 3 : 1))
        // No absolute paths anywhere.
        for (k, v) in fa { #expect(!String(decoding: v, as: UTF8.self).contains(Paths.root), "\(k) holds an absolute path") }
        // A policy's bytes do not depend on the other instructions of the list (batches are padded).
        let alone = Paths.temporary("repro-alone")
        defer { try? FileManager.default.removeItem(atPath: alone) }
        _ = try SharedCompilers.get(Paths.tiny + "/" + model).compile(
            tasks: TaskList(bytes: Array("put carrot on plate\n".utf8), name: "t"), listName: "t", to: alone)
        let fc = try Self.files(alone)
        let carrot = try #require(fc.keys.first { $0.hasPrefix("policies/put-carrot-on-plate-") })
        #expect(fa[carrot] == fc[carrot])
        // Again into the same folder: everything up to date, bytes unchanged.
        let s2 = try SharedCompilers.get(Paths.tiny + "/" + model).compile(tasks: tasks, listName: "tasks.txt", to: a)
        #expect(s2.upToDate == 3)
        #expect(try Self.files(a) == fa)
        // A changed model (statistics) rewrites every policy.
        let copy = try Paths.copyOfTiny("changed")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try Paths.changeStatistics(copy + "/" + model)
        let s3 = try Compiler(model: copy + "/" + model).compile(tasks: tasks, listName: "tasks.txt", to: a)
        #expect(s3.upToDate == 0 && s3.policies == 3)
    }

    @Test func embedSharedWritesSelfContainedPolicies() throws {
        var o = CompileOptions()
        o.embedShared = true
        let out = Paths.temporary("embed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try Compiler(model: Paths.tiny + "/model", options: o)
            .compile(tasks: TaskList(bytes: Array("pick coke can\n".utf8), name: "t"), listName: "t", to: out)
        #expect(s.policies == 1 && s.sharedBlobs == 0)
        let m = try #require(ManifestFile.read(out + "/manifest.json"))
        let file = try VLAFile(path: out + "/" + m.policies[0].file)
        #expect(file.sharedRefs.isEmpty)
        #expect(file.programs.map(\.name) == ["reset", "step"])
        for r in try VLARuntimeTestVectors.run(file) { #expect(r) }
    }

    /// The failing line is named; the rest is written; --strict stops.
    @Test func failingLinesAreReported() throws {
        let bytes = Array("pick coke can\nbad \u{01} line\n".utf8) + [0xFF, 0xFE, 0x0A] + Array("open the top drawer\n".utf8)
        let tasks = TaskList(bytes: bytes, name: "tasks.txt")
        #expect(tasks.errors == ["tasks.txt:2: control character U+1 in the instruction", "tasks.txt:3: not valid UTF-8 (byte 1 of the line)"])
        #expect(tasks.tasks.map(\.line) == [1, 4])
    }
}

import VLARuntime
/// Runs a file's test vectors with its blobs resolved beside it (none for self-contained files).
enum VLARuntimeTestVectors {
    static func run(_ file: VLAFile) throws -> [Bool] {
        try TestVectors.run(file: file, blobs: []).map(\.passed)
    }
}
