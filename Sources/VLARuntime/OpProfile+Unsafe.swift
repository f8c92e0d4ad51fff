import VLAFormat

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Accumulated wall-clock time per op of the programs an interpreter runs (for `vlac bench`).
///
/// Two levels: per op of the file's programs (``nanoseconds``; a `call` counts the whole call), and per planned
/// op (``plannedNanoseconds``, ``entries(program:)``), which sees inside linked `call`s: each op of the called
/// blob program and the call's copies in and out, each with its ``OpOrigin``. A call's file-op total is the sum
/// of its planned ops. Sized at creation for every op of every program, so profiled runs allocate nothing. Not
/// `Sendable`: one interpreter's runs write it.
public final class OpProfile {
    /// `nanoseconds[program][op]`: total time spent in that op of the file's program (a fused op's time counts
    /// on the first op; a `call`'s is the sum of the ops it expanded to).
    public private(set) var nanoseconds: [[UInt64]]
    /// `plannedNanoseconds[program][k]`: total time spent in planned op `k` (``origins`` says where it came from).
    public private(set) var plannedNanoseconds: [[UInt64]]
    /// `plannedCounts[program][k]`: how many times planned op `k` ran while profiled.
    public private(set) var plannedCounts: [[Int]]
    /// `origins[program][k]`: where planned op `k` came from (the interpreter's ``Interpreter/origins``).
    public let origins: [[OpOrigin]]
    /// How many times each program ran while profiled.
    public private(set) var runs: [Int]

    /// Creates an empty profile for an interpreter: per file op and per planned op (inside `call`s).
    public convenience init(interpreter: Interpreter) {
        self.init(programs: interpreter.programs, origins: interpreter.origins)
    }

    /// Creates an empty profile for programs without `call` ops (each planned op is the file op itself), or,
    /// with `origins`, for the planned ops they describe.
    public init(programs: [Program], origins: [[OpOrigin]]? = nil) {
        let origins = origins ?? programs.map { $0.operations.indices.map { OpOrigin(op: $0) } }
        nanoseconds = programs.map { [UInt64](repeating: 0, count: $0.operations.count) }
        plannedNanoseconds = origins.map { [UInt64](repeating: 0, count: $0.count) }
        plannedCounts = origins.map { [Int](repeating: 0, count: $0.count) }
        self.origins = origins
        runs = [Int](repeating: 0, count: programs.count)
    }

    /// One planned op's totals.
    public struct Entry: Sendable, Hashable {
        /// The planned op's index in its program.
        public var index: Int
        /// Where it came from.
        public var origin: OpOrigin
        /// Total time spent in it.
        public var nanoseconds: UInt64
        /// How many times it ran.
        public var count: Int
    }

    /// Every planned op of a program with its totals, in planned order (allocates; read after profiling).
    public func entries(program: Int) -> [Entry] {
        guard program >= 0, program < origins.count else { return [] }
        return origins[program].indices.map {
            Entry(index: $0, origin: origins[program][$0], nanoseconds: plannedNanoseconds[program][$0], count: plannedCounts[program][$0])
        }
    }

    /// Clears every counter.
    public func clear() {
        for p in nanoseconds.indices {
            for o in nanoseconds[p].indices { nanoseconds[p][o] = 0 }
        }
        for p in plannedNanoseconds.indices {
            for k in plannedNanoseconds[p].indices {
                plannedNanoseconds[p][k] = 0
                plannedCounts[p][k] = 0
            }
        }
        for p in runs.indices { runs[p] = 0 }
    }

    func add(program: Int, op: Int, planned: Int, _ ns: UInt64) {
        if program < nanoseconds.count, op < nanoseconds[program].count { nanoseconds[program][op] &+= ns }
        if program < plannedNanoseconds.count, planned < plannedNanoseconds[program].count {
            plannedNanoseconds[program][planned] &+= ns
            plannedCounts[program][planned] += 1
        }
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
    /// Runs one program like ``run(_:)`` and adds each op's wall-clock time to `profile` (create it with
    /// ``OpProfile/init(interpreter:)`` to see inside `call`s).
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
            unsafe profile.add(program: program, op: steps[program][index].op, planned: steps[program][index].planned, OpProfile.now() &- start)
        }
        profile.countRun(program)
    }
}
