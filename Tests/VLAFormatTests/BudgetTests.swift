import Testing
import VLAFormat
import VLATestSupport

/// The verifier's budgets (Schemas/vla-format.md, "Budgets"): each attack is built here with the writer, patched
/// and resealed where the writer would not write it, and must be refused with the budget's error; the largest
/// files inside each budget must still verify.
@Suite struct BudgetTests {
    // MARK: Helpers

    /// A policy-shaped document: arena tensors `shapes` (ids 0...), one program "step" over `operations`.
    static func document(
        arena shapes: [[Int]], inline: [(name: String, values: [Float], shape: [Int])] = [], programs: [Program],
        testVectors: [TestVector] = [], metadata: Metadata = Metadata(role: "policy")
    ) -> VLADocument {
        var tensors: [TensorEntry] = []
        var offset: UInt64 = 0
        for (i, shape) in shapes.enumerated() {
            let type = TensorType(.f32, shape)
            tensors.append(TensorEntry(name: "t\(i)", type: type, location: .arena(offset: offset)))
            offset += (UInt64(type.elementCount * 4) + 63) & ~63
        }
        for c in inline {
            tensors.append(TensorEntry(name: c.name, type: TensorType(.f32, c.shape), location: .inline(SampleDocuments.f32Bytes(c.values))))
        }
        return VLADocument(
            tensors: tensors, metadata: metadata, programs: programs, arenaSize: offset,
            provenance: Provenance(compiler: "vlac-tests"), testVectors: testVectors)
    }

