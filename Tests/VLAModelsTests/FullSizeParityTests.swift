import Foundation
import Testing
import VLACheckpoint
import VLAFormat
@testable import VLAModels

/// Random-weight t5-base and dinov2-base against transformers (torch CPU), from `make reference-full`
/// (about 1 GB in .build/reference-full, not committed). Enabled with VLAC_FULL_REFERENCE=1.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["VLAC_FULL_REFERENCE"] == "1", "set VLAC_FULL_REFERENCE=1 after `make reference-full`"))
struct FullSizeParityTests {
    static let dir = Fixtures.root + "/.build/reference-full/"

    static func require(_ name: String) throws -> String {
        let d = dir + name
        try #require(FileManager.default.fileExists(atPath: d + "/reference.safetensors"), "\(d) is missing: run `make reference-full`")
        return d
    }

    @Test func t5Base() throws {
        let d = try Self.require("t5-base-random")
        let model = try T5Encoder(config: try Fixtures.config(d), weights: try Checkpoint(path: d))
        let ref = try Checkpoint(path: d + "/reference.safetensors")
        for c in NaiveParityTests.textCases(ref) {
            let ids = try ref.values("case\(c).input_ids").map { Int32($0) }
            let mask = try ref.values("case\(c).attention_mask").map { UInt8($0) }
            let out = try interpret(try model.build(ids: ids, mask: mask), threads: 2)
            let diff = maxAbsDiff(try #require(out["last_hidden_state"]), try ref.values("case\(c).last_hidden_state"))
            print("t5-base case \(c) (\(ids.count) tokens): max |difference| \(diff)")
            #expect(diff <= 1e-4, "case \(c): max difference \(diff)")
        }
    }

    @Test func dinov2Base() throws {
        let d = try Self.require("dinov2-base-random")
        let model = try DINOv2(config: try Fixtures.config(d), weights: try Checkpoint(path: d))
        let ref = try Checkpoint(path: d + "/reference.safetensors")
        let built = try model.build(height: 224, width: 224, interpolation: .torchBicubic)
        let out = try interpret(built, inputs: [try #require(built.input("pixel_values")): try ref.values("case0.pixel_values_hwc")], threads: 2)
        let diff = maxAbsDiff(try #require(out["last_hidden_state"]), try ref.values("case0.last_hidden_state"))
        print("dinov2-base 224×224: max |difference| \(diff)")
        #expect(diff <= 1e-4, "max difference \(diff)")
        // HyperVLA's position table (JAX bicubic, 37 → 16 at scale 16.1/37) for the same weights.
        let table = try model.positionTable(gridH: 16, gridW: 16, interpolation: .jaxBicubic)
        let tableDiff = maxAbsDiff(table, try ref.values("jax_position_table"))
        print("dinov2-base JAX position table: max |difference| \(tableDiff)")
        #expect(tableDiff <= 1e-6)
    }
}
