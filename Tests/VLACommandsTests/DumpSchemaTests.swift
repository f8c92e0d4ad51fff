import Foundation
import Testing
@testable import VLACommands
import VLAFormat
import VLATestSupport

/// `dump --json` output checked against Schemas/vla-dump.schema.json, so the schema stays true to the code.
///
/// The validator covers the keywords the schemas of `Schemas/` use: type (a name or a list of names),
/// required, properties, additionalProperties (false or a schema), items, enum, const, pattern, minimum,
/// maximum, minItems, maxItems, oneOf, anyOf and local $ref.
@Suite struct DumpSchemaTests {
    let schema: [String: Any]

    init() {
        schema = Self.loadSchema()
    }

    /// A validator for another schema of `Schemas/` (the manifest's).
    init(schemaFile: String) {
        schema = Self.loadSchema(schemaFile)
    }

    static func loadSchema(_ name: String = "vla-dump.schema.json") -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Schemas/" + name).standardized
        guard let data = try? Data(contentsOf: url), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return [:]
        }
        return object
    }

    func problems(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        var out: [String] = []
        if let ref = schema["$ref"] as? String, ref.hasPrefix("#/$defs/") {
            let defs = self.schema["$defs"] as? [String: Any] ?? [:]
            guard let target = defs[String(ref.dropFirst(8))] as? [String: Any] else { return ["\(path): bad $ref \(ref)"] }
            return problems(value, target, at: path)
        }
        if let branches = schema["oneOf"] as? [[String: Any]] {
            let fits = branches.filter { problems(value, $0, at: path).isEmpty }.count
            if fits != 1 { return ["\(path): fits \(fits) of the \(branches.count) oneOf branches"] }
        }
        if let branches = schema["anyOf"] as? [[String: Any]], !branches.contains(where: { problems(value, $0, at: path).isEmpty }) {
            return ["\(path): fits none of the anyOf branches: \(value)"]
        }
        if let expected = (schema["type"] as? String).map({ [$0] }) ?? schema["type"] as? [String] {
            let boxed = "\(type(of: value))"
            let ok = expected.contains { name in
                switch name {
                case "object": value is [String: Any]
                case "array": value is [Any]
                case "string": value is String
                case "null": value is NSNull
                // Foundation on Linux boxes JSON true/false as __NSCFBoolean and numbers as NSNumber.
                case "boolean": boxed == "__NSCFBoolean"
                case "integer": boxed != "__NSCFBoolean" && (value as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() } ?? false
                case "number": boxed != "__NSCFBoolean" && value is NSNumber
                default: false
                }
            }
            if !ok { return ["\(path): expected \(expected.joined(separator: " or ")), got \(value)"] }
        }
        if let choices = schema["enum"] as? [String] {
            if let s = value as? String, !choices.contains(s) { out.append("\(path): \(s) not in \(choices)") }
            if !(value is String) { out.append("\(path): \(value) not in \(choices)") }
        }
        if let c = schema["const"] as? String, (value as? String) != c { out.append("\(path): expected \"\(c)\"") }
        if let c = schema["const"] as? NSNumber, !(schema["const"] is String), (value as? NSNumber) != c || value is String { out.append("\(path): expected \(c)") }
        if let min = schema["minimum"] as? Double, let n = value as? NSNumber, n.doubleValue < min { out.append("\(path): \(n) < \(min)") }
        if let max = schema["maximum"] as? Double, let n = value as? NSNumber, n.doubleValue > max { out.append("\(path): \(n) > \(max)") }
        if let pattern = schema["pattern"] as? String, let s = value as? String,
           (try? Regex(pattern).wholeMatch(in: s)) == nil { out.append("\(path): \(s) does not match \(pattern)") }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { out.append("\(path): missing \(key)") }
            for (key, v) in object {
                if let sub = properties[key] as? [String: Any] {
                    out += problems(v, sub, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    out.append("\(path): unexpected key \(key)")
                } else if let rest = schema["additionalProperties"] as? [String: Any] {
                    out += problems(v, rest, at: "\(path).\(key)")
                }
            }
        }
        if let array = value as? [Any] {
            if let n = schema["minItems"] as? Int, array.count < n { out.append("\(path): fewer than \(n) items") }
            if let n = schema["maxItems"] as? Int, array.count > n { out.append("\(path): more than \(n) items") }
            if let items = schema["items"] as? [String: Any] {
                for (i, v) in array.enumerated() { out += problems(v, items, at: "\(path)[\(i)]") }
            }
        }
        return out
    }

    func check(_ file: VLAFile) throws {
        #expect(!schema.isEmpty, "Schemas/vla-dump.schema.json must load")
        let json = FileReport(path: "x.vla", file: file).json().serialized()
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8))
        let found = problems(value, schema, at: "$")
        #expect(found.isEmpty, "\(found.prefix(10))")
    }

    @Test func policyDumpFitsTheSchema() throws {
        try check(VLAFile(bytes: SampleDocuments.policyAndBlob().policy))
    }

    @Test func callPolicyAndProgramBlobDumpsFitTheSchema() throws {
        let (policy, blob) = try SampleDocuments.callPolicyAndBlob()
        try check(VLAFile(bytes: policy))
        try check(VLAFile(bytes: blob))
    }

    @Test func reducedPrecisionBlobDumpFitsTheSchema() throws {
        try check(VLAFile(bytes: VLAWriter.serialize(SampleDocuments.reducedPrecisionBlob())))
    }

    /// Attention with bf16 products (flag bit 2, format 1.4): the dump names it (text and JSON), fp32 dumps do not.
    @Test func bf16AttentionDumpFitsTheSchemaAndShowsTheFlag() throws {
        var doc = SampleDocuments.policy(blobHash: [UInt8](repeating: 7, count: 32), blobSize: 4096)
        let p = try #require(doc.programs.firstIndex { $0.name == "step" })
        let o = try #require(doc.programs[p].operations.firstIndex { $0.opcode == .attention })
        doc.programs[p].operations[o].attributes[1] |= AttentionFlags.bf16Products
        let file = try VLAFile(bytes: VLAWriter.serialize(doc))
        try check(file)
        let text = FileReport(path: "x.vla", file: file).text()
        #expect(text.contains("format    1.4"))
        #expect(text.contains("mask=true, bias=false, bf16Products=true}"))
        let plain = FileReport(path: "x.vla", file: try VLAFile(bytes: SampleDocuments.policyAndBlob().policy)).text()
        #expect(plain.contains("mask=true, bias=false}") && !plain.contains("bf16Products"))
    }

    @Test func blobDumpFitsTheSchema() throws {
        try check(VLAFile(bytes: SampleDocuments.policyAndBlob().blob))
    }

    /// The validator is not vacuous: a dump with a renamed key or a bad hash is caught.
    @Test func validatorCatchesDrift() throws {
        let json = FileReport(path: "x.vla", file: try VLAFile(bytes: SampleDocuments.policyAndBlob().blob)).json().serialized()
        let drifted = json.replacingOccurrences(of: "\"arenaSize\"", with: "\"arenaBytes\"").replacingOccurrences(of: "sha256:", with: "sha1:")
        let value = try JSONSerialization.jsonObject(with: Data(drifted.utf8))
        let found = problems(value, schema, at: "$")
        #expect(found.contains("$: missing arenaSize"))
        #expect(found.contains { $0.contains("does not match") })
    }
}
