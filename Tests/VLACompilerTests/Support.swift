import Foundation
import Testing
import VLACheckpoint

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
