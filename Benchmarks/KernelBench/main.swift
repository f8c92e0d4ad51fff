// vlac-kernel-bench: times VLARuntime's kernels on this machine. See Docs/Benchmarks.md.
//
//   vlac-kernel-bench dinov2 [--threads N] [--iterations N] [--warmup N] [--profile] [--openblas-threads]
//                                               one DINOv2-base forward (ViT-B/14)
//   vlac-kernel-bench serve [--threads N]       the same model; reads "run N" lines on stdin, prints times
//   vlac-kernel-bench crossover                 own kernel vs OpenBLAS sgemm by row count (1 thread)
//   vlac-kernel-bench peak [--threads N]        fp32 FMA peak of this CPU
//   vlac-kernel-bench q8 [--rows M] [--iterations N] [--zero-point]   (path 1: with AVX-VNNI too, where present)
//                                               int8 products (vla_q8_gemm) of DINOv2-base's shapes, every path (AMX
//                                               included), GFLOP/s and ratio to the fp32 peak (1 thread); with
//                                               --zero-point each path also runs vla_q8_gemm_zp (zero-point
//                                               activations, format 1.4) right after, and its quantization is timed
//   vlac-kernel-bench bf16 [--rows M] [--iterations N]  the same for the bf16 products (vla_bf16_gemm)
//   vlac-kernel-bench attention [--iterations N] [--rounds N]  one DINOv2-base attention head (257 tokens, d 64),
//                                               1 thread: f32 (as the f32 attention op runs it) against bf16
//                                               products on the fallback and on AMX, with and without the softmax
//   vlac-kernel-bench sha256                    SHA-256 MB/s, SHA extensions and portable Swift
//   vlac-kernel-bench elementwise [--rounds N] [--iterations N]   gelu_erf and gelu_tanh on [257, 3072] and softmax
//                                               on 12·257 rows of 257 (DINOv2-base's shapes), ns per element on every
//                                               path this CPU has (AVX-512, AVX2 + FMA, Advanced SIMD, Swift), 1 thread
//   vlac-kernel-bench image [--iterations N] [--threads N]   the image contract on a 480×640 frame (224×224,
//                                               lanczos3 + crop, and rtx pad): the TensorFlow-exact implementation
//                                               on 1 and N threads against the previous one (LegacyImagePreprocessor)
import CPeakFlops
import COpenBLAS
import CVLAKernels
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

/// One linear [m, k] x [k, n] + bias (a constant weight) timed on each route: the packed kernel (the default
/// for constant weights), the own unpacked kernel (`smallProductRows: Int.max`) and OpenBLAS (0). `--isa N`
/// forces the own kernels' instruction set (2 AVX-512, 1 AVX2 + FMA; on aarch64 1 Advanced SIMD);
/// `OPENBLAS_CORETYPE` picks OpenBLAS's.
func crossover() throws {
    if CommandLine.arguments.contains("--isa") { _ = vla_kernels_force_isa(Int32(option("--isa", 2))) }
    let maxRows = option("--max-rows", 257)
    print("rows m, k, n: packed / own unpacked / OpenBLAS \(openBLASCoreName()) sgemm, 1 thread, own kernel isa \(vla_kernels_isa()), median of 9 (GFLOP/s)")
    for (k, n) in [(768, 768), (768, 3072), (3072, 768), (768, 2304), (588, 768), (64, 257), (512, 128)] {
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 64, 128, 257] where m <= maxRows {
            var rates: [Double] = []
            for rows in [4, Int.max, 0] {
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
            let best = rates[0] >= rates[1] && rates[0] >= rates[2] ? "  <- packed fastest" : ""
            print("  m \(m), k \(k), n \(n): \(fmt(rates[0])) / \(fmt(rates[1])) / \(fmt(rates[2])) GFLOP/s\(best)")
        }
    }
}

/// OpenBLAS's kernel family for this CPU (`openblas_get_corename`).
func openBLASCoreName() -> String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
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

