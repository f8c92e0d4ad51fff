import VLAFormat

/// A compiled policy, opened once: the mapped and verified `.vla` file, its resolved shared blobs, and the
/// contracts the runtime applies around the `step` program (Schemas/vla-format.md §8.0).
///
/// Opening maps the file and runs the whole verifier once (`VLAFile`), then finds every shared blob the
/// policy references by SHA-256 in the search folders (`SharedBlobResolver`); after that nothing in the
/// file is checked again. Sessions (``PolicySession``) created from one policy share its mapped file and
/// blobs (the backbone's weights are mapped once per process, however many sessions run), and each owns
/// one arena of the size the file's memory plan says.
///
/// ```swift
/// let policy = try Policy(path: "policies/pick-coke-can-1a2b.vla", sharedSearchPaths: ["shared"])
/// let session = try PolicySession(policy: policy, options: RuntimeOptions(threads: 2))
/// try session.reset(frame: first.span, height: 480, width: 640)
/// let action = try session.step(frame: frame.span, height: 480, width: 640)
/// ```
///
/// `Sendable`: every stored property is immutable after `init` (the files are read-only mappings).
///
/// > Note: `Docs/Runtime.md` describes the contracts, limits and errors.
public final class Policy: Sendable {
    /// The verified policy file.
    public let file: VLAFile
    /// Its shared blobs, in the order of `file.sharedRefs`.
    public let blobs: [VLAFile]
    /// The index of the `step` program.
    public let stepProgram: Int
    /// The index of the `reset` program, when the policy has one.
    public let resetProgram: Int?
    /// The `step` program's input tensor (f32 `[height, width, 3]`).
    public let inputTensor: Int
    /// The `reset` program's input tensor.
    public let resetInputTensor: Int?
    /// The `step` program's output tensor (f32 `[horizon, actionDim]`).
    public let outputTensor: Int

    /// Maps, verifies and resolves a policy file.
    ///
    /// - Parameters:
    ///   - path: The policy file.
    ///   - sharedSearchPaths: Folders searched for shared blobs (`<role>-<sha256>.vla`); `nil` means the
    ///     policy's folder and `../shared` beside it.
    ///   - limits: Verifier limits.
    /// - Throws: ``RuntimeError`` with `.invalidFile` (unreadable or failing verification; the message holds
    ///   the verifier's byte offset), `.sharedBlob` (missing or altered blob, named by role and SHA-256) or
    ///   `.invalidProgram` (the file breaks the policy conventions of §8.0).
    public convenience init(path: String, sharedSearchPaths: [String]? = nil, limits: FormatLimits = .default) throws(RuntimeError) {
        let file: VLAFile
        do {
            file = try VLAFile(path: path, limits: limits)
        } catch {
            throw RuntimeError(.invalidFile, "\(path): \(error)")
        }
        let search = sharedSearchPaths ?? SharedBlobResolver.defaultSearchPaths(forPolicyAt: path)
        let blobs: [VLAFile]
        do {
            blobs = try SharedBlobResolver(searchPaths: search, limits: limits).resolve(for: file)
        } catch {
            throw RuntimeError(.sharedBlob, "\(path): \(error.message)")
        }
        try self.init(file: file, blobs: blobs)
    }

    /// Wraps an already verified file and its resolved blobs.
    /// - Throws: `.invalidProgram` when the file is not a policy that follows §8.0.
    public init(file: VLAFile, blobs: [VLAFile]) throws(RuntimeError) {
        // The conventions are VLAFormat's (one function, which `vlac verify` also runs on every policy).
        let found: PolicyPrograms
        do { found = try file.policyPrograms() } catch { throw RuntimeError(.invalidProgram, error.message) }
        guard blobs.count == file.sharedRefs.count else {
            throw RuntimeError(.sharedBlob, "the policy references \(file.sharedRefs.count) shared blobs, \(blobs.count) were given")
        }
        let action = file.metadata.action
        let p = file.programs[found.step]
        let step = found.step
        let resetProgram = found.reset
        let resetInput = found.reset.map { file.programs[$0].inputs[0] }
        self.file = file
        self.blobs = blobs
        self.stepProgram = step
        self.resetProgram = resetProgram
        self.inputTensor = p.inputs[0]
        self.resetInputTensor = resetInput
        self.outputTensor = p.outputs[0]
        _ = try ActionProcessor(contract: action)
    }

    /// The metadata (instruction, model, contracts).
    public var metadata: Metadata { file.metadata }

    /// Bytes mapped for this policy: the file and its shared blobs.
    public var mappedBytes: Int { blobs.reduce(file.byteCount) { $0 + $1.byteCount } }

    /// Bytes of one session's arena: the file's arena rounded up to 64, then one region as large as the largest
    /// arena (rounded up to 64) of the shared blobs whose programs the file `call`s (`Schemas/vla-format.md` §8.3).
    public var sessionArenaBytes: UInt64 { Policy.sessionArenaBytes(of: file, blobs: blobs) }

    /// ``sessionArenaBytes`` of a verified file and its resolved blobs, before any `Policy` is made (what
    /// `vlac verify` checks against the runtime's arena limit).
    public static func sessionArenaBytes(of file: VLAFile, blobs: [VLAFile]) -> UInt64 {
        let called = Set(file.programs.flatMap { $0.operations.filter { $0.opcode == .call }.map { Int($0.attributes[0]) } })
        guard !called.isEmpty else { return file.arenaSize }
        let region = called.map { r in r < blobs.count ? (blobs[r].arenaSize + 63) / 64 * 64 : 0 }.max() ?? 0
        return (file.arenaSize + 63) / 64 * 64 + region
    }

    /// Runs the file's embedded test vectors on a fresh interpreter (the runtime's self-test).
    /// - Returns: One result per vector; an empty array when the file has none.
    /// - Throws: ``RuntimeError`` when the programs cannot be prepared or run.
    public func selfTest(options: RuntimeOptions = RuntimeOptions()) throws(RuntimeError) -> [TestVectorResult] {
        try TestVectors.run(file: file, blobs: blobs, options: options)
    }
}
