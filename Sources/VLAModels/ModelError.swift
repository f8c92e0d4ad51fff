/// An error building a model: a bad `config.json`, weights that disagree with it, or an unsupported variant.
///
/// Builders check everything they can before failing and report every finding at once in ``problems``
/// (one line each, naming the tensor or config key and expected versus actual values).
public struct ModelError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case badConfig, weightsMismatch, unsupported, io, badInput }
        private let wrapped: Wrapped
        /// `config.json` is not valid JSON, or a key is missing or has the wrong type.
        public static let badConfig = Code(wrapped: .badConfig)
        /// The weights do not fit the config (missing tensors, wrong shapes or dtypes).
        public static let weightsMismatch = Code(wrapped: .weightsMismatch)
        /// An architecture, activation or option vlac does not implement.
        public static let unsupported = Code(wrapped: .unsupported)
        /// A file could not be read.
        public static let io = Code(wrapped: .io)
        /// A model input (token ids, image) does not fit the model.
        public static let badInput = Code(wrapped: .badInput)
        /// The code's name.
        public var description: String {
            switch wrapped {
            case .badConfig: "bad config"
            case .weightsMismatch: "weights mismatch"
            case .unsupported: "unsupported"
            case .io: "i/o"
            case .badInput: "bad input"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// A one-line summary (`"t5 encoder: 3 problems in config.json and weights"`).
    public var message: String
    /// Every problem found, one lowercase clause each.
    public var problems: [String]
    /// Byte offset in `config.json` for JSON syntax errors.
    public var offset: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, problems: [String] = [], offset: Int? = nil) {
        self.code = code
        self.message = message
        self.problems = problems
        self.offset = offset
    }

    /// The summary, then one indented line per problem.
    public var description: String {
        var text = message
        if let offset { text += " (at byte \(offset))" }
        for p in problems { text += "\n  - " + p }
        return text
    }
}

/// Collects problems and throws them together.
struct ProblemList {
    var items: [String] = []
    mutating func add(_ p: String) { items.append(p) }
    var isEmpty: Bool { items.isEmpty }

    /// Throws one error listing every collected problem, if there are any.
    func throwIfAny(_ code: ModelError.Code, _ what: String) throws(ModelError) {
        guard !items.isEmpty else { return }
        let n = items.count
        throw ModelError(code, "\(what): \(n) problem\(n == 1 ? "" : "s")", problems: items)
    }
}
