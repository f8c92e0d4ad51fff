import Foundation
import Testing
import VLACheckpoint
import VLACompiler

/// Paths of the committed demo model and goldens (from the hypervla-ref generator).
enum Paths {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let tiny = root + "/Examples/hypervla-tiny"
    static let fixtures = root + "/Tests/Fixtures/HyperVLA"

    /// A fresh temporary directory.
    static func temporary(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "vlac-compiler-tests-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Copies the demo model folder to a temporary place (for tests that edit it).
    static func copyOfTiny(_ name: String) throws -> String {
        let dir = temporary(name)
        for sub in ["model", "model-no-image", "text-encoder", "vision-encoder"] {
            try FileManager.default.copyItem(atPath: tiny + "/" + sub, toPath: dir + "/" + sub)
        }
        return dir
    }

    /// Shifts the first action mean in a copied model's `dataset_statistics.json` by 0.125 (single or per
    /// dataset form): every policy's metadata, and so its bytes, change.
    static func changeStatistics(_ modelDir: String) throws {
        let stats = modelDir + "/dataset_statistics.json"
        let statsData = try #require(FileManager.default.contents(atPath: stats))
        var obj = try #require(try JSONSerialization.jsonObject(with: statsData) as? [String: Any])
        func bump(_ action: [String: Any]) -> [String: Any] {
            var a = action
            var mean = a["mean"] as? [Double] ?? []
            mean[0] += 0.125
            a["mean"] = mean
            return a
        }
        if let a = obj["action"] as? [String: Any] {
            obj["action"] = bump(a)
        } else if var d = obj["bridge_dataset"] as? [String: Any], let a = d["action"] as? [String: Any] {
            d["action"] = bump(a)
            obj["bridge_dataset"] = d
        }
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: stats))
    }
}

/// Golden outputs of the Flax reference.
struct Golden {
    let checkpoint: Checkpoint
    init(_ setting: String) throws {
        checkpoint = try Checkpoint(path: Paths.fixtures + "/golden-\(setting).safetensors")
    }
    func floats(_ name: String) throws -> [Float] {
        let t = try #require(checkpoint[name], "golden tensor \(name)")
        return t.floats()
    }
    func ints(_ name: String) throws -> [Int] {
        let t = try #require(checkpoint[name], "golden tensor \(name)")
        return t.floats().map { Int($0) }
    }
}

/// The golden episode frames (uint8 after resize/crop) normalized as the image contract says: `[224·224·3]` each.
func goldenFrames() throws -> [[Float]] {
    let npz = try Checkpoint(path: Paths.fixtures + "/frames.npz")
    let t = try #require(npz["episode"], "frames.npz has no episode")
    let v = t.floats()
    let n = 224 * 224 * 3
    let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
    return (0..<(v.count / n)).map { f in
        (0..<n).map { i in (v[f * n + i] / 255 - mean[i % 3]) / std[i % 3] }
    }
}

/// Largest absolute difference.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// One compiler per model directory and options, shared by the tests (building one costs seconds in debug
/// builds). `Compiler` is immutable after init; the lock guards only the dictionary.
enum SharedCompilers {
    nonisolated(unsafe) private static var cache: [String: Compiler] = [:]
    private static let lock = NSLock()

    static func get(_ dir: String, embedShared: Bool = false) throws -> Compiler {
        let key = dir + (embedShared ? "#embed" : "")
        lock.lock()
        defer { lock.unlock() }
        if let c = cache[key] { return c }
        var o = CompileOptions()
        o.embedShared = embedShared
        let c = try Compiler(model: dir, options: o)
        cache[key] = c
        return c
    }
}
