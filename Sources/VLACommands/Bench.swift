import ArgumentParser
import CAllocationCounter
import Foundation
import VLAFormat
import VLARuntime

/// `vlac bench POLICY`: load, reset and step latency, allocations, memory, per-op profile.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a policy: load time, reset and step latency, allocations, memory, per-op profile.",
        discussion: """
            Opens the policy (map + verify + shared-blob resolution, timed), creates a session, resets \
            on a synthetic 480×640 frame (or --image), runs --warmup steps, then --steps timed steps and \
            prints p50/p99 latency of the whole step (image contract, step program, action contract) \
            and of the step program alone, the heap allocations per step (all threads of the process), the \
            arena and mapped bytes, the achieved GFLOP/s of the step program (linear, patch_embed and \
            attention FLOPs), the time of each part (each call by the program it runs), and the ops that took \
            the most time (a separate profiled pass that sees inside calls: `backbone:17` is op 17 of the \
            called program `backbone`).

            Examples:
              vlac bench out/policies/open-the-top-drawer-12fedafa.vla --threads 2
              vlac bench policy.vla --shared shared --image frame.png --top 15
              vlac bench policy.vla --kernels avx2   (what an AVX2-only CPU would run)
              vlac bench policy.vla --kernels avx-vnni   (an Alder Lake or newer core)
            """)

    @Argument(help: ArgumentHelp("The policy .vla file.", valueName: "policy"))
    var policy: String

    @Option(help: ArgumentHelp("Timed steps.", valueName: "n"))
    var steps: Int = 20

    @Option(help: ArgumentHelp("Untimed steps before timing.", valueName: "n"))
    var warmup: Int = 2

    @Option(help: ArgumentHelp("Kernel threads, including the calling one.", valueName: "n"))
    var threads: Int = 1

    @Option(name: .customLong("shared"), help: ArgumentHelp("A folder holding shared blobs (repeatable).", valueName: "dir"))
    var sharedFolders: [String] = []

    @Option(help: ArgumentHelp("A PNG, JPEG or PPM frame to use instead of the synthetic one.", valueName: "path"))
    var image: String?

    @Option(help: ArgumentHelp("Products with fewer rows use vlac's own kernel instead of OpenBLAS (RuntimeOptions.smallProductRows).", valueName: "n"))
    var smallProductRows: Int = RuntimeOptions().smallProductRows

    @Option(help: ArgumentHelp("Ops listed in the profile.", valueName: "n"))
    var top: Int = 12

    @Option(help: ArgumentHelp(
        "The kernels' instruction sets, for the whole run: best (what this CPU has), avx512 (AVX-512 without AMX), avx512-bf16 (avx512 with the bf16 products on vdpbf16ps, which no CPU uses by default: to time it where a CPU has it), avx-vnni (AVX2 + FMA with AVX-VNNI, no AVX-512: Intel client cores from Alder Lake on), avx2 (AVX2 + FMA only) or portable: what a CPU with less would run, timed on this one.",
        valueName: "set"))
    var kernels: KernelInstructionSet = .best

    @Flag(help: "Print JSON (Schemas/bench.schema.json) instead of text.")
    var json = false

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
        if !(1...64).contains(threads) { throw ValidationError("--threads must be in 1...64") }
    }

    func run() throws {
        let levels = try kernels.force()
        let search = sharedFolders + SharedBlobResolver.defaultSearchPaths(forPolicyAt: policy)
        let t0 = OpProfile.now()
        let opened = try about(policy) { try Policy(path: policy, sharedSearchPaths: search) }
        let loadNs = OpProfile.now() - t0
        let t1 = OpProfile.now()
        let session = try about(policy) { try PolicySession(policy: opened, options: RuntimeOptions(threads: threads, smallProductRows: smallProductRows)) }
        let prepareNs = OpProfile.now() - t1

        var frame = RGBImage(width: 640, height: 480, pixels: [UInt8](repeating: 0, count: 480 * 640 * 3))
        if let image {
            frame = try about(image) { () throws -> RGBImage in
                guard let data = FileManager.default.contents(atPath: image) else { throw CommandFailure("\(image): cannot read the file") }
                return try RGBImage(decoding: [UInt8](data))
            }
        } else {
            for i in 0..<frame.pixels.count { frame.pixels[i] = UInt8(truncatingIfNeeded: (i / 3) % 640 + (i % 3) * 80 + (i / 1920) / 2) }
        }
        let pixels = frame.pixels
        var resetNs: [UInt64] = []
        for _ in 0..<max(1, min(steps, 5)) {
            let s = OpProfile.now()
            try about(policy) { try session.reset(frame: pixels.span, height: frame.height, width: frame.width) }
            resetNs.append(OpProfile.now() - s)
        }
        for _ in 0..<warmup { _ = try about(policy) { try session.step(frame: pixels.span, height: frame.height, width: frame.width) } }
        var stepNs: [UInt64] = []
        var allocations: Int = 0
        for _ in 0..<steps {
            let a = vla_test_allocations_in_process()
            let s = OpProfile.now()
            _ = try about(policy) { try session.step(frame: pixels.span, height: frame.height, width: frame.width) }
            let e = OpProfile.now()
            allocations += vla_test_allocations_in_process() - a
            stepNs.append(e - s)
        }
        // The step program alone (no image or action contract).
        var programNs: [UInt64] = []
        for _ in 0..<steps {
            let s = OpProfile.now()
            try about(policy) { try session.interpreter.run(opened.stepProgram) }
            programNs.append(OpProfile.now() - s)
        }
        // Per-op profile: a separate pass (two clock reads per op).
        let profile = OpProfile(interpreter: session.interpreter)
        session.profile = profile
        for _ in 0..<max(1, min(steps, 10)) { _ = try about(policy) { try session.step(frame: pixels.span, height: frame.height, width: frame.width) } }
        session.profile = nil

        let program = opened.file.programs[opened.stepProgram]
        let flops = Bench.flops(program, opened.file, blobs: opened.blobs)
        let p50 = Bench.percentile(stepNs, 0.5), p99 = Bench.percentile(stepNs, 0.99)
        let prog50 = Bench.percentile(programNs, 0.5), prog99 = Bench.percentile(programNs, 0.99)
        let reset50 = Bench.percentile(resetNs, 0.5)
        let runs = max(1, profile.runs[opened.stepProgram])
        let opTimes = profile.nanoseconds[opened.stepProgram]
        let total = max(1, opTimes.reduce(0, +))
        let rows = Bench.profileRows(profile.entries(program: opened.stepProgram), program: program, file: opened.file, blobs: opened.blobs)
        let ranked = rows.sorted { $0.ns > $1.ns }.prefix(top)
        let allocPerStep = Double(allocations) / Double(steps)
        // Per part: a `call` is the part named by the blob program it runs (`backbone`, `policy-tail`, ...);
        // other ops are grouped by the prefix of their output tensor's name (`backbone/`, `policy/`, ...).
        var groups: [(name: String, ns: UInt64, flops: Double)] = []
        for (index, op) in program.operations.enumerated() {
            let group: String
            if let (blob, callee) = Bench.callee(op, blobs: opened.blobs) {
                group = blob.programs[callee].name
            } else {
                let name = op.outputs.first.map { opened.file.tensors[$0].name } ?? ""
                group = name.firstIndex(of: "/").map { String(name[..<$0]) } ?? "(other)"
            }
            let f = Bench.flops(Program(name: "", inputs: [], outputs: [], operations: [op]), opened.file, blobs: opened.blobs)
            if let g = groups.firstIndex(where: { $0.name == group }) {
                groups[g].ns += opTimes[index]
                groups[g].flops += f
            } else {
                groups.append((group, opTimes[index], f))
            }
        }

        if json {
            let ops: [JSON] = ranked.map { row in
                var fields: [(String, JSON)] = [
                    ("name", .string(row.name)), ("index", .int(Int64(row.fileOp))), ("op", .string(row.op)),
                    ("output", .string(row.output)),
                    ("microseconds", .float(Float(Double(row.ns) / Double(runs) / 1000))),
                    ("share", .float(Float(Double(row.ns) / Double(total)))),
                ]
                if let callee = row.callee {
                    fields.append(("program", .string(callee.program)))
                    if let op = callee.op { fields.append(("programOp", .int(Int64(op)))) }
                }
                if row.flops > 0 {
                    fields.append(("GFLOP", .float(Float(row.flops / 1e9))))
                    fields.append(("GFLOPPerSecond", .float(Float(row.ns > 0 ? row.flops * Double(runs) / Double(row.ns) : 0))))
                }
                return .object(fields)
            }
            let out = JSON.object([
                ("formatVersion", .int(1)), ("policy", .string(policy)), ("threads", .int(Int64(threads))), ("steps", .int(Int64(steps))),
                ("kernels", .string(kernels.rawValue)), ("kernelLevels", .string(levels)),
                ("loadVerifyMs", .float(Float(Double(loadNs) / 1e6))), ("prepareMs", .float(Float(Double(prepareNs) / 1e6))),
                ("resetMsP50", .float(Float(reset50 / 1e6))),
                ("stepMsP50", .float(Float(p50 / 1e6))), ("stepMsP99", .float(Float(p99 / 1e6))),
                ("programMsP50", .float(Float(prog50 / 1e6))), ("programMsP99", .float(Float(prog99 / 1e6))),
                ("allocationsPerStep", .float(Float(allocPerStep))),
                ("arenaBytes", .uint(opened.sessionArenaBytes)), ("mappedBytes", .int(Int64(opened.mappedBytes))),
                ("stepGFLOP", .float(Float(flops / 1e9))), ("programGFLOPPerSecond", .float(Float(flops / prog50))),
                ("profile", .array(ops)),
                ("parts", .array(groups.map { g in
                    .object([
                        ("name", .string(g.name)), ("milliseconds", .float(Float(Double(g.ns) / Double(runs) / 1e6))),
                        ("GFLOP", .float(Float(g.flops / 1e9))),
                    ])
                })),
            ])
            print(out.serialized())
            return
        }
        print("\(escaped(policy)): \(threads) thread\(threads == 1 ? "" : "s"), \(steps) steps, frame \(frame.width)×\(frame.height)")
        print("  kernels           \(kernels.rawValue) (\(levels))")
        print(String(format: "  load + verify     %9.3f ms  (map, digest, verifier, %d shared blob%@)", Double(loadNs) / 1e6, opened.blobs.count, opened.blobs.count == 1 ? "" : "s"))
        print(String(format: "  prepare session   %9.3f ms  (arena, scratch, threads)", Double(prepareNs) / 1e6))
        print(String(format: "  reset             %9.3f ms  p50%@", reset50 / 1e6, opened.resetProgram == nil ? " (no reset program: image contract only)" : ""))
        print(String(format: "  step              %9.3f ms  p50   %9.3f ms  p99   (image contract + program + action contract)", p50 / 1e6, p99 / 1e6))
        print(String(format: "  step program      %9.3f ms  p50   %9.3f ms  p99   %.4f GFLOP, %.1f GFLOP/s", prog50 / 1e6, prog99 / 1e6, flops / 1e9, flops / prog50))
        print(String(format: "  allocations       %9.2f per step (all threads)", allocPerStep))
        print("  arena             \(opened.sessionArenaBytes) bytes")
        print("  mapped            \(opened.mappedBytes) bytes (policy \(opened.file.byteCount) + shared \(opened.mappedBytes - opened.file.byteCount))")
        print("  parts (step program: each call by the blob program it runs, other ops by tensor-name prefix; \(runs) profiled runs):")
        for g in groups {
            let ms = Double(g.ns) / Double(runs) / 1e6
            print("    " + g.name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %9.3f ms  %8.4f GFLOP  %7.1f GFLOP/s", ms, g.flops / 1e9, ms > 0 ? g.flops / (ms * 1e6) : 0))
        }
        print("  profile (step program, \(runs) profiled runs, top \(ranked.count) of \(rows.count) ops, calls expanded; name = file op index or called-program:op index):")
        for row in ranked {
            let us = Double(row.ns) / Double(runs) / 1000
            var line = "    " + row.name.padding(toLength: max(18, row.name.count), withPad: " ", startingAt: 0) + " "
            line += row.op.padding(toLength: 12, withPad: " ", startingAt: 0)
            line += String(format: " %10.1f µs  %5.1f %%  ", us, 100 * Double(row.ns) / Double(total)) + row.output
            if row.flops > 0 { line += String(format: "  %.1f GFLOP/s", us > 0 ? row.flops / (us * 1e3) : 0) }
            print(line)
        }
    }

    /// One line of the profile: an op of the step program, an op of a program it calls, or a call's copies.
    struct ProfileRow {
        /// `17` for the file's own op 17, `backbone:17` for op 17 of the called program `backbone`,
        /// `backbone:copies` for the copies in and out of that call.
        var name: String
        /// The index of the op in the step program (the `call` for rows inside one).
        var fileOp: Int
        /// The called program and the op index in it (nil for the copies).
        var callee: (program: String, op: Int?)?
        var op: String
        var output: String
        var ns: UInt64
        var flops: Double
    }

    /// The profile's planned ops as rows: ops of called programs named by the program and op index, each call's
    /// copies in and out summed in one row.
    static func profileRows(_ entries: [OpProfile.Entry], program: Program, file: VLAFile, blobs: [VLAFile]) -> [ProfileRow] {
        var rows: [ProfileRow] = []
        var copies: [Int: Int] = [:]
        for entry in entries {
            let origin = entry.origin
            guard let callee = origin.callee, callee.blob < blobs.count, callee.program < blobs[callee.blob].programs.count else {
                let op = program.operations[origin.op]
                rows.append(ProfileRow(
                    name: "\(origin.op)", fileOp: origin.op, callee: nil, op: op.opcode.name,
                    output: op.outputs.first.map { "\(file.tensors[$0].type)" } ?? "", ns: entry.nanoseconds,
                    flops: flops(Program(name: "", inputs: [], outputs: [], operations: [op]), file, blobs: blobs)))
                continue
            }
            let blob = blobs[callee.blob], called = blob.programs[callee.program]
            switch callee.part {
            case .op(let j):
                let op = called.operations[j]
                rows.append(ProfileRow(
                    name: "\(called.name):\(j)", fileOp: origin.op, callee: (called.name, j), op: op.opcode.name,
                    output: op.outputs.first.map { "\(blob.tensors[$0].type)" } ?? "", ns: entry.nanoseconds,
                    flops: flops(Program(name: "", inputs: [], outputs: [], operations: [op]), blob)))
            case .copyIn, .copyOut:
                if let r = copies[origin.op] {
                    rows[r].ns += entry.nanoseconds
                } else {
                    copies[origin.op] = rows.count
                    rows.append(ProfileRow(
                        name: "\(called.name):copies", fileOp: origin.op, callee: (called.name, nil), op: "copy",
                        output: "", ns: entry.nanoseconds, flops: 0))
                }
            }
        }
        return rows
    }

    static func percentile(_ values: [UInt64], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let i = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
        return Double(sorted[i])
    }

    /// The blob and program index a `call` op runs, when it is one and its blob was given.
    static func callee(_ op: VLAFormat.Operation, blobs: [VLAFile]) -> (VLAFile, Int)? {
        guard op.opcode == .call, op.attributes.count >= 2 else { return nil }
        let ref = Int(op.attributes[0]), index = Int(op.attributes[1])
        guard ref < blobs.count, index < blobs[ref].programs.count else { return nil }
        return (blobs[ref], index)
    }

    /// Multiply-adds × 2 of the matrix ops (`linear`, `patch_embed`, `attention`), through `call`s into
    /// the given blobs' programs (blobs call nothing further).
    static func flops(_ program: Program, _ file: VLAFile, blobs: [VLAFile] = []) -> Double {
        var total = 0.0
        for op in program.operations {
            let shape = { (id: Int) -> [Int] in file.tensors[id].type.shape }
            if let (blob, callee) = callee(op, blobs: blobs) {
                total += flops(blob.programs[callee], blob)
                continue
            }
            switch op.opcode {
            case .linear, .linearI8, .linearBF16:
                let x = shape(op.inputs[0]), w = shape(op.inputs[1])
                let rows = x.dropLast().reduce(1, *)
                total += 2 * Double(rows) * Double(w[0]) * Double(w.count > 1 ? w[1] : 1)
            case .patchEmbed:
                let y = shape(op.outputs[0]), k = shape(op.inputs[1])
                total += 2 * Double(y[0]) * Double(k.reduce(1, *))
            case .attention:
                let q = shape(op.inputs[0]), k = shape(op.inputs[1]), v = shape(op.inputs[2])
                let batch = q.count == 4 ? q[0] : 1
                let tq = q[q.count - 3], heads = q[q.count - 2], d = q[q.count - 1]
                let tk = k[k.count - 3], dv = v[v.count - 1]
                total += 2 * Double(batch * heads * tq * tk) * Double(d + dv)
            default:
                break
            }
        }
        return total
    }
}

extension KernelInstructionSet: ExpressibleByArgument {}
