import VLAJSON

extension JSONValue {
    /// Parses a whole `tokenizer.json` with the project's reader (``VLAJSON/JSONReader``).
    /// - Throws: ``TokenizerError`` `\(source): JSON: …` with the byte offset: `.truncated`, `.malformed`,
    ///   `.duplicate` for a key given twice, `.invalidUTF8`, `.limitExceeded` past ``TokenizerLimits/maxJSONDepth``.
    static func parseTokenizerJSON(_ bytes: [UInt8], source: String, limits: TokenizerLimits) throws(TokenizerError) -> JSONValue {
        var reader = JSONReader(maxDepth: limits.maxJSONDepth)
        do {
            return try reader.parse(bytes)
        } catch {
            let code: TokenizerError.Code =
                switch error.code {
                case .truncated: .truncated
                case .duplicateKey: .duplicate
                case .invalidUTF8: .invalidUTF8
                case .tooDeep, .overBudget: .limitExceeded
                default: .malformed
                }
            throw TokenizerError(code, "\(source): JSON: \(error.message)", offset: error.offset)
        }
    }
}
