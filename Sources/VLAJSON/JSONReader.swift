/// The project's one JSON reader: strict RFC 8259 over bytes, for files that may be hostile.
///
/// - Errors carry the byte offset of the problem (``JSONError``).
/// - Containers may nest at most ``maxDepth`` deep, so hostile input cannot exhaust the stack.
/// - An object that names a key twice is refused (readers that take the first or the last would
///   disagree about what the file says).
/// - Numbers keep their text (``JSONValue/Kind/number(_:)``); `NaN`, `Infinity`, comments, trailing
///   commas, unknown escapes, lone surrogates and ill-formed UTF-8 are refused.
/// - What it builds is budgeted: every value, object member and string is charged at its size in memory
///   against ``budget``, so a text of a hundred million tiny numbers is refused once it would cost more
///   than that, before the next allocation.
///
/// ```swift
/// var reader = JSONReader(maxDepth: 64, budget: 4 * bytes.count)
/// let config = try reader.parse(bytes)
/// let layers = config["num_layers"]?.int
/// ```
/// > Note: <Docs/Development.md#json>
public struct JSONReader: Sendable {
    /// Most containers (objects, arrays) nested inside one another.
    public var maxDepth: Int
    /// Bytes of values the reader may build, summed over every ``parse(_:base:)`` call.
    public var budget: Int
    /// Bytes charged so far (it only grows).
    public private(set) var spent = 0

    /// Bytes charged per value (its inline size in an array or member).
    public static let valueCost = MemoryLayout<JSONValue>.stride
    /// Bytes charged per object member besides its value and key characters (the key's inline size and
    /// a hash-set slot for the duplicate check).
    public static let memberCost = MemoryLayout<(key: String, value: JSONValue)>.stride - MemoryLayout<JSONValue>.stride + 32

    /// A reader with the given limits.
    /// - Parameters:
    ///   - maxDepth: deepest nesting accepted (64 suits every config, index and header we read).
    ///   - budget: bytes of values it may build; unlimited by default.
    public init(maxDepth: Int = 64, budget: Int = .max) {
        self.maxDepth = maxDepth
        self.budget = budget
    }

    /// Parses one JSON value filling `bytes` (whitespace around it allowed).
    /// - Parameters:
    ///   - bytes: the text, UTF-8.
    ///   - base: added to every offset (where the text starts in its file).
    /// - Returns: the value, with offsets.
    /// - Throws: ``JSONError`` at the first problem.
    public mutating func parse(_ bytes: [UInt8], base: Int = 0) throws(JSONError) -> JSONValue {
        var p = Parser(bytes: bytes, base: base, maxDepth: maxDepth, budget: budget, spent: spent)
        defer { spent = p.spent }
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail(.malformed, "trailing bytes after the JSON value") }
        return v
    }
}

extension JSONValue {
    /// Parses `bytes` with a fresh ``JSONReader`` (no budget).
    /// - Throws: ``JSONError`` at the first problem.
    public init(parsing bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) {
        var reader = JSONReader(maxDepth: maxDepth)
        self = try reader.parse(bytes)
    }
}

private struct Parser {
    let bytes: [UInt8]
    let base: Int
    let maxDepth: Int
    let budget: Int
    var spent: Int
    var i = 0

    init(bytes: [UInt8], base: Int, maxDepth: Int, budget: Int, spent: Int) {
        self.bytes = bytes
        self.base = base
        self.maxDepth = maxDepth
        self.budget = budget
        self.spent = spent
    }

    func fail(_ code: JSONError.Code, _ message: String, at position: Int? = nil) -> JSONError {
        JSONError(code, message, offset: base + (position ?? i))
    }

    /// The end of the text where a value should continue.
    func end() -> JSONError { fail(.truncated, "unexpected end") }

    mutating func charge(_ n: Int, at position: Int) throws(JSONError) {
        let (sum, o) = spent.addingReportingOverflow(max(n, 0))
        guard !o, sum <= budget else {
            throw fail(.overBudget, "would build more than the budget of \(budget) bytes", at: position)
        }
        spent = sum
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: String, _ kind: JSONValue.Kind) throws(JSONError) -> JSONValue.Kind {
        let start = i
        for c in word.utf8 {
            guard i < bytes.count else { throw end() }
            guard bytes[i] == c else { throw fail(.malformed, "expected '\(word)'", at: start) }
            i += 1
        }
        return kind
    }

