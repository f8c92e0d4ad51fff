import CVLAKernels
import Testing
import VLATestSupport

@testable import VLARuntime

/// `vlac bench --kernels`: forcing an instruction set sets every kernel family's level, and a set this CPU lacks
/// is refused without changing anything.
@Suite struct KernelInstructionSetTests {
    /// The three families' levels now.
    /// The three families' levels now, and whether int8 path 1 uses AVX-VNNI.
    static func levels() -> [Int32] { [vla_kernels_isa(), vla_q8_isa(), vla_bf16_isa(), vla_q8_avx_vnni()] }

    static func restore(_ l: [Int32]) {
        _ = vla_kernels_force_isa(l[0])
        _ = vla_q8_force_isa(l[1])
        _ = vla_bf16_force_isa(l[2])
        _ = vla_q8_force_avx_vnni(l[3])
    }

    @Test func forcingSetsEveryFamilyAndRefusesWhatTheCPULacks() throws {
        try KernelPaths.exclusive {
            let before = Self.levels()
            defer { Self.restore(before) }
            let portable = try KernelInstructionSet.portable.force()
            #expect(portable == "f32 level 0, int8 path 0, bf16 path 0")
            #expect(Self.levels() == [0, 0, 0, 0])
            // best forces nothing: the levels stay where they are.
            let best = try KernelInstructionSet.best.force()
            #expect(best == "f32 level 0, int8 path 0, bf16 path 0")
            Self.restore(before)
            #if arch(x86_64)
            let most = [vla_kernels_supported_isa(), vla_q8_force_isa(99), vla_bf16_force_isa(99), vla_q8_force_avx_vnni(1)]
            Self.restore(before)
            for (set, want) in [(KernelInstructionSet.avx2, [Int32(1), 1, 1, 0]), (.avxVNNI, [1, 1, 1, 1]), (.avx512, [2, 3, 2, 0]), (.avx512BF16, [2, 3, 3, 0])] {
                if zip(most, want).allSatisfy({ $0 >= $1 }) {
                    let got = try set.force()
                    let vnni = want[3] == 1 ? " with AVX-VNNI" : ""
                    #expect(got == "f32 level \(want[0]), int8 path \(want[1])\(vnni), bf16 path \(want[2])")
                    #expect(Self.levels() == want)
                } else {
                    // Refused, and nothing changed.
                    let now = Self.levels()
                    #expect(throws: RuntimeError.self) { try set.force() }
                    #expect(Self.levels() == now)
                }
            }
            #else
            for set in [KernelInstructionSet.avx2, .avxVNNI, .avx512, .avx512BF16] {
                #expect(throws: RuntimeError.self) { try set.force() }
                #expect(Self.levels() == before)
            }
            #endif
        }
    }
}
