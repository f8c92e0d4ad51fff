import Foundation
import Testing
import VLACheckpoint

/// Replays what the checkpoint fuzz targets (Fuzz/Harness/Fuzz<Format>.swift) keep: every input a target crashed
/// on (`Fuzz/FailCases/<target>/`), run the way the harness runs it, and the committed hostile seeds
/// (`Fuzz/Seeds/<target>/`, reproducers of attacks that once crashed, hung or exhausted memory), each of which
/// must be refused with an error.
@Suite struct FuzzReplayTests {
    static let targets: [(target: String, format: CheckpointFormat, path: String)] = [
        ("FuzzSafetensors", .safetensors, "model.safetensors"), ("FuzzNpy", .npy, "weights.npy"),
        ("FuzzNpz", .npz, "weights.npz"), ("FuzzMsgpack", .msgpack, "flax_model.msgpack"),
        ("FuzzONNX", .onnx, "model.onnx"), ("FuzzPyTorch", .pytorch, "pytorch_model.bin"),
    ]

    static func files(_ folder: String, _ target: String) -> [String] {
        let dir = Support.packageRoot.appendingPathComponent("Fuzz/\(folder)/\(target)").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    /// (target index, file) pairs, so each file is its own test case.
    static let failCases: [String] = targets.flatMap { t in files("FailCases", t.target).map { t.target + "|" + $0 } }
    static let hostileSeeds: [String] = targets.flatMap { t in files("Seeds", t.target).map { t.target + "|" + $0 } }

    /// What the harness does: parse with the target's format, then convert every tensor of at most 2^20 elements.
    static func replay(_ item: String) throws {
        let parts = item.split(separator: "|", maxSplits: 1).map(String.init)
        let t = targets.first { $0.target == parts[0] }!
        let bytes = try #require(FileManager.default.contents(atPath: parts[1]))
        let checkpoint = try Checkpoint(parsing: ByteStorage(copying: bytes).view, path: t.path, format: t.format)
        for tensor in checkpoint.tensors where tensor.elementCount <= 1 << 20 {
            #expect(tensor.floats().count == tensor.elementCount * tensor.dtype.floatsPerElement)
        }
    }

    @Test func seedsAreCommitted() {
        #expect(Self.hostileSeeds.count >= 5, "Fuzz/Seeds holds the committed reproducers")
    }

    @Test(arguments: failCases)
    func replayFailCase(_ item: String) {
        _ = try? Self.replay(item)
    }

    @Test(arguments: hostileSeeds)
    func hostileSeedIsRefused(_ item: String) {
        #expect(throws: CheckpointError.self) { try Self.replay(item) }
    }
}
