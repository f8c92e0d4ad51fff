import VLAFormat

/// The arena addresses a session writes and reads every step, resolved once at init.
///
/// - Warning: The pointers point into the interpreter's arena; they are valid while the session's
///   interpreter lives (the session owns both) and must not escape the session.
@unsafe struct SessionAddresses {
    var stepInput: UnsafeMutablePointer<Float>
    var resetInput: UnsafeMutablePointer<Float>?
    var output: UnsafeMutablePointer<Float>
    var inputCount: Int
    var outputCount: Int

    init(interpreter: Interpreter, policy: Policy) throws(RuntimeError) {
        // In Int: the UInt32 fields of the metadata could overflow UInt32 arithmetic (the shapes were checked
        // against the arena already, so these products fit).
        unsafe inputCount = Int(policy.metadata.image.height) * Int(policy.metadata.image.width) * 3
        unsafe outputCount = Int(policy.metadata.action.horizon) * Int(policy.metadata.action.actionDim)
        unsafe stepInput = try interpreter.arenaAddress(policy.inputTensor, dtype: .f32, count: inputCount, "step input")
            .bindMemory(to: Float.self, capacity: inputCount)
        if let r = policy.resetInputTensor {
            unsafe resetInput = try interpreter.arenaAddress(r, dtype: .f32, count: inputCount, "reset input")
                .bindMemory(to: Float.self, capacity: inputCount)
        } else {
            unsafe resetInput = nil
        }
        unsafe output = try interpreter.arenaAddress(policy.outputTensor, dtype: .f32, count: outputCount, "step output")
            .bindMemory(to: Float.self, capacity: outputCount)
    }
}

extension PolicySession {
    /// Writes the preprocessor's pixels, normalized, into the step (or reset) input.
    func writeNormalized(reset: Bool) {
        guard let p = unsafe reset ? addresses.resetInput : addresses.stepInput else { return }
        unsafe image.normalize(into: p, count: addresses.inputCount)
    }

    /// Copies a caller's network input into the step input.
    func writeInput(_ values: Span<Float>) throws(RuntimeError) {
        guard unsafe values.count == addresses.inputCount else {
            throw RuntimeError(
                .invalidInput,
                "network input has \(values.count) floats, expected \(image.height)×\(image.width)×3 = \(image.height * image.width * 3)")
        }
        for i in 0..<values.count { unsafe addresses.stepInput[i] = values[i] }
    }

    /// Applies the action contract to the step program's output.
    func readChunk() throws(RuntimeError) {
        let chunk = unsafe UnsafeBufferPointer(start: addresses.output, count: addresses.outputCount)
        _ = try actions.process(unsafe chunk.span)
    }
}
