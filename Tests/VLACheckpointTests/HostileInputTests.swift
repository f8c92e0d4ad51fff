import CZlib
import Foundation
import Testing
@testable import VLACheckpoint

/// Builders for hostile checkpoints, made in the test (the audit's reproducer files are not in the repository).
enum Craft {
    static func le16(_ v: Int) -> [UInt8] { (0 ..< 2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le32(_ v: UInt32) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    static func crc(_ b: [UInt8]) -> UInt32 {
        b.withUnsafeBufferPointer { p in UInt32(truncatingIfNeeded: CZlib.crc32(0, p.baseAddress, UInt32(p.count))) }
    }

    /// Raw deflate of `b`; with `flushOnly`, the stream is flushed but not finished (more may be appended).
    static func deflate(_ b: [UInt8], flushOnly: Bool = false) -> [UInt8] {
        var s = z_stream()
        _ = deflateInit2_(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&s) }
        var input = b
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, uLong(b.count))) + 64)
        let n = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                s.next_in = i.baseAddress; s.avail_in = UInt32(i.count)
                s.next_out = o.baseAddress; s.avail_out = UInt32(o.count)
                _ = CZlib.deflate(&s, flushOnly ? Z_FULL_FLUSH : Z_FINISH)
                return o.count - Int(s.avail_out)
            }
        }
        return Array(out[0 ..< n])
    }

    struct Entry {
        var name: String
        var data: [UInt8]
        var deflated = false
        /// Compressed bytes to store instead of deflating `data` (for corrupt streams).
        var rawPayload: [UInt8]? = nil
        var declaredSize: Int? = nil
        var crc: UInt32? = nil
    }

    /// A zip archive of `entries` (no ZIP64).
    static func zip(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for e in entries {
            let payload = e.rawPayload ?? (e.deflated ? deflate(e.data) : e.data)
            let name = Array(e.name.utf8)
            let method = e.deflated ? 8 : 0
            let crc = e.crc ?? Craft.crc(e.data)
            let size = UInt32(e.declaredSize ?? e.data.count)
            let offset = UInt32(out.count)
            let common = le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(crc) + le32(UInt32(payload.count)) + le32(size) + le16(name.count) + le16(0)
            out += le32(0x0403_4B50) + common + name + payload
            central += le32(0x0201_4B50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let cdOffset = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(UInt32(central.count)) + le32(UInt32(cdOffset)) + le16(0)
        return out
    }

    /// A version-1 .npy header for `descr` and `shape`, padded to 64 bytes, without data.
    static func npyHeader(_ descr: String, _ shape: [Int]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
        while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0] + le16(dict.utf8.count) + Array(dict.utf8)
    }

    /// Pickle opcodes for a torch state dict `{"w": tensor}`, the tensor a view of storage "0" of
    /// `elements` floats with `offset`, `shape` and `stride` (written as 8-byte LONG1 so any Int64 fits).
    static func statePickle(elements: Int64, offset: Int64, shape: [Int64], stride: [Int64]) -> [UInt8] {
        func str(_ s: String) -> [UInt8] { [0x58] + le32(UInt32(s.utf8.count)) + Array(s.utf8) }
        func int(_ v: Int64) -> [UInt8] { [0x8A, 8] + le64(UInt64(bitPattern: v)) }
        func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
        var p: [UInt8] = [0x80, 0x02, 0x7D] + str("w") + global("torch._utils", "_rebuild_tensor_v2") + [0x28]
        p += [0x28] + str("storage") + global("torch", "FloatStorage") + str("0") + str("cpu") + int(elements) + [0x74, 0x51]
        p += int(offset)
        p += [0x28] + shape.flatMap(int) + [0x74]
        p += [0x28] + stride.flatMap(int) + [0x74]
        p += [0x89] + global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52, 0x73, 0x2E]
        return p
    }

    /// A PyTorch zip: `archive/data.pkl` and a storage `archive/data/0` of `storageBytes` zero bytes.
    static func torchZip(pickle: [UInt8], storageBytes: Int, deflatePickle: Bool = false) -> [UInt8] {
        zip([Entry(name: "archive/data.pkl", data: pickle, deflated: deflatePickle), Entry(name: "archive/data/0", data: [UInt8](repeating: 0, count: storageBytes))])
    }

    static func varint(_ v: Int) -> [UInt8] {
        var v = UInt64(v), out: [UInt8] = []
        repeat { let b = UInt8(v & 0x7F); v >>= 7; out.append(v == 0 ? b : b | 0x80) } while v != 0
        return out
    }

    /// A ModelProto with `nodes` empty NodeProtos in its graph (and an ir_version and opset).
    static func onnx(nodes: Int) -> [UInt8] {
        var graph: [UInt8] = []
        for _ in 0 ..< nodes { graph += [0x0A, 0x00] }
        return [0x08, 0x08] + [0x3A] + varint(graph.count) + graph + [0x42, 0x02, 0x10, 0x11]
    }
}