/// A 64-byte aligned buffer (as the runtime's arena gives) of `count` elements, filled by `fill`.
func alignedBuffer<T>(_ count: Int, _ fill: (Int) -> T) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<T>.stride, alignment: 64)
        .bindMemory(to: T.self, capacity: max(count, 1))
    for i in 0..<count { p[i] = fill(i) }
    return p
}

/// Best time of `n` runs of body (the machine is shared: the best run is the least disturbed one).
func bestTime(_ n: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    let clock = ContinuousClock()
    for _ in 0..<n {
        let start = clock.now
        body()
        best = min(best, seconds(clock.now - start))
    }
    return best
}

/// The reduced-precision products (Sources/CVLAKernels/quant.c) on DINOv2-base's linear shapes, one thread:
/// every path this CPU has, then the own fp32 kernel (vla_gemm) on the same shape, against the fp32 FMA peak
/// measured in the same run. GFLOP/s count 2·m·n·k per product; the activation step (quantization or bf16
/// rounding, done once per activation) is timed apart.
func reducedPrecision(int8: Bool) {
    let m = option("--rows", 257), iterations = option("--iterations", 25)
    let zeroPoint = int8 && CommandLine.arguments.contains("--zero-point")
    #if arch(arm64)
    let pathNames = int8 ? ["portable", "ASIMD", "SDOT", "SMMLA", "-"] : ["portable", "ASIMD", "BFDOT", "BFMMLA", "-"]
    #else
    let pathNames = int8 ? ["portable", "AVX2", "AVX-512BW", "AVX-512 VNNI", "AMX"] : ["portable", "AVX2+FMA", "AVX-512F", "AVX-512 BF16", "AMX"]
    #endif
    // AMX (path 4) is also given as a ratio to the best vector path: VNNI (int8) or AVX-512F (bf16).
    let vectorPath = int8 ? 3 : 2
    let defaultPath = int8 ? vla_q8_isa() : vla_bf16_isa()
    let best = Int(int8 ? vla_q8_force_isa(99) : vla_bf16_force_isa(99))
    defer { _ = int8 ? vla_q8_force_isa(defaultPath) : vla_bf16_force_isa(defaultPath) }
    let peakBefore = peak(threads: 1)
    print("\(int8 ? "int8 (vla_q8_gemm)" : "bf16 (vla_bf16_gemm)") products, m \(m), 1 thread, best of \(iterations); default path \(pathNames[Int(defaultPath)])")
    print("  fp32 FMA peak \(fmt(peakBefore)) GFLOP/s (\(String(cString: vla_bench_peak_isa())), measured before the products)")
    var rng = ViTProgram.Random(state: 11)
    for (k, n) in [(768, 768), (768, 3072), (3072, 768)] {
        let flops = 2 * Double(m * n * k)
        let x = alignedBuffer(m * k) { _ in rng.next() * 2 }
        let wf = alignedBuffer(k * n) { _ in rng.next() }
        let bias = alignedBuffer(n) { _ in rng.next() }
        let wscale = alignedBuffer(n) { _ in Float(0.01) }
        let y = alignedBuffer(m * n) { _ in Float(0) }
        defer { for p in [x, wf, bias, wscale, y] { p.deallocate() } }
        var line: [String] = []
        var prepare = 0.0, prepareZP = 0.0
        var seconds: [Int: Double] = [:]
        if int8 {
            let w = alignedBuffer(k * n) { Int8(truncatingIfNeeded: Int(wf[$0] * 127) % 128) }
            let packed = UnsafeMutableRawPointer.allocate(byteCount: vla_q8_packed_bytes(k, n), alignment: 64)
            let ldq = vla_q8_row_stride(k)
            let q = alignedBuffer(m * ldq) { _ in Int8(0) }
            let s = alignedBuffer(m) { _ in Float(0) }
            let zc = alignedBuffer(m) { _ in Int32(0) }
            let qz = alignedBuffer(m * ldq) { _ in Int8(0) }
            defer { w.deallocate(); packed.deallocate(); q.deallocate(); s.deallocate(); zc.deallocate(); qz.deallocate() }
            vla_q8_pack(k, n, w, n, packed)
            for isa in stride(from: best, through: 0, by: -1) {
                _ = vla_q8_force_isa(Int32(isa))
                if isa == best {
                    prepare = bestTime(iterations) { vla_q8_quantize(m, k, x, k, q, ldq, s) }
                    if zeroPoint { prepareZP = bestTime(iterations) { vla_q8_quantize_zp(m, k, x, k, qz, ldq, s, zc) } }
                    vla_q8_quantize(m, k, x, k, q, ldq, s)
                }
                // Path 1 also with AVX-VNNI where the CPU has it (vla_q8_force_avx_vnni), then as AVX2-only CPUs run it.
                let vnniDefault = vla_q8_avx_vnni()
                for vnni in isa == 1 && vla_q8_force_avx_vnni(1) == 1 ? [Int32(1), 0] : [0] {
                    _ = vla_q8_force_avx_vnni(vnni)
                    vla_q8_gemm(m, 0, n, k, q, ldq, s, packed, n, wscale, bias, nil, nil, 0, y, n)  // warm up
                    let t = bestTime(isa == 0 ? 1 : iterations) { vla_q8_gemm(m, 0, n, k, q, ldq, s, packed, n, wscale, bias, nil, nil, 0, y, n) }
                    if vnni == 0 { seconds[isa] = t }
                    line.append("\(vnni == 1 ? "AVX2+AVX-VNNI" : pathNames[isa]) \(fmt(flops / t * 1e-9)) (\(fmt(flops / t * 1e-9 / peakBefore, 2))x)")
                    if zeroPoint {
                        let tz = bestTime(isa == 0 ? 1 : iterations) {
                            vla_q8_gemm_zp(m, 0, n, k, qz, ldq, s, zc, packed, n, wscale, bias, nil, nil, 0, y, n)
                        }
                        line.append("zp \(fmt(flops / tz * 1e-9)) (\(fmt(t / tz, 3))x sym)")
                    }
                }
                _ = vla_q8_force_avx_vnni(vnniDefault)
            }
        } else {
            let w = alignedBuffer(k * n) { UInt16(truncatingIfNeeded: wf[$0].bitPattern >> 16) }
            let packed = UnsafeMutableRawPointer.allocate(byteCount: vla_bf16_packed_bytes(k, n), alignment: 64)
            let ldxb = vla_bf16_row_stride(k)
            let xb = alignedBuffer(m * ldxb) { _ in UInt16(0) }
            defer { w.deallocate(); packed.deallocate(); xb.deallocate() }
            vla_bf16_pack(k, n, w, n, packed)
            for isa in stride(from: best, through: 0, by: -1) {
                _ = vla_bf16_force_isa(Int32(isa))
                if isa == best { prepare = bestTime(iterations) { vla_bf16_round(m, k, x, k, xb, ldxb) } }
                vla_bf16_gemm(m, 0, n, k, xb, ldxb, packed, n, bias, nil, nil, 0, y, n)  // warm up
                let t = bestTime(isa == 0 ? 1 : iterations) { vla_bf16_gemm(m, 0, n, k, xb, ldxb, packed, n, bias, nil, nil, 0, y, n) }
                seconds[isa] = t
                line.append("\(pathNames[isa]) \(fmt(flops / t * 1e-9)) (\(fmt(flops / t * 1e-9 / peakBefore, 2))x)")
            }
        }
        if let amx = seconds[4], let vector = seconds[vectorPath] {
            line.append("AMX/\(pathNames[vectorPath]) \(fmt(vector / amx, 2))x")
        }
        let t32 = bestTime(iterations) { vla_gemm(m, n, k, x, k, wf, n, y, n, 0, 1) }
        line.append("fp32 vla_gemm \(fmt(flops / t32 * 1e-9)) (\(fmt(flops / t32 * 1e-9 / peakBefore, 2))x)")
        print("  k \(k), n \(n): " + line.joined(separator: " | ") + " GFLOP/s (x fp32 peak); \(int8 ? "quantize" : "bf16 round") \(fmt(prepare * 1e6)) us"
              + (zeroPoint ? ", quantize_zp \(fmt(prepareZP * 1e6)) us" : ""))
    }
    print("  fp32 FMA peak after the products: \(fmt(peak(threads: 1))) GFLOP/s")
}

