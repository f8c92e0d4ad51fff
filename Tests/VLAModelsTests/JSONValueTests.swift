import Testing
@testable import VLAModels

@Suite struct JSONValueTests {
    @Test func parsesNestedValues() throws {
        let v = try JSONValue(parsing: Array(#"{"a": [1, 2.5e1, -3], "b": {"c": "x\u00e9\n"}, "d": true, "e": null}"#.utf8))
        #expect(v["a"] == .array([.number(1), .number(25), .number(-3)]))
        #expect(v["b"]?["c"] == .string("xé\n"))
        #expect(v["d"] == .bool(true))
        #expect(v["e"] == .null)
    }
}
