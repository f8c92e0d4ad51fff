import Foundation
import Testing
import VLACompiler

/// The loading and shared-blob phases a compile reports (what `vlac compile` shows on a terminal), and the
/// task-list encodings a new user's editor may write.
@Suite struct ProgressAndTaskListTests {
    @Test func loadingAndSharedBlobPhasesAreReported() throws {
        var phases: [String] = []
        let compiler = try Compiler(model: Paths.tiny + "/model", options: CompileOptions()) { phases.append($0) }
        #expect(phases.first == "reading the model")
        #expect(phases.contains { $0.hasPrefix("hashing ") && $0.hasSuffix(" MB)") }, "\(phases)")
        #expect(phases.contains("reading the vision encoder") && phases.contains("reading the text encoder"))
        #expect(phases.last == "evaluating the backbone on the test frame", "\(phases)")
        let out = Paths.temporary("phases")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var events: [String] = []
        _ = try compiler.compile(tasks: TaskList(bytes: Array("pick coke can\n".utf8), name: "t.txt"), listName: "t.txt", to: out) { event in
            if case .phase(let p) = event { events.append(p) }
        }
        #expect(events.first == "building the shared blobs")
        #expect(events.contains { $0.hasPrefix("writing 3 shared blobs (") }, "\(events)")
    }

    @Test func utf16IsNamedAndAByteOrderMarkIsSkipped() {
        var le: [UInt8] = [0xFF, 0xFE], be: [UInt8] = [0xFE, 0xFF]
        for u in "open the drawer\n".utf16 {
            le += [UInt8(u & 0xFF), UInt8(u >> 8)]
            be += [UInt8(u >> 8), UInt8(u & 0xFF)]
        }
        for (bytes, what) in [(le, "UTF-16 (little-endian, byte-order mark FF FE)"), (be, "UTF-16 (big-endian, byte-order mark FE FF)"),
                              (Array(le.dropFirst(2)), "UTF-16 (little-endian)"), (Array(be.dropFirst(2)), "UTF-16 (big-endian)")] {
            let list = TaskList(bytes: bytes, name: "tasks.txt")
            #expect(list.tasks.isEmpty)
            #expect(list.errors.count == 1 && list.errors[0].hasPrefix("tasks.txt:1: the file looks like \(what), not UTF-8"), "\(list.errors)")
            #expect(list.failures == [TaskLineFailure(line: 1, message: String(list.errors[0].dropFirst("tasks.txt:1: ".count)))])
        }
        let bom = TaskList(bytes: [0xEF, 0xBB, 0xBF] + Array("open the drawer\n# c\nclose it\n".utf8), name: "t")
        #expect(bom.tasks.map(\.text) == ["open the drawer", "close it"])
        #expect(bom.tasks.first?.text.unicodeScalars.first == "o")
        #expect(bom.errors.isEmpty)
        // Only a mark at the start of the file is skipped; one inside stays part of its line.
        let inner = TaskList(bytes: Array("a\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("b\n".utf8), name: "t")
        #expect(inner.tasks.map(\.text).count == 2)
    }
}
