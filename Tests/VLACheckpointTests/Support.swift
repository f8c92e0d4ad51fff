import CZlib
import Foundation
import Testing
import VLACheckpoint

/// Paths and reference data shared by the checkpoint suites.
enum Support {
    /// The package root, found from this file's path.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Tests/Fixtures/VLACheckpoint.
    static var fixtures: String { packageRoot.appendingPathComponent("Tests/Fixtures/VLACheckpoint").path }

    /// A fixture path.
    static func fixture(_ name: String) -> String { fixtures + "/" + name }

    /// The venv's site-packages: $VLAC_SITE_PACKAGES, else <root>/.venv/lib/python3*/site-packages.
    static func sitePackages() throws -> String {
        if let env = ProcessInfo.processInfo.environment["VLAC_SITE_PACKAGES"], !env.isEmpty { return env }
        let lib = packageRoot.appendingPathComponent(".venv/lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for v in versions.sorted() where v.hasPrefix("python3") {
            let sp = lib.appendingPathComponent(v).appendingPathComponent("site-packages").path
            if FileManager.default.fileExists(atPath: sp) { return sp }
        }
        Issue.record("no site-packages with the third-party test files: run `make setup` (or set VLAC_SITE_PACKAGES)")
        throw SetupMissing()
    }

    struct SetupMissing: Error {}

    /// A third-party file in site-packages; fails with a `make setup` hint if it is missing.
    static func thirdParty(_ relative: String) throws -> String {
        let path = try sitePackages() + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(relative) in site-packages: run `make setup`")
            throw SetupMissing()
        }
        return path
    }

    /// One tensor as the reference library read it.
    struct RefTensor: Decodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var sha256: String
        var crc32: UInt32
        var samples: [Double]
    }

    /// One file's reference listing.
    struct RefFile: Decodable {
        var sha256: String?
        var tensors: [RefTensor]
        var metadata: [String: String]?
        var opsets: [[Opset]]?
        var nodes: Int?
    }

    enum Opset: Decodable {
        case string(String), int(Int)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
        }
    }

    static let reference: [String: RefFile] = load("reference.json")
    static let realReference: [String: RefFile] = load("real-reference.json")

    static func load(_ name: String) -> [String: RefFile] {
        guard let data = FileManager.default.contents(atPath: fixture(name)),
              let v = try? JSONDecoder().decode([String: RefFile].self, from: data) else { return [:] }
        return v
    }

    /// Reads a whole file.
    static func bytes(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw CheckpointError(.io, "cannot read", file: path) }
        return [UInt8](d)
    }

    /// Checks every tensor of `checkpoint` against `ref`: same names, dtype, shape, bytes (SHA-256), and
    /// first/last elements converted to Float (exact: the reference converted the same element to f64,
    /// so compare after rounding it to Float).
    static func expectMatches(_ checkpoint: Checkpoint, _ ref: RefFile, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(checkpoint.names) == Set(ref.tensors.map(\.name)), sourceLocation: sourceLocation)
        #expect(checkpoint.tensors.count == ref.tensors.count, sourceLocation: sourceLocation)
        for r in ref.tensors {
            guard let t = checkpoint[r.name] else { continue }
            #expect(t.dtype.name == r.dtype, "\(r.name)", sourceLocation: sourceLocation)
            #expect(t.shape == r.shape, "\(r.name)", sourceLocation: sourceLocation)
            // CRC-32 (zlib, optimized C) for every tensor; SHA-256 (our Swift, slow in debug builds)
            // as well for tensors up to 256 KiB.
            #expect(crc32(t.data) == r.crc32, "\(r.name)", sourceLocation: sourceLocation)
            if t.byteCount <= 256 << 10 {
                #expect(SHA256.hash(t.data).hex == r.sha256, "\(r.name)", sourceLocation: sourceLocation)
            }
            let n = t.elementCount * t.dtype.floatsPerElement
            let idx = n == 0 ? [] : Array(0 ..< min(3, n)) + [n - 1]
            #expect(idx.count == r.samples.count, "\(r.name)", sourceLocation: sourceLocation)
            for (k, i) in idx.enumerated() where k < r.samples.count {
                let got = t.float(at: i) ?? .nan
                let want = Float(r.samples[k])
                #expect(got == want || (got.isNaN && want.isNaN), "\(r.name)[\(i)]: \(got) vs \(want)", sourceLocation: sourceLocation)
            }
        }
    }

    /// zlib's CRC-32 of a tensor's bytes.
    static func crc32(_ view: ByteView) -> UInt32 {
        view.withUnsafeBytes { raw in
            var sum = CZlib.crc32(0, nil, 0)
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
            var done = 0
            while done < raw.count {
                let n = min(raw.count - done, 1 << 30)
                sum = CZlib.crc32(sum, base + done, UInt32(n))
                done += n
            }
            return UInt32(truncatingIfNeeded: sum)
        }
    }

    /// Every proper prefix of `bytes` must fail with a CheckpointError (never trap); returns how many did.
    static func expectEveryPrefixFails(_ bytes: [UInt8], path: String, format: CheckpointFormat, stride: Int = 1,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        var n = 0
        while n < bytes.count {
            let view = ByteStorage(copying: bytes[0 ..< n]).view
            do {
                _ = try Checkpoint(parsing: view, path: path, format: format)
                Issue.record("prefix of \(n) of \(bytes.count) bytes of \(path) was accepted", sourceLocation: sourceLocation)
            } catch is CheckpointError {
            } catch {
                Issue.record("prefix of \(n) bytes: unexpected error type \(error)", sourceLocation: sourceLocation)
            }
            n += n < 4096 ? 1 : stride
        }
    }

    /// `count` seeded mutations of `bytes` (1–4 random bytes replaced each); every one must either read
    /// or throw a CheckpointError. Returns (accepted, rejected).
    @discardableResult
    static func mutate(_ bytes: [UInt8], path: String, format: CheckpointFormat, count: Int, seed: UInt64,
                       check: (Checkpoint) -> Void = { _ in }) -> (accepted: Int, rejected: Int) {
        var rng = SplitMix64(seed: seed)
        var accepted = 0, rejected = 0
        for _ in 0 ..< count {
            var m = bytes
            let flips = 1 + Int(rng.next() % 4)
            for _ in 0 ..< flips {
                let i = Int(rng.next() % UInt64(m.count))
                switch rng.next() % 3 {
                case 0: m[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: m[i] ^= 1 << UInt8(rng.next() % 8)
                default: m[i] = [0x00, 0xFF, 0x7F, 0x80][Int(rng.next() % 4)]
                }
            }
            do {
                let c = try Checkpoint(parsing: ByteStorage(copying: m).view, path: path, format: format)
                for t in c.tensors { _ = t.float(at: 0); _ = t.float(at: t.elementCount - 1) }
                check(c)
                accepted += 1
            } catch is CheckpointError {
                rejected += 1
            } catch {
                Issue.record("mutation gave a non-checkpoint error: \(error)")
            }
        }
        return (accepted, rejected)
    }
}

/// A small deterministic generator for seeded mutations.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
