/// Settings an ``Interpreter`` is prepared with.
public struct RuntimeOptions: Sendable, Hashable {
    /// Threads that run kernels, including the caller's (1 = run everything on the calling thread).
    ///
    /// The interpreter starts `threads - 1` worker threads at prepare time and splits matrix products
    /// (own kernel: by rows; OpenBLAS: by output columns), attention (by batch and head) and element-wise work
    /// between them. OpenBLAS is asked to use one thread per call (`openblas_set_num_threads(1)`,
    /// process-wide), because its calls are already split between these threads.
    public var threads: Int
    /// Matrix products with fewer rows than this (the product of x's leading axes) use vlac's own kernel;
    /// the others use OpenBLAS `cblas_sgemm` if they have more than 2²⁴ multiply-adds (smaller ones stay with
    /// the own kernel, which is as fast there, and OpenBLAS's small-matrix path allocates on every call). 0
    /// sends every product to OpenBLAS (tests use it to compare both paths; `run` may then allocate inside
    /// OpenBLAS). Attention never uses OpenBLAS.
    ///
    /// A `linear` or `patch_embed` whose weight is a constant instead runs the packed kernel (its weight packed
    /// once at prepare time) on CPUs with AVX2 + FMA or AVX-512, whatever its row count: it is faster than both
    /// there (`Docs/Interpreter.md`; on aarch64 constant weights follow the row rule above, Docs/Deploying.md). `Int.max` turns that off too: every product then runs the own unpacked
    /// kernel (`vla_gemm`), which gives the same bits as the packed one (tests compare them).
    ///
    /// The default is 4 (`vlac-kernel-bench crossover`, `Docs/Interpreter.md`): with 1 to 3 rows and large
    /// weights OpenBLAS 0.3.21 drops to a few GFLOP/s while the own kernel keeps streaming the weights.
    public var smallProductRows: Int
    /// Fuse a `linear` with the element-wise op that consumes its output when nothing else reads the
    /// intermediate tensor (bias, activation and the store happen while the tile is in cache).
    /// Results are bit-identical to the unfused ops.
    public var fuse: Bool
    /// Let OpenBLAS split large products over `threads` threads of its own instead of splitting them by
    /// columns over the interpreter's threads (which then call OpenBLAS single-threaded). Off by default: the
    /// allocation-free guarantee of ``Interpreter/run(_:)`` is tested for the interpreter's threads only, and
    /// OpenBLAS's pool would compete with the interpreter's on a small machine. For measuring
    /// (`vlac-kernel-bench dinov2 --openblas-threads`).
    public var openBLASThreads: Bool = false
    /// Size limits checked while preparing.
    public var limits: RuntimeLimits

    /// Creates options.
    /// - Parameters:
    ///   - threads: Kernel threads including the caller's; clamped to 1...``RuntimeLimits/maxThreads``.
    ///   - smallProductRows: Row count below which the own matrix kernel is used instead of OpenBLAS.
    ///   - fuse: Whether to fuse `linear` with a following element-wise op.
    ///   - limits: Size limits.
    public init(threads: Int = 1, smallProductRows: Int = 4, fuse: Bool = true, limits: RuntimeLimits = RuntimeLimits()) {
        self.threads = max(1, min(threads, limits.maxThreads))
        self.smallProductRows = max(0, smallProductRows)
        self.fuse = fuse
        self.limits = limits
    }
}

/// Hard limits the interpreter enforces while preparing, before it allocates.
public struct RuntimeLimits: Sendable, Hashable {
    /// Largest arena in bytes (for a policy session: the file's arena plus its call region,
    /// ``Policy/sessionArenaBytes``), checked before anything is allocated.
    ///
    /// The default, 1 GiB, is about 75 times what a full-size HyperVLA policy needs at any precision: its
    /// session arena is 13.9 MB (the policy's 2,208,512 bytes plus the backbone blob's 11,652,096, read with
    /// `vlac dump` from the released-size model), and the arena holds f32 activations whatever the weights'
    /// precision. Raise it for larger models; lower it on a small robot computer. A file asking for more is
    /// refused with `.limitExceeded`; an allocation under the limit that the system refuses is `.outOfMemory`.
    public var maxArenaBytes: Int = RuntimeLimits.defaultMaxArenaBytes
    /// The default ``maxArenaBytes``: 1 GiB (`VLA_DEFAULT_MAX_ARENA_BYTES` in `vlart.h`).
    public static let defaultMaxArenaBytes = 1 << 30
    /// Largest constant storage the in-memory path copies, in bytes.
    public var maxConstantBytes: Int = 1 << 36
    /// Largest scratch memory in bytes: attention scores (one block per thread, all threads together), and separately the shared im2col or weight-conversion buffer.
    public var maxScratchBytes: Int = 1 << 32
    /// Most worker threads.
    public var maxThreads: Int = 64
    /// Most ops of all programs together after every `call` is expanded into its blob program's ops and
    /// copies (the format limits ops per file, not how often a program calls a long blob program).
    public var maxPlannedOps: Int = 1 << 16

    /// The default limits.
    public init() {}
}
