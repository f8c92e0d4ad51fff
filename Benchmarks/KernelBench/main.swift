// vlac-kernel-bench: times VLARuntime's kernels on this machine. See Docs/Benchmarks.md.
//
//   vlac-kernel-bench dinov2 [--threads N] [--iterations N] [--warmup N] [--profile] [--openblas-threads]
//                                               one DINOv2-base forward (ViT-B/14)
//   vlac-kernel-bench serve [--threads N]       the same model; reads "run N" lines on stdin, prints times
//   vlac-kernel-bench crossover                 own kernel vs OpenBLAS sgemm by row count (1 thread)
//   vlac-kernel-bench peak [--threads N]        fp32 FMA peak of this CPU
//   vlac-kernel-bench sha256                    SHA-256 MB/s, SHA extensions and portable Swift
import CPeakFlops
#if canImport(Glibc)
import Glibc
#endif
import VLAFormat
import VLARuntime

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return fallback
}

func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    return "\(r)"
}

func peak(threads: Int) -> Double {
    _ = vla_bench_peak_gflops(Int32(threads), 20_000_000)  // warm up the clocks
    var best = 0.0
    for _ in 0..<3 { best = max(best, vla_bench_peak_gflops(Int32(threads), 100_000_000)) }
    return best
}

func prepareViT(threads: Int) throws -> (Interpreter, ViTProgram) {
    let model = ViTProgram()
    var options = RuntimeOptions(threads: threads)
    options.openBLASThreads = CommandLine.arguments.contains("--openblas-threads")
    let interpreter = try Interpreter(document: model.document, options: options)
    var rng = ViTProgram.Random(state: 42)
    let pixels = (0..<(224 * 224 * 3)).map { _ in rng.next() * 2 }
    try interpreter.setFloats(model.image, pixels)
    return (interpreter, model)
}

func timeRuns(_ interpreter: Interpreter, _ n: Int) throws -> [Double] {
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<n {
        let start = clock.now
        try interpreter.run(0)
        times.append(seconds(clock.now - start))
    }
    return times
}

func dinov2() throws {
    let threads = option("--threads", 1)
    let iterations = option("--iterations", 5)
    let (interpreter, model) = try prepareViT(threads: threads)
    _ = try timeRuns(interpreter, option("--warmup", 1))
    let times = try timeRuns(interpreter, iterations)
    let m = median(times)
    let gflops = model.flops / m * 1e-9
    let p = Double(option("--peak", 0))
    let measuredPeak = p > 0 ? p : peak(threads: threads)
    print("dinov2-base forward, 224x224, \(threads) thread(s)\(interpreter.options.openBLASThreads ? " (OpenBLAS threads for products)" : ""): median \(fmt(m * 1000)) ms over \(iterations) runs (min \(fmt(times.min()! * 1000)) ms)")
    print("  \(fmt(model.flops * 1e-9, 2)) GFLOP per forward -> \(fmt(gflops)) GFLOP/s = \(fmt(100 * gflops / measuredPeak))% of the measured fp32 peak \(fmt(measuredPeak)) GFLOP/s (\(String(cString: vla_bench_peak_isa())), \(threads) thread(s))")
    if CommandLine.arguments.contains("--profile") {
        let times = try interpreter.runProfiled(0)
        var byOp: [String: Double] = [:]
        for (i, t) in times.enumerated() { byOp[model.document.programs[0].operations[i].opcode.name, default: 0] += t }
        for (name, t) in byOp.sorted(by: { $0.value > $1.value }) { print("  \(name): \(fmt(t * 1000)) ms") }
    }
    let out = try interpreter.floats(model.output)
    print("  checksum \(out.reduce(0, +)) (first \(out[0]))")
}

/// Prints a line and flushes (stdout is a pipe in serve mode).
func reply(_ line: String) {
    print(line)
    fflush(nil)  // all output streams: stdout is a pipe in serve mode
}

