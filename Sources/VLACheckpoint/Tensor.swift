/// One tensor of a checkpoint: its name, element type, shape and bytes.
///
/// `data` is a zero-copy view of the mapped file wherever the format stores the tensor contiguously
/// and little-endian in C order (safetensors, stored npz/npy, msgpack, PyTorch zip, ONNX `raw_data`
/// and external data). Compressed npz entries, big-endian or Fortran-order npy arrays, strided PyTorch
/// views and ONNX typed-field tensors are converted into memory the checkpoint owns instead.
public struct Tensor: Sendable {
    /// The tensor's name (`/`-joined for nested Flax trees, `.`-joined as PyTorch and ONNX write them).
    public let name: String
    /// The element type.
    public let dtype: DType
    /// The shape, outermost first (C order). Empty for a scalar.
    public let shape: [Int]
    /// The bytes: `elementCount × dtype.byteWidth`, little-endian, C order.
    public let data: ByteView
    /// The file the tensor was read from (for a Hugging Face directory, the shard).
    public let file: String

    /// Makes a tensor. The caller guarantees `data.count == elementCount × dtype.byteWidth`.
    init(name: String, dtype: DType, shape: [Int], data: ByteView, file: String) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
        self.file = file
    }

    /// The number of elements (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// The number of data bytes.
    public var byteCount: Int { data.count }
}

/// Shape arithmetic with overflow checks, shared by every reader.
enum ShapeMath {
    /// `product(shape) × width`, or an error naming `what` if a dimension is negative, the rank is
    /// over the limit, or the product overflows.
    static func byteCount(shape: [Int], width: Int, limits: ReaderLimits, _ what: String, offset: Int? = nil) throws -> Int {
        guard shape.count <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "\(what): rank \(shape.count) exceeds the limit \(limits.maxRank)", offset: offset)
        }
        var n = width
        for d in shape {
            guard d >= 0 else {
                throw CheckpointError(.malformed, "\(what): negative dimension \(d) in shape \(shape)", offset: offset)
            }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else {
                throw CheckpointError(.outOfBounds, "\(what): shape \(shape) × \(width) bytes overflows", offset: offset)
            }
            n = p
        }
        return n
    }
}
