/// A JSON value, parsed strictly (RFC 8259) with a depth limit and duplicate-key detection.
/// Objects keep their key order. Used for safetensors headers and Hugging Face index and config files.
///
/// Not `indirect`: containers are arrays already, so a value is stored inline (24 bytes) rather than
/// in a heap box of its own, which keeps a parsed document a small multiple of its text.
enum JSONValue: Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// A number: its text, so integers keep their exact value.
    case number(String)
    case bool(Bool)
    case null

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var object: [(key: String, value: JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
    /// A non-negative or negative integer without fraction or exponent that fits `Int`.
    var int: Int? { if case .number(let t) = self { return Int(t) } else { return nil } }
    subscript(key: String) -> JSONValue? { object?.first(where: { $0.key == key })?.value }
}

/// A strict JSON parser over bytes.
///
/// Its memory is budgeted: every value, object member and string it builds is charged (at its
/// in-memory size) against ``ReaderLimits/expansionBudget(forInput:)`` of the text's length, so a
/// header of a hundred million tiny numbers is refused once it would cost more than that.
struct JSONParser {
    let bytes: [UInt8]
    /// Added to positions in error offsets (where the JSON starts in the file).
    let base: Int
    let maxDepth: Int
    var budget: ExpansionBudget
    var i = 0

    /// Bytes charged per value (its inline size in an array or member).
    static let valueCost = MemoryLayout<JSONValue>.stride
    /// Bytes charged per object member besides its value (the key's inline size).
    static let memberCost = MemoryLayout<(key: String, value: JSONValue)>.stride - MemoryLayout<JSONValue>.stride

    /// Parses one JSON value filling `bytes` (surrounding whitespace allowed).
    static func parse(_ bytes: [UInt8], base: Int = 0, limits: ReaderLimits, what: String) throws -> JSONValue {
        var budget = ExpansionBudget(limits, input: bytes.count, what: "JSON")
        return try parse(bytes, base: base, maxDepth: limits.maxDepth, what: what, budget: &budget)
    }

    /// ``parse(_:base:limits:what:)`` with the caller's budget (tests read what was spent).
    static func parse(_ bytes: [UInt8], base: Int = 0, maxDepth: Int, what: String, budget: inout ExpansionBudget) throws -> JSONValue {
        var p = JSONParser(bytes: bytes, base: base, maxDepth: maxDepth, budget: budget)
        defer { budget = p.budget }
        do {
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == bytes.count else { throw p.fail("trailing bytes after the JSON value") }
            return v
        } catch let e as CheckpointError {
            throw e.prefixed("\(what): ")
        }
    }

    func fail(_ message: String, truncated: Bool = false) -> CheckpointError {
        CheckpointError(truncated ? .truncated : .malformed, "JSON: " + message, offset: base + i)
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ word: String) throws {
        for c in word.utf8 {
            guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
            guard bytes[i] == c else { throw fail("expected '\(word)'") }
            i += 1
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw CheckpointError(.limitExceeded, "JSON: nesting deeper than \(maxDepth)", offset: base + i) }
        guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
        try budget.charge(JSONParser.valueCost, offset: base + i)
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(key: String, value: JSONValue)] = []
            var seen = Set<String>()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
                guard bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyAt = i
                let key = try string()
                // The member, its key's characters (the key is also in `seen`) and a hash-set slot.
                try budget.charge(JSONParser.memberCost + 2 * key.utf8.count + 32, offset: base + keyAt)
                guard seen.insert(key).inserted else {
                    throw CheckpointError(.duplicateName, "JSON: duplicate key \"\(key)\"", offset: base + keyAt)
                }
                skipSpace()
                try expect(":")
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            let at = i
            let s = try string()
            try budget.charge(s.utf8.count, offset: base + at)
            return .string(s)
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default:
            return try number()
        }
    }

    mutating func number() throws -> JSONValue {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        var digits = 0
        while i < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[i]) { i += 1; digits += 1 }
        guard digits > 0 else { throw fail(i < bytes.count ? "unexpected character" : "unexpected end", truncated: i >= bytes.count) }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var f = 0
            while i < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[i]) { i += 1; f += 1 }
            guard f > 0 else { throw fail("bad number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            var e = 0
            while i < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[i]) { i += 1; e += 1 }
            guard e > 0 else { throw fail("bad number") }
        }
        return .number(String(decoding: bytes[start ..< i], as: UTF8.self))
    }

    mutating func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            guard i < bytes.count else { throw fail("unexpected end", truncated: true) }
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string", truncated: true) }
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < bytes.count else { throw fail("unterminated string", truncated: true) }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if (0xD800 ..< 0xDC00).contains(u) {
                    try expect("\\u")
                    let lo = try hex4()
                    guard (0xDC00 ..< 0xE000).contains(lo) else { throw fail("unpaired surrogate") }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00 ..< 0xE000).contains(u) {
                    throw fail("unpaired surrogate")
                }
                guard let scalar = Unicode.Scalar(u) else { throw fail("bad \\u escape") }
                out += Array(String(Character(scalar)).utf8)
            default: throw fail("bad escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }
}
