/// Hard limits every checkpoint reader enforces before it allocates or loops on a count from the file.
///
/// The defaults fit every real checkpoint we know of (a 100 MiB safetensors header cap as the
/// safetensors library has, deflate's own ~1032:1 ceiling for the ratio) and refuse the crafted ones.
///
/// Besides fixed counts, the readers share one *expansion budget* (``expansionBudget(forInput:)``):
/// what a reader builds from a file beyond the bytes the file stores (JSON and pickle values, flattened
/// tensor names, decoded ONNX records, gathered strided views) may not exceed
/// ``expansionFactor`` × the input's size + ``expansionAllowance``.
/// > Note: <Docs/Checkpoints.md#budgets>
public struct ReaderLimits: Sendable {
    /// Largest safetensors JSON header, npy header, or JSON file read, in bytes.
    public var maxHeaderBytes: Int = 100 << 20
    /// Most tensors in one checkpoint.
    public var maxTensors: Int = 1 << 20
    /// Largest rank of a tensor.
    public var maxRank: Int = 32
    /// Largest byte length of a tensor or entry name (for nested formats, of the whole joined name).
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
    /// Most ONNX graph nodes listed or scanned (counted on the wire, before anything is decoded).
    public var maxNodes: Int = 1 << 22
    /// Bytes of bookkeeping a reader may build per byte of its input (see ``expansionBudget(forInput:)``).
    public var expansionFactor: Int = 4
    /// Bytes of bookkeeping a reader may build whatever its input's size (see ``expansionBudget(forInput:)``).
    public var expansionAllowance: Int = 64 << 20
    /// Largest buffer an inflated zip entry starts with; it then doubles as inflated bytes arrive, so an
    /// entry that declares more than it holds costs at most twice what it holds.
    public var inflateInitialCapacity: Int = 1 << 20

    /// The default limits.
    public init() {}

    /// The bytes a reader may build from an input of `inputBytes` bytes beyond the data the input itself
    /// stores: `expansionFactor × inputBytes + expansionAllowance`, saturating instead of overflowing.
    public func expansionBudget(forInput inputBytes: Int) -> Int {
        let (scaled, o1) = max(inputBytes, 0).multipliedReportingOverflow(by: max(expansionFactor, 0))
        let (sum, o2) = scaled.addingReportingOverflow(max(expansionAllowance, 0))
        return o1 || o2 ? Int.max : sum
    }
}

/// Charges what a reader builds against ``ReaderLimits/expansionBudget(forInput:)``.
///
/// Each reader makes one and charges an estimate of the bytes of every value, name or record it
/// builds; going over throws `.limitExceeded` naming the budget, before the next allocation.
struct ExpansionBudget {
    /// The budget in bytes.
    let limit: Int
    /// Bytes charged so far (exposed for tests: it only grows).
    private(set) var spent = 0
    /// What is being budgeted, for the message (for example `msgpack: tensor names`).
    let what: String

    init(_ limits: ReaderLimits, input: Int, what: String) {
        self.limit = limits.expansionBudget(forInput: input)
        self.what = what
    }

    /// Adds `bytes` to the spending.
    /// - Throws: `.limitExceeded` at `offset` if the total passes the budget.
    mutating func charge(_ bytes: Int, offset: Int?) throws {
        let (sum, o) = spent.addingReportingOverflow(max(bytes, 0))
        guard !o, sum <= limit else { throw exceeded(offset: offset) }
        spent = sum
    }

    /// The error for going over the budget at `offset`.
    func exceeded(offset: Int?) -> CheckpointError {
        CheckpointError(.limitExceeded, "\(what): would build more than the budget of \(limit) bytes (ReaderLimits.expansionFactor × input + expansionAllowance)", offset: offset)
    }
}
