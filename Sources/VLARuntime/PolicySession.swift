import VLAFormat

/// One episode stream of a ``Policy``: its own arena, image and action state.
///
/// `reset(frame:)` starts an episode: it runs the policy's `reset` program on the first frame when the
/// policy has one (HyperVLA with `use_initial_image` writes the generated policy weights into the arena) and
/// clears the ensembling history and the gripper state. `step(frame:)` preprocesses a frame as the image
/// contract says, runs `step`, and applies the action contract.
///
/// After a `reset` with frames of the size later steps use, `step` allocates nothing on the heap: the
/// resize weight tables, scratch images, the arena and the action buffers are all allocated before. The
/// returned action array is the session's own buffer; holding on to it across the next `step` makes that
/// step copy it once (copy-on-write).
///
/// Not `Sendable`, on purpose: a session owns one arena and mutable episode state that every call writes,
/// so it must be used by one thread at a time. Run sessions in parallel by creating one per thread from a
/// shared ``Policy`` (which is `Sendable`, and whose mapped weights all sessions read).
@safe public final class PolicySession {
    /// The policy this session runs.
    public let policy: Policy
    /// The interpreter that owns the arena.
    public let interpreter: Interpreter
    /// Frame → network input.
    public let image: ImagePreprocessor
    /// Raw chunk → action.
    public let actions: ActionProcessor
    /// When set, every program run adds its per-op times here (see ``OpProfile``).
    public var profile: OpProfile?
    /// Whether `reset` ran since the session was created.
    public private(set) var didReset = false
    let addresses: SessionAddresses

    /// Prepares a session: allocates the arena and all scratch, starts the worker threads.
    ///
    /// The arena is checked against `options.limits.maxArenaBytes` (``RuntimeLimits``, 1 GiB by default) before
    /// anything is allocated, and every allocation is failable.
    /// - Throws: ``RuntimeError`` `.limitExceeded` for an arena over the limit, `.outOfMemory` when the system
    ///   refuses an allocation, other codes when preparing the programs fails.
    public init(policy: Policy, options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) {
        self.policy = policy
        interpreter = try Interpreter(file: policy.file, blobs: policy.blobs, options: options)
        image = ImagePreprocessor(contract: policy.metadata.image, pool: interpreter.pool)
        actions = try ActionProcessor(contract: policy.metadata.action)
        unsafe addresses = try SessionAddresses(interpreter: interpreter, policy: policy)
    }

    /// The last raw chunk `[horizon × actionDim]` the `step` program wrote (pre-squash, gripper logit).
    public var rawChunk: [Float] { actions.raw }
    /// The last chunk after squash, gripper rule and unnormalization (before ensembling).
    public var processedChunk: [Float] { actions.processed }
    /// The last action (after ensembling, rotation and robot mapping).
    public var action: [Float] { actions.action }
    /// The last preprocessed uint8 frame (height × width × 3), what the network saw.
    public var pixels: [UInt8] { image.pixels }

    /// Starts an episode on its first camera frame.
    ///
    /// - Parameters:
    ///   - frame: `height × width × 3` uint8 RGB bytes, row-major, any size in 1...16384 per side.
    /// - Throws: `.invalidInput` for a frame of the wrong byte count or size; errors of the `reset` program.
    public func reset(frame: Span<UInt8>, height: Int, width: Int) throws(RuntimeError) {
        try image.prepare(frame: frame, frameHeight: height, frameWidth: width)
        try runReset()
    }

    /// Starts an episode on its first camera frame as the camera delivered it (BGR, RGBA, BGRA, gray, padded
    /// rows): the image contract sees the RGB values a packed copy would hold.
    ///
    /// - Parameters:
    ///   - frame: at least `layout.minimumByteCount` bytes.
    /// - Throws: `.invalidInput` for a buffer smaller than the layout needs; errors of the `reset` program.
    public func reset(frame: Span<UInt8>, layout: FrameLayout) throws(RuntimeError) {
        try image.prepare(frame: frame, layout: layout)
        try runReset()
    }

    /// Starts an episode on a frame that is already preprocessed to uint8 height × width × 3 (after resize,
    /// crop and rounding).
    public func reset(pixels: Span<UInt8>) throws(RuntimeError) {
        try image.use(pixels: pixels)
        try runReset()
    }

    /// Runs one control step on a camera frame and returns the action (`actionDim` values).
    ///
    /// - Throws: `.invalidInput` for a frame of the wrong byte count or size; `.invalidState` when the policy has
    ///   a `reset` program and ``reset(frame:height:width:)`` has not run yet (or failed); `.nonFiniteAction`
    ///   when the raw chunk or the action holds a NaN or an infinity (nothing is returned, the episode state is
    ///   unchanged); errors of the `step` program.
    public func step(frame: Span<UInt8>, height: Int, width: Int) throws(RuntimeError) -> [Float] {
        try checkReset()
        try image.prepare(frame: frame, frameHeight: height, frameWidth: width)
        return try runStep()
    }

    /// Runs one control step on a camera frame as the camera delivered it (see ``FrameLayout``); the action is
    /// bit-identical to ``step(frame:height:width:)`` on a packed RGB copy of the frame.
    ///
    /// - Throws: as ``step(frame:height:width:)``, and `.invalidInput` for a buffer smaller than the layout needs.
    public func step(frame: Span<UInt8>, layout: FrameLayout) throws(RuntimeError) -> [Float] {
        try checkReset()
        try image.prepare(frame: frame, layout: layout)
        return try runStep()
    }

    /// Runs one control step on a frame already preprocessed to uint8 height × width × 3.
    public func step(pixels: Span<UInt8>) throws(RuntimeError) -> [Float] {
        try checkReset()
        try image.use(pixels: pixels)
        return try runStep()
    }

    /// Runs one control step on the network input itself: f32 height × width × 3, already normalized.
    public func step(networkInput: Span<Float>) throws(RuntimeError) -> [Float] {
        try checkReset()
        try writeInput(networkInput)
        try run(policy.stepProgram)
        try readChunk()
        return actions.action
    }

    func checkReset() throws(RuntimeError) {
        if policy.resetProgram != nil && !didReset {
            throw RuntimeError(.invalidState, "the policy has a reset program: call reset with the episode's first frame before step (a reset that failed does not count)")
        }
    }

    func runReset() throws(RuntimeError) {
        actions.reset()
        if let r = policy.resetProgram {
            didReset = false  // until the reset program has run: a failed reset leaves no half-written weights to step on
            writeNormalized(reset: true)
            try run(r)
        }
        didReset = true
    }

    func runStep() throws(RuntimeError) -> [Float] {
        writeNormalized(reset: false)
        try run(policy.stepProgram)
        try readChunk()
        return actions.action
    }

    func run(_ program: Int) throws(RuntimeError) {
        if let profile {
            try interpreter.run(program, profile: profile)
        } else {
            try interpreter.run(program)
        }
    }
}
