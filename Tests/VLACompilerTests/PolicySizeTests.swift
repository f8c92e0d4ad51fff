import Foundation
import Testing
import VLAFormat
import VLAModels
import VLARuntime
@testable import VLACompiler

/// Format 1.1 policies: only instruction-specific bytes; the programs and the test frame live in the blobs.
@Suite struct PolicySizeTests {
    @Test(arguments: ["model", "model-no-image"])
    func policiesCallTheBlobsAndStaySmall(model: String) throws {
        let c = try SharedCompilers.get(Paths.tiny + "/" + model)
        let out = Paths.temporary("size-\(model)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try c.compile(tasks: TaskList(bytes: Array("pick coke can\n".utf8), name: "t"), listName: "t", to: out)
        #expect(s.policies == 1 && s.failed == 0)
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: out + "/policies").first)
        let path = out + "/policies/" + name
        let file = try VLAFile(path: path)
        #expect(file.header.major == 1 && file.header.minor == 1)
        let step = try #require(file.programs.first { $0.name == "step" })
        #expect(step.operations.map(\.opcode) == [.call, .call])
        // The test frame is the backbone blob's `test/frame`.
        let frame = try #require(file.tensorID(named: "test/frame"))
        guard case .external(let ref, _) = file.tensors[frame].storage else { Issue.record("test frame is not external"); return }
        #expect(file.sharedRefs[ref].role == "backbone")
        let blobs = try SharedBlobResolver(searchPaths: SharedBlobResolver.defaultSearchPaths(forPolicyAt: path)).resolve(for: file)
        #expect(blobs[ref].programs.map(\.name) == ["backbone", "policy-tail"])
        for r in try TestVectors.run(file: file, blobs: blobs) { #expect(r.passed, "test vector \(r.index): \(r.maxAbsDifference)") }
        // The session arena: the policy's, then each called blob's.
        let policy = try Policy(path: path)
        let session = try PolicySession(policy: policy)
        #expect(UInt64(session.interpreter.arenaSize) == policy.sessionArenaBytes)
        #expect(policy.sessionArenaBytes > file.arenaSize)
        // Beyond the instruction's own numbers, a few kilobytes.
        let own: Int
        if model == "model-no-image" {
            own = c.model.generatedCount * 4
            #expect(file.programs.count == 1)
        } else {
            let tokens = try #require(file.tensorID(named: "instruction.tokens"))
            let mask = try #require(file.tensorID(named: "instruction.mask"))
            own = Int(file.tensors[tokens].byteCount + file.tensors[mask].byteCount)
            #expect(file.programs.first { $0.name == "reset" }?.operations.filter { $0.opcode == .call }.count == 2)
        }
        #expect(file.byteCount - own < 4096, "\(file.byteCount) bytes, \(own) of them instruction-specific")
    }

    @Test func selfContainedPoliciesStayFormatOnePointZero() throws {
        let c = try SharedCompilers.get(Paths.tiny + "/model-no-image", embedShared: true)
        let out = Paths.temporary("size-embed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try c.compile(tasks: TaskList(bytes: Array("pick coke can\n".utf8), name: "t"), listName: "t", to: out)
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: out + "/policies").first)
        let file = try VLAFile(path: out + "/policies/" + name)
        #expect(file.header.minor == 0)
        #expect(file.sharedRefs.isEmpty)
        for r in try TestVectors.run(file: file, blobs: []) { #expect(r.passed) }
    }
}
