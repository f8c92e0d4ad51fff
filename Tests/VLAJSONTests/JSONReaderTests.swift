import Testing
import VLAJSON

/// The one JSON reader: values, offsets, strictness, limits and the budget.
@Suite struct JSONReaderTests {
    func parse(_ text: String, maxDepth: Int = 64) throws(JSONError) -> JSONValue {
        try JSONValue(parsing: Array(text.utf8), maxDepth: maxDepth)
    }

    /// The error `text` gets, or a recorded issue when it parses.
    func error(_ text: [UInt8], maxDepth: Int = 64, budget: Int = .max, base: Int = 0) -> JSONError? {
        var reader = JSONReader(maxDepth: maxDepth, budget: budget)
        do {
            let v = try reader.parse(text, base: base)
            Issue.record("parsed: \(v)")
            return nil
        } catch { return error }
    }

    func error(_ text: String, maxDepth: Int = 64) -> JSONError? { error(Array(text.utf8), maxDepth: maxDepth) }

    @Test func parsesNestedValuesInOrder() throws {
        let v = try parse(#" {"b": [1, 2.5e1, -3], "a": {"c": "x\u00e9\n\ud83d\ude00"}, "d": true, "e": null, "f": false} "#)
        #expect(v.object?.map(\.key) == ["b", "a", "d", "e", "f"])
        #expect(v["b"] == JSONValue(.array([JSONValue(.number("1")), JSONValue(.number("2.5e1")), JSONValue(.number("-3"))])))
        #expect(v["a"]?["c"]?.string == "xé\n😀")
        #expect(v["d"]?.bool == true && v["f"]?.bool == false)
        #expect(v["e"]?.isNull == true)
        #expect(v["missing"] == nil && v["b"]?["x"] == nil)
        #expect(v.description == #"{"b": [1, 2.5e1, -3], "a": {"c": "xé\n😀"}, "d": true, "e": null, "f": false}"#)
    }

    /// Numbers keep their text: integers past 2^53 stay exact, and the reader converts on request.
    @Test func numbersAreKeptAsText() throws {
        let v = try parse("[9007199254740993, 18446744073709551615, -0, 1E+2, 0.1]")
        let items = try #require(v.array)
        #expect(items.map { $0.numberText } == ["9007199254740993", "18446744073709551615", "-0", "1E+2", "0.1"])
        #expect(items[0].int == 9_007_199_254_740_993)
        #expect(items[1].int == nil)  // beyond Int: the caller sees it does not fit
        #expect(items[3].double == 100 && items[3].int == nil)
        #expect(items[4].double == 0.1)
        #expect(JSONValue(.number("1")) != JSONValue(.number("1.0")))
    }

    /// Every value knows the byte where it starts, plus the base given to the reader.
    @Test func valuesCarryTheirByteOffsets() throws {
        let text = Array(#"{"a": [10, "s"], "b": {"c": null}}"#.utf8)
        var reader = JSONReader()
        let v = try reader.parse(text, base: 100)
        #expect(v.offset == 100)
        #expect(v["a"]?.offset == 106)
        #expect(v["a"]?.array?.map(\.offset) == [107, 111])
        #expect(v["b"]?.offset == 122 && v["b"]?["c"]?.offset == 128)
    }

    /// Errors name the byte of the problem (plus the base) and say what is wrong.
    @Test(arguments: [
        (#"{"a": 1,}"#, JSONError.Code.malformed, "expected a string key", 8),
        (#"{"a" 1}"#, .malformed, "expected ':'", 5),
        ("[1 2]", .malformed, "expected ',' or ']'", 3),
        ("[01]", .malformed, "leading zero", 1),
        ("[1.]", .malformed, "expected a digit after '.'", 3),
        ("[NaN]", .malformed, "expected a value", 1),
        ("[-Infinity]", .malformed, "expected a digit", 2),
        ("[tru]", .malformed, "expected 'true'", 1),
        (#"["a\x"]"#, .malformed, "unknown escape", 3),
        (#"["\udc00"]"#, .malformed, "low surrogate without a high one", 2),
        (#"["\ud800x"]"#, .malformed, "high surrogate without a low one", 2),
        ("[\"a\u{01}\"]", .malformed, "control character", 3),
        ("{} x", .malformed, "trailing bytes", 3),
        (#"{"a": "#, .truncated, "unexpected end", 6),
        (#"{"a": "xy"#, .truncated, "unterminated string", 6),
        ("", .truncated, "unexpected end", 0),
        // // comments are not JSON
        ("[1] // c", .malformed, "trailing bytes", 4),
    ] as [(String, JSONError.Code, String, Int)])
    func errorsNameTheByte(_ text: String, _ code: JSONError.Code, _ fragment: String, _ offset: Int) throws {
        let e = try #require(error(text))
        #expect(e.code == code, "\(e)")
        #expect(e.message.contains(fragment), "\(e)")
        #expect(e.offset == offset, "\(e)")
        #expect(e.description == "\(e.message) (at byte \(offset))")
        let based = try #require(error(Array(text.utf8), base: 8))
        #expect(based.offset == offset + 8)
    }

    @Test func duplicateKeysAreRefusedAtTheSecondKey() throws {
        let e = try #require(error(#"{"a": 1, "b": {"a": 2}, "a": 3}"#))
        #expect(e.code == .duplicateKey)
        #expect(e.message == #"duplicate key "a""#)
        #expect(e.offset == 24)
        // The same key in different objects is fine.
        #expect(try parse(#"[{"a": 1}, {"a": 2}]"#).array?.count == 2)
    }

    @Test func illFormedUTF8IsRefusedAtItsByte() throws {
        // "ab" then an overlong encoding of '/', then a lone continuation byte after an escape.
        for (bytes, at) in [([0x22, 0x61, 0x62, 0xC0, 0xAF, 0x22], 3), ([0x22, 0x5C, 0x6E, 0x80, 0x22], 3),
                            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1), ([0x22, 0xF0, 0x9F, 0x98, 0x22], 1)] as [([UInt8], Int)] {
            let e = try #require(error(bytes))
            #expect(e.code == .invalidUTF8, "\(e)")
            #expect(e.offset == at, "\(bytes)")
        }
        #expect(try JSONValue(parsing: [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]).string == "😀")
    }

    /// Nesting is limited (a stack overflow would be a crash): `maxDepth` containers pass, one more does not.
    @Test func depthIsLimited() throws {
        let ok = String(repeating: "[", count: 5) + String(repeating: "]", count: 5)
        #expect(try parse(ok, maxDepth: 5).array?.count == 1)
        let e = try #require(error(String(repeating: "[", count: 6) + String(repeating: "]", count: 6), maxDepth: 5))
        #expect(e.code == .tooDeep && e.message == "nesting deeper than 5" && e.offset == 5)
        #expect(try parse(#"{"a": {"b": 1}}"#, maxDepth: 2)["a"]?["b"]?.int == 1)
        #expect(error(#"{"a": {"b": []}}"#, maxDepth: 2)?.offset == 12)
        let deep = try #require(error(String(repeating: "[", count: 100_000)))
        #expect(deep.code == .tooDeep)
    }

    /// What the reader builds is charged at its size in memory; past the budget it stops with `.overBudget`
    /// where it was, and `spent` never passes the budget.
    @Test func buildingIsBudgeted() throws {
        let text = Array(("[" + String(repeating: "1,", count: 10_000) + "1]").utf8)
        var reader = JSONReader()
        let v = try reader.parse(text)
        #expect(v.array?.count == 10_001)
        #expect(reader.spent == 10_002 * JSONReader.valueCost)

        let budget = 4 * text.count
        let e = try #require(error(text, budget: budget))
        #expect(e.code == .overBudget)
        #expect(e.message == "would build more than the budget of \(budget) bytes")
        var limited = JSONReader(budget: budget)
        #expect(throws: JSONError.self) { _ = try limited.parse(text) }
        #expect(limited.spent <= budget && limited.spent > budget - JSONReader.valueCost)

        // Keys and strings are charged by their length.
        var r = JSONReader()
        _ = try r.parse(Array(#"{"abc": "hello"}"#.utf8))
        #expect(r.spent == 2 * JSONReader.valueCost + JSONReader.memberCost + 2 * 3 + 5)
    }

    /// Every prefix of a valid text is an error, never a crash.
    @Test func everyPrefixFails() {
        let text = Array(#"{"a": [1, -2.5e-3, "x\u00e9\ud83d\ude00", true, false, null], "b": {}}"#.utf8)
        for n in 0 ..< text.count {
            var reader = JSONReader()
            #expect(throws: JSONError.self, "prefix \(n)") { _ = try reader.parse(Array(text[0 ..< n])) }
        }
    }
}
