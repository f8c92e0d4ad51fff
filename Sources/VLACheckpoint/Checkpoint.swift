import VLAFormat
/// The file formats vlac reads.
public struct CheckpointFormat: Hashable, Sendable, CustomStringConvertible {
    /// The format's short name, as `vlac inspect` prints it.
    public let name: String
    private init(_ name: String) { self.name = name }

    public static let safetensors = CheckpointFormat("safetensors")
    public static let npy = CheckpointFormat("npy")
    public static let npz = CheckpointFormat("npz")
    /// Flax msgpack (`flax.serialization.to_bytes`).
    public static let msgpack = CheckpointFormat("msgpack")
    public static let onnx = CheckpointFormat("onnx")
    /// PyTorch zip (`torch.save` since 1.6, `pytorch_model.bin`).
    public static let pytorch = CheckpointFormat("pytorch")
    /// A Hugging Face model directory (config.json + weights, possibly sharded).
    public static let directory = CheckpointFormat("directory")

    public var description: String { name }

    /// Guesses the format of a file: from its magic bytes (npy, zip: PyTorch if it has a `data.pkl`
    /// else npz, legacy PyTorch, safetensors), then its extension, then weaker signs (a msgpack map,
    /// a protobuf field 1 varint for ONNX), then a PyTorch extension.
    /// - Returns: nil if nothing says.
    public static func detect(_ file: ByteView, path: String) -> CheckpointFormat? {
        let ext = path.split(separator: "/").last.flatMap { $0.contains(".") ? $0.split(separator: ".").last.map(String.init) : nil }?.lowercased()
        if file.hasPrefix([0x93] + Array("NUMPY".utf8)) { return .npy }
        if file.hasPrefix([0x50, 0x4B, 0x03, 0x04]) || file.hasPrefix([0x50, 0x4B, 0x05, 0x06]) {
            return ZipArchive.looksLikePyTorch(file) ? .pytorch : .npz
        }
        if file.hasPrefix([0x80, 0x02, 0x8A]) { return .pytorch }  // legacy torch.save: pickle protocol 2 + magic
        // safetensors: a u64 header length that fits the file, then '{'.
        if file.count >= 10, let n = try? file.le(0, as: UInt64.self), n >= 2, n <= UInt64(file.count - 8), file.hasPrefix(Array("{".utf8), at: 8) {
            return .safetensors
        }
        switch ext {
        case "safetensors": return .safetensors
        case "npy": return .npy
        case "npz": return .npz
        case "msgpack", "flax": return .msgpack
        case "onnx": return .onnx
        default: break
        }
        if let b = try? file.u8(0), (0x80 ... 0x8F).contains(b) || b == 0xDE || b == 0xDF { return .msgpack }
        if file.hasPrefix([0x08]) { return .onnx }  // ModelProto starts with ir_version (field 1, varint)
        // PyTorch files are zips (found above by magic); a .pt that is not one gets the zip reader's error.
        if ["bin", "pt", "pth", "ckpt"].contains(ext) { return .pytorch }
        return nil
    }
}

/// How much a reader materialises.
enum ReadMode {
    /// Every tensor's bytes (``Checkpoint``).
    case tensors
    /// Names, types and shapes only (``CheckpointListing``): deflated entries are inflated only as far
    /// as their headers, strided views are checked but not gathered.
    case headers
}

/// What a format reader found in one file.
struct CheckpointContents {
    var tensors: [Tensor]
    /// In ``ReadMode/headers``, readers that do not materialise every tensor list them here instead.
    var listed: [TensorInfo]? = nil
    var metadata: [(key: String, value: String)] = []
    var graph: GraphSummary? = nil
    /// Other files the tensors were read from (ONNX external data), for provenance.
    var otherFiles: [CheckpointFile] = []
}

/// The operators and opsets of an ONNX model, for `vlac inspect`.
public struct GraphSummary: Sendable {
    /// `(domain, version)` pairs from `opset_import`; the default domain is `""`.
    public var opsets: [(domain: String, version: Int)]
    /// The graph's name.
    public var name: String
    /// Every node in graph order: its name and operator type.
    public var nodes: [(name: String, opType: String)]
    /// Graph inputs and outputs by name.
    public var inputs: [String]
    public var outputs: [String]
}

