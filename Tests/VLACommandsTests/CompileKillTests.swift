import Foundation
import Testing
import VLAFormat

#if canImport(Glibc)
import Glibc
#endif

/// `vlac compile` killed with SIGKILL at seeded random moments (a subprocess: the built `vlac`): after each
/// kill every file the manifest names is complete and verifies and no final name holds a partial file; a
/// rerun then leaves exactly what an uninterrupted compile writes.
@Suite(.serialized) struct CompileKillTests {
    static let model = RunBenchTests.root.path + "/Examples/hypervla-tiny/model"
    /// List B: the example's 20 instructions, so that writing policies is a good part of a run.
    static let listB = RunBenchTests.root.path + "/Examples/hypervla-tiny/tasks.txt"

    /// Runs `vlac compile` into `out`; with `killAfter`, sends SIGKILL after that many seconds (if it is still
    /// running). Returns the exit status (nil when killed) and the wall-clock seconds it ran.
    static func compile(_ tasks: String, _ out: String, killAfter: Double? = nil) throws -> (status: Int32?, seconds: Double) {
        let p = Process()
        p.executableURL = try RunBenchTests.vlac()
        p.arguments = ["compile", "--instructions", tasks, "--model", model, "-o", out, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let start = Date()
        try p.run()
        if let killAfter {
            usleep(useconds_t(killAfter * 1_000_000))
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        let killed = p.terminationReason == .uncaughtSignal
        return (killed ? nil : p.terminationStatus, Date().timeIntervalSince(start))
    }

    /// Every regular file under `dir` (relative paths) with its bytes.
    static func files(_ dir: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir) else { return out }
        while let f = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = [UInt8](try #require(FileManager.default.contents(atPath: dir + "/" + f)))
            }
        }
        return out
    }

    /// The invariant after a kill: the manifest (if any) parses, each file it names is there with the recorded
    /// size and SHA-256 and verifies; every file under a final name (`*.vla`) verifies. Returns the problems.
    static func problems(_ out: String) throws -> [String] {
        var found: [String] = []
        let all = try files(out)
        for (name, bytes) in all where name.hasSuffix(".vla") {
            do { _ = try VLAFile(bytes: bytes) } catch { found.append("\(name): \(error)") }
        }
        guard let data = all["manifest.json"] else { return found }
        guard let m = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else { return found + ["manifest.json does not parse"] }
        let named = ((m["policies"] as? [[String: Any]]) ?? []) + ((m["shared"] as? [[String: Any]]) ?? [])
        if named.isEmpty { found.append("manifest.json names no file") }
        for entry in named {
            let file = entry["file"] as? String ?? "?"
            guard let bytes = all[file] else {
                found.append("\(file): named by the manifest, missing")
                continue
            }
            if bytes.count != entry["size"] as? Int || VLAFormat.SHA256.hash(bytes).map({ String(format: "%02x", $0) }).joined() != entry["sha256"] as? String {
                found.append("\(file): not the recorded bytes")
            }
        }
        return found
    }

    /// A clean compile of list A, then compiles of list B killed at seeded points spread over the second half
    /// of a clean B run, where it writes policies (each into the folder the last one left), then A again: the folder must be exactly the
    /// clean A compile, so the policies and blobs the killed B runs wrote (journaled, in no manifest, or in
    /// B's manifest when a run ended before its kill) are all removed, and so are their temporary files.
    @Test func killedAtRandomMomentsThenRerunEqualsACleanCompile() throws {
        let dir = NSTemporaryDirectory() + "vlac-kill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.txt", b = Self.listB
        try Data("wipe the table with the cloth\npick coke can\n".utf8).write(to: URL(fileURLWithPath: a))

        let out = dir + "/out"
        #expect(try Self.compile(a, out).status == 0)
        let expected = try Self.files(out)
        #expect(expected.keys.filter { $0.hasPrefix("policies/") }.count == 2)
        let cleanB = try Self.compile(b, dir + "/clean-b")
        #expect(cleanB.status == 0)
        #expect(try Self.files(dir + "/clean-b").keys.filter { $0.hasPrefix("policies/") }.count == 20)

        var rng = KillPoints(seed: 0xC0FFEE)
        var killed = 0
        for k in 0..<3 {
            let delay = cleanB.seconds * (0.4 + 0.55 * (Double(k) + Double(rng.next() % 1000) / 1000) / 3)
            let run = try Self.compile(b, out, killAfter: delay)
            if run.status == nil { killed += 1 }
            #expect(run.status == nil || run.status == 0)
            let found = try Self.problems(out)
            #expect(found.isEmpty, "after a kill at \(delay) s: \(found)")
        }
        #expect(killed >= 1, "no run was killed before it ended; the kill points are too late")
        // A temporary file, as if a kill had come between create and rename.
        try Data([0x56, 0x4C]).write(to: URL(fileURLWithPath: out + "/policies/put-carrot-on-plate-0badf00d.vla.tmp-Zz9Yy8"))
        #expect(try Self.compile(a, out).status == 0)
        #expect(try Self.files(out) == expected)
    }
}

/// A small seeded generator (SplitMix64), so that the kill points repeat from run to run.
private struct KillPoints {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
