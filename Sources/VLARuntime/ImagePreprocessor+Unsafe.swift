import CVLAKernels
import VLAFormat

/// Loop contexts of the image passes: each parallel loop passes the address of one of these to its task
/// (see `WorkerPool.Task`).
///
/// - Warning: The pointers point into the preprocessor's arrays and the caller's frame; they are valid only
///   inside the `withUnsafe…` scopes of ``ImagePreprocessor/resize(frame:layout:)`` and must not escape them.
@unsafe private struct FrameSource {
    /// uint8 frame (with its layout) or f32 canvas (packed RGB).
    var bytes: UnsafePointer<UInt8>?
    var floats: UnsafePointer<Float>?
    var rowStride: Int
    var pixelBytes: Int
    var red: Int, green: Int, blue: Int
    var packed: Bool
}

/// One axis's ``ImagePreprocessor/AxisSpans`` as pointers (valid inside ``ImagePreprocessor/AxisSpans/withTable(_:)``).
@unsafe private struct SpanTable {
    var spanSize: Int
    var starts: UnsafePointer<Int>
    var counts: UnsafePointer<Int>
    var weights: UnsafePointer<Float>

    /// Output `i`'s first input and its taps' count.
    func span(_ i: Int) -> (start: Int, count: Int) { unsafe (starts[i], counts[i]) }
    /// Output `i`'s weight of tap `t`.
    func weight(_ i: Int, _ t: Int) -> Float { unsafe weights[i * spanSize + t] }
}

extension ImagePreprocessor.AxisSpans {
    fileprivate func withTable<R>(_ body: (SpanTable) -> R) -> R {
        unsafe starts.withUnsafeBufferPointer { starts in
            unsafe counts.withUnsafeBufferPointer { counts in
                unsafe weights.withUnsafeBufferPointer { weights in
                    unsafe body(SpanTable(spanSize: spanSize, starts: starts.baseAddress!, counts: counts.baseAddress!, weights: weights.baseAddress!))
                }
            }
        }
    }
}

@unsafe private struct RowPass {
    var source: FrameSource
    var inputWidth: Int
    var outputHeight: Int
    var spans: SpanTable
    var accumulators: UnsafeMutablePointer<Float>
    var intermediate: UnsafeMutablePointer<Float>
}

@unsafe private struct ColumnPass {
    var intermediate: UnsafePointer<Float>
    var outputHeight: Int
    var spans: SpanTable
    var resized: UnsafeMutablePointer<Float>
}

@unsafe private struct PadPass {
    var source: FrameSource
    var lowerY: UnsafePointer<Int>, upperY: UnsafePointer<Int>, lerpY: UnsafePointer<Float>
    var lowerX: UnsafePointer<Int>, upperX: UnsafePointer<Int>, lerpX: UnsafePointer<Float>
    var width: Int
    var top: Int, left: Int
    var canvas: UnsafeMutablePointer<Float>
    var canvasWidth: Int
}

@unsafe private struct FinishPass {
    var resized: UnsafePointer<Float>
    var height: Int, width: Int
    var crop: Bool
    var cropY: UnsafePointer<ImagePreprocessor.CropSample>?
    var cropX: UnsafePointer<ImagePreprocessor.CropSample>?
    var pixels: UnsafeMutablePointer<UInt8>
}

extension ImagePreprocessor {
    /// Runs `task` over `0..<n` on the session's threads (or the caller's).
    @inline(__always)
    private func loop<C>(_ n: Int, _ context: C, _ task: WorkerPool.Task) {
        var c = context
        unsafe withUnsafePointer(to: &c) { p in
            if let pool {
                unsafe pool.parallelFor(n, UnsafeRawPointer(p), task)
            } else {
                for i in 0..<n { unsafe task(UnsafeRawPointer(p), i, 0) }
            }
        }
    }

