/// A small JSON reader for tokenizer.json: values keep their byte offset so that errors can name it, object
/// members keep their order, and numbers keep their text. No Foundation.
struct JSON: Sendable {
    enum Value: Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([JSON])
        case object([(String, JSON)])
    }

    var value: Value
    var offset: Int

    var typeName: String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    subscript(key: String) -> JSON? {
        if case .object(let members) = value {
            for (k, v) in members where k == key { return v }
        }
        return nil
    }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// Parses a whole document.
    static func parse(_ bytes: [UInt8], source: String, limits: TokenizerLimits) throws(TokenizerError) -> JSON {
        var p = Parser(bytes: bytes, source: source, maxDepth: limits.maxJSONDepth)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos != bytes.count {
            throw TokenizerError(.malformed, "\(source): unexpected bytes after the JSON document", offset: p.pos)
        }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        let source: String
        let maxDepth: Int
        var pos = 0

        init(bytes: [UInt8], source: String, maxDepth: Int) {
            self.bytes = bytes
            self.source = source
            self.maxDepth = maxDepth
        }

        mutating func skipSpace() {
            while pos < bytes.count {
                switch bytes[pos] {
                case 0x20, 0x09, 0x0A, 0x0D: pos += 1
                default: return
                }
            }
        }

        func fail(_ what: String, at: Int? = nil) -> TokenizerError {
            let o = at ?? pos
            return TokenizerError(o >= bytes.count ? .truncated : .malformed, "\(source): JSON: \(what)", offset: o)
        }

        mutating func value(depth: Int) throws(TokenizerError) -> JSON {
            guard depth <= maxDepth else { throw TokenizerError(.limitExceeded, "\(source): JSON nested deeper than \(maxDepth)", offset: pos) }
            guard pos < bytes.count else { throw fail("expected a value, found the end") }
            let start = pos
            switch bytes[pos] {
            case 0x7B:  // {
                pos += 1
                var members: [(String, JSON)] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == 0x7D {
                    pos += 1
                    return JSON(value: .object(members), offset: start)
                }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == 0x22 else { throw fail("expected a member name") }
                    let key = try string()
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == 0x3A else { throw fail("expected ':'") }
                    pos += 1
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unterminated object") }
                    if bytes[pos] == 0x2C { pos += 1; continue }
                    if bytes[pos] == 0x7D { pos += 1; break }
                    throw fail("expected ',' or '}'")
                }
                return JSON(value: .object(members), offset: start)
            case 0x5B:  // [
                pos += 1
                var items: [JSON] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == 0x5D {
                    pos += 1
                    return JSON(value: .array(items), offset: start)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unterminated array") }
                    if bytes[pos] == 0x2C { pos += 1; continue }
                    if bytes[pos] == 0x5D { pos += 1; break }
                    throw fail("expected ',' or ']'")
                }
                return JSON(value: .array(items), offset: start)
            case 0x22:
                return JSON(value: .string(try string()), offset: start)
            case 0x74:
                try literal("true")
                return JSON(value: .bool(true), offset: start)
            case 0x66:
                try literal("false")
                return JSON(value: .bool(false), offset: start)
            case 0x6E:
                try literal("null")
                return JSON(value: .null, offset: start)
            default:
                return JSON(value: .number(try number()), offset: start)
            }
        }

        mutating func literal(_ word: StaticString) throws(TokenizerError) {
            let w = word.withUTF8Buffer { Array($0) }
            guard bytes.count - pos >= w.count, Array(bytes[pos..<(pos + w.count)]) == w else {
                throw fail("expected \(word)")
            }
            pos += w.count
        }

        mutating func number() throws(TokenizerError) -> Double {
            let start = pos
            if pos < bytes.count, bytes[pos] == 0x2D { pos += 1 }
            var digits = 0
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1; digits += 1 }
            guard digits > 0 else { throw fail("expected a value", at: start) }
            if pos < bytes.count, bytes[pos] == 0x2E {
                pos += 1
                var frac = 0
                while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1; frac += 1 }
                guard frac > 0 else { throw fail("expected digits after '.'") }
            }
            if pos < bytes.count, bytes[pos] == 0x65 || bytes[pos] == 0x45 {
                pos += 1
                if pos < bytes.count, bytes[pos] == 0x2B || bytes[pos] == 0x2D { pos += 1 }
                var exp = 0
                while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1; exp += 1 }
                guard exp > 0 else { throw fail("expected exponent digits") }
            }
            guard let d = Double(UTF8Check.string(bytes[start..<pos])) else { throw fail("bad number", at: start) }
            return d
        }

        mutating func hex4() throws(TokenizerError) -> UInt32 {
            guard bytes.count - pos >= 4 else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("bad hex digit in \\u escape")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }

        mutating func string() throws(TokenizerError) -> String {
            let start = pos
            pos += 1  // opening quote
            var out: [UInt8] = []
            var runStart = pos
            while true {
                guard pos < bytes.count else { throw fail("unterminated string", at: start) }
                let c = bytes[pos]
                if c == 0x22 {
                    out.append(contentsOf: bytes[runStart..<pos])
                    pos += 1
                    break
                }
                if c < 0x20 { throw fail("control character in a string") }
                if c == 0x5C {
                    out.append(contentsOf: bytes[runStart..<pos])
                    pos += 1
                    guard pos < bytes.count else { throw fail("unterminated escape", at: start) }
                    let e = bytes[pos]
                    pos += 1
                    switch e {
                    case 0x22: out.append(0x22)
                    case 0x5C: out.append(0x5C)
                    case 0x2F: out.append(0x2F)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x6E: out.append(0x0A)
                    case 0x72: out.append(0x0D)
                    case 0x74: out.append(0x09)
                    case 0x75:
                        let at = pos - 2
                        var v = try hex4()
                        if (0xD800...0xDBFF).contains(v) {
                            guard bytes.count - pos >= 6, bytes[pos] == 0x5C, bytes[pos + 1] == 0x75 else {
                                throw fail("lone high surrogate in \\u escape", at: at)
                            }
                            pos += 2
                            let lo = try hex4()
                            guard (0xDC00...0xDFFF).contains(lo) else { throw fail("bad low surrogate in \\u escape", at: at) }
                            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(v) {
                            throw fail("lone low surrogate in \\u escape", at: at)
                        }
                        guard let s = Unicode.Scalar(v) else { throw fail("bad \\u escape", at: at) }
                        UTF8Check.append(s, to: &out)
                    default:
                        throw fail("bad escape")
                    }
                    runStart = pos
                    continue
                }
                pos += 1
            }
            if let bad = UTF8Check.firstInvalidOffset(out) {
                throw TokenizerError(.invalidUTF8, "\(source): JSON string is not valid UTF-8", offset: start + 1 + bad)
            }
            return UTF8Check.string(out)
        }
    }
}