/// One head of DINOv2-base's attention (tq = tk = 257, d = dv = 64), 1 thread, as the op runs it per task: f32
/// (pack Kᵀ, S = Q·Kᵀ with the packed kernel, the rows' scale and softmax with vla_attention_rows, four rows a call,
/// and also with vla_attention_row on each row, as before; pack V, Y = P·V)
/// against bf16 products (`vla_attn_bf16_scores`, the same rows, `vla_attn_bf16_values`) on path 0 (the fallback
/// of CPUs without AMX: each row rounded after its softmax) and path 4 (AMX, where present), there also the fused
/// head (`vla_attn_bf16_head`, what the op runs on path 4); and the products alone (the rows' softmax left out). Each round times every variant (best of `--iterations`), in turn; medians
/// over `--rounds`.
func attentionProducts() {
    let iterations = option("--iterations", 200), rounds = option("--rounds", 5)
    let t = 257, d = 64, h = 12
    let scale: Float = 0.125
    var rng = ViTProgram.Random(state: 5)
    let q = alignedBuffer(t * h * d) { _ in rng.next() }, k = alignedBuffer(t * h * d) { _ in rng.next() }
    let v = alignedBuffer(t * h * d) { _ in rng.next() }
    let s = alignedBuffer(t * t) { _ in Float(0) }, y = alignedBuffer(t * h * d) { _ in Float(0) }
    let keys = UnsafeMutableRawPointer.allocate(byteCount: vla_f32_packed_bytes(d, t), alignment: 64)
    let values = UnsafeMutableRawPointer.allocate(byteCount: vla_f32_packed_bytes(t, d), alignment: 64)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: vla_attn_bf16_scratch_bytes(t, t, d, d), alignment: 64)
    defer {
        for b in [q, k, v, s, y] { b.deallocate() }
        for b in [keys, values, scratch] { b.deallocate() }
    }
    let defaultPath = vla_bf16_isa()
    defer { _ = vla_bf16_force_isa(defaultPath) }
    let amx = vla_bf16_force_isa(99) == 4
    // As the op's attentionRows: four rows a call (vla_attention_rows), each group rounded after its softmax on
    // path 0; oneByOne: vla_attention_row on each row, as before vla_attention_rows.
    func rows(round: Bool, oneByOne: Bool = false) {
        for i in stride(from: 0, to: t, by: 4) {
            let n = min(4, t - i)
            if oneByOne {
                for r in i..<i + n { _ = vla_attention_row(s + r * t, t, scale, nil, nil) }
            } else {
                _ = vla_attention_rows(s + i * t, t, n, t, scale, nil, 0, nil, 0)
            }
            if round { vla_attn_bf16_round_rows(n, t, s + i * t, t) }
        }
    }
    func f32(softmax: Bool, oneByOne: Bool = false) {
        vla_f32_pack_transposed(d, t, k, h * d, keys)
        vla_f32_gemm_packed(t, 0, t, d, q, h * d, keys, t, nil, s, t)
        if softmax { rows(round: false, oneByOne: oneByOne) }
        vla_f32_pack(t, d, v, h * d, values)
        vla_f32_gemm_packed(t, 0, d, t, s, t, values, d, nil, y, h * d)
    }
    func bf16(path: Int32, softmax: Bool) {
        _ = vla_bf16_force_isa(path)
        vla_attn_bf16_scores(t, t, d, q, h * d, k, h * d, scratch, s, t)
        let round = softmax && path != 4
        if softmax { rows(round: round) }
        vla_attn_bf16_values(t, t, d, s, t, round ? 1 : 0, v, h * d, scratch, y, h * d)
    }
    var variants: [(String, () -> Void)] = [
        ("f32 head", { f32(softmax: true) }), ("f32 rows-one-by-one head", { f32(softmax: true, oneByOne: true) }),
        ("bf16 fallback head", { bf16(path: 2, softmax: true) }),
    ]
    if amx {
        variants.append(("bf16 AMX head", { bf16(path: 4, softmax: true) }))
        variants.append(("bf16 AMX fused head", {
            _ = vla_bf16_force_isa(4)
            _ = vla_attn_bf16_head(t, t, d, d, q, h * d, k, h * d, v, h * d, scale, nil, 0, nil, 0, scratch, y, h * d)
        }))
    }
    variants += [("f32 products", { f32(softmax: false) }), ("bf16 fallback products", { bf16(path: 2, softmax: false) })]
    if amx { variants.append(("bf16 AMX products", { bf16(path: 4, softmax: false) })) }
    print("attention, one head of DINOv2-base (257 tokens, d 64), 1 thread, best of \(iterations) per round, \(rounds) rounds; f32 kernels \(vla_kernels_isa()), AMX \(amx ? "yes" : "no")")
    var times: [String: [Double]] = [:]
    for _ in 0..<rounds {
        for (name, body) in variants {
            body()
            times[name, default: []].append(bestTime(iterations, body))
        }
    }
    let median = { (name: String) in times[name]!.sorted()[rounds / 2] }
    for (name, _) in variants {
        let base = name.hasSuffix("head") ? "f32 head" : "f32 products"
        print("  \(name): \(fmt(median(name) * 1e6)) us median, f32 / this \(fmt(median(base) / median(name), 2))x; rounds \(times[name]!.map { fmt($0 * 1e6) }.joined(separator: ", "))")
    }
}

