/// An error from preparing or running a program.
///
/// `VLARuntime` throws only this type (`throws(RuntimeError)`); it has no `cause`, so it compiles without
/// existentials. Messages are lowercase clauses that name the program, op and tensor involved.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem it is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidProgram, unsupported, outOfBounds, invalidInput, limitExceeded
            case invalidFile, sharedBlob, outOfMemory, nonFiniteAction, invalidState
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// An op, operand id or attribute that breaks the op's signature or the program's structure.
        public static let invalidProgram = Code(.invalidProgram)
        /// Something valid in the format that this runtime cannot do from the given source
        /// (for example an external tensor when preparing from an in-memory document).
        public static let unsupported = Code(.unsupported)
        /// A tensor or an index (a gather id, an arena range) outside its bounds.
        public static let outOfBounds = Code(.outOfBounds)
        /// A caller-provided value of the wrong size, type or tensor id.
        public static let invalidInput = Code(.invalidInput)
        /// A size over ``RuntimeLimits``.
        public static let limitExceeded = Code(.limitExceeded)
        /// A policy file that cannot be opened or fails verification (the message holds the format error).
        public static let invalidFile = Code(.invalidFile)
        /// A shared blob that is missing, altered or does not hold what the policy references (named by hash).
        public static let sharedBlob = Code(.sharedBlob)
        /// An allocation (the arena, scratch, converted or packed weights) that the system refused; nothing was
        /// half-prepared. Lower the memory other processes use, or the file's needs (``RuntimeLimits``).
        public static let outOfMemory = Code(.outOfMemory)
        /// The `step` program produced a NaN or infinite raw value, or the action contract turned a chunk into
        /// one (an absurd mean or std): nothing is handed on to the robot, and the episode state is unchanged.
        public static let nonFiniteAction = Code(.nonFiniteAction)
        /// A call in the wrong order: `step` before `reset` on a policy with a `reset` program, or after a
        /// `reset` that failed.
        public static let invalidState = Code(.invalidState)

        /// The code's name.
        public var description: String {
            switch wrapped {
            case .invalidProgram: "invalid program"
            case .unsupported: "unsupported"
            case .outOfBounds: "out of bounds"
            case .invalidInput: "invalid input"
            case .limitExceeded: "limit exceeded"
            case .invalidFile: "invalid file"
            case .sharedBlob: "shared blob"
            case .outOfMemory: "out of memory"
            case .nonFiniteAction: "non-finite action"
            case .invalidState: "invalid state"
            }
        }
    }

    /// The kind of problem.
    public var code: Code
    /// What went wrong, naming the program, op index and tensor.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }
}
