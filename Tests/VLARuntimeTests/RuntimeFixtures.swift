import Foundation
import VLAFormat
import VLATestSupport

/// Fixtures of `Tests/Reference/gen_runtime_reference.py` (jax.image lanczos3, TF crop_and_resize in numpy,
/// transforms3d, SimplerEnv's ensembler and gripper conventions) and temp folders with demo policies.
enum RuntimeFixtures {
    static var root: URL { OpFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/VLARuntime") }

    /// A case of Tests/Reference/gen_preprocess_reference.py: TensorFlow's output for one frame and setting.
    struct PreprocessCase: Decodable, Sendable, CustomStringConvertible {
        var name: String
        var frame: String
        var height: Int
        var width: Int
        var crop: Bool
        var pad: Bool
        var sha256: String
        var sum: Int
        var file: String?
        var frameSHA256: String?
        var description: String { name }
    }

    struct PreprocessIndex: Decodable { var cases: [PreprocessCase] }

    static let preprocessCases: [PreprocessCase] = {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("preprocess/index.json")) else { return [] }
        return (try? JSONDecoder().decode(PreprocessIndex.self, from: data))?.cases ?? []
    }()

    /// The generator's frame of a case (nil for the JPEG frame, which VLACommandsTests decode).
    static func preprocessFrame(_ c: PreprocessCase) -> [UInt8]? {
        switch c.frame {
        case "noise": noise(height: c.height, width: c.width)
        case "pattern": frame(height: c.height, width: c.width)
        default: nil
        }
    }

    /// Seeded noise (`noise()` in gen_preprocess_reference.py): a 32-bit LCG from `h·65536 + w`, the top byte.
    static func noise(height h: Int, width w: Int) -> [UInt8] {
        var s = UInt32(truncatingIfNeeded: h * 65536 + w)
        return (0..<(h * w * 3)).map { _ in
            s = s &* 1664525 &+ 1013904223
            return UInt8(s >> 24)
        }
    }

    /// The generator's synthetic frame (same formula as `frame()` in gen_runtime_reference.py).
    static func frame(height h: Int, width w: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: h * w * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    let v = (x * 3 + y * 2 + c * 71 + ((x / 3 + y / 3) % 2) * 60 + (x * y) / 11) % 256
                    out[(y * w + x) * 3 + c] = UInt8(v)
                }
            }
        }
        return out
    }

    struct ActionCase: Decodable, Sendable, CustomStringConvertible {
        var robot: String
        var window: Int
        var ensembling: String
        var mean: [Float]
        var std: [Float]
        var mask: [Bool]
        var raw: [[Float]]
        var chunks: [[Double]]
        var actions: [[Double]]
        var description: String { "\(robot) window \(window) \(ensembling)" }
    }

    struct EulerCase: Decodable, Sendable {
        var euler: [Double]
        var axangle: [Double]
    }

    struct Actions: Decodable, Sendable {
        var cases: [ActionCase]
        var euler: [EulerCase]
    }

    static let actions: Actions? = {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("actions.json")) else { return nil }
        return try? JSONDecoder().decode(Actions.self, from: data)
    }()

    static let withReset = Result { try DemoPolicy.make(withReset: true) }
    static let withoutReset = Result { try DemoPolicy.make(withReset: false) }

    /// A fresh temp folder laid out as `vlac compile` writes: `policies/policy.vla` and `shared/<blob>`.
    /// Returns the folder and the policy path; the caller removes the folder.
    static func demoFolder(withReset: Bool = true) throws -> (folder: String, files: DemoPolicy.Files) {
        let files = try (withReset ? RuntimeFixtures.withReset : RuntimeFixtures.withoutReset).get()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("shared"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try Data(files.policy).write(to: folder.appendingPathComponent("policies/policy.vla"))
        try Data(files.blob).write(to: folder.appendingPathComponent("shared/\(files.blobName)"))
        return (folder.path, files)
    }
}