    /// The value at `i`, inside `depth` containers.
    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard i < bytes.count else { throw end() }
        if bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "[") {
            guard depth < maxDepth else { throw fail(.tooDeep, "nesting deeper than \(maxDepth)") }
        }
        let start = i
        try charge(JSONReader.valueCost, at: start)
        let kind: JSONValue.Kind
        switch bytes[i] {
        case UInt8(ascii: "{"): kind = try object(depth: depth)
        case UInt8(ascii: "["): kind = try array(depth: depth)
        case UInt8(ascii: "\""):
            let s = try string()
            try charge(s.utf8.count, at: start)
            kind = .string(s)
        case UInt8(ascii: "t"): kind = try literal("true", .bool(true))
        case UInt8(ascii: "f"): kind = try literal("false", .bool(false))
        case UInt8(ascii: "n"): kind = try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): kind = try number()
        default: throw fail(.malformed, "expected a value")
        }
        return JSONValue(kind, offset: base + start)
    }

    mutating func object(depth: Int) throws(JSONError) -> JSONValue.Kind {
        i += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipSpace()
            guard i < bytes.count else { throw end() }
            guard bytes[i] == UInt8(ascii: "\"") else { throw fail(.malformed, "expected a string key") }
            let keyAt = i
            let key = try string()
            // The member, its key's characters (the key is also in `seen`) and a hash-set slot.
            try charge(JSONReader.memberCost + 2 * key.utf8.count, at: keyAt)
            guard seen.insert(key).inserted else { throw fail(.duplicateKey, "duplicate key \"\(key)\"", at: keyAt) }
            skipSpace()
            guard i < bytes.count else { throw end() }
            guard bytes[i] == UInt8(ascii: ":") else { throw fail(.malformed, "expected ':'") }
            i += 1
            skipSpace()
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
            guard i < bytes.count else { throw end() }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw fail(.malformed, "expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue.Kind {
        i += 1  // [
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw end() }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail(.malformed, "expected ',' or ']'")
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// Counts the digits from `i` on, moving past them.
    mutating func digits() -> Int {
        let start = i
        while i < bytes.count, Parser.isDigit(bytes[i]) { i += 1 }
        return i - start
    }

    mutating func number() throws(JSONError) -> JSONValue.Kind {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count else { throw end() }
        let intStart = i
        guard digits() > 0 else { throw fail(.malformed, "expected a digit") }
        if bytes[intStart] == UInt8(ascii: "0"), i - intStart > 1 {
            throw fail(.malformed, "number with a leading zero", at: start)
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count else { throw end() }
            guard digits() > 0 else { throw fail(.malformed, "expected a digit after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw end() }
            guard digits() > 0 else { throw fail(.malformed, "expected a digit in the exponent") }
        }
        return .number(String(decoding: bytes[start ..< i], as: UTF8.self))
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            guard i < bytes.count else { throw end() }
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.malformed, "bad hex digit in a \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Reads the string starting at the opening quote at `i`; raw runs are checked as UTF-8 where they lie.
    mutating func string() throws(JSONError) -> String {
        let start = i
        i += 1  // opening quote
        var out: [UInt8] = []
        var run = i
        while true {
            guard i < bytes.count else { throw fail(.truncated, "unterminated string", at: start) }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                try appendRun(run, to: &out)
                i += 1
                break
            }
            if c < 0x20 { throw fail(.malformed, "control character in a string") }
            if c != UInt8(ascii: "\\") { i += 1; continue }
            try appendRun(run, to: &out)
            let escape = i
            i += 1
            guard i < bytes.count else { throw fail(.truncated, "unterminated string", at: start) }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if (0xD800 ..< 0xDC00).contains(u) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail(i + 1 < bytes.count ? .malformed : .truncated, "high surrogate without a low one in a \\u escape", at: escape)
                    }
                    i += 2
                    let lo = try hex4()
                    guard (0xDC00 ..< 0xE000).contains(lo) else { throw fail(.malformed, "high surrogate without a low one in a \\u escape", at: escape) }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00 ..< 0xE000).contains(u) {
                    throw fail(.malformed, "low surrogate without a high one in a \\u escape", at: escape)
                }
                // Not a surrogate and at most 0x10FFFF by construction: always a scalar.
                guard let scalar = Unicode.Scalar(u) else { throw fail(.malformed, "bad \\u escape", at: escape) }
                out.append(contentsOf: String(scalar).utf8)
            default:
                throw fail(.malformed, "unknown escape '\\\(Unicode.Scalar(e))'", at: escape)
            }
            run = i
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the raw bytes `run..<i` after checking they are well-formed UTF-8.
    mutating func appendRun(_ run: Int, to out: inout [UInt8]) throws(JSONError) {
        if let bad = Parser.firstIllFormed(bytes, run, i) {
            throw fail(.invalidUTF8, "string is not valid UTF-8", at: bad)
        }
        out.append(contentsOf: bytes[run ..< i])
    }

    /// The position of the first byte in `from..<to` that does not start or continue a well-formed
    /// UTF-8 sequence (Unicode Table 3-7), or nil.
    static func firstIllFormed(_ b: [UInt8], _ from: Int, _ to: Int) -> Int? {
        var k = from
        while k < to {
            let c = b[k]
            if c < 0x80 { k += 1; continue }
            let n: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0xC2 ... 0xDF: n = 1
            case 0xE0: n = 2; lo = 0xA0
            case 0xE1 ... 0xEC, 0xEE ... 0xEF: n = 2
            case 0xED: n = 2; hi = 0x9F
            case 0xF0: n = 3; lo = 0x90
            case 0xF1 ... 0xF3: n = 3
            case 0xF4: n = 3; hi = 0x8F
            default: return k
            }
            for j in 1 ... n {
                guard k + j < to else { return k }
                let d = b[k + j]
                let (l, h) = j == 1 ? (lo, hi) : (UInt8(0x80), UInt8(0xBF))
                guard d >= l, d <= h else { return k }
            }
            k += n + 1
        }
        return nil
    }
}
