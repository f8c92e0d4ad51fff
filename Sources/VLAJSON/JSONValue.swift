/// A JSON value as its text spelled it, with the byte offset where it starts.
///
/// Objects keep their members in the order of the text (a parsed object never holds a key twice), and
/// numbers keep their text, so an integer such as a tensor offset keeps its exact value and a reader
/// decides itself how to convert (``int``, ``double``).
///
/// Not `indirect`: containers are arrays already, so a value is stored inline in its parent's array
/// rather than in a heap box of its own, which keeps a parsed document a small multiple of its text.
/// > Note: <Docs/Development.md#json>
public struct JSONValue: Sendable {
    /// What the value is.
    public enum Kind: Sendable {
        case null
        case bool(Bool)
        /// A number: its text as written (`-1`, `2.5e1`), always valid JSON number syntax when parsed.
        case number(String)
        case string(String)
        case array([JSONValue])
        /// Members in text order.
        case object([(key: String, value: JSONValue)])
    }

    /// What the value is.
    public var kind: Kind
    /// Byte offset of the value's first byte (plus the `base` given to the reader); 0 for built values.
    public var offset: Int

    /// A value built in code (not read from text).
    public init(_ kind: Kind, offset: Int = 0) {
        self.kind = kind
        self.offset = offset
    }

    /// `null`.
    public static let null = JSONValue(.null)

    /// The string, if the value is one.
    public var string: String? { if case .string(let s) = kind { s } else { nil } }
    /// The boolean, if the value is one.
    public var bool: Bool? { if case .bool(let b) = kind { b } else { nil } }
    /// The elements, if the value is an array.
    public var array: [JSONValue]? { if case .array(let a) = kind { a } else { nil } }
    /// The members in text order, if the value is an object.
    public var object: [(key: String, value: JSONValue)]? { if case .object(let o) = kind { o } else { nil } }
    /// The number's text, if the value is a number.
    public var numberText: String? { if case .number(let t) = kind { t } else { nil } }
    /// The number as an `Int`, if it is written without fraction or exponent and fits.
    public var int: Int? { numberText.flatMap { Int($0) } }
    /// The number as the nearest `Double` (infinite when the text is beyond `Double`'s range).
    public var double: Double? { numberText.flatMap { Double($0) } }
    /// Whether the value is `null`.
    public var isNull: Bool { if case .null = kind { true } else { false } }

    /// The member `key` of an object; nil for other values or a missing key.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = kind else { return nil }
        for m in members where m.key == key { return m.value }
        return nil
    }

    /// The kind in words, for messages: `null`, `a boolean`, `a number`, `a string`, `an array`, `an object`.
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: Equatable {
    /// Values are equal when they hold the same JSON; where they were read is not compared, and numbers
    /// compare by their text (`1` and `1.0` differ).
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a.kind, b.kind) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text (numbers as read), for messages.
    public var description: String {
        switch kind {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let t): return t
        case .string(let s): return JSONValue.quoted(s)
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { JSONValue.quoted($0.key) + ": " + $0.value.description }.joined(separator: ", ") + "}"
        }
    }

    /// `s` as a JSON string literal: `"`, `\\`, newline, return and tab escaped by name, other control
    /// characters as `\u00xx` (lowercase hex), everything else as it is.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