/// The audit's hostile inputs (issue 16), each generated here: every one is an error with a message,
/// refused before the work it would amplify, with the counted quantity checked where the code exposes it.
@Suite struct HostileInputTests {
    func expectError<T>(_ code: CheckpointError.Code, _ mentions: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
        do {
            _ = try body()
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch let e as CheckpointError {
            #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
            for m in mentions { #expect(e.description.contains(m), "\(e) should mention \(m)", sourceLocation: sourceLocation) }
        } catch { Issue.record("\(error)", sourceLocation: sourceLocation) }
    }

    func view(_ b: [UInt8]) -> ByteView { ByteStorage(copying: b).view }

    // MARK: zip: CRC-32, size lies, deflate bombs

    @Test func storedEntryWithAWrongCRCIsRefusedNamingBothCRCs() throws {
        let data = Craft.npyHeader("<f4", [2]) + [UInt8](repeating: 0, count: 8)
        let good = Craft.crc(data)
        let b = Craft.zip([Craft.Entry(name: "a.npy", data: data, crc: good ^ 0x1)])
        let mentions = [#"zip entry "a.npy""#, Inflate.hex(good), Inflate.hex(good ^ 1)]
        expectError(.decompression, mentions) { try Checkpoint(parsing: view(b), path: "crc.npz", format: .npz) }
        expectError(.decompression, mentions) { try CheckpointListing(parsing: view(b), path: "crc.npz", format: .npz) }
        // The same archive with the right CRC reads.
        let ok = try Checkpoint(parsing: view(Craft.zip([Craft.Entry(name: "a.npy", data: data)])), path: "ok.npz", format: .npz)
        #expect(ok["a"]?.shape == [2])
    }

    @Test func storedPickleWithAWrongCRCIsRefused() throws {
        let pkl = Craft.statePickle(elements: 4, offset: 0, shape: [4], stride: [1])
        let b = Craft.zip([Craft.Entry(name: "archive/data.pkl", data: pkl, crc: Craft.crc(pkl) &+ 1),
                           Craft.Entry(name: "archive/data/0", data: [UInt8](repeating: 0, count: 16))])
        expectError(.decompression, [#"zip entry "archive/data.pkl""#, "CRC-32"]) { try Checkpoint(parsing: view(b), path: "crc.pt", format: .pytorch) }
        let good = try Checkpoint(parsing: view(Craft.torchZip(pickle: pkl, storageBytes: 16)), path: "ok.pt", format: .pytorch)
        #expect(good["w"]?.shape == [4])
    }

    /// An entry declaring 64 MiB that inflates to 1 MiB: the buffer grows with the bytes that arrive,
    /// so the error comes after about twice what the entry holds, not after allocating what it declares.
    @Test func sizeLieIsRefusedAfterAllocatingWhatArrivesNotWhatIsDeclared() throws {
        var rng = SplitMix64(seed: 7)
        let data = Craft.npyHeader("<f4", [16 << 20]) + (0 ..< 1 << 20).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let declared = 64 << 20 + 64
        let b = Craft.zip([Craft.Entry(name: "a.npy", data: data, deflated: true, declaredSize: declared)])
        expectError(.decompression, [#"zip entry "a.npy""#, "inflates to \(data.count) bytes, fewer than its declared \(declared)"]) {
            try Checkpoint(parsing: view(b), path: "lie.npz", format: .npz)
        }
        let zip = try ZipArchive(view(b), limits: ReaderLimits())
        let entry = try #require(zip.entry(named: "a.npy"))
        var stats = Inflate.Stats()
        #expect(throws: CheckpointError.self) {
            _ = try Inflate.inflate(try view(b).slice(entry.dataOffset, entry.compressedSize, "data"), size: entry.size, crc: entry.crc,
                                    what: "a.npy", offset: 0, initialCapacity: ReaderLimits().inflateInitialCapacity, stats: &stats)
        }
        #expect(stats.produced == data.count)
        #expect(stats.peakCapacity <= 2 * data.count)
        #expect(stats.peakCapacity < declared / 16)
    }

    /// Listing a deflated npz entry inflates only its header: an entry whose deflate stream is garbage
    /// after the header lists fine (its 4 MiB were never decoded) and fails only when read in full.
    @Test func listingInflatesOnlyTheNpyHeader() throws {
        let header = Craft.npyHeader("<f4", [1 << 20])
        let payload = Craft.deflate(header, flushOnly: true) + [UInt8](repeating: 0xFF, count: 8192)
        let b = Craft.zip([Craft.Entry(name: "w.npy", data: header, deflated: true, rawPayload: payload, declaredSize: header.count + (4 << 20), crc: 0)])
        let listing = try CheckpointListing(parsing: view(b), path: "bomb.npz", format: .npz)
        #expect(listing.tensors.map(\.name) == ["w"])
        #expect(listing.tensors.first?.byteCount == 4 << 20)
        #expect(listing.tensors.first?.shape == [1 << 20])
        expectError(.decompression, [#"zip entry "w.npy""#, "corrupt deflate data"]) { try Checkpoint(parsing: view(b), path: "bomb.npz", format: .npz) }
    }

    @Test func listingADeflatedEntryChecksItsDeclaredSizeAgainstItsHeader() throws {
        let data = Craft.npyHeader("<f4", [8]) + [UInt8](repeating: 0, count: 32)
        let b = Craft.zip([Craft.Entry(name: "w.npy", data: data, deflated: true, declaredSize: data.count + 4)])
        expectError(.malformed, [#"entry "w.npy" (inflated)"#, "declares \(data.count + 4) bytes"]) {
            try CheckpointListing(parsing: view(b), path: "w.npz", format: .npz)
        }
        let honest = Craft.zip([Craft.Entry(name: "w.npy", data: data, deflated: true)])
        let l = try CheckpointListing(parsing: view(honest), path: "w.npz", format: .npz)
        let c = try Checkpoint(parsing: view(honest), path: "w.npz", format: .npz)
        #expect(l.tensors.map(\.byteCount) == c.tensors.map(\.byteCount))
    }

    // MARK: PyTorch strided views

    /// A storage of 4 floats viewed as 2^28 elements with stride 0 (1 GiB): refused before gathering,
    /// naming the budget; listing it is fine (nothing is gathered).
    @Test func strideZeroViewLargerThanTheBudgetIsRefusedBeforeGathering() throws {
        let b = Craft.torchZip(pickle: Craft.statePickle(elements: 4, offset: 0, shape: [1 << 14, 1 << 14], stride: [0, 0]), storageBytes: 16)
        let limits = ReaderLimits()
        expectError(.limitExceeded, ["gathered strided views", "\(limits.expansionBudget(forInput: b.count)) bytes"]) {
            try Checkpoint(parsing: view(b), path: "s0.pt", format: .pytorch)
        }
        let listing = try CheckpointListing(parsing: view(b), path: "s0.pt", format: .pytorch)
        #expect(listing.tensors.first?.byteCount == 4 << 28)
        // A small stride-0 view within the budget is gathered.
        let small = Craft.torchZip(pickle: Craft.statePickle(elements: 4, offset: 1, shape: [3, 2], stride: [0, 1]), storageBytes: 16)
        let t = try #require(try Checkpoint(parsing: view(small), path: "ok.pt", format: .pytorch)["w"])
        #expect(t.byteCount == 24)
    }

    @Test func overflowingStridesAndShapesAreErrorsNotTraps() throws {
        for (shape, stride, offset): ([Int64], [Int64], Int64) in [
            ([1 << 31, 1 << 31], [0, 0], 0),                 // 2^62 elements × 4 bytes overflows
            ([2, 2], [Int64.max / 2, 1], 0),                 // (2-1) × stride + ... fine, then × width overflows
            ([3], [Int64.max / 2], 0),                       // (3-1) × stride overflows
            ([1], [1], Int64.max),                           // offset × width overflows
            ([2], [1], 3),                                   // past the 4 elements
            ([1], [-1], 0),                                  // negative stride
        ] {
            let b = Craft.torchZip(pickle: Craft.statePickle(elements: 4, offset: offset, shape: shape, stride: stride), storageBytes: 16)
            for listing in [false, true] {
                do {
                    if listing { _ = try CheckpointListing(parsing: view(b), path: "o.pt", format: .pytorch) } else { _ = try Checkpoint(parsing: view(b), path: "o.pt", format: .pytorch) }
                    Issue.record("accepted \(shape) \(stride) \(offset)")
                } catch let e as CheckpointError {
                    #expect(e.code == .outOfBounds, "\(e)")
                    #expect(e.description.contains(#"tensor "w""#), "\(e)")
                }
            }
        }
    }

    @Test func viewPastTheStoragesRealBytesIsRefused() throws {
        // The persistent id declares 8 elements, the entry holds 4: refused before any view is made.
        let b = Craft.torchZip(pickle: Craft.statePickle(elements: 8, offset: 0, shape: [8], stride: [1]), storageBytes: 16)
        expectError(.truncated, [#"storage "0" has 16 bytes"#]) { try Checkpoint(parsing: view(b), path: "t.pt", format: .pytorch) }
    }

    // MARK: pickle amplification

    /// MARK, DUP × n, TUPLE: each DUP is one byte that builds a value. The values built are charged to a
    /// budget proportional to the file, so a (deflated) pickle of millions of DUPs is refused early.
    @Test func dupAmplificationIsRefusedByTheBudget() throws {
        let n = 200_000
        let pkl: [UInt8] = [0x80, 0x02, 0x28, 0x4E] + [UInt8](repeating: 0x32, count: n) + [0x74, 0x2E]
        let b = Craft.torchZip(pickle: pkl, storageBytes: 0, deflatePickle: true)
        #expect(b.count < 4096)  // the deflated pickle is tiny
        var limits = ReaderLimits()
        limits.expansionAllowance = 1 << 20
        let budget = limits.expansionBudget(forInput: b.count)
        expectError(.limitExceeded, ["data.pkl", "values built", "\(budget) bytes"]) {
            try Checkpoint(parsing: view(b), path: "dup.pt", format: .pytorch, limits: limits)
        }
        // What was charged when it stopped is within the budget, and the opcode count never got near n.
        var machine = PickleMachine(ByteStorage(copying: pkl).view, limits: limits, fileBytes: b.count)
        #expect(throws: CheckpointError.self) { _ = try machine.run() }
        #expect(machine.budget.spent <= budget)
        #expect(machine.stack.count < budget / PickleMachine.valueCost + 1)
        #expect(machine.stack.count < n)
        // With the default allowance the same small pickle reads (as a checkpoint without tensors).
        let fine = try Checkpoint(parsing: view(Craft.torchZip(pickle: [0x80, 0x02, 0x28, 0x4E] + [UInt8](repeating: 0x32, count: 1000) + [0x74, 0x2E], storageBytes: 0)), path: "ok.pt", format: .pytorch)
        #expect(fine.tensors.isEmpty)
    }

    // MARK: msgpack names and scalars

    /// Nested maps with long keys: the joined name is capped, so deep names cannot multiply.
    @Test func deepLongNamesAreRefusedAtTheNameLimit() throws {
        var limits = ReaderLimits()
        limits.maxNameBytes = 4096
        let key = [UInt8](repeating: UInt8(ascii: "a"), count: 3000)
        var b: [UInt8] = []
        for _ in 0 ..< 20 { b += [0x81, 0xDA] + [UInt8(key.count >> 8), UInt8(key.count & 0xFF)] + key }
        b += [0x01]
        expectError(.limitExceeded, ["msgpack", "longer than 4096 bytes"]) {
            try Checkpoint(parsing: view(b), path: "deep.msgpack", format: .msgpack, limits: limits)
        }
    }

    /// A million one-byte integers would be a million scalar tensors: their bookkeeping is charged to
    /// the budget and refused; scalars that fit share one storage.
    @Test func manyScalarsAreChargedToTheBudgetAndShareOneStorage() throws {
        let n = 100_000
        let b: [UInt8] = [0xDD] + Craft.le32(UInt32(n)).reversed() + [UInt8](repeating: 0x01, count: n)
        var limits = ReaderLimits()
        limits.expansionAllowance = 1 << 20
        expectError(.limitExceeded, ["msgpack: tensor names and records", "\(limits.expansionBudget(forInput: b.count)) bytes"]) {
            try Checkpoint(parsing: view(b), path: "ints.msgpack", format: .msgpack, limits: limits)
        }
        let small: [UInt8] = [0x93, 0x01, 0x02, 0xCB] + Craft.le64(2.5.bitPattern).reversed()
        let c = try Checkpoint(parsing: view(small), path: "s.msgpack", format: .msgpack)
        #expect(c.names == ["0", "1", "2"])
        #expect(c["1"]?.float(at: 0) == 2 && c["2"]?.float(at: 0) == 2.5)
        #expect(c["0"]?.data.storage === c["2"]?.data.storage)
    }

    // MARK: JSON

    /// A safetensors header of many small numbers: the parser's values are charged at their size in
    /// memory and refused past the budget (here scaled down: a 200 KB header, no fixed allowance).
    @Test func numericJSONHeaderIsRefusedPastTheBudget() throws {
        let numbers = String(repeating: "1,", count: 100_000) + "1"
        let json = Array("{\"a\": {\"dtype\": \"F32\", \"shape\": [\(numbers)], \"data_offsets\": [0, 4]}}".utf8)
        let b = Craft.le64(UInt64(json.count)) + json + [0, 0, 0, 0]
        var limits = ReaderLimits()
        limits.expansionAllowance = 0
        expectError(.limitExceeded, ["header: JSON", "\(limits.expansionBudget(forInput: json.count)) bytes"]) {
            try Checkpoint(parsing: view(b), path: "n.safetensors", format: .safetensors, limits: limits)
        }
        var budget = ExpansionBudget(limits, input: json.count, what: "JSON")
        #expect(throws: CheckpointError.self) { _ = try budget.parseJSON(json, maxDepth: 64, what: "h") }
        #expect(budget.spent <= budget.limit && budget.limit == 4 * json.count)
    }

    // MARK: ONNX

    @Test func onnxNodeCountIsCheckedOnTheWireBeforeDecoding() throws {
        let b = Craft.onnx(nodes: 1000)
        var limits = ReaderLimits()
        limits.maxNodes = 100
        expectError(.limitExceeded, ["more than 100 nodes (counted before decoding)"]) {
            try Checkpoint(parsing: view(b), path: "n.onnx", format: .onnx, limits: limits)
        }
        let layout = try ONNXLayout(view(b), limits: ReaderLimits())
        #expect(layout.nodeCount == 1000)
        #expect(layout.budget.spent == 1000 * ONNXLayout.recordCost)
        let c = try Checkpoint(parsing: view(b), path: "n.onnx", format: .onnx)
        #expect(c.graph?.nodes.count == 1000)
    }

    @Test func onnxRecordsAreChargedBeforeProtobufCBuildsThem() throws {
        let b = Craft.onnx(nodes: 20_000)
        var limits = ReaderLimits()
        limits.expansionAllowance = 0
        expectError(.limitExceeded, ["ONNX: decoded graph records", "\(4 * b.count) bytes"]) {
            try Checkpoint(parsing: view(b), path: "n.onnx", format: .onnx, limits: limits)
        }
    }

    // MARK: FIFOs

    /// A FIFO where a file is expected is refused at once. If the open blocked (the bug), a helper thread
    /// opens the FIFO's other end after 3 s so the test fails instead of hanging.
    @Test func fifoWhereACheckpointIsExpectedIsRefusedWithoutBlocking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlac-fifo-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // An ONNX model whose external data file is a FIFO, and a FIFO given as the checkpoint itself.
        let model = try Support.bytes(Support.fixture("onnx-external/model.onnx"))
        try Data(model).write(to: URL(fileURLWithPath: dir + "/model.onnx"))
        #expect(mkfifo(dir + "/weights.bin", 0o600) == 0)
        #expect(mkfifo(dir + "/ckpt.safetensors", 0o600) == 0)
        for (path, mention) in [(dir + "/ckpt.safetensors", "a FIFO"), (dir + "/model.onnx", "a FIFO")] {
            let rescue = Rescuer(path: path.hasSuffix(".onnx") ? dir + "/weights.bin" : path)
            expectError(.io, [mention]) { try Checkpoint(path: path) }
            expectError(.io, [mention]) { try CheckpointListing(path: path) }
            #expect(!rescue.finish(), "the open blocked until the helper opened the FIFO")
        }
    }

    /// Opens a FIFO's write end after a delay unless ``finish()`` came first; says whether it had to.
    final class Rescuer: @unchecked Sendable {  // `lock` guards `done` and `rescued`
        let lock = NSLock()
        var done = false, rescued = false

        init(path: String) {
            Thread.detachNewThread { [self] in
                Thread.sleep(forTimeInterval: 3)
                lock.lock(); defer { lock.unlock() }
                guard !done else { return }
                rescued = true
                let fd = open(path, O_RDWR | O_NONBLOCK)
                if fd >= 0 { Thread.sleep(forTimeInterval: 0.5); close(fd) }
            }
        }

        /// Stops the rescue; true if it already happened.
        func finish() -> Bool {
            lock.lock(); defer { lock.unlock() }
            done = true
            return rescued
        }
    }
}
