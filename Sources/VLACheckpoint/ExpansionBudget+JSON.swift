import VLAJSON

extension ExpansionBudget {
    /// Parses JSON text with the project's reader (``VLAJSON/JSONReader``), charging every value it builds
    /// to this budget: the reader may spend what is left of it, and what it spent is added here whether it
    /// succeeds or not.
    /// - Parameters:
    ///   - bytes: the text.
    ///   - base: where the text starts in its file (added to error offsets).
    ///   - maxDepth: deepest nesting accepted.
    ///   - what: prefixed to messages (`header`, `index`).
    /// - Throws: ``CheckpointError``: `.truncated`, `.malformed`, `.duplicateName` for a key given twice,
    ///   `.limitExceeded` for nesting or the budget, each with the byte offset.
    mutating func parseJSON(_ bytes: [UInt8], base: Int = 0, maxDepth: Int, what: String) throws -> JSONValue {
        var reader = JSONReader(maxDepth: maxDepth, budget: limit - spent)
        do {
            let value = try reader.parse(bytes, base: base)
            try charge(reader.spent, offset: base)
            return value
        } catch let e as JSONError {
            try charge(reader.spent, offset: e.offset)
            if e.code == .overBudget { throw exceeded(offset: e.offset).prefixed("\(what): ") }
            let code: CheckpointError.Code =
                switch e.code {
                case .truncated: .truncated
                case .tooDeep: .limitExceeded
                case .duplicateKey: .duplicateName
                default: .malformed
                }
            throw CheckpointError(code, "\(what): JSON: \(e.message)", offset: e.offset)
        }
    }

    /// Parses JSON text under a fresh budget for `limits` and the text's size (``ReaderLimits/expansionBudget(forInput:)``).
    static func parseJSON(_ bytes: [UInt8], base: Int = 0, limits: ReaderLimits, what: String) throws -> JSONValue {
        var budget = ExpansionBudget(limits, input: bytes.count, what: "JSON")
        return try budget.parseJSON(bytes, base: base, maxDepth: limits.maxDepth, what: what)
    }
}