/// One file a checkpoint was read from, kept mapped; its SHA-256 is computed on request.
public struct CheckpointFile: Sendable {
    /// The path as given (or joined from the directory).
    public let path: String
    /// The file's bytes (a read-only mapping).
    public let bytes: ByteView
    /// The file's SHA-256, for provenance. Reads every byte of the file, in 8 MiB pieces whose mapped
    /// pages are released after hashing, so hashing a large file does not grow the resident size.
    public func sha256() -> SHA256Digest {
        var h = SHA256()
        let piece = 8 << 20
        var offset = 0
        while offset < bytes.count {
            let n = min(piece, bytes.count - offset)
            guard let part = try? bytes.slice(offset, n, "file") else { break }
            h.update(part)
            part.releasePages()
            offset += n
        }
        return SHA256Digest(bytes: h.finalize())
    }
}

/// A checkpoint opened read-only: its tensors (zero-copy views of the mapped file where the format
/// allows), its metadata, and the files it came from.
///
/// ```swift
/// let ckpt = try Checkpoint(path: "all-MiniLM-L6-v2/")       // a file or a Hugging Face directory
/// let w = try #require(ckpt["embeddings.word_embeddings.weight"])
/// print(w.dtype, w.shape, w.floats()[0])
/// print(ckpt.files[0].sha256())
/// ```
public struct Checkpoint: Sendable {
    /// The path that was opened.
    public let path: String
    /// The format (`.directory` for a Hugging Face folder).
    public let format: CheckpointFormat
    /// Every tensor, in file order (shards in index order).
    public let tensors: [Tensor]
    /// Key/value metadata: safetensors `__metadata__`, ONNX producer and model metadata.
    public let metadata: [(key: String, value: String)]
    /// The ONNX graph summary, for ONNX files.
    public let graph: GraphSummary?
    /// The files read (the file; the shards of a directory; an ONNX model's external data files after
    /// the model), with their SHA-256 on request.
    public let files: [CheckpointFile]
    private let index: [String: Int]

    /// Opens the checkpoint file or Hugging Face directory at `path`, detecting its format.
    /// - Parameters:
    ///   - path: a checkpoint file, or a directory with `config.json` and weights.
    ///   - format: the format, if the caller knows it; detected from the bytes and extension otherwise.
    ///   - limits: the hard limits the readers enforce.
    /// - Throws: ``CheckpointError`` naming the file, the tensor or entry, and the byte offset.
    public init(path: String, format: CheckpointFormat? = nil, limits: ReaderLimits = ReaderLimits()) throws {
        let loaded = try Checkpoint.load(path: path, format: format, limits: limits, mode: .tensors)
        try self.init(path: path, format: loaded.format, contents: loaded.contents, files: loaded.files, limits: limits)
    }

    /// What one file or directory gave: its format, the readers' contents, and the files read.
    struct Loaded {
        var format: CheckpointFormat
        var contents: CheckpointContents
        var files: [CheckpointFile]
    }

    /// Reads the checkpoint file or Hugging Face directory at `path` in `mode`.
    static func load(path: String, format: CheckpointFormat?, limits: ReaderLimits, mode: ReadMode) throws -> Loaded {
        if format == .directory || (format == nil && FileSystem.isDirectory(path)) {
            return try loadDirectory(path, limits: limits, mode: mode)
        }
        let bytes = try ByteStorage.map(path: path).view
        return try parse(bytes, path: path, format: format, limits: limits, mode: mode)
    }

