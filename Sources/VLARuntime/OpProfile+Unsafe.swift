import VLAFormat

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Accumulated wall-clock time per op of the programs an interpreter runs (for `vlac bench`).
///
/// Sized at creation for every op of every program, so profiled runs allocate nothing. Not `Sendable`:
/// one interpreter's runs write it.
public final class OpProfile {
    /// `nanoseconds[program][op]`: total time spent in that op (a fused op's time counts on the first op).
    public private(set) var nanoseconds: [[UInt64]]
    /// How many times each program ran while profiled.
    public private(set) var runs: [Int]

    /// Creates an empty profile for an interpreter's programs.
    public init(programs: [Program]) {
        nanoseconds = programs.map { [UInt64](repeating: 0, count: $0.operations.count) }
        runs = [Int](repeating: 0, count: programs.count)
    }

    /// Clears every counter.
    public func clear() {
        for p in nanoseconds.indices {
            for o in nanoseconds[p].indices { nanoseconds[p][o] = 0 }
            runs[p] = 0
        }
    }

    func add(program: Int, op: Int, _ ns: UInt64) {
        guard program < nanoseconds.count, op < nanoseconds[program].count else { return }
        nanoseconds[program][op] &+= ns
    }

    func countRun(_ program: Int) {
        if program < runs.count { runs[program] += 1 }
    }

    /// The monotonic clock in nanoseconds.
    public static func now() -> UInt64 {
        var t = timespec()
        unsafe clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }
}

extension Interpreter {
    /// Runs one program like ``run(_:)`` and adds each op's wall-clock time to `profile`.
    ///
    /// Allocates nothing; costs two clock reads per op.
    /// - Throws: as ``run(_:)``.
    public func run(_ program: Int, profile: OpProfile) throws(RuntimeError) {
        guard program >= 0, program < programs.count else {
            throw RuntimeError(.invalidInput, "program index \(program) is outside 0..<\(programs.count)")
        }
        for index in unsafe steps[program].indices {
            let start = OpProfile.now()
            unsafe try execute(steps[program][index], program: program)
            unsafe profile.add(program: program, op: steps[program][index].op, OpProfile.now() &- start)
        }
        profile.countRun(program)
    }
}