/// The image contract on a 480×640 noise frame: the old implementation and the new one (1 thread and
/// `--threads`), median of `--iterations` frames each, interleaved so that load on the shared machine hits both.
func imageContract() throws {
    let n = option("--iterations", 50), threads = option("--threads", 2)
    var s: UInt32 = 480 * 65536 + 640
    let frame = (0..<(480 * 640 * 3)).map { _ in
        s = s &* 1664525 &+ 1013904223
        return UInt8(s >> 24)
    }
    for (label, resize, crop) in [("lanczos3 + crop", ResizeMethod.lanczos3Antialias, true), ("lanczos3", .lanczos3Antialias, false),
                                  ("rtx pad + lanczos3 + crop", .padLanczos3Antialias, true)] {
        let contract = ImageContract(height: 224, width: 224, resize: resize, crop: crop ? .central : .none, cropArea: crop ? 0.9 : 0)
        let legacy = LegacyImagePreprocessor(height: 224, width: 224, crop: crop)
        let one = ImagePreprocessor(contract: contract)
        let many = ImagePreprocessor(contract: contract, threads: threads)
        var times: [[Double]] = [[], [], []]
        let clock = ContinuousClock()
        for i in 0..<(n + 2) {
            var t = clock.now
            if resize == .lanczos3Antialias { legacy.prepare(frame: frame, frameHeight: 480, frameWidth: 640) }
            let a = seconds(clock.now - t)
            t = clock.now
            try one.prepare(frame: frame.span, frameHeight: 480, frameWidth: 640)
            let b = seconds(clock.now - t)
            t = clock.now
            try many.prepare(frame: frame.span, frameHeight: 480, frameWidth: 640)
            let c = seconds(clock.now - t)
            if i >= 2 { times[0].append(a); times[1].append(b); times[2].append(c) }
        }
        let old = resize == .lanczos3Antialias ? "previous \(fmt(median(times[0]) * 1000, 2)) ms, " : ""
        print("image 480x640 -> 224x224, \(label): \(old)TF-exact 1 thread \(fmt(median(times[1]) * 1000, 2)) ms, \(threads) threads \(fmt(median(times[2]) * 1000, 2)) ms"
              + (resize == .lanczos3Antialias ? " (\(fmt(median(times[0]) / median(times[1]), 1))x, \(fmt(median(times[0]) / median(times[2]), 1))x)" : ""))
        precondition(one.pixels == many.pixels, "threads changed the bytes")
    }
}

