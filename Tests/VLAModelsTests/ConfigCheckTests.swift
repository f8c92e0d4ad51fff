import Foundation
import Testing
import VLACheckpoint
import VLAFormat
import VLAJSON
@testable import VLAModels

/// Configs that disagree with their weights give one error listing every problem.
@Suite struct ConfigCheckTests {
    /// The weights of a fixture model, editable.
    static func weights(_ dir: String) throws -> InMemoryWeights {
        let ck = try Checkpoint(path: Fixtures.path(dir))
        var w = InMemoryWeights()
        for t in ck.tensors { w.tensors[t.name] = (t.shape, t.floats()) }
        return w
    }

    /// `json` with members replaced, added (at the end) or, for nil, removed.
    static func edit(_ json: JSONValue, _ changes: [String: JSONValue.Kind?]) -> JSONValue {
        guard var o = json.object else { return json }
        for (k, v) in changes {
            let i = o.firstIndex { $0.key == k }
            switch (i, v) {
            case (let i?, let v?): o[i].value = JSONValue(v)
            case (let i?, nil): o.remove(at: i)
            case (nil, let v?): o.append((k, JSONValue(v)))
            case (nil, nil): break
            }
        }
        return JSONValue(.object(o))
    }

    @Test func bertListsEveryProblem() throws {
        var w = try Self.weights("bert-tiny")
        w.tensors["encoder.layer.1.intermediate.dense.bias"] = nil
        w.tensors["encoder.layer.0.attention.self.key.weight"]?.shape = [32, 16]
        let json = Self.edit(try Fixtures.config(Fixtures.path("bert-tiny")), ["hidden_act": .string("swish")])
        let error = try #require(throws: ModelError.self) { try BertEncoder(config: json, weights: w) }
        #expect(error.code == .weightsMismatch)
        #expect(error.problems.count == 3, "\(error)")
        #expect(error.problems.contains("hidden_act \"swish\" is not supported (supported: \(Activation.known))"))
        #expect(error.problems.contains("tensor \"encoder.layer.1.intermediate.dense.bias\" is missing (expected shape [64])"))
        #expect(error.problems.contains("tensor \"encoder.layer.0.attention.self.key.weight\": expected shape [32, 32], got [32, 16]"))
        #expect(error.description.hasPrefix("bert encoder: config.json and weights disagree: 3 problems\n  - "))
    }

    @Test func t5ListsEveryProblem() throws {
        let w = try Self.weights("t5-tiny-relu")
        // A bigger d_ff than the weights have, a gated config for ungated weights, an unknown architecture.
        let json = Self.edit(try Fixtures.config(Fixtures.path("t5-tiny-relu")), [
            "d_ff": .number("64"), "feed_forward_proj": .string("gated-gelu"),
            "architectures": .array([JSONValue(.string("T5Nope")), JSONValue(.string("MarianModel"))]),
        ])
        let error = try #require(throws: ModelError.self) { try T5Encoder(config: json, weights: w) }
        // 2 layers × (wi_0 missing, wi_1 missing, wo shape) + 1 architecture.
        #expect(error.problems.count == 7, "\(error)")
        #expect(error.problems.contains("architecture \"MarianModel\" is not supported by the T5 builder (expected T5*)"))
        #expect(error.problems.contains("tensor \"encoder.block.1.layer.1.DenseReluDense.wo.weight\": expected shape [32, 64], got [32, 48]"))
        #expect(error.problems.contains("tensor \"encoder.block.0.layer.1.DenseReluDense.wi_0.weight\" is missing (expected shape [64, 32])"))
    }

    @Test func t5RejectsUnknownActivation() throws {
        let w = try Self.weights("t5-tiny-relu")
        let json = Self.edit(try Fixtures.config(Fixtures.path("t5-tiny-relu")), ["feed_forward_proj": .string("silu")])
        let error = try #require(throws: ModelError.self) { try T5Encoder(config: json, weights: w) }
        #expect(error.problems == ["feed_forward_proj \"silu\": activation \"silu\" is not supported (supported: \(Activation.known))"])
    }