    /// Reads a checkpoint from `bytes` in `mode`, errors naming `path`.
    static func parse(_ bytes: ByteView, path: String, format: CheckpointFormat?, limits: ReaderLimits, mode: ReadMode) throws -> Loaded {
        guard let format = format ?? CheckpointFormat.detect(bytes, path: path) else {
            throw CheckpointError(.unsupportedFormat, "not a checkpoint format vlac reads (safetensors, npy, npz, msgpack, onnx, pytorch zip)", offset: 0, file: path)
        }
        let contents: CheckpointContents
        do {
            contents = try Checkpoint.read(bytes, path: path, format: format, limits: limits, mode: mode)
        } catch let e as CheckpointError {
            throw e.inFile(path)
        }
        return Loaded(format: format, contents: contents, files: [CheckpointFile(path: path, bytes: bytes)] + contents.otherFiles)
    }

    /// Reads a checkpoint from bytes already in memory or mapped.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - path: its name, for messages, detection by extension, and (ONNX) the folder of external data.
    /// - Throws: ``CheckpointError``.
    public init(parsing bytes: ByteView, path: String, format: CheckpointFormat? = nil, limits: ReaderLimits = ReaderLimits()) throws {
        let loaded = try Checkpoint.parse(bytes, path: path, format: format, limits: limits, mode: .tensors)
        try self.init(path: path, format: loaded.format, contents: loaded.contents, files: loaded.files, limits: limits)
    }

    init(path: String, format: CheckpointFormat, contents: CheckpointContents, files: [CheckpointFile], limits: ReaderLimits) throws {
        let index = try Checkpoint.index(contents.tensors.map { ($0.name, $0.file) }, path: path, limits: limits)
        self.path = path
        self.format = format
        self.tensors = contents.tensors
        self.metadata = contents.metadata
        self.graph = contents.graph
        self.files = files
        self.index = index
    }

    /// Tensor index by name; refuses more than `maxTensors` tensors and repeated names.
    static func index(_ names: [(name: String, file: String)], path: String, limits: ReaderLimits) throws -> [String: Int] {
        guard names.count <= limits.maxTensors else {
            throw CheckpointError(.limitExceeded, "\(names.count) tensors exceed the limit \(limits.maxTensors)", file: path)
        }
        var index: [String: Int] = [:]
        for (i, t) in names.enumerated() {
            guard index.updateValue(i, forKey: t.name) == nil else {
                throw CheckpointError(.duplicateName, "tensor \"\(t.name)\" appears twice", file: t.file)
            }
        }
        return index
    }

    static func read(_ bytes: ByteView, path: String, format: CheckpointFormat, limits: ReaderLimits, mode: ReadMode = .tensors) throws -> CheckpointContents {
        switch format {
        case .safetensors: return try SafetensorsReader.read(bytes, path: path, limits: limits)
        case .npy:
            let base = path.split(separator: "/").last.map(String.init) ?? path
            let name = base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
            return CheckpointContents(tensors: [try NumPyReader.readNpy(bytes, name: name, path: path, limits: limits)])
        case .npz: return try NpzReader.read(bytes, path: path, limits: limits, mode: mode)
        case .msgpack: return try MsgpackReader.read(bytes, path: path, limits: limits)
        case .pytorch: return try PyTorchReader.read(bytes, path: path, limits: limits, mode: mode)
        case .onnx: return try ONNXReader.read(bytes, path: path, limits: limits)
        default:
            throw CheckpointError(.unsupportedFormat, "format \(format) is not read yet")
        }
    }

    /// The tensor named `name`, or nil.
    public subscript(name: String) -> Tensor? { index[name].map { tensors[$0] } }

    /// The tensor named `name`.
    /// - Throws: ``CheckpointError`` with code `.malformed` naming the tensor and the checkpoint if it
    ///   is missing (model loaders use this so a wrong name reads as a clear error).
    public func tensor(named name: String) throws -> Tensor {
        guard let t = self[name] else {
            throw CheckpointError(.malformed, "no tensor named \"\(name)\" (\(tensors.count) tensors; see `vlac inspect`)", file: path)
        }
        return t
    }

    /// The tensor names, in file order.
    public var names: [String] { tensors.map(\.name) }

    /// The total number of data bytes over all tensors.
    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// The total number of elements over all tensors.
    public var totalElements: Int { tensors.reduce(0) { $0 + $1.elementCount } }
}