/// One op on one arena tensor, in place (the element-wise ops and softmax as the interpreter runs them).
func oneOpDocument(_ op: OpCode, rows: Int, cols: Int) -> VLADocument {
    let type = TensorType(.f32, [rows, cols])
    let x = TensorEntry(name: "x", type: type, location: .arena(offset: 0))
    return VLADocument(
        tensors: [x], programs: [Program(name: "forward", inputs: [0], outputs: [0], operations: [Operation(op, inputs: [0], outputs: [0])])],
        arenaSize: UInt64(rows * cols * 4 + 63) / 64 * 64)
}

/// ns per element of gelu_erf, gelu_tanh and softmax on every element-wise path this CPU has (vla_kernels_force_isa:
/// 2 AVX-512F, 1 AVX2 + FMA or Advanced SIMD, 0 the Swift kernels), medians of interleaved rounds, each the best of
/// `--iterations` runs; the input is refilled before each run (softmax and GELU change it in place).
func elementwise() throws {
    let rounds = option("--rounds", 5), iterations = option("--iterations", 5)
    let best = Int(vla_kernels_supported_isa())
    defer { _ = vla_kernels_force_isa(Int32(best)) }
    #if arch(arm64)
    let names = ["Swift", "Advanced SIMD"]
    #else
    let names = ["Swift (baseline x86-64)", "AVX2 + FMA", "AVX-512F"]
    #endif
    let cases: [(String, OpCode, Int, Int)] = [
        ("gelu_erf [257, 3072]", .geluErf, 257, 3072), ("gelu_tanh [257, 3072]", .geluTanh, 257, 3072),
        ("softmax [3084, 257]", .softmax, 12 * 257, 257),
    ]
    print("element-wise kernels, 1 thread, ns per element: median of \(rounds) interleaved rounds, each the best of \(iterations) runs")
    for (label, op, rows, cols) in cases {
        let interpreter = try Interpreter(document: oneOpDocument(op, rows: rows, cols: cols), options: RuntimeOptions(threads: 1))
        var rng = ViTProgram.Random(state: 7)
        let input = (0..<(rows * cols)).map { _ in rng.next() * (op == .softmax ? 8 : 4) }
        var times = [[Double]](repeating: [], count: best + 1)
        let clock = ContinuousClock()
        for _ in 0..<rounds {
            for level in (0...best).reversed() {
                _ = vla_kernels_force_isa(Int32(level))
                var fastest = Double.infinity
                for _ in 0..<iterations {
                    try interpreter.setFloats(0, input)
                    let start = clock.now
                    try interpreter.run(0)
                    fastest = min(fastest, seconds(clock.now - start))
                }
                times[level].append(fastest)
            }
        }
        let perElement = times.map { median($0) * 1e9 / Double(rows * cols) }
        let line = (0...best).reversed().map { "\(names[$0]) \(fmt(perElement[$0], 3))" }.joined(separator: ", ")
        print("  \(label): \(line) ns/element")
    }
}

let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "dinov2"
do {
    switch mode {
    case "dinov2": try dinov2()
    case "serve": try serve()
    case "crossover": try crossover()
    case "sha256": sha256Throughput()
    case "image": try imageContract()
    case "elementwise": try elementwise()
    case "q8": reducedPrecision(int8: true)
    case "bf16": reducedPrecision(int8: false)
    case "attention": attentionProducts()
    case "peak":
        let t = option("--threads", 1)
        print("fp32 FMA peak, \(t) thread(s), \(String(cString: vla_bench_peak_isa())): \(fmt(peak(threads: t))) GFLOP/s")
    default:
        print("usage: vlac-kernel-bench [dinov2|serve|crossover|peak|sha256|q8|bf16|attention|image|elementwise] [--threads N] [--iterations N] [--warmup N] [--peak GFLOPS] [--rows M] [--rounds N]")
    }
} catch {
    print("error: \(error)")
}