    @Test func dinov2ListsMissingKeysAndShapes() throws {
        let w = try Self.weights("dinov2-tiny")
        let json = Self.edit(try Fixtures.config(Fixtures.path("dinov2-tiny")), [
            "hidden_size": nil, "image_size": .number("40"), "model_type": .string("vit"), "patch_size": .number("64"),
        ])
        let error = try #require(throws: ModelError.self) { try DINOv2(config: json, weights: w) }
        #expect(error.problems.contains("config key \"hidden_size\" is missing"))
        #expect(error.problems.contains("model_type \"vit\" is not supported by the DINOv2 builder (expected dinov2)"))
        #expect(error.problems.contains("image_size 40 is smaller than patch_size 64: no position table"))
        #expect(error.problems.contains("tensor \"embeddings.position_embeddings\": expected shape [1, 1, 1], got [1, 65, 32]"))
    }

    @Test func badJSONNamesTheOffset() throws {
        let error = try #require(throws: JSONError.self) { try JSONValue(parsing: Array(#"{"a": [1, 2,, 3]}"#.utf8)) }
        #expect(error.code == .malformed)
        #expect(error.offset == 12)
    }

    /// A model directory whose config.json is not strict JSON: `.badConfig` naming the file, what is wrong
    /// and the byte (here a key given twice, which Python's json would silently resolve to the last).
    @Test func badConfigFileNamesTheFileAndByte() throws {
        let dir = NSTemporaryDirectory() + "vlac-badjson-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"model_type": "t5", "d_model": 8, "d_model": 16}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let error = try #require(throws: ModelError.self) { try FoundationModel.open(directory: dir) }
        #expect(error.code == .badConfig)
        #expect(error.offset == 35)
        #expect(error.description.contains(dir + "/config.json: duplicate key \"d_model\""), "\(error)")
    }

    @Test func jsonPrefixesNeverTrap() {
        let text = Array(#"{"d_model": 32, "x": [1.5e3, "a\u00e9\"", {"y": null}], "t": true}"#.utf8)
        for n in 0..<text.count {
            #expect(throws: JSONError.self) { try JSONValue(parsing: Array(text[0..<n])) }
        }
        var rng = SplitMix(seed: 7)
        for _ in 0..<500 {
            var m = text
            for _ in 0..<3 { m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? JSONValue(parsing: m)
        }
        // Deep nesting is an error, not a stack overflow.
        #expect(throws: JSONError.self) { try JSONValue(parsing: [UInt8](repeating: UInt8(ascii: "["), count: 100_000)) }
    }
}

/// A small seeded generator for mutation tests.
struct SplitMix {
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

/// Hostile config.json bytes never trap: every prefix and seeded byte mutations give an error or a model
/// whose program still passes the structural checks.
@Suite struct ConfigMutationTests {
    @Test(arguments: ["t5-tiny-gated", "bert-tiny", "dinov2-tiny"]) func mutatedConfigs(_ name: String) throws {
        let dir = Fixtures.path(name)
        let weights = try Checkpoint(path: dir)
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: dir + "/config.json")))
        func attempt(_ b: [UInt8]) -> Bool {
            guard let json = try? JSONValue(parsing: b) else { return false }
            do {
                switch name {
                case "t5-tiny-gated": _ = try T5Encoder(config: json, weights: weights).build(ids: [3, 4, 1])
                case "bert-tiny": _ = try BertEncoder(config: json, weights: weights).build(ids: [3, 4, 1], pooling: true)
                default: _ = try DINOv2(config: json, weights: weights).build(height: 8, width: 12, interpolation: .jaxBicubic)
                }
                return true
            } catch {
                return false
            }
        }
        #expect(attempt(bytes))
        for n in stride(from: 0, to: bytes.count, by: 7) { #expect(!attempt(Array(bytes[0..<n]))) }
        var rng = SplitMix(seed: 42)
        for _ in 0..<300 {
            var m = bytes
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                // Digits and quotes are where configs break; mutate toward them half the time.
                let pool: [UInt8] = Array("0123456789\"-.e".utf8)
                let v = rng.next() % 2 == 0 ? pool[Int(rng.next() % UInt64(pool.count))] : UInt8(truncatingIfNeeded: rng.next())
                m[Int(rng.next() % UInt64(m.count))] = v
            }
            _ = attempt(m)
        }
    }
}
