/// Hard limits every checkpoint reader enforces before it allocates or loops on a count from the file.
///
/// The defaults fit every real checkpoint we know of (a 100 MiB safetensors header cap as the
/// safetensors library has, deflate's own ~1032:1 ceiling for the ratio) and refuse the crafted ones.
public struct ReaderLimits: Sendable {
    /// Largest safetensors JSON header, npy header, or JSON file read, in bytes.
    public var maxHeaderBytes: Int = 100 << 20
    /// Most tensors in one checkpoint.
    public var maxTensors: Int = 1 << 20
    /// Largest rank of a tensor.
    public var maxRank: Int = 32
    /// Largest byte length of a tensor or entry name.
    public var maxNameBytes: Int = 64 << 10
    /// Most entries in a zip archive's central directory.
    public var maxZipEntries: Int = 1 << 20
    /// Largest size a compressed entry may inflate to, in bytes.
    public var maxInflatedBytes: Int = 64 << 30
    /// Largest declared ratio of inflated to compressed size (deflate cannot exceed about 1032).
    public var maxCompressionRatio: Int = 1100
    /// Deepest nesting of JSON, msgpack maps or pickle containers.
    public var maxDepth: Int = 64
    /// Most pickle opcodes executed for one `data.pkl`.
    public var maxPickleOps: Int = 50_000_000
    /// Most values on a pickle's stack, entries in its memo, and containers it builds.
    public var maxPickleStack: Int = 1 << 22
    /// Most ONNX graph nodes listed or scanned.
    public var maxNodes: Int = 1 << 22

    /// The default limits.
    public init() {}
}
