import CVLAKernels
import Testing
import VLATestSupport
import VLAFormat
@testable import VLARuntime

/// The C kernels (Sources/CVLAKernels) give the same bits on every instruction-set path: AVX-512, AVX2 + FMA
/// and portable C for the matrix product (checked against a plain Swift fma loop), and AVX-512 and AVX2 + FMA
/// against the Swift kernels for the element-wise functions and softmax. Forcing a path is process-wide, so this suite runs
/// serialized and restores the best path at the end.
@Suite(.serialized) struct KernelISATests {
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 250_000
        }
    }

    /// The contract of vla_kernels.h, written independently: acc = c or 0, then fma over p, then · scale.
    static func reference(m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], ldb: Int, c: [Float], ldc: Int, accumulate: Bool, scale: Float) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k { acc = acc.addingProduct(a[i * lda + p], b[p * ldb + j]) }  // one rounding (IEEE fma)
                out[i * ldc + j] = scale == 1 ? acc : acc * scale
            }
        }
        return out
    }

    @Test func gemmPathsAgreeBitForBit() {
        KernelPaths.exclusive {
            let best = vla_kernels_force_isa(2)
            defer { _ = vla_kernels_force_isa(2) }
            var rng = Random(state: 1)
            let shapes = [(1, 1, 1), (3, 5, 7), (8, 32, 16), (9, 33, 17), (17, 16, 200), (257, 64, 16), (6, 40, 300), (20, 47, 129), (2, 70, 0)]
            for (m, n, k) in shapes {
                let lda = k + 3, ldb = n + 5, ldc = n + 2
                let a = (0..<(m * lda)).map { _ in rng.next() }
                let b = (0..<(max(k, 1) * ldb)).map { _ in rng.next() }
                let c0 = (0..<(m * ldc)).map { _ in rng.next() }
                for (accumulate, scale) in [(false, Float(1)), (true, Float(1)), (false, Float(0.125)), (true, Float(0.3))] {
                    let want = Self.reference(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c0, ldc: ldc, accumulate: accumulate, scale: scale)
                    for isa in 0...best {
                        #expect(vla_kernels_force_isa(Int32(isa)) == isa)
                        var c = c0
                        vla_gemm(m, n, k, a, lda, b, ldb, &c, ldc, accumulate ? 1 : 0, scale)
                        let same = zip(c, want).allSatisfy { $0.bitPattern == $1.bitPattern }
                        #expect(same, "isa \(isa), \(m)×\(k)·\(k)×\(n), accumulate \(accumulate), scale \(scale)")
                    }
                }
            }
        }
    }

    /// vla_f32_gemm_packed on every path against the same contract with the bias as the start (the portable
    /// vla_gemm of a bias-filled C): m 1…20 and 257, odd k and n, column ranges starting at panels, with and
    /// without bias; nothing outside the range may change. Zeros of both signs in a and w (signed-zero sums).
    @Test func packedPathsAgreeBitForBit() {
        KernelPaths.exclusive {
            let best = vla_kernels_force_isa(2)
            defer { _ = vla_kernels_force_isa(2) }
            var rng = Random(state: 5)
            let sizes = [(0, 5), (1, 1), (7, 17), (33, 47), (16, 48), (130, 97)]
            for m in Array(1...20) + [257] {
                for (k, n) in sizes {
                    let lda = k + 2, ldy = n + 3
                    var a = (0..<(m * lda)).map { _ in rng.next() }
                    var w = (0..<(k * n)).map { _ in rng.next() }
                    for i in stride(from: 0, to: a.count, by: 7) { a[i] = i % 2 == 0 ? 0 : -0.0 }
                    for i in stride(from: 3, to: w.count, by: 11) { w[i] = -0.0 }
                    let bias = (0..<n).map { j in j % 5 == 0 ? -0.0 : rng.next() }
                    let packed = UnsafeMutableRawPointer.allocate(byteCount: vla_f32_packed_bytes(k, n), alignment: 64)
                    defer { packed.deallocate() }
                    vla_f32_pack(k, n, w, n, packed)
                    var ranges = [(0, n)]
                    if n > 16 { ranges += [(16, n), (16, min(n, 33)), (0, 16), (0, n - 1)] }
                    if n > 32 { ranges.append((32, n)) }
                    for withBias in [false, true] {
                        let c0 = (0..<(m * ldy)).map { i in withBias && i % ldy < n ? bias[i % ldy] : Float(0) }
                        let want = Self.reference(m: m, n: n, k: k, a: a, lda: lda, b: w, ldb: n, c: c0, ldc: ldy, accumulate: withBias, scale: 1)
                        for isa in 0...best {
                            #expect(vla_kernels_force_isa(Int32(isa)) == isa)
                            for (n0, n1) in ranges {
                                var y = [Float](repeating: .nan, count: m * ldy)
                                withBias ? vla_f32_gemm_packed(m, n0, n1, k, a, lda, packed, n, bias, &y, ldy)
                                    : vla_f32_gemm_packed(m, n0, n1, k, a, lda, packed, n, nil, &y, ldy)
                                var same = true
                                for i in 0..<(m * ldy) {
                                    let j = i % ldy
                                    same = same && (j >= n0 && j < n1 ? y[i].bitPattern == want[i].bitPattern : y[i].isNaN)
                                }
                                #expect(same, "isa \(isa), \(m)×\(k)·\(k)×\(n), columns \(n0)..<\(n1), bias \(withBias)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Attention's products for one to three query rows without packing (vla_f32_attn_scores_direct and
    /// vla_f32_attn_values_direct): the chains of the contract on every level, with zeros of both signs, NaN, ±∞
    /// and subnormals among the operands, keys and columns on and off the kernels' 8- and 16-wide blocks; nothing
    /// past each row's width may change.
    @Test func attentionDirectProductsMatchTheChainsBitForBit() {
        KernelPaths.exclusive {
            let best = vla_kernels_force_isa(2)
            defer { _ = vla_kernels_force_isa(2) }
            var rng = Random(state: 11)
            let specials: [Float] = [0, -0.0, .nan, .infinity, -.infinity, 1e-40, -3e-39]
            for tq in 1...3 {
                for tk in [1, 7, 8, 9, 31, 257] {
                    for d in [1, 7, 8, 16, 17, 64] {
                        let ldq = d + 3, ldk = d + 5, lds = tk + 2, ldy = d + 1
                        var q = (0..<(tq * ldq)).map { _ in rng.next() }
                        var k = (0..<(tk * ldk)).map { _ in rng.next() }
                        var p = (0..<(tq * lds)).map { _ in abs(rng.next()) }
                        for (n, x) in specials.enumerated() {
                            k[(n * 13) % k.count] = x
                            p[(n * 5) % p.count] = x
                            if tk > 3 { q[(n * 7) % q.count] = n < 2 ? x : q[(n * 7) % q.count] }
                        }
                        var kt = [Float](repeating: 0, count: d * tk)  // kᵀ [d, tk]: the reference's b
                        for j in 0..<tk { for c in 0..<d { kt[c * tk + j] = k[j * ldk + c] } }
                        let wantS = Self.reference(
                            m: tq, n: tk, k: d, a: q, lda: ldq, b: kt, ldb: tk,
                            c: [Float](repeating: 0, count: tq * lds), ldc: lds, accumulate: false, scale: 1)
                        let wantY = Self.reference(
                            m: tq, n: d, k: tk, a: p, lda: lds, b: k, ldb: ldk,
                            c: [Float](repeating: 0, count: tq * ldy), ldc: ldy, accumulate: false, scale: 1)
                        for isa in 0...best {
                            #expect(vla_kernels_force_isa(Int32(isa)) == isa)
                            var s = [Float](repeating: .nan, count: tq * lds)
                            vla_f32_attn_scores_direct(tq, tk, d, q, ldq, k, ldk, &s, lds)
                            var y = [Float](repeating: .nan, count: tq * ldy)
                            vla_f32_attn_values_direct(tq, tk, d, p, lds, k, ldk, &y, ldy)
                            let sameS = (0..<s.count).allSatisfy { i in
                                i % lds < tk ? s[i].bitPattern == wantS[i].bitPattern : s[i].isNaN
                            }
                            let sameY = (0..<y.count).allSatisfy { i in
                                i % ldy < d ? y[i].bitPattern == wantY[i].bitPattern : y[i].isNaN
                            }
                            #expect(sameS, "scores: isa \(isa), tq \(tq), tk \(tk), d \(d)")
                            #expect(sameY, "values: isa \(isa), tq \(tq), tk \(tk), dv \(d)")
                        }
                    }
                }
            }
        }
    }

    /// Attention's keys packed from their rows (vla_f32_pack_transposed) hold the bytes vla_f32_pack writes for
    /// the transposed matrix, padding included, on every level (AVX2 moves 8 × 8 blocks through registers).
    @Test func transposedPackingEqualsPackingTheTranspose() {
        KernelPaths.exclusive {
            let best = vla_kernels_force_isa(2)
            defer { _ = vla_kernels_force_isa(2) }
            var rng = Random(state: 21)
            for (k, n) in [(1, 1), (7, 5), (8, 16), (9, 17), (16, 257), (64, 257), (17, 40)] {
                let ldwt = k + 3
                let wt = (0..<(n * ldwt)).map { _ in rng.next() }  // [n, k]: row j holds w[·, j]
                var w = [Float](repeating: 0, count: k * n)
                for j in 0..<n { for p in 0..<k { w[p * n + j] = wt[j * ldwt + p] } }
                let bytes = vla_f32_packed_bytes(k, n)
                let want = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                let got = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                defer { want.deallocate(); got.deallocate() }
                vla_f32_pack(k, n, w, n, want)
                for isa in 0...best {
                    #expect(vla_kernels_force_isa(Int32(isa)) == isa)
                    got.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
                    vla_f32_pack_transposed(k, n, wt, ldwt, got)
                    let same = UnsafeRawBufferPointer(start: want, count: bytes).elementsEqual(UnsafeRawBufferPointer(start: got, count: bytes))
                    #expect(same, "isa \(isa), k \(k), n \(n)")
                }
            }
        }
    }

    @Test func transposeIsExact() {
        var rng = Random(state: 2)
        let rows = 19, cols = 13, lds = 17, ldd = 23
        let src = (0..<(rows * lds)).map { _ in rng.next() }
        var dst = [Float](repeating: .nan, count: cols * ldd)
        vla_transpose(rows, cols, src, lds, &dst, ldd)
        for i in 0..<rows { for j in 0..<cols { #expect(dst[j * ldd + i] == src[i * lds + j]) } }
    }

    /// Inputs that reach every branch: tiny, around the series/formula switches, large, ±0, ±∞, NaN, tails.
    static func sweep() -> [Float] {
        var xs: [Float] = [0, -0, .infinity, -.infinity, .nan, 0.4, -0.4, 0.6, -0.6, 9.1, -9.1, 88.7, -87.4, 1e-30, -1e-30, 3e38, -3e38]
        var x: Float = -30
        while x <= 30 { xs.append(x); x += 0.0137 }
        var rng = Random(state: 3)
        for _ in 0..<2000 { xs.append(rng.next() * 3) }
        xs.append(contentsOf: [1, 2, 3])  // a tail that is not a multiple of 16
        return xs
    }

    /// The image contract's accumulation (vla_scale_add_u8 / _f32 on AVX-512, the Swift loop otherwise) gives
    /// TensorFlow's bytes on both paths, for the uint8 frame (direct resize) and the f32 canvas (rtx pad).
    @Test(arguments: ["480x640-noise-crop", "300x200-noise-rtx-crop", "7x9-pattern-rtx"])
    func imageContractSameBytesOnEveryPath(_ name: String) throws {
        try KernelPaths.exclusive {
            defer { _ = vla_kernels_force_isa(2) }
            let c = try #require(RuntimeFixtures.preprocessCases.first { $0.name == name })
            let frame = try #require(RuntimeFixtures.preprocessFrame(c))
            for isa in [2, 1, 0] {
                _ = vla_kernels_force_isa(Int32(isa))
                let p = ImagePreprocessor(contract: ImageContract(
                    height: 224, width: 224, resize: c.pad ? .padLanczos3Antialias : .lanczos3Antialias, crop: c.crop ? .central : .none,
                    cropArea: c.crop ? 0.9 : 0))
                try p.prepare(frame: frame.span, frameHeight: c.height, frameWidth: c.width)
                #expect(hexString(SHA256.hash(p.pixels)) == c.sha256, "\(name), isa \(isa)")
            }
        }
    }

    /// The element-wise functions and softmax on every C path this CPU has (AVX-512 at level 2, AVX2 + FMA at
    /// level 1; Advanced SIMD on aarch64) against the Swift kernels (level 0), bit for bit; NaN against NaN.
    @Test(arguments: [2, 1])
    func elementwiseMatchesSwiftKernelsBitForBit(level: Int) {
        KernelPaths.exclusive {
            defer { _ = vla_kernels_force_isa(2) }
            guard vla_kernels_force_isa(Int32(level)) == level else { return }  // this CPU lacks the path
            var xs = Self.sweep()
            // erf's interval switches (|x|·0.70710677 near k/2 + 1/4 for GELU; near k/2 + 1/4 and 4 for erf itself).
            for k in 0..<9 {
                for d: Float in [-2e-7, 0, 2e-7] { xs += [Float(k) / 2 + 0.25 + d, -(Float(k) / 2 + 0.25 + d), (Float(k) / 2 + 0.25 + d) * 1.414_213_5] }
            }
            for f in [Unary.geluTanh, .geluErf, .tanh, .scaledTanh(bound: 1.7)] {
                var fast = [Float](repeating: 0, count: xs.count), slow = fast
                _ = vla_kernels_force_isa(Int32(level))
                Kernels.unary(f, xs, &fast, from: 0, to: xs.count)
                _ = vla_kernels_force_isa(0)
                Kernels.unary(f, xs, &slow, from: 0, to: xs.count)
                let bad = zip(fast, slow).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern && !($0.element.0.isNaN && $0.element.1.isNaN) }
                #expect(bad == nil, "level \(level), \(f): x = \(bad.map { xs[$0.offset] } ?? 0): \(bad.map { "\($0.element)" } ?? "")")
                // vla_unary_rows: the same function on a block of rows in place (row stride past the columns).
                for cols in [1, 7, 8, 9, 16, 33] {
                    let rows = 3, ld = cols + 5
                    let block = (0..<(rows * ld)).map { xs[$0 % xs.count] }
                    var y = block
                    _ = vla_kernels_force_isa(Int32(level))
                    #expect(vla_unary_rows(Kernels.unaryKind(f).0, Kernels.unaryKind(f).1, &y, ld, rows, cols) == 1)
                    var want = block
                    _ = vla_kernels_force_isa(0)
                    for r in 0..<rows { want.withUnsafeMutableBufferPointer { p in Kernels.unary(f, p.baseAddress! + r * ld, p.baseAddress! + r * ld, from: 0, to: cols) } }
                    #expect(zip(y, want).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "level \(level), rows of \(f), cols \(cols)")
                }
            }
            // Spreads of ±40 and ±120 around the max: exp's results down to its clamp at −87.34 (subnormal products).
            for (n, spread) in [1, 5, 8, 9, 16, 17, 24, 64, 257, 1000].map({ ($0, Float(10)) }) + [(257, 30), (1000, 30), (1000, 10.5)] {
                var rng = Random(state: UInt64(n) &+ UInt64(spread))
                let row = (0..<n).map { _ in rng.next() * spread }
                var fast = [Float](repeating: 0, count: n), slow = fast
                _ = vla_kernels_force_isa(Int32(level))
                Kernels.softmaxRow(row, &fast, n: n)
                _ = vla_kernels_force_isa(0)
                Kernels.softmaxRow(row, &slow, n: n)
                #expect(zip(fast, slow).allSatisfy { $0.bitPattern == $1.bitPattern }, "level \(level), softmax n = \(n), spread \(spread)")
            }
        }
    }

    /// vla_norm_rows (LayerNorm and RMS norm) against the Swift loop, bit for bit, on every level this CPU has:
    /// row lengths around the 16-lane blocks, 1 to 7 rows (the rows side by side in fours, then one by one) with
    /// row strides past d, with and without β, rows far from zero mean (cancellation) and with a large spread.
    @Test func normRowMatchesTheSwiftLoopBitForBit() {
        KernelPaths.exclusive {
            let best = vla_kernels_isa()
            defer { _ = vla_kernels_force_isa(best) }
            var x: [Float] = [1, 2, 3], y = [Float](repeating: 0, count: 3), g: [Float] = [1, 1, 1]
            _ = vla_kernels_force_isa(0)
            #expect(vla_norm_rows(x, 3, g, nil, &y, 3, 1, 3, 1e-6, 1) == 0 && y == [0, 0, 0], "level 0 must decline")
            #if !arch(x86_64)
            // aarch64 has no C path: the Swift kernel runs, and vla_norm_rows declines on every level.
            _ = vla_kernels_force_isa(best)
            #expect(vla_norm_rows(x, 3, g, nil, &y, 3, 1, 3, 1e-6, 1) == 0 && y == [0, 0, 0], "aarch64 must decline")
            return
            #endif
            for level in 1...max(1, Int(vla_kernels_supported_isa())) where vla_kernels_supported_isa() >= 1 {
                for (d, rows) in [(1, 1), (7, 5), (8, 4), (9, 1), (15, 6), (16, 4), (17, 7), (31, 2), (33, 5), (64, 4), (100, 3), (384, 5), (768, 7), (771, 4)] {
                    for (offset, spread) in [(Float(0), Float(1)), (1000, 0.01), (-3, 300)] {
                        var rng = Random(state: UInt64(d * 131 + level) &+ UInt64(spread * 10))
                        let ldx = d + 3, ldy = d + 1
                        x = (0..<(rows * ldx)).map { _ in offset + rng.next() * spread }
                        g = (0..<d).map { _ in 1 + rng.next() * 0.5 }
                        let b = (0..<d).map { _ in rng.next() }
                        for (center, beta) in [(true, Optional(b)), (true, nil), (false, nil)] {
                            var fast = [Float](repeating: .nan, count: rows * ldy), slow = fast
                            _ = vla_kernels_force_isa(Int32(level))
                            let done = QuantKernelTests.withOptional(beta) {
                                vla_norm_rows(x, ldx, g, $0, &fast, ldy, rows, d, 1e-6, center ? 1 : 0)
                            }
                            #expect(done == 1)
                            for r in 0..<rows {
                                x.withUnsafeBufferPointer { xp in
                                    slow.withUnsafeMutableBufferPointer { yp in
                                        QuantKernelTests.withOptional(beta) {
                                            Kernels.normRow(xp.baseAddress! + r * ldx, g, $0, yp.baseAddress! + r * ldy, d: d, eps: 1e-6, center: center)
                                        }
                                    }
                                }
                            }
                            #expect(zip(fast, slow).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) },
                                    "level \(level), d \(d), rows \(rows), offset \(offset), spread \(spread), center \(center), β \(beta != nil)")
                        }
                    }
                }
            }
        }
    }

    /// vla_attention_row (scale, bias, mask and softmax in one pass) against the attention step's Swift loop:
    /// the same operations one after another, with the Swift softmax. Without a fast path it does nothing.
    @Test(arguments: [2, 1])
    func attentionRowMatchesTheSwiftStepsBitForBit(level: Int) {
        KernelPaths.exclusive {
            defer { _ = vla_kernels_force_isa(2) }
            var row: [Float] = [1, 2, 3]
            _ = vla_kernels_force_isa(0)
            #expect(vla_attention_row(&row, 3, 0.5, nil, nil) == 0)
            #expect(row == [1, 2, 3])
            guard vla_kernels_force_isa(Int32(level)) == level else { return }
            for n in [1, 5, 8, 9, 16, 17, 64, 257, 1000] {
                for variant in 0..<6 {
                    var rng = Random(state: UInt64(n * 10 + variant))
                    let x = (0..<n).map { _ in rng.next() * 10 }
                    let scale: Float = variant % 2 == 0 ? 0.125 : 1
                    let bias: [Float]? = variant >= 2 ? (0..<n).map { _ in rng.next() } : nil
                    // A masked row, a partly masked one (every third element) and none.
                    let mask: [UInt8]? = variant >= 4 ? (0..<n).map { variant == 4 ? 0 : UInt8($0 % 3 == 0 ? 0 : 1 + $0 % 2) } : nil
                    var want = x
                    for j in 0..<n {
                        if scale != 1 { want[j] = want[j] * scale }
                        if let bias { want[j] = want[j] + bias[j] }
                        if let mask, mask[j] == 0 { want[j] = -Float.greatestFiniteMagnitude }
                    }
                    _ = vla_kernels_force_isa(0)
                    let prepared = want
                    Kernels.softmaxRow(prepared, &want, n: n)
                    _ = vla_kernels_force_isa(Int32(level))
                    var got = x
                    let done = bias.withOptionalPointer { b in mask.withOptionalPointer { m in vla_attention_row(&got, n, scale, b, m) } }
                    #expect(done == 1)
                    #expect(zip(got, want).allSatisfy { $0.bitPattern == $1.bitPattern }, "level \(level), attention row n = \(n), variant \(variant)")
                }
            }
        }
    }

    /// vla_attention_rows (four rows side by side on AVX-512) against vla_attention_row on each row, which the
    /// test above holds to the Swift steps: row counts around the groups of four, row strides past n, bias and
    /// mask rows of their own strides (a mask stride of 0 repeats one mask row), and rows holding NaN, ±∞ or
    /// nothing unmasked. Without a fast path it does nothing.
    @Test(arguments: [2, 1])
    func attentionRowsMatchTheRowByRowKernelBitForBit(level: Int) {
        KernelPaths.exclusive {
            defer { _ = vla_kernels_force_isa(2) }
            var untouched: [Float] = [1, 2, 3, 4, 5, 6]
            _ = vla_kernels_force_isa(0)
            #expect(vla_attention_rows(&untouched, 3, 2, 3, 0.5, nil, 0, nil, 0) == 0)
            #expect(untouched == [1, 2, 3, 4, 5, 6])
            guard vla_kernels_force_isa(Int32(level)) == level else { return }
            for n in [1, 7, 9, 16, 17, 25, 257, 1000] {
                for rows in [1, 3, 4, 5, 9] {
                    for variant in 0..<4 {
                        var rng = Random(state: UInt64(n * 100 + rows * 10 + variant))
                        let ldx = n + variant, ldbias = n + 2 * variant, ldmask = variant == 3 ? 0 : n + variant
                        var x = (0..<rows * ldx).map { _ in rng.next() * 10 }
                        if variant == 2, n > 2 {  // a NaN and +∞ at unmasked scores of the first row, −∞ in the last
                            x[1] = .nan
                            x[2] = .infinity
                            x[ldx * (rows - 1) + 1] = -.infinity
                        }
                        let scale: Float = variant % 2 == 0 ? 0.125 : 1
                        let bias: [Float]? = variant >= 1 ? (0..<rows * ldbias).map { _ in rng.next() } : nil
                        // Variant 2: every third score masked, and all of row 1; variant 3: one shared mask row. Unmasked
                        // bytes are 1, 2 and 255 (any nonzero byte keeps the score).
                        let mask: [UInt8]? =
                            variant >= 2
                            ? (0..<max(rows * ldmask, n)).map { i in
                                variant == 2 && i / max(ldmask, 1) == 1 ? 0 : [0, 1, 2, 0, 255, 1][i % 6]
                            }
                            : nil
                        var want = x
                        for r in 0..<rows {
                            let done = want.withUnsafeMutableBufferPointer { w in
                                bias.withOptionalPointer { b in
                                    mask.withOptionalPointer { m in
                                        vla_attention_row(w.baseAddress! + r * ldx, n, scale, b.map { $0 + r * ldbias }, m.map { $0 + r * ldmask })
                                    }
                                }
                            }
                            #expect(done == 1)
                        }
                        var got = x
                        let done = bias.withOptionalPointer { b in
                            mask.withOptionalPointer { m in vla_attention_rows(&got, ldx, rows, n, scale, b, ldbias, m, ldmask) }
                        }
                        #expect(done == 1)
                        #expect(zip(got, want).allSatisfy { $0.bitPattern == $1.bitPattern }, "level \(level), n \(n), rows \(rows), variant \(variant)")
                    }
                }
            }
        }
    }
}

/// OpenBLAS is only trusted with products when its run-time kernel family has FMA kernels (x86), or (aarch64) is
/// not one whose instruction count was estimated above the own kernels'. The decision follows the CPU's best
/// path (`vla_kernels_supported_isa`), never the one `KernelISATests` forces meanwhile.
@Suite struct OpenBLASCoreTests {
    @Test func coreNameDecidesWhetherOpenBLASIsUsed() {
        let core = Gemm.openBLASCore
        #expect(!core.isEmpty)
        if vla_kernels_supported_isa() == 0 {
            #expect(Gemm.openBLASIsFast)
        } else {
            #if arch(arm64)
            #expect(Gemm.openBLASIsFast == !["armv8", "neoversen1", "cortexa72", "cortexa53"].contains(core), "core \(core)")
            #expect(Planner.packedProducts == !Gemm.openBLASIsFast, "core \(core)")
            #else
            #expect(Gemm.openBLASIsFast == ["haswell", "skylakex", "cooperlake", "sapphirerapids", "zen"].contains(core), "core \(core)")
            #expect(Planner.packedProducts)
            #endif
        }
    }
}

extension Optional {
    /// The array's element pointer, or nil (for C's optional pointer arguments).
    func withOptionalPointer<T, R>(_ body: (UnsafePointer<T>?) -> R) -> R where Wrapped == [T] {
        switch self {
        case .some(let a): a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: body(nil)
        }
    }
}