    /// The passes on a frame whose tables are planned: (pad,) rows, columns, crop and rounding.
    func resize(frame: Span<UInt8>, layout: FrameLayout) {
        unsafe frame.withUnsafeBufferPointer { bytes in
            let source = unsafe FrameSource(
                bytes: bytes.baseAddress, floats: nil, rowStride: layout.rowStride, pixelBytes: layout.pixel.bytes,
                red: layout.pixel.red, green: layout.pixel.green, blue: layout.pixel.blue, packed: layout.isPackedRGB)
            if let padSize {
                unsafe canvas.withUnsafeMutableBufferPointer { canvas in
                    unsafe padPass(source, canvas: canvas.baseAddress!, canvasWidth: padSize.width)
                }
                unsafe canvas.withUnsafeBufferPointer { canvas in
                    let floats = unsafe FrameSource(
                        bytes: nil, floats: canvas.baseAddress, rowStride: padSize.width * 3, pixelBytes: 3,
                        red: 0, green: 1, blue: 2, packed: true)
                    unsafe lanczos(floats, inputWidth: padSize.width)
                }
            } else {
                unsafe lanczos(source, inputWidth: layout.width)
            }
        }
        finish()
    }

    /// `resize_with_pad`'s bilinear resize into the canvas (whose border stays zero).
    private func padPass(_ source: FrameSource, canvas: UnsafeMutablePointer<Float>, canvasWidth: Int) {
        unsafe pad.rows.lower.withUnsafeBufferPointer { ly in
            unsafe pad.rows.upper.withUnsafeBufferPointer { uy in
                unsafe pad.rows.lerp.withUnsafeBufferPointer { ty in
                    unsafe pad.cols.lower.withUnsafeBufferPointer { lx in
                        unsafe pad.cols.upper.withUnsafeBufferPointer { ux in
                            unsafe pad.cols.lerp.withUnsafeBufferPointer { tx in
                                let job = unsafe PadPass(
                                    source: source, lowerY: ly.baseAddress!, upperY: uy.baseAddress!, lerpY: ty.baseAddress!,
                                    lowerX: lx.baseAddress!, upperX: ux.baseAddress!, lerpX: tx.baseAddress!,
                                    width: pad.resizedWidth, top: pad.top, left: pad.left, canvas: canvas, canvasWidth: canvasWidth)
                                unsafe loop(pad.resizedHeight, job) { raw, y, _ in
                                    unsafe ImagePreprocessor.padRow(raw.assumingMemoryBound(to: PadPass.self).pointee, y)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The Lanczos rows pass into ``intermediate`` (transposed), then the columns pass into ``resized``.
    private func lanczos(_ source: FrameSource, inputWidth: Int) {
        let outputHeight = height
        unsafe rows.withTable { spans in
            unsafe rowAccumulators.withUnsafeMutableBufferPointer { accumulators in
                unsafe intermediate.withUnsafeMutableBufferPointer { intermediate in
                    let job = unsafe RowPass(
                        source: source, inputWidth: inputWidth, outputHeight: outputHeight, spans: spans,
                        accumulators: accumulators.baseAddress!, intermediate: intermediate.baseAddress!)
                    unsafe loop(outputHeight, job) { raw, y, thread in
                        unsafe ImagePreprocessor.rowPass(raw.assumingMemoryBound(to: RowPass.self).pointee, y, thread)
                    }
                }
            }
        }
        unsafe cols.withTable { spans in
            unsafe intermediate.withUnsafeBufferPointer { intermediate in
                unsafe resized.withUnsafeMutableBufferPointer { resized in
                    let job = unsafe ColumnPass(
                        intermediate: intermediate.baseAddress!, outputHeight: outputHeight, spans: spans,
                        resized: resized.baseAddress!)
                    unsafe loop(width, job) { raw, x, _ in
                        unsafe ImagePreprocessor.columnPass(raw.assumingMemoryBound(to: ColumnPass.self).pointee, x)
                    }
                }
            }
        }
    }

    /// The crop (if any), rounding and clipping into ``pixels``.
    private func finish() {
        let crop = contract.crop == .central
        unsafe resized.withUnsafeBufferPointer { resized in
            unsafe cropY.withUnsafeBufferPointer { cy in
                unsafe cropX.withUnsafeBufferPointer { cx in
                    unsafe pixels.withUnsafeMutableBufferPointer { pixels in
                        let job = unsafe FinishPass(
                            resized: resized.baseAddress!, height: height, width: width, crop: crop, cropY: cy.baseAddress,
                            cropX: cx.baseAddress, pixels: pixels.baseAddress!)
                        unsafe loop(width, job) { raw, x, _ in
                            unsafe ImagePreprocessor.finishColumn(raw.assumingMemoryBound(to: FinishPass.self).pointee, x)
                        }
                    }
                }
            }
        }
    }

    /// Output row `y` of the rows pass: `acc = 0; acc += w_t · row(start + t)` for each tap in order (f32, no
    /// fused multiply-add: Swift never contracts), then stored transposed as `intermediate[x][y][c]`.
    private static func rowPass(_ job: RowPass, _ y: Int, _ thread: Int) {
        let n = unsafe job.inputWidth * 3
        let acc = unsafe job.accumulators + thread * n
        unsafe acc.update(repeating: 0, count: n)
        let (start, count) = unsafe job.spans.span(y), inputWidth = unsafe job.inputWidth
        let s = unsafe job.source
        for t in 0..<count {
            let w = unsafe job.spans.weight(y, t)
            let row = start + t
            if let floats = unsafe s.floats {
                unsafe scaleAdd(acc, floats + row * s.rowStride, w, n)
            } else if let bytes = unsafe s.bytes {
                let src = unsafe bytes + row * s.rowStride
                if unsafe s.packed {
                    // AVX-512, AVX2 or Advanced SIMD where the CPU has it, else the loop: the same floats (each element on its own).
                    if unsafe vla_scale_add_u8(acc, src, w, n) == 0 {
                        for j in 0..<n { unsafe acc[j] += w * Float(src[j]) }
                    }
                } else {
                    // The same products and sums in the same order as the packed loop, so the same floats.
                    let bpp = unsafe s.pixelBytes, r = unsafe s.red, g = unsafe s.green, b = unsafe s.blue
                    for x in 0..<inputWidth {
                        let p = unsafe src + x * bpp
                        unsafe acc[3 * x] += w * Float(p[r])
                        unsafe acc[3 * x + 1] += w * Float(p[g])
                        unsafe acc[3 * x + 2] += w * Float(p[b])
                    }
                }
            }
        }
        let h3 = unsafe job.outputHeight * 3
        let out = unsafe job.intermediate + y * 3
        for x in 0..<inputWidth {
            let o = unsafe out + x * h3
            unsafe o[0] = acc[3 * x]
            unsafe o[1] = acc[3 * x + 1]
            unsafe o[2] = acc[3 * x + 2]
        }
    }

    /// Output column `x` of the columns pass: a contiguous `[height][3]` vector of the transposed
    /// intermediate per tap, accumulated in tap order as TensorFlow's `GatherColumns` does per pixel.
    private static func columnPass(_ job: ColumnPass, _ x: Int) {
        let n = unsafe job.outputHeight * 3
        let dst = unsafe job.resized + x * n
        unsafe dst.update(repeating: 0, count: n)
        let (start, count) = unsafe job.spans.span(x)
        for t in 0..<count {
            unsafe scaleAdd(dst, job.intermediate + (start + t) * n, job.spans.weight(x, t), n)
        }
    }

    /// `acc[j] += w · src[j]` for `j < n`, a product then a sum each (AVX-512, AVX2 or Advanced SIMD where the CPU
    /// has them, else this loop: the same floats).
    private static func scaleAdd(_ acc: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ w: Float, _ n: Int) {
        if unsafe vla_scale_add_f32(acc, src, w, n) == 0 {
            for j in 0..<n { unsafe acc[j] += w * src[j] }
        }
    }

    /// Row `y` of `resize_with_pad`'s bilinear resize (TensorFlow's `compute_lerp`), into the canvas.
    private static func padRow(_ job: PadPass, _ y: Int) {
        let s = unsafe job.source
        guard let bytes = unsafe s.bytes else { return }
        let top = unsafe bytes + job.lowerY[y] * s.rowStride
        let bottom = unsafe bytes + job.upperY[y] * s.rowStride
        let ty = unsafe job.lerpY[y]
        let out = unsafe job.canvas + ((job.top + y) * job.canvasWidth + job.left) * 3
        let channels = unsafe (s.red, s.green, s.blue)
        let width = unsafe job.width
        for x in 0..<width {
            let l = unsafe job.lowerX[x] * s.pixelBytes, r = unsafe job.upperX[x] * s.pixelBytes
            let tx = unsafe job.lerpX[x]
            for c in 0..<3 {
                let k = c == 0 ? channels.0 : c == 1 ? channels.1 : channels.2
                let tl = Float(unsafe top[l + k]), tr = Float(unsafe top[r + k])
                let bl = Float(unsafe bottom[l + k]), br = Float(unsafe bottom[r + k])
                let upper = tl + (tr - tl) * tx
                let lower = bl + (br - bl) * tx
                unsafe out[x * 3 + c] = upper + (lower - upper) * ty
            }
        }
    }

    /// Column `x` of the output: the crop's bilinear samples of the (transposed) resized image, or the resized
    /// image itself, rounded and clipped. By columns, so that the reads of the transposed image are contiguous
    /// (the writes, one byte triple per row, are the smaller side).
    private static func finishColumn(_ job: FinishPass, _ x: Int) {
        let h3 = unsafe job.height * 3, height = unsafe job.height, w3 = unsafe job.width * 3
        let out = unsafe job.pixels + x * 3
        guard unsafe job.crop, let cropY = unsafe job.cropY, let cropX = unsafe job.cropX else {
            let src = unsafe job.resized + x * h3
            for y in 0..<height {
                let o = unsafe out + y * w3
                unsafe o[0] = quantize(src[3 * y])
                unsafe o[1] = quantize(src[3 * y + 1])
                unsafe o[2] = quantize(src[3 * y + 2])
            }
            return
        }
        let sx = unsafe cropX[x]
        let left = unsafe job.resized + sx.lo * h3, right = unsafe job.resized + sx.hi * h3
        for y in 0..<height {
            let sy = unsafe cropY[y]
            let o = unsafe out + y * w3
            guard sy.inside, sx.inside else {
                unsafe o[0] = 0
                unsafe o[1] = 0
                unsafe o[2] = 0
                continue
            }
            let tl = unsafe left + sy.lo * 3, tr = unsafe right + sy.lo * 3
            let bl = unsafe left + sy.hi * 3, br = unsafe right + sy.hi * 3
            for c in 0..<3 {
                let top = unsafe tl[c] + (tr[c] - tl[c]) * sx.t
                let bottom = unsafe bl[c] + (br[c] - bl[c]) * sx.t
                unsafe o[c] = quantize(top + (bottom - top) * sy.t)
            }
        }
    }

    /// Writes ``pixels`` normalized (`(x/255 − mean)/std`, from the per-value table) to `count` floats at `out`.
    func normalize(into out: UnsafeMutablePointer<Float>, count: Int) {
        let n = min(count, pixels.count) / 3 * 3
        unsafe pixels.withUnsafeBufferPointer { p in
            unsafe normalized.withUnsafeBufferPointer { table in
                var i = 0
                while i < n {
                    unsafe out[i] = table[Int(p[i])]
                    unsafe out[i + 1] = table[256 + Int(p[i + 1])]
                    unsafe out[i + 2] = table[512 + Int(p[i + 2])]
                    i += 3
                }
            }
        }
    }
}
