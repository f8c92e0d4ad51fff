import Testing
import VLACheckpoint
import VLAFormat
@testable import VLAModels

/// Built programs are well-formed: every op passes the format's signature rule, and the memory plan never
/// overwrites a tensor that is still to be read.
@Suite struct ProgramStructureTests {
    @Test func t5() throws {
        for dir in ["t5-tiny-relu", "t5-tiny-gated"] {
            let m = try T5Encoder(config: try Fixtures.config(Fixtures.path(dir)), weights: try Checkpoint(path: Fixtures.path(dir)))
            let built = try m.build(ids: [5, 9, 1, 0], mask: [1, 1, 1, 0])
            try checkStructure(built)
            #expect(built.attentionMask == [1, 1, 1, 0])
        }
    }

    @Test func bertWithPooling() throws {
        let dir = Fixtures.path("bert-tiny")
        let m = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let built = try m.build(ids: [2, 7, 9], pooling: true)
        try checkStructure(built)
        #expect(built.outputs.map(\.name) == ["last_hidden_state", "pooled", "embedding"])
    }

    @Test(arguments: [PositionInterpolation.jaxBicubic, .torchBicubic]) func dinov2(_ mode: PositionInterpolation) throws {
        let dir = Fixtures.path("dinov2-tiny")
        let m = try DINOv2(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let built = try m.build(height: 20, width: 28, interpolation: mode)
        try checkStructure(built)
        #expect(built.document.tensors[try #require(built.output("patch_tokens"))].type.shape == [35, 32])
        // The plan reuses memory: the arena is far smaller than all activations side by side.
        let activations = built.document.tensors.filter {
            if case .arena = $0.location { true } else { false }
        }.reduce(0) { $0 + $1.byteCount }
        #expect(Int(built.document.arenaSize) * 3 < activations, "arena \(built.document.arenaSize) bytes for \(activations) bytes of activations")
    }

    @Test func badTokenIdsAreInputErrors() throws {
        let dir = Fixtures.path("bert-tiny")
        let m = try BertEncoder(config: try Fixtures.config(dir), weights: try Checkpoint(path: dir))
        let e = try #require(throws: ModelError.self) { try m.build(ids: [2, 100]) }
        #expect(e.message == "bert encoder: token 1 has id 100, outside the vocabulary of 100")
        #expect(throws: ModelError.self) { try m.build(ids: []) }
        #expect(throws: ModelError.self) { try m.build(ids: [Int32](repeating: 1, count: 129)) }
    }

    /// transformers' `_relative_position_bucket` (bidirectional, 32 buckets, max distance 128), by hand:
    /// |n| < 8 exact; beyond, 8 + ⌊log(n/8)/log(16)·8⌋ capped at 15; positive offsets add 16.
    @Test func t5Buckets() {
        let want: [(Int, Int)] = [(0, 0), (1, 17), (-1, 1), (7, 23), (-8, 8), (-11, 8), (-12, 9), (-16, 10), (-32, 12), (-64, 14), (-128, 15), (-500, 15), (200, 31)]
        for (r, b) in want {
            #expect(T5Encoder.bucket(relative: r, buckets: 32, maxDistance: 128) == b, "relative \(r)")
        }
        // Degenerate configs clamp instead of trapping; every bucket indexes the table.
        for (buckets, distance) in [(2, 2), (3, 100), (4, 2), (4, 1), (32, 8), (32, 2), (1000, 1 << 22)] {
            for r in [-5000, -9, -1, 0, 1, 2, 9, 5000] {
                let b = T5Encoder.bucket(relative: r, buckets: buckets, maxDistance: distance)
                #expect(b >= 0 && b < buckets, "buckets \(buckets), distance \(distance), relative \(r): \(b)")
            }
        }
    }
}
