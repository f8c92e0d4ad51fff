import Testing
import VLAFormat
import VLARuntime
import VLATestSupport

/// Verify and the runtime apply the same policy rules: every way `Policy` refuses a verified file is a rule of
/// `VLAFile.policyPrograms()` (which `vlac verify` runs on every policy), with the same message.
@Suite struct PolicyConventionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var change: @Sendable (inout VLADocument) -> Void
        var words: String
        var testDescription: String { label }
    }

    static func index(_ doc: VLADocument, _ name: String) -> Int { doc.programs.firstIndex { $0.name == name } ?? -1 }
    static func tensor(_ doc: VLADocument, _ name: String) -> Int { doc.tensors.firstIndex { $0.name == name } ?? -1 }

    /// One case per refusal of `Policy.init(file:blobs:)` and of the `ActionProcessor` it builds, on verified files.
    static let cases: [Case] = [
        Case(label: "reset with an output", change: { d in d.programs[index(d, "reset")].outputs = [tensor(d, "reset/row")] },
             words: "program \"reset\" must take one f32[224, 224, 3] input and have no outputs (it has 1 inputs, 1 outputs)"),
        Case(label: "reset taking the wrong type", change: { d in d.programs[index(d, "reset")].inputs = [tensor(d, "step/patches")]; d.testVectors = [] },
             words: "program \"reset\" must take one f32[224, 224, 3] input"),
        Case(label: "no step", change: { d in d.programs[index(d, "step")].name = "stride" }, words: "the policy has no \"step\" program"),
        Case(label: "step with two inputs", change: { d in d.programs[index(d, "step")].inputs.append(tensor(d, "policy/context")) },
             words: "program \"step\" has 2 inputs and 1 outputs"),
        Case(label: "step input not the image contract", change: { d in d.metadata.image.height = 112 },
             words: "program \"step\" input \"frame\" is f32[224, 224, 3], the image contract says f32[112, 224, 3]"),
        Case(label: "step output not the action contract",
             change: { d in d.metadata.action.horizon = 3; d.metadata.action.ensembleWindow = 3 },
             words: "program \"step\" output \"step/chunk\" is f32[4, 7], the action contract says f32[3, 7]"),
        Case(label: "no image", change: { d in d.metadata.image.height = 0; d.metadata.image.width = 0 },
             words: "the image contract takes no image"),
        Case(label: "horizon 0",
             change: { d in d.metadata.action.horizon = 0; d.metadata.action.ensembling = .none; d.metadata.action.ensembleWindow = 0 },
             words: "horizon is 0"),
        Case(label: "robot mapping without a gripper rule", change: { d in d.metadata.action.gripper = .none },
             words: "robot mapping google_robot needs a gripper dim"),
        Case(label: "no action", change: { d in d.metadata.action = ActionContract() }, words: "action_dim is 0"),
    ]

    static let files: DemoPolicy.Files = {
        do { return try DemoPolicy.make() } catch { fatalError("the demo policy must build: \(error)") }
    }()

    @Test(arguments: cases)
    func verifyAndTheRuntimeRefuseTheSamePolicies(_ c: Case) throws {
        var doc = try VLAFile(bytes: Self.files.policy).document()
        c.change(&doc)
        // Structurally valid: the file verifies; only the policy conventions fail.
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        let blob = try VLAFile(bytes: Self.files.blob)
        let format = try #require(throws: FormatError.self) { try file.policyPrograms() }
        #expect(format.message.contains(c.words), "\(format)")
        let runtime = try #require(throws: RuntimeError.self) { try Policy(file: file, blobs: [blob]) }
        #expect(runtime.code == .invalidProgram)
        #expect(runtime.message == format.message)
        // `vlac verify` checks every file that declares itself a policy (action_dim > 0).
        #expect(file.isPolicy == (doc.metadata.action.actionDim > 0))
    }

    @Test func aConformingPolicyAndABlob() throws {
        let policy = try VLAFile(bytes: Self.files.policy), blob = try VLAFile(bytes: Self.files.blob)
        let found = try policy.policyPrograms()
        #expect(policy.programs[found.step].name == "step" && found.reset.map { policy.programs[$0].name } == "reset")
        let running = try Policy(file: policy, blobs: [blob])
        #expect(running.stepProgram == found.step && running.resetProgram == found.reset)
        #expect(!blob.isPolicy)
        let error = try #require(throws: FormatError.self) { try blob.policyPrograms() }
        #expect(error.message.contains("is a shared blob"))
        let runtime = try #require(throws: RuntimeError.self) { try Policy(file: blob, blobs: []) }
        #expect(runtime.message == error.message)
    }
}
