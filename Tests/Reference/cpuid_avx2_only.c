// A preload library that makes a Linux x86-64 process see a CPU with AVX2 and FMA but nothing newer: no AVX-512,
// no VNNI (AVX-512 or AVX-VNNI), no BF16, no AMX (a Haswell- or Zen 1-class feature set). It turns on the
// kernel's CPUID faulting (arch_prctl ARCH_SET_CPUID, 0) and answers each faulting `cpuid` from a SIGSEGV handler:
// the real answer with those feature bits cleared. Libraries that choose their kernels by `cpuid` after this
// library's constructor ran (onnxruntime's MLAS, vlac's CVLAKernels through __builtin_cpu_supports) then run
// their AVX2 code on this CPU, so two engines' AVX2 paths can be timed side by side on a CPU that has more.
//
// Only the answers change: code that uses newer instructions without asking still runs them. glibc chooses its
// string functions before any constructor and keeps the real ones. The timings are this CPU's for AVX2 code, not
// those of an AVX2-only CPU's microarchitecture.
//
// Build and use (bench_precision.py --emulate-cpu avx2 does this itself):
//   cc -O2 -shared -fPIC -o cpuid_avx2_only.so Tests/Reference/cpuid_avx2_only.c
//   LD_PRELOAD=$PWD/cpuid_avx2_only.so python3 ...
// It needs a CPU and kernel with CPUID faulting (`cpuid_fault` in /proc/cpuinfo's flags); without it the library
// says so on stderr and exits the process with status 3, so no run silently measures the unmasked CPU.

#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static void set_cpuid_enabled(int enabled) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, (unsigned long)enabled); }

static void real_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(subleaf));
}

// Leaf 7 (subleaf 0 and 1) bits of everything past AVX2 + FMA that kernel dispatchers look at.
static void mask(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    if (leaf != 7) return;
    if (subleaf == 0) {
        // EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31.
        r[1] &= ~(1u << 16 | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 30 | 1u << 31);
        // ECX: VBMI 1, VBMI2 6, GFNI 8, VAES 9, VPCLMULQDQ 10, VNNI 11, BITALG 12, VPOPCNTDQ 14.
        r[2] &= ~(1u << 1 | 1u << 6 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11 | 1u << 12 | 1u << 14);
        // EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25.
        r[3] &= ~(1u << 2 | 1u << 3 | 1u << 8 | 1u << 22 | 1u << 23 | 1u << 24 | 1u << 25);
    } else if (subleaf == 1) {
        // EAX: AVX-VNNI 4, AVX512-BF16 5, AMX-FP16 21, AVX-IFMA 23. EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5,
        // AMX-COMPLEX 8, AVX-VNNI-INT16 10, AVX10 19.
        r[0] &= ~(1u << 4 | 1u << 5 | 1u << 21 | 1u << 23);
        r[3] &= ~(1u << 4 | 1u << 5 | 1u << 8 | 1u << 10 | 1u << 19);
    }
}

static struct sigaction previous;  // the SIGSEGV action before this library's: real faults go to it

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)g[REG_RIP];
    // A faulting cpuid is a general-protection fault: SIGSEGV from the kernel (SI_KERNEL) at the instruction.
    if (info->si_code == SI_KERNEL && ip != NULL && ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t leaf = (uint32_t)g[REG_RAX], subleaf = (uint32_t)g[REG_RCX], r[4];
        set_cpuid_enabled(1);
        real_cpuid(leaf, subleaf, r);
        set_cpuid_enabled(0);
        mask(leaf, subleaf, r);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    // A real fault: the previous handler's, or the default action when the instruction runs again.
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
    }
}

// A handler that a library installs for SIGSEGV after this one replaces it, and the next cpuid then reaches that
// handler as a crash (Python's faulthandler, for example: do not enable it in a masked process).
__attribute__((constructor)) static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0UL) != 0) {
        fprintf(stderr, "cpuid_avx2_only: this CPU or kernel has no CPUID faulting; nothing can be masked\n");
        _exit(3);
    }
}
