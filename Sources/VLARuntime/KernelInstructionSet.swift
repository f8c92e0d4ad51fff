import CVLAKernels

/// The instruction sets every kernel family uses, chosen for the whole process: what a CPU with less would run,
/// measured on this one (`vlac bench --kernels`). The default is the best this CPU has; results are the same
/// bits on every choice except where the format says otherwise (the bf16 products on AMX and AVX-512 BF16,
/// `Schemas/vla-format.md`).
public enum KernelInstructionSet: String, CaseIterable, Sendable {
    /// What this CPU has (no forcing).
    case best
    /// x86 AVX-512 without AMX (f32 AVX-512F, int8 AVX-512 VNNI, bf16 AVX-512F): what a Zen 4 or a Xeon from Cascade Lake on without AMX runs (Skylake-SP, without VNNI, lacks it).
    case avx512
    /// `avx512` with the bf16 products on AVX-512 BF16's `vdpbf16ps` (bf16 path 3), which no CPU runs by default:
    /// it ran at half the f32 FMA rate on the Xeon measured, so a CPU without AMX widens bf16 to f32 (path 2).
    /// For timing path 3 in a whole step on a CPU that has it (a Zen 4, where it may run at full rate).
    case avx512BF16 = "avx512-bf16"
    /// x86 AVX2 + FMA with AVX-VNNI (int8 products with vpdpbusd on ymm), no AVX-512: what Intel's client cores
    /// from Alder Lake on and the E-core Xeons (Sierra Forest) run.
    case avxVNNI = "avx-vnni"
    /// x86 AVX2 + FMA (f32, int8 and bf16 alike): what an AVX2-only CPU (Zen 1–3, Haswell to Comet Lake) runs.
    case avx2
    /// The portable C and Swift code.
    case portable

    /// Forces the choice on every kernel family, process-wide, before any policy is prepared; throws (changing
    /// nothing) where this CPU lacks it. Returns the levels in use, as `f32 level N, int8 path N, bf16 path N`.
    @discardableResult
    public func force() throws(RuntimeError) -> String {
        // The levels, and whether int8 path 1 uses AVX-VNNI.
        let levels: (f32: Int32, int8: Int32, bf16: Int32, vnni: Bool)?
        switch self {
        case .best: levels = nil
        case .portable: levels = (0, 0, 0, false)
        #if arch(x86_64)
        case .avx512: levels = (2, 3, 2, false)
        case .avx512BF16: levels = (2, 3, 3, false)
        case .avxVNNI: levels = (1, 1, 1, true)
        case .avx2: levels = (1, 1, 1, false)
        #else
        case .avx512, .avx512BF16, .avxVNNI, .avx2:
            throw RuntimeError(.unsupported, "--kernels \(rawValue) is an x86 instruction set; this CPU runs best or portable")
        #endif
        }
        if let levels {
            // The best of each family: 99 clamps to it (for bf16 even where the default is lower), then restore.
            let before = (vla_q8_isa(), vla_bf16_isa(), vla_q8_avx_vnni())
            let supported = (vla_kernels_supported_isa(), vla_q8_force_isa(99), vla_bf16_force_isa(99), vla_q8_force_avx_vnni(1) == 1)
            _ = vla_q8_force_isa(before.0)
            _ = vla_bf16_force_isa(before.1)
            _ = vla_q8_force_avx_vnni(before.2)
            if supported.0 < levels.f32 || supported.1 < levels.int8 || supported.2 < levels.bf16 || (levels.vnni && !supported.3) {
                throw RuntimeError(
                    .unsupported,
                    "this CPU lacks \(rawValue) (its best: f32 level \(supported.0), int8 path \(supported.1)\(supported.3 ? " with AVX-VNNI" : ""), bf16 path \(supported.2))")
            }
            _ = vla_kernels_force_isa(levels.f32)
            _ = vla_q8_force_isa(levels.int8)
            _ = vla_bf16_force_isa(levels.bf16)
            _ = vla_q8_force_avx_vnni(levels.vnni ? 1 : 0)
        }
        return Self.current
    }

    /// The levels in use, as `f32 level N, int8 path N, bf16 path N` (int8 path 1 with AVX-VNNI: `int8 path 1
    /// with AVX-VNNI`).
    public static var current: String {
        let vnni = vla_q8_isa() == 1 && vla_q8_avx_vnni() == 1 ? " with AVX-VNNI" : ""
        return "f32 level \(vla_kernels_isa()), int8 path \(vla_q8_isa())\(vnni), bf16 path \(vla_bf16_isa())"
    }
}