/// Line protocol for Benchmarks/bench_dinov2.py: "run N" -> "times t1 t2 ..." (seconds); "flops" -> "flops F";
/// "quit".
func serve() throws {
    let threads = option("--threads", 1)
    let (interpreter, model) = try prepareViT(threads: threads)
    _ = try timeRuns(interpreter, 1)
    reply("ready")
    while let line = readLine() {
        let parts = line.split(separator: " ")
        if parts.first == "run", parts.count == 2, let n = Int(parts[1]) {
            reply("times " + (try timeRuns(interpreter, n)).map { "\($0)" }.joined(separator: " "))
        } else if parts.first == "peak" {
            reply("peak \(peak(threads: threads))")
        } else if parts.first == "flops" {
            reply("flops \(model.flops)")
        } else if parts.first == "output" {
            let out = try interpreter.floats(model.output)
            reply("output " + out.prefix(8).map { "\($0)" }.joined(separator: " "))
        } else if parts.first == "quit" {
            return
        } else {
            reply("error unknown command")
        }
    }
}

/// One linear [m, k] x [k, n] + bias timed with the own kernel and with OpenBLAS.
func crossover() throws {
    print("rows m, k, n: own kernel vs OpenBLAS sgemm, 1 thread, median of 9 (GFLOP/s)")
    let maxRows = option("--max-rows", 257)
    for (k, n) in [(768, 768), (768, 3072), (3072, 768), (768, 2304), (64, 257), (512, 128)] {
        for m in [1, 2, 3, 4, 8, 12, 16, 24, 32, 64, 128, 257] where m <= maxRows {
            var rates: [Double] = []
            for rows in [Int.max, 0] {
                var tensors: [TensorEntry] = []
                var rng = ViTProgram.Random(state: 7)
                tensors.append(TensorEntry(name: "x", type: TensorType(.f32, [m, k]), location: .inline(rng.bytes(m * k, scale: 1))))
                tensors.append(TensorEntry(name: "w", type: TensorType(.f32, [k, n]), location: .inline(rng.bytes(k * n, scale: 1))))
                tensors.append(TensorEntry(name: "b", type: TensorType(.f32, [n]), location: .inline(rng.bytes(n, scale: 1))))
                tensors.append(TensorEntry(name: "y", type: TensorType(.f32, [m, n]), location: .arena(offset: 0)))
                let doc = VLADocument(
                    tensors: tensors,
                    programs: [Program(name: "p", inputs: [], outputs: [3], operations: [Operation(.linear, inputs: [0, 1, 2], outputs: [3])])],
                    arenaSize: UInt64(m * n * 4))
                let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: 1, smallProductRows: rows))
                let reps = max(1, 20_000_000 / (m * k * n))
                var samples: [Double] = []
                for _ in 0..<9 {
                    let clock = ContinuousClock()
                    let start = clock.now
                    for _ in 0..<reps { try interpreter.run(0) }
                    samples.append(seconds(clock.now - start) / Double(reps))
                }
                rates.append(2 * Double(m * k * n) / median(samples) * 1e-9)
            }
            print("  m \(m), k \(k), n \(n): own \(fmt(rates[0])) / OpenBLAS \(fmt(rates[1])) GFLOP/s\(rates[0] >= rates[1] ? "  <- own faster" : "")")
        }
    }
}

/// SHA-256 throughput of each implementation (`VLAFormat.SHA256`) over a 64 MiB buffer, best of 5.
func sha256Throughput() {
    let size = 64 << 20
    let buffer = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    print("SHA-256, \(size >> 20) MiB, best of 5 (dispatch picks \(SHA256.fastest.rawValue)):")
    for implementation in SHA256.Implementation.allCases where implementation == .portable || SHA256.fastest == implementation {
        var best = Double.infinity
        for _ in 0..<5 {
            let clock = ContinuousClock()
            let start = clock.now
            var h = SHA256(implementation: implementation)
            h.update(buffer)
            _ = h.finalize()
            best = min(best, seconds(clock.now - start))
        }
        print("  \(implementation.rawValue): \(fmt(Double(size) / best / 1e6, 0)) MB/s")
    }
}

let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "dinov2"
do {
    switch mode {
    case "dinov2": try dinov2()
    case "serve": try serve()
    case "crossover": try crossover()
    case "sha256": sha256Throughput()
    case "peak":
        let t = option("--threads", 1)
        print("fp32 FMA peak, \(t) thread(s), \(String(cString: vla_bench_peak_isa())): \(fmt(peak(threads: t))) GFLOP/s")
    default:
        print("usage: vlac-kernel-bench [dinov2|serve|crossover|peak|sha256] [--threads N] [--iterations N] [--warmup N] [--peak GFLOPS]")
    }
} catch {
    print("error: \(error)")
}
