/// An error of `vlac compile`: what failed, where (file and line, tensor, or instruction), and why.
public struct CompileError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case taskList, model, evaluation, output, internalError, deviation }
        private let wrapped: Wrapped
        private init(_ w: Wrapped) { wrapped = w }
        /// A problem in the instruction list (`tasks.txt:12: ...`).
        public static let taskList = Code(.taskList)
        /// The model or a foundation-model directory could not be read or disagrees with its config.
        public static let model = Code(.model)
        /// Running a program at compile time failed.
        public static let evaluation = Code(.evaluation)
        /// Writing the outputs failed.
        public static let output = Code(.output)
        /// A reduced precision deviates from the f32 program by more than the bound (`--max-deviation`).
        public static let deviation = Code(.deviation)
        /// A compiler bug: a program it built did not pass its own checks.
        public static let internalError = Code(.internalError)
        public var description: String {
            switch wrapped {
            case .taskList: "task list"
            case .model: "model"
            case .evaluation: "evaluation"
            case .output: "output"
            case .internalError: "internal"
            case .deviation: "deviation"
            }
        }
    }

    /// The kind.
    public var code: Code
    /// A lowercase clause naming the file, line, tensor or instruction.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
