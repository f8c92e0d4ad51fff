/// The programs a policy runs, found by ``VLAFile/policyPrograms()``.
public struct PolicyPrograms: Sendable, Hashable {
    /// Index of the `step` program.
    public var step: Int
    /// Index of the `reset` program, when the policy has one.
    public var reset: Int?
}

extension VLAFile {
    /// Whether the file declares itself a policy (`Schemas/vla-format.md` §8.0): no shared-blob flag, and an
    /// action contract with `action_dim` > 0. `vlac verify` checks the policy conventions of such a file.
    public var isPolicy: Bool { !header.isSharedBlob && metadata.action.actionDim > 0 }

    /// Checks the policy conventions of §8.0 and returns the programs a runtime runs.
    ///
    /// The one source of truth for these rules: `VLARuntime.Policy` refuses a file exactly when this throws,
    /// and `vlac verify` runs it on every file that ``isPolicy``, so verify does not say ok for a policy the
    /// runtime then refuses.
    ///
    /// Rules: not a shared blob; `action_dim` > 0 and `horizon` > 0; a robot mapping only with a gripper rule;
    /// the image contract takes an image; a `step` program with
    /// one input f32 `[height, width, 3]` and one output f32 `[horizon, action_dim]`; a `reset` program, if
    /// any, with one input of the same type and no outputs.
    ///
    /// - Returns: The `step` and `reset` program indices.
    /// - Throws: `FormatError` `.badReference` naming the rule that does not hold.
    public func policyPrograms() throws(FormatError) -> PolicyPrograms {
        func refuse(_ message: String) -> FormatError { FormatError(.badReference, "policy conventions (§8.0): \(message)") }
        guard !header.isSharedBlob else {
            throw refuse("the file is a shared blob (role \"\(escaped(metadata.role))\"), not a policy")
        }
        let action = metadata.action, image = metadata.image
        guard action.actionDim > 0 else { throw refuse("action_dim is 0: the file produces no action") }
        guard action.horizon > 0 else { throw refuse("horizon is 0: the step program produces no action chunk") }
        guard action.robot == .none || action.gripper != .none else {
            throw refuse("robot mapping \(action.robot) needs a gripper dim (gripper rule is none)")
        }
        guard image.height > 0, image.width > 0 else { throw refuse("the image contract takes no image (height or width 0)") }
        guard let step = programs.firstIndex(where: { $0.name == "step" }) else { throw refuse("the policy has no \"step\" program") }
        let frameType = TensorType(.f32, [Int(image.height), Int(image.width), 3])
        let chunkType = TensorType(.f32, [Int(action.horizon), Int(action.actionDim)])
        let p = programs[step]
        guard p.inputs.count == 1, p.outputs.count == 1 else {
            throw refuse("program \"step\" has \(p.inputs.count) inputs and \(p.outputs.count) outputs; a policy's has one of each")
        }
        let input = tensors[p.inputs[0]], output = tensors[p.outputs[0]]
        guard input.type == frameType else {
            throw refuse("program \"step\" input \"\(escaped(input.name))\" is \(input.type), the image contract says \(frameType)")
        }
        guard output.type == chunkType else {
            throw refuse("program \"step\" output \"\(escaped(output.name))\" is \(output.type), the action contract says \(chunkType)")
        }
        var reset: Int?
        if let r = programs.firstIndex(where: { $0.name == "reset" }) {
            let rp = programs[r]
            guard rp.inputs.count == 1, rp.outputs.isEmpty, tensors[rp.inputs[0]].type == frameType else {
                throw refuse(
                    "program \"reset\" must take one \(frameType) input and have no outputs (it has \(rp.inputs.count) inputs, \(rp.outputs.count) outputs)")
            }
            reset = r
        }
        return PolicyPrograms(step: step, reset: reset)
    }
}
