/// One tensor's name, type, shape and size, without its bytes.
public struct TensorInfo: Sendable {
    /// The tensor's name, as ``Tensor/name``.
    public let name: String
    /// The element type.
    public let dtype: DType
    /// The shape, outermost first. Empty for a scalar.
    public let shape: [Int]
    /// The number of data bytes (`elementCount × dtype.byteWidth`).
    public let byteCount: Int
    /// The file the tensor is in.
    public let file: String

    init(name: String, dtype: DType, shape: [Int], byteCount: Int, file: String) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
        self.file = file
    }

    /// The description of `tensor`.
    public init(_ tensor: Tensor) {
        self.init(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, byteCount: tensor.byteCount, file: tensor.file)
    }

    /// The number of elements (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

extension CheckpointContents {
    /// Every tensor's description, in file order.
    var infos: [TensorInfo] { listed ?? tensors.map(TensorInfo.init) }
}

/// What a checkpoint holds, read for listing (`vlac inspect`): every tensor's name, type, shape and
/// size, the metadata, the ONNX graph summary and the files, with the same checks as ``Checkpoint``
/// except that no tensor is materialised.
///
/// A deflated zip entry is inflated only as far as its header (an npy header in an npz); a
/// strided PyTorch view is checked against its storage but not gathered; stored zip entries are
/// still CRC-checked. So listing costs time and memory in proportion to the file, however large the
/// tensors it declares.
///
/// ```swift
/// let listing = try CheckpointListing(path: "model.npz")
/// for t in listing.tensors { print(t.name, t.dtype, t.shape, t.byteCount) }
/// ```
public struct CheckpointListing: Sendable {
    /// The path that was opened.
    public let path: String
    /// The format (`.directory` for a Hugging Face folder).
    public let format: CheckpointFormat
    /// Every tensor, in file order (shards in index order).
    public let tensors: [TensorInfo]
    /// Key/value metadata, as ``Checkpoint/metadata``.
    public let metadata: [(key: String, value: String)]
    /// The ONNX graph summary, for ONNX files.
    public let graph: GraphSummary?
    /// The files read, as ``Checkpoint/files``.
    public let files: [CheckpointFile]

    /// Lists the checkpoint file or Hugging Face directory at `path`.
    /// - Parameters:
    ///   - path: a checkpoint file, or a directory with `config.json` and weights.
    ///   - format: the format, if the caller knows it; detected from the bytes and extension otherwise.
    ///   - limits: the hard limits the readers enforce.
    /// - Throws: ``CheckpointError`` naming the file, the tensor or entry, and the byte offset.
    public init(path: String, format: CheckpointFormat? = nil, limits: ReaderLimits = ReaderLimits()) throws {
        try self.init(path: path, loaded: try Checkpoint.load(path: path, format: format, limits: limits, mode: .headers), limits: limits)
    }

    /// Lists a checkpoint from bytes already in memory or mapped.
    /// - Throws: ``CheckpointError``.
    public init(parsing bytes: ByteView, path: String, format: CheckpointFormat? = nil, limits: ReaderLimits = ReaderLimits()) throws {
        try self.init(path: path, loaded: try Checkpoint.parse(bytes, path: path, format: format, limits: limits, mode: .headers), limits: limits)
    }

    /// The listing of a checkpoint already read.
    public init(_ checkpoint: Checkpoint) {
        path = checkpoint.path
        format = checkpoint.format
        tensors = checkpoint.tensors.map(TensorInfo.init)
        metadata = checkpoint.metadata
        graph = checkpoint.graph
        files = checkpoint.files
    }

    init(path: String, loaded: Checkpoint.Loaded, limits: ReaderLimits) throws {
        let infos = loaded.contents.infos
        _ = try Checkpoint.index(infos.map { ($0.name, $0.file) }, path: path, limits: limits)
        self.path = path
        format = loaded.format
        tensors = infos
        metadata = loaded.contents.metadata
        graph = loaded.contents.graph
        files = loaded.files
    }

    /// The total number of data bytes over all tensors.
    public var totalBytes: Int { tensors.reduce(0) { $0 &+ $1.byteCount } }

    /// The total number of elements over all tensors.
    public var totalElements: Int { tensors.reduce(0) { $0 &+ $1.elementCount } }
}
