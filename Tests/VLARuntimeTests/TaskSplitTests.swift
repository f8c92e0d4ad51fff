import Testing
import VLAFormat
@testable import VLARuntime
import VLATestSupport

/// Products split into output-column tasks for the worker threads (`Planner.columnChunk`: up to eight per
/// thread). The chunks are whole blocks that cover every column, and 2, 3 and 4 threads give one thread's bits
/// (one task) for an f32 `linear`, `linear_i8` (both rules) and `linear_bf16` whose widths are not multiples of
/// the blocks, so that the last task is a partial one.
@Suite struct TaskSplitTests {
    @Test func columnChunksAreWholeBlocksUpToEightTasksPerThread() {
        // DINOv2-base's widths with two threads: 16 tasks of 48 or 192 columns (f32), 12 of 64 or 16 of 192 (int8, bf16).
        #expect(Planner.columnChunk(n: 768, block: 48, threads: 2) == 48)
        #expect(Planner.columnChunk(n: 3072, block: 48, threads: 2) == 192)
        #expect(Planner.columnChunk(n: 768, block: 64, threads: 2) == 64)
        #expect(Planner.columnChunk(n: 3072, block: 64, threads: 2) == 192)
        #expect(Planner.columnChunk(n: 191, block: 48, threads: 2) == nil)  // 3 whole blocks for 2 threads: not split by columns here
        for threads in 2...12 {
            for block in [48, 64] {
                for n in stride(from: 1, through: 6000, by: 13) {
                    guard let chunk = Planner.columnChunk(n: n, block: block, threads: threads) else {
                        #expect(n / block < 2 * threads, "n \(n) block \(block) threads \(threads)")
                        continue
                    }
                    let tasks = (n + chunk - 1) / chunk
                    #expect(chunk % block == 0 && chunk > 0 && chunk <= n, "n \(n) block \(block) threads \(threads)")
                    #expect(tasks <= 8 * threads && tasks >= threads, "n \(n) block \(block) threads \(threads): \(tasks) tasks")
                }
            }
        }
    }

    /// x [24, 40] → an f32 `linear`, a `linear_i8` and a `linear_bf16`, each 424 columns wide (8 blocks of 48 plus
    /// 40, 6 blocks of 64 plus 40).
    static func document(zeroPoint: Bool) -> VLADocument {
        let m = 24, k = 40, n = 424
        var t: [TensorEntry] = []
        var arena: UInt64 = 0
        func add(_ name: String, _ dtype: DType, _ shape: [Int], _ location: TensorLocation, scale: Int? = nil) -> Int {
            t.append(TensorEntry(name: name, type: TensorType(dtype, shape), location: location, scaleTensor: scale))
            return t.count - 1
        }
        func buffer(_ name: String, _ shape: [Int]) -> Int {
            let count: Int = shape.reduce(1, *)
            let id = add(name, .f32, shape, .arena(offset: arena))
            arena += UInt64((count * 4 + 63) / 64 * 64)
            return id
        }
        let x = buffer("x", [m, k])
        let w = add("w", .f32, [k, n], .inline(SampleDocuments.f32Bytes(SampleDocuments.floats(k * n, seed: 31))))
        let b = add("b", .f32, [n], .inline(SampleDocuments.f32Bytes(SampleDocuments.floats(n, seed: 32))))
        let scales: [Float] = (0..<n).map { (j: Int) -> Float in 0.001 * Float(1 + j % 7) }
        let scale = add("w8.scale", .f32, [n], .inline(SampleDocuments.f32Bytes(scales)))
        let int8: [UInt8] = (0..<(k * n)).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: (i * 37) % 255 - 127) }
        let w8 = add("w8", .i8, [k, n], .inline(int8), scale: scale)
        let bf16: [UInt16] = SampleDocuments.floats(k * n, seed: 33).map { (v: Float) -> UInt16 in UInt16(truncatingIfNeeded: v.bitPattern >> 16) }
        let wbf = add("wbf", .bf16, [k, n], .inline(SampleDocuments.u16Bytes(bf16)))
        let y32 = buffer("y32", [m, n]), y8 = buffer("y8", [m, n]), ybf = buffer("ybf", [m, n])
        let ops = [
            Operation(.linear, inputs: [x, w, b], outputs: [y32]),
            Operation(.linearI8, inputs: [x, w8, b], outputs: [y8], attributes: zeroPoint ? [Layout.linearI8ZeroPoint] : []),
            Operation(.linearBF16, inputs: [x, wbf, b], outputs: [ybf]),
        ]
        return VLADocument(
            isSharedBlob: true, tensors: t,
            metadata: Metadata(model: ModelIdentity(name: "sample-model", digest: SHA256.hash(Array("split".utf8))), role: "backbone"),
            programs: [Program(name: "forward", inputs: [x], outputs: [y32, y8, ybf], operations: ops)], arenaSize: arena,
            provenance: Provenance(compiler: "vlac-tests", sources: [], options: []))
    }

    @Test(arguments: [false, true])
    func moreThreadsGiveOneThreadsBits(zeroPoint: Bool) throws {
        let doc = Self.document(zeroPoint: zeroPoint)
        let x = SampleDocuments.floats(24 * 40, seed: 34).map { $0 * 3 }
        var results: [[UInt32]] = []
        for threads in 1...4 {
            let interpreter = try Interpreter(document: doc, options: RuntimeOptions(threads: threads))
            var chunks: [Int] = []
            for step in interpreter.steps[0] {
                switch step.kernel {
                case .linear(let s): chunks.append(s.byRows ? -1 : s.chunk)
                case .reducedLinear(let s): chunks.append(s.byRows ? -1 : s.chunk)
                default: Issue.record("a step that is not a product")
                }
            }
            if threads == 1 {
                #expect(chunks == [424, 424, 424])
            } else {
                // f32 (packed kernel): 9 blocks of 48, the last partial; int8 and bf16: 7 of 64 (with 4 threads,
                // 6 whole ones are too few for columnChunk, and the older rule of two tasks per thread gives 64 too).
                if Planner.packedProducts { #expect(chunks[0] == 48, "threads \(threads)") }
                #expect(chunks[1...] == [64, 64], "threads \(threads)")
            }
            try interpreter.setFloats(0, x)
            // With no test forcing another path meanwhile (paths 2 and 4 of bf16 sum in different orders).
            try KernelPaths.exclusive { try interpreter.run(0) }
            results.append(try (6...8).flatMap { try interpreter.floats($0).map(\.bitPattern) })
        }
        for threads in 2...4 { #expect(results[threads - 1] == results[0], "\(threads) threads") }
        #expect(results[0].contains { $0 != 0 })
    }
}
