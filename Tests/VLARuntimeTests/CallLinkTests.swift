import Testing
import VLAFormat
import VLARuntime
import VLATestSupport

/// Linking of `call` ops (format 1.1): the blob program runs in the blob's part of the session arena, against the
/// blob's mapped tensors, and its test-vector value comes from the blob.
@Suite struct CallLinkTests {
    static func files() throws -> (policy: VLAFile, blob: VLAFile) {
        let (p, b) = try SampleDocuments.callPolicyAndBlob()
        return (try VLAFile(bytes: p), try VLAFile(bytes: b))
    }

    @Test func embeddedTestVectorWithAnExternalFrameHolds() throws {
        let (policy, blob) = try Self.files()
        let results = try TestVectors.run(file: policy, blobs: [blob])
        #expect(results.count == 1)
        #expect(results.allSatisfy { $0.passed }, "\(results)")
    }

    @Test func callComputesTheBlobProgramThenThePolicyTail() throws {
        let (policy, blob) = try Self.files()
        let interpreter = try Interpreter(file: policy, blobs: [blob])
        // The session arena: the policy's 320 bytes, then the blob's 256.
        #expect(interpreter.arenaSize == 320 + 256)
        // The file's programs and op indices are kept.
        #expect(interpreter.programs == policy.programs)
        try interpreter.setFloats(0, SampleDocuments.floats(18, seed: 13))
        try interpreter.run(0)
        let got = try interpreter.floats(3)
        let want = SampleDocuments.callPolicyExpected()
        for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-5 * max(1, abs(w)), "\(g) vs \(w)") }
        // Another input gives another answer (the call really reads its input).
        try interpreter.setFloats(0, [Float](repeating: 0, count: 18))
        try interpreter.run(0)
        let zeroInput = try interpreter.floats(3)
        // relu(b)·v, computed in float64.
        let b = SampleDocuments.floats(4, seed: 12), v = SampleDocuments.floats(28, seed: 14)
        for r in 0..<3 {
            for n in 0..<7 {
                let w = (0..<4).reduce(0.0) { $0 + Double(max(b[$1], 0)) * Double(v[$1 * 7 + n]) }
                #expect(abs(Double(zeroInput[r * 7 + n]) - w) <= 1e-5)
            }
        }
    }

    @Test func profilesCountTheCallAsOneOp() throws {
        let (policy, blob) = try Self.files()
        let interpreter = try Interpreter(file: policy, blobs: [blob])
        let times = try interpreter.runProfiled(0)
        #expect(times.count == 2)
    }

    @Test func mismatchedBlobIsRefusedAtPrepare() throws {
        let (policy, _) = try Self.files()
        let other = try VLAFile(bytes: VLAWriter.serialize(SampleDocuments.callBlob(rows: 2)))
        #expect(throws: RuntimeError.self) { try Interpreter(file: policy, blobs: [other]) }
    }

    /// A policy whose program repeats one `call` 20,000 times (a legal file) would expand to 20,000 × (callee
    /// ops + copies) planned ops, over the default 65,536: refused before anything is built, with the limit named.
    @Test func callExpansionIsLimited() throws {
        let (policy, blob) = try Self.files()
        var small = RuntimeOptions()
        small.limits.maxPlannedOps = 3
        #expect {
            try Interpreter(file: policy, blobs: [blob], options: small)
        } throws: { error in
            (error as? RuntimeError)?.code == .limitExceeded && "\(error)".contains("maxPlannedOps")
        }
        #expect(RuntimeLimits().maxPlannedOps == 1 << 16)
        var doc = try policy.document()
        let call = try #require(doc.programs[0].operations.first { $0.opcode == .call })
        doc.programs[0].operations = [Operation](repeating: call, count: 20_000) + doc.programs[0].operations
        let amplified = try VLAFile(bytes: VLAWriter.serialize(doc))
        #expect {
            try Interpreter(file: amplified, blobs: [blob])
        } throws: { error in
            (error as? RuntimeError)?.code == .limitExceeded
        }
    }

    @Test func documentsWithCallsNeedTheFile() throws {
        let (policy, _) = try Self.files()
        #expect(throws: RuntimeError.self) { try Interpreter(document: policy.document()) }
    }
}