    static func expectRefused(
        _ document: VLADocument, _ code: FormatError.Code, mentioning words: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try VLAWriter.serialize(document)
            Issue.record("the writer's verifier accepted the document (wanted \(code))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.offset != nil, "no byte offset in \(error)", sourceLocation: sourceLocation)
            for word in words {
                #expect(error.message.contains(word), "\"\(word)\" missing from \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    /// The work of one `[2048, 2048] · [2048, 2048]` linear: 64 + 3·2048² + 2·2048³.
    static let bigLinearWork: UInt64 = 64 + 3 * 2048 * 2048 + 2 * 2048 * 2048 * 2048

    // MARK: Strings (names4k.vla)

    /// 2,000 tensor names that are overlapping 60 KB windows of one run of bytes would make the verifier decode,
    /// hash and escape 120 MB from a file of about 200 KB; the string budget stops at the second window.
    @Test func overlappingNamesAreRefusedByTheStringBudget() throws {
        let count = 2_000, window = 60_000
        var rng = SplitMix64(seed: 16)
        var letters: [UInt8] = []
        for _ in 0..<(window + count) { letters.append(UInt8(97 + rng.next() % 26)) }
        let run = String(decoding: letters, as: UTF8.self)
        var doc = Self.document(arena: Array(repeating: [1], count: count), programs: [])
        doc.tensors[0].name = run
        var raw = RawFile(try VLAWriter.serialize(doc))
        let strings = try #require(raw.section(.strings))
        let table = Array(raw.bytes[strings.offset..<(strings.offset + strings.length)])
        let start = try #require(table.indices.first { Array(table[$0..<min($0 + 64, table.count)]) == Array(run.utf8.prefix(64)) })
        for i in 0..<count {
            raw.setU32(raw.tensorEntry(i), UInt32(start + i))
            raw.setU32(raw.tensorEntry(i) + 4, UInt32(window))
        }
        raw.reseal()
        HostileInputTests.expectRejected(raw.bytes, .limitExceeded, mentioning: ["string budget", "tensor 1 name", "strings overlap"])
    }

    /// Many distinct names and many references to one interned string (every provenance option repeats the
    /// same 16 KB value) stay inside the budget: a repeated reference is a lookup, not another copy.
    @Test func distinctAndInternedStringsVerify() throws {
        let value = String(repeating: "v", count: 16_384)
        var doc = Self.document(arena: Array(repeating: [1], count: 5_000), programs: [])
        doc.provenance.options = Array(repeating: Provenance.Option(key: "k", value: value), count: 1_000)
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        #expect(file.tensors.count == 5_000)
        #expect(file.provenance.options.count == 1_000 && file.provenance.options[999].value == value)
    }

    // MARK: Metadata (meta_mean_huge.vla, meta_std_denorm.vla)

    struct ContractCase: Sendable, CustomTestStringConvertible {
        var label: String
        var change: @Sendable (inout Metadata) -> Void
        var words: [String]
        var testDescription: String { label }
    }

    static let refusedContracts: [ContractCase] = [
        ContractCase(label: "image mean 3.4e38", change: { $0.image.mean[0] = 3.4e38 }, words: ["image mean of channel 0", "1000"]),
        ContractCase(label: "image mean NaN", change: { $0.image.mean[2] = .nan }, words: ["image mean of channel 2"]),
        ContractCase(label: "image std subnormal", change: { $0.image.std[0] = 1e-45 }, words: ["image std of channel 0", "0.001"]),
        ContractCase(label: "image std zero", change: { $0.image.std[1] = 0 }, words: ["image std of channel 1"]),
        ContractCase(label: "image std negative", change: { $0.image.std[1] = -0.2 }, words: ["image std of channel 1"]),
        ContractCase(label: "action mean 1e30", change: { $0.action.mean[2] = 1e30 }, words: ["action mean of dim 2", "unnormalized"]),
        ContractCase(label: "action std subnormal", change: { $0.action.std[1] = 1e-40 }, words: ["action std of dim 1", "subnormal"]),
        ContractCase(label: "action std zero", change: { $0.action.std[0] = 0 }, words: ["action std of dim 0"]),
        ContractCase(label: "action std infinite", change: { $0.action.std[3] = .infinity }, words: ["action std of dim 3", "not finite"]),
        ContractCase(label: "unused action mean NaN", change: { $0.action.mean[6] = .nan }, words: ["action mean of dim 6", "not finite"]),
    ]

    static func contractDocument(_ change: (inout Metadata) -> Void) -> VLADocument {
        var meta = Metadata(
            role: "policy",
            action: DemoPolicy.actionContract(),
            image: DemoPolicy.imageContract())
        change(&meta)
        return Self.document(arena: [], programs: [], metadata: meta)
    }

    @Test(arguments: refusedContracts)
    func absurdContractStatisticsAreRefused(_ c: ContractCase) {
        Self.expectRefused(Self.contractDocument(c.change), .invalidValue, mentioning: ["metadata: "] + c.words)
    }

    /// Statistics the runtime never applies (a dim with mask 0) may be zero; bounds themselves are accepted.
    @Test func contractStatisticsAtTheBoundsVerify() throws {
        let doc = Self.contractDocument { m in
            m.action.std[6] = 0
            m.action.mean[0] = 1e6
            m.action.std[1] = 1e-6
            m.image.std = [1e-3, 1000, 0.5]
            m.image.mean = [-1000, 1000, 0]
        }
        #expect(doc.metadata.action.mask[6] == false)
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        #expect(file.metadata.action.std[6] == 0 && file.metadata.image.std[0] == 1e-3)
    }

    // MARK: Image contract (a 744-byte policy asking for 16384×16384 frames)

    @Test(arguments: [(16_384, 16_384), (4_097, 1), (4_096, 4_096), (2_049, 2_048)])
    func oversizedImageContractsAreRefused(height: Int, width: Int) {
        let doc = Self.contractDocument { $0.image.height = UInt32(height); $0.image.width = UInt32(width) }
        Self.expectRefused(doc, .limitExceeded, mentioning: ["image size \(height)×\(width)", "image budget", "4194304 pixels"])
    }

    @Test func theLargestImageContractVerifies() throws {
        let doc = Self.contractDocument { $0.image.height = 2_048; $0.image.width = 2_048 }
        #expect(try VLAFile(bytes: VLAWriter.serialize(doc)).metadata.image.height == 2_048)
        let tall = Self.contractDocument { $0.image.height = 4_096; $0.image.width = 1_024 }
        #expect(try VLAFile(bytes: VLAWriter.serialize(tall)).metadata.image.width == 1_024)
    }

    // MARK: Work (comp10.vla)

    static func linearChain(_ count: Int) -> Program {
        Program(name: "step", inputs: [0], outputs: [], operations: Array(repeating: Operation(.linear, inputs: [1, 2], outputs: [3]), count: count))
    }

    /// 31 products of two 2048×2048 matrices are 5.3·10¹¹ FLOP-equivalents, inside 2³⁹; the 32nd is refused at
    /// its op record.
    @Test func programWorkIsCountedAndBounded() throws {
        let shapes = [[1], [2048, 2048], [2048, 2048], [2048, 2048]]
        let file = try VLAFile(bytes: VLAWriter.serialize(Self.document(arena: shapes, programs: [Self.linearChain(31)])))
        #expect(file.programWork == [31 * Self.bigLinearWork])
        #expect(FormatLimits.default.maxProgramWork == 1 << 39)
        Self.expectRefused(
            Self.document(arena: shapes, programs: [Self.linearChain(32)]), .limitExceeded,
            mentioning: ["program \"step\"", "ops 0...31", "\(32 * Self.bigLinearWork)", "FormatLimits.maxProgramWork"])
    }

    /// Two programs inside the per-run budget whose test vectors together exceed the test-vector budget.
    @Test func testVectorWorkIsBounded() throws {
        let shapes = [[1], [2048, 2048], [2048, 2048], [2048, 2048]]
        var second = Self.linearChain(20)
        second.name = "again"
        let x = shapes.count
        let vector = { (p: Int) in TestVector(program: p, inputs: [.init(target: 0, value: x)], expected: [], tolerance: 0) }
        let inside = Self.document(
            arena: shapes, inline: [("x", [1], [1])], programs: [Self.linearChain(20), second], testVectors: [vector(0)])
        #expect(try VLAFile(bytes: VLAWriter.serialize(inside)).testVectors.count == 1)
        var over = inside
        over.testVectors = [vector(0), vector(1)]
        Self.expectRefused(over, .limitExceeded, mentioning: ["test vector 1", "\(40 * Self.bigLinearWork)", "FormatLimits.maxTestVectorWork"])
    }

    /// The estimate of each kind of op, from shapes (the formula in the spec's "Budgets").
    @Test func opWorkFollowsTheFormula() {
        let f = { (s: [Int]) in TensorType(.f32, s) }
        #expect(OpWork.estimate(.linear, inputs: [f([4, 8]), f([8, 3])], outputs: [f([4, 3])], attributes: []) == 64 + 32 + 24 + 12 + 2 * 12 * 8)
        #expect(OpWork.estimate(.relu, inputs: [f([10])], outputs: [f([10])], attributes: []) == 64 + 20)
        #expect(OpWork.estimate(.softmax, inputs: [f([10])], outputs: [f([10])], attributes: []) == 64 + 20 + 80)
        // attention: q [Tq 5, H 2, d 4], k [Tk 7, 2, 4], v [7, 2, dv 3]
        let attention = OpWork.estimate(.attention, inputs: [f([5, 2, 4]), f([7, 2, 4]), f([7, 2, 3])], outputs: [f([5, 2, 3])], attributes: [0, 0])
        #expect(attention == 64 + 40 + 56 + 42 + 30 + 2 * 5 * 7 * (8 + 6 + 8))
        // patch_embed: image [4, 4, 3], kernel [2, 2, 3, 5] -> [4, 5]
        let patch = OpWork.estimate(.patchEmbed, inputs: [f([4, 4, 3]), f([2, 2, 3, 5]), f([5])], outputs: [f([4, 5])], attributes: [2])
        #expect(patch == 64 + 48 + 60 + 5 + 20 + 2 * 20 * 12)
        #expect(OpWork.estimate(.linear, inputs: [f([1 << 30, 1 << 30]), f([1 << 30, 1 << 30])], outputs: [f([1 << 30, 1 << 30])], attributes: []) == .max)
    }

    // MARK: Programs and operands (65,535 concats sharing one operand range; fuse8000.vla)

    /// 300 concats of 254 inputs whose op records all point at the first op's operands, with the pool cut to
    /// that one list: verifying them would read 76,800 operand words from a pool of 256.
    @Test func sharedOperandListsAreRefusedByTheOperandBudget() throws {
        let concat = Operation(.concat, inputs: Array(repeating: 0, count: 254), outputs: [1], attributes: [0])
        let doc = Self.document(arena: [[1], [254]], programs: [Program(name: "step", inputs: [], outputs: [], operations: Array(repeating: concat, count: 300))])
        var raw = RawFile(try VLAWriter.serialize(doc))
        let programs = try #require(raw.section(.programs)).offset
        let firstOp = programs + 32 + Layout.programEntrySize
        let shared = raw.u32(firstOp + 4)
        for k in 1..<300 { raw.setU32(firstOp + k * Layout.opRecordSize + 4, shared) }
        raw.setU32(programs + 16, shared + 256)
        raw.reseal()
        HostileInputTests.expectRejected(raw.bytes, .limitExceeded, mentioning: ["op 1", "operand budget", "\(2 * 256)", "the \(shared + 256) in the pool"])
    }

    /// Two programs running the same op records: each record is verified (and planned) once per program.
    @Test func sharedOpRecordsAreRefusedByTheOpBudget() throws {
        let relu = Operation(.relu, inputs: [0], outputs: [1])
        let doc = Self.document(arena: [[4], [4]], programs: [
            Program(name: "a", inputs: [], outputs: [], operations: [relu, relu]),
            Program(name: "b", inputs: [], outputs: [], operations: [relu]),
        ])
        var raw = RawFile(try VLAWriter.serialize(doc))
        let entry = try #require(raw.section(.programs)).offset + 32 + Layout.programEntrySize
        raw.setU32(entry + 8, 0)
        raw.setU32(entry + 12, 3)
        raw.reseal()
        HostileInputTests.expectRejected(raw.bytes, .limitExceeded, mentioning: ["program \"b\"", "op budget", "5 op records", "3 stored"])
    }

    // MARK: Calls: verify and the runtime count the same expansion

    @Test func callExpansionIsCountedAndBounded() throws {
        let (policyBytes, blobBytes) = try SampleDocuments.callPolicyAndBlob()
        let policy = try VLAFile(bytes: policyBytes), blob = try VLAFile(bytes: blobBytes)
        let step = try #require(policy.programs.firstIndex { $0.name == "step" })
        let calls = policy.programs[step].operations.filter { $0.opcode == .call }
        let call = try #require(calls.first)
        let callee = blob.programs[Int(call.attributes[1])]
        let expansion = SharedBlobResolver.expansion(of: step, in: policy, blobs: [blob])
        let plain = policy.programs[step].operations.count - calls.count
        #expect(expansion.ops == plain + calls.count * (callee.operations.count + call.inputs.count + call.outputs.count))
        #expect(expansion.work == policy.programWork[step] + UInt64(calls.count) * blob.programWork[Int(call.attributes[1])])
        try SharedBlobResolver.checkCalls(of: policy, blobs: [blob])

        // The op budget is over all programs together, as the runtime plans them.
        let total = policy.programs.indices.reduce(0) { $0 + SharedBlobResolver.expansion(of: $1, in: policy, blobs: [blob]).ops }
        var few = FormatLimits.default
        few.maxOps = UInt32(total - 1)
        #expect(throws: FormatError.self) { try SharedBlobResolver.checkCalls(of: policy, blobs: [blob], limits: few) }
        do {
            try SharedBlobResolver.checkCalls(of: policy, blobs: [blob], limits: few)
        } catch {
            #expect(error.code == .limitExceeded && error.message.contains("FormatLimits.maxOps"), "\(error)")
        }
        var little = FormatLimits.default
        little.maxProgramWork = expansion.work - 1
        do {
            try SharedBlobResolver.checkCalls(of: policy, blobs: [blob], limits: little)
            Issue.record("the work of the expanded program was accepted")
        } catch {
            #expect(error.code == .limitExceeded && error.message.contains("FormatLimits.maxProgramWork"), "\(error)")
        }
    }
}
