import VLAFormat

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Turns a uint8 RGB camera frame into the `step` program's input, as a file's image contract says, bit for
/// bit as TensorFlow computes it in the released HyperVLA evaluation (`InferenceWrapper._resize_image`).
///
/// The steps (Schemas/vla-format.md §7, hypervla.md §4.1, Docs/Runtime.md "Image contract"):
/// 0. resize `pad_lanczos3_antialias` only (`image_aug_style: "rtx"`): TensorFlow's
///    `resize_with_pad(frame, 256, 320)`: a bilinear resize (half-pixel centres, no antialias) that keeps the
///    aspect ratio, placed in a zero 256 × 320 float canvas;
/// 1. resize to height × width with TensorFlow's `resize(method: lanczos3, antialias: true)`, that is the
///    `ScaleAndTranslate` kernel: per axis, weights computed in f32 exactly as TensorFlow computes them
///    (sample `(i + 0.5) · (1 / scale)`, kernel stretched by `max(1 / scale, 1)`, f32 `sinf`, weights times
///    the reciprocal of their f32 sum), rows first into an f32 intermediate, then columns; every output is
///    `0 + w₀·x₀ + w₁·x₁ + …` in tap order, in f32, without fused multiply-adds;
/// 2. optionally a central square crop of area `cropArea` with TensorFlow's `crop_and_resize` bilinear
///    formula, back to height × width, on the float image (no rounding in between); the box is
///    `(1 − √area) / 2 …` in double precision from the decimal area, stored as f32, as the released code does;
/// 3. round half to even, clip to 0...255;
/// 4. `(x / 255 − mean) / std` per channel, written channels-last.
///
/// Weight tables and scratch images are built once per input frame size, so a stream of frames of one size
/// allocates nothing after its first frame. In a ``PolicySession`` the passes run on the session's worker
/// threads. Not `Sendable`: it owns mutable scratch buffers (one per session).
public final class ImagePreprocessor {
    /// The contract it applies.
    public let contract: ImageContract
    /// Output height and width.
    public let height: Int, width: Int
    /// The `resize_with_pad` canvas of `pad_lanczos3_antialias` (256 × 320), nil for the other methods.
    public let padSize: (height: Int, width: Int)?
    /// The session's worker threads (nil: the caller's thread only).
    let pool: WorkerPool?

    /// One axis of TensorFlow's `ScaleAndTranslate`: output `i` reads inputs `starts[i] ..< starts[i] + counts[i]`
    /// with `weights[i · spanSize ..< i · spanSize + counts[i]]` (trailing weights of a span may be zero).
    struct AxisSpans: Equatable {
        var inputSize = 0
        var spanSize = 0
        var starts: [Int] = []
        var counts: [Int] = []
        var weights: [Float] = []
    }

    /// One axis of TensorFlow's `ResizeBilinear` with half-pixel centres.
    struct BilinearAxis: Equatable {
        var lower: [Int] = []
        var upper: [Int] = []
        var lerp: [Float] = []
    }

    /// `resize_with_pad`'s bilinear resize of the frame and where it lands in the canvas.
    struct PadPlan: Equatable {
        var resizedHeight = 0, resizedWidth = 0
        var top = 0, left = 0
        var rows = BilinearAxis(), cols = BilinearAxis()
    }

    /// One sample of `crop_and_resize` along an axis.
    struct CropSample: Equatable {
        var lo: Int, hi: Int, t: Float, inside: Bool
    }

    /// The frame size the tables below were built for.
    var frameHeight = 0, frameWidth = 0
    var rows = AxisSpans()
    var cols = AxisSpans()
    var pad = PadPlan()
    /// rtx: the padded float frame, `padHeight × padWidth × 3` (zero outside the resized frame).
    var canvas: [Float] = []
    /// Per thread, one row of the Lanczos input (`inputWidth × 3`) being accumulated.
    var rowAccumulators: [Float] = []
    /// After the row pass, transposed: `[inputWidth][height][3]`.
    var intermediate: [Float] = []
    /// After both passes, transposed: `[width][height][3]` (float, before the crop and rounding).
    var resized: [Float]
    /// The uint8 frame after rounding: what the network saw (for tests and `vlac run`).
    public internal(set) var pixels: [UInt8]
    /// `(v / 255 − mean[c]) / std[c]` for every byte value `v` and channel `c` (index `c · 256 + v`).
    let normalized: [Float]
    /// Crop sample positions (precomputed from the contract).
    let cropY: [CropSample]
    let cropX: [CropSample]

    /// Creates a preprocessor for a contract whose height and width are in 1...16384; it runs on the caller's
    /// thread.
    public convenience init(contract: ImageContract) {
        self.init(contract: contract, pool: nil)
    }

    /// Creates a preprocessor that runs its passes on `threads` threads (the caller's and `threads − 1`
    /// workers of its own), with the same bytes as on one thread.
    public convenience init(contract: ImageContract, threads: Int) {
        self.init(contract: contract, pool: threads > 1 ? WorkerPool(threadCount: threads) : nil)
    }

    init(contract: ImageContract, pool: WorkerPool?) {
        self.contract = contract
        self.pool = pool
        height = Int(contract.height)
        width = Int(contract.width)
        padSize = contract.resize == .padLanczos3Antialias ? (ImageContract.rtxPadHeight, ImageContract.rtxPadWidth) : nil
        let n = height * width * 3
        resized = [Float](repeating: 0, count: n)
        pixels = [UInt8](repeating: 0, count: n)
        var table = [Float](repeating: 0, count: 768)
        for c in 0..<3 {
            let m = contract.mean.count == 3 ? contract.mean[c] : 0
            let s = contract.std.count == 3 ? contract.std[c] : 1
            for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - m) / s }
        }
        normalized = table
        if contract.crop == .central {
            // The released code computes the box from the decimal 0.9 in double precision; the contract stores
            // the area as f32, whose shortest decimal form is that decimal.
            let area = Double(String(describing: contract.cropArea)) ?? Double(contract.cropArea)
            cropY = ImagePreprocessor.cropSamples(size: height, area: area)
            cropX = ImagePreprocessor.cropSamples(size: width, area: area)
        } else {
            cropY = []
            cropX = []
        }
    }

    /// Threads the passes may use.
    var threadCount: Int { pool?.threadCount ?? 1 }

    /// Resizes (and crops, rounds and clips) a frame into ``pixels``.
    ///
    /// - Parameters:
    ///   - frame: `frameHeight × frameWidth × 3` bytes, row-major, RGB.
    /// - Throws: `.invalidInput` when the byte count is not `frameHeight · frameWidth · 3`, a size is outside
    ///   1...16384, or the contract has no resize and the frame is not height × width.
    /// - Complexity: O(output pixels × taps); allocates only when the frame size differs from the last one.
    public func prepare(frame: Span<UInt8>, frameHeight: Int, frameWidth: Int) throws(RuntimeError) {
        try checkFrame(count: frame.count, frameHeight: frameHeight, frameWidth: frameWidth)
        try prepare(frame: frame, layout: FrameLayout(height: frameHeight, width: frameWidth))
    }

    /// Resizes (and crops, rounds and clips) a frame of any ``FrameLayout`` into ``pixels``: the same values
    /// as for a packed RGB copy of the frame, bit for bit.
    ///
    /// - Parameters:
    ///   - frame: at least `layout.minimumByteCount` bytes (bytes after them are not read).
    /// - Throws: `.invalidInput` when the buffer is smaller than the layout needs, the contract has no
    ///   resize and the frame is not height × width, or (`pad_lanczos3_antialias`) the frame is so thin that
    ///   `resize_with_pad` would resize it to zero rows or columns.
    /// - Complexity: O(output pixels × taps); allocates only when the frame size differs from the last one.
    public func prepare(frame: Span<UInt8>, layout: FrameLayout) throws(RuntimeError) {
        try layout.check(byteCount: frame.count)
        if contract.resize == .none {
            guard layout.height == height, layout.width == width else {
                throw RuntimeError(
                    .invalidInput,
                    "frame is \(layout.height)×\(layout.width), the policy takes \(height)×\(width) frames and does not resize (resize method none)")
            }
            copyPixels(frame: frame, layout: layout)
            return
        }
        if layout.height != frameHeight || layout.width != frameWidth || intermediate.isEmpty {
            try plan(frameHeight: layout.height, frameWidth: layout.width)
        }
        resize(frame: frame, layout: layout)
    }

    /// Builds the weight tables and scratch images for frames of one size.
    func plan(frameHeight h: Int, frameWidth w: Int) throws(RuntimeError) {
        var inputHeight = h, inputWidth = w
        if let padSize {
            let p = ImagePreprocessor.padPlan(frameHeight: h, frameWidth: w, targetHeight: padSize.height, targetWidth: padSize.width)
            guard p.resizedHeight > 0, p.resizedWidth > 0 else {
                throw RuntimeError(
                    .invalidInput,
                    "frame is \(h)×\(w): resize_with_pad to \(padSize.height)×\(padSize.width) would resize it to \(p.resizedHeight)×\(p.resizedWidth) (image_aug_style rtx needs an aspect ratio that keeps a row and a column)")
            }
            pad = p
            canvas = [Float](repeating: 0, count: padSize.height * padSize.width * 3)
            inputHeight = padSize.height
            inputWidth = padSize.width
        }
        rows = ImagePreprocessor.axisSpans(input: inputHeight, output: height)
        cols = ImagePreprocessor.axisSpans(input: inputWidth, output: width)
        rowAccumulators = [Float](repeating: 0, count: threadCount * inputWidth * 3)
        intermediate = [Float](repeating: 0, count: inputWidth * height * 3)
        frameHeight = h
        frameWidth = w
    }

    /// Uses an already preprocessed uint8 frame (height × width × 3, after resize, crop and rounding).
    /// - Throws: `.invalidInput` when the byte count is not height · width · 3.
    public func use(pixels frame: Span<UInt8>) throws(RuntimeError) {
        guard frame.count == pixels.count else {
            throw RuntimeError(
                .invalidInput, "preprocessed frame has \(frame.count) bytes, expected \(height)×\(width)×3 = \(pixels.count)")
        }
        for i in 0..<pixels.count { pixels[i] = frame[i] }
    }

    /// Writes ``pixels`` normalized (`(x/255 − mean)/std`) into `out`, which has height · width · 3 floats.
    public func normalize(into out: inout MutableSpan<Float>) {
        var i = 0
        while i + 2 < pixels.count, i + 2 < out.count {
            out[i] = normalized[Int(pixels[i])]
            out[i + 1] = normalized[256 + Int(pixels[i + 1])]
            out[i + 2] = normalized[512 + Int(pixels[i + 2])]
            i += 3
        }
    }

    func checkFrame(count: Int, frameHeight: Int, frameWidth: Int) throws(RuntimeError) {
        guard (1...16384).contains(frameHeight), (1...16384).contains(frameWidth) else {
            throw RuntimeError(.invalidInput, "frame size \(frameHeight)×\(frameWidth) is outside 1...16384 per side")
        }
        let expected = frameHeight * frameWidth * 3
        guard count == expected else {
            throw RuntimeError(
                .invalidInput,
                "frame has \(count) bytes, a \(frameHeight)×\(frameWidth) RGB frame has \(expected) (height × width × 3, uint8)")
        }
    }

    /// Copies a frame of the contract's size into ``pixels`` (resize method none).
    func copyPixels(frame: Span<UInt8>, layout: FrameLayout) {
        let stride = layout.rowStride, bpp = layout.pixel.bytes
        let r = layout.pixel.red, g = layout.pixel.green, b = layout.pixel.blue
        for y in 0..<height {
            for x in 0..<width {
                let src = y * stride + x * bpp, dst = (y * width + x) * 3
                pixels[dst] = frame[src + r]
                pixels[dst + 1] = frame[src + g]
                pixels[dst + 2] = frame[src + b]
            }
        }
    }

    /// Round half to even and clip to 0...255 (TensorFlow `round`, `clip_by_value`, `cast(uint8)`).
    ///
    /// The value is first clamped to −1...256 (rounding then clipping gives the same byte), then rounded by
    /// adding and subtracting 1.5·2²³: the sum lies where f32's spacing is 1, so the addition rounds to an
    /// integer, half to even, and the subtraction is exact. That avoids a call to the C library's `roundevenf`
    /// on x86-64 builds without SSE4.1; `PreprocessTests` checks the bytes against TensorFlow's.
    @inline(__always)
    static func quantize(_ v: Float) -> UInt8 {
        if v.isNaN { return 0 }
        let clamped = min(max(v, -1), 256)
        let r = (clamped + 12_582_912) - 12_582_912
        return UInt8(min(max(r, 0), 255))
    }

    /// Sample positions of `crop_and_resize` with box `[off, off + s]` (s = √area, both in double precision,
    /// then f32) on an axis of `size` pixels, cropped back to `size`, in TensorFlow's f32 formula:
    /// `scale = (y2 − y1)·(size − 1)/(size − 1)`, `in = y1·(size − 1) + i·scale`.
    static func cropSamples(size: Int, area: Double) -> [CropSample] {
        let s = area.squareRoot()
        let off = (1 - s) / 2
        let y1 = Float(off), y2 = Float(off + s)
        let scale: Float = size > 1 ? (y2 - y1) * Float(size - 1) / Float(size - 1) : 0
        var out: [CropSample] = []
        for i in 0..<size {
            // crop size 1: TensorFlow computes 0.5·(y1 + y2)·(size − 1) in double precision.
            let v: Float = size > 1 ? y1 * Float(size - 1) + Float(i) * scale : Float(0.5 * Double(y1 + y2) * Double(size - 1))
            if v < 0 || v > Float(size - 1) {
                out.append(CropSample(lo: 0, hi: 0, t: 0, inside: false))
                continue
            }
            let lo = Int(v.rounded(.down)), hi = Int(v.rounded(.up))
            out.append(CropSample(lo: lo, hi: hi, t: v - Float(lo), inside: true))
        }
        return out
    }

    /// The spans of one axis as TensorFlow's `ScaleAndTranslate` computes them for `resize(lanczos3,
    /// antialias=True)` (scale = f32 output / f32 input, translation 0), every step in f32.
    static func axisSpans(input: Int, output: Int) -> AxisSpans {
        let radius: Float = 3
        let scale = Float(output) / Float(input)
        let inverse = Float(1.0 / Double(scale))
        let inverseTranslate = -inverse * 0
        let kernelScale = max(inverse, 1)
        let spanSize = min(2 * Int((radius * kernelScale).rounded(.up)) + 1, input)
        let oneOverKernelScale = 1 / kernelScale
        var spans = AxisSpans(
            inputSize: input, spanSize: spanSize, starts: [Int](repeating: 0, count: output),
            counts: [Int](repeating: 0, count: output), weights: [Float](repeating: 0, count: spanSize * output))
        var temp: [Float] = []
        for x in 0..<output {
            let sample = (Float(x) + 0.5) * inverse + inverseTranslate
            // The real span (as GatherRows and GatherColumns read it) also covers empty spans: zero weights.
            spans.counts[x] = min(spanSize, input)
            if sample < 0 || sample > Float(input) { continue }
            var start = Int((sample - radius * kernelScale - 0.5).rounded(.up))
            var end = Int((sample + radius * kernelScale - 0.5).rounded(.down))
            start = min(max(start, 0), input - 1)
            end = min(max(end, 0), input - 1) + 1
            var total: Float = 0
            temp.removeAll(keepingCapacity: true)
            for source in start..<end {
                let position = Float(source) + 0.5 - sample
                let weight = lanczos3(abs(position * oneOverKernelScale))
                total += weight
                temp.append(weight)
            }
            if abs(total) >= 1000 * Float.leastNormalMagnitude {
                let reciprocal = 1 / total
                for (k, weight) in temp.enumerated() { spans.weights[x * spanSize + k] = weight * reciprocal }
            }
            spans.starts[x] = start
            spans.counts[x] = min(start + spanSize, input) - start
        }
        return spans
    }

    /// TensorFlow's Lanczos-3 kernel in f32: `3·sin(πx)·sin(πx/3) / (π·π·x·x)`, 1 for x ≤ 1e-3, 0 beyond 3
    /// (π is `3.14159265359` rounded to f32; `sinf` is the C library's, as TensorFlow's `std::sin(float)`).
    static func lanczos3(_ value: Float) -> Float {
        let pi = Float(3.14159265359 as Double)
        let radius: Float = 3
        let x = abs(value)
        if x > radius { return 0 }
        if Double(x) <= 1e-3 { return 1 }
        return radius * sinf(pi * x) * sinf(pi * x / radius) / (pi * pi * x * x)
    }

    /// TensorFlow's `resize_with_pad(frame, targetHeight, targetWidth)` geometry (f32): the ratio
    /// `max(w / W, h / H)`, the resized size `floor(h / ratio) × floor(w / ratio)`, the offsets
    /// `floor((H − h / ratio) / 2)`, and the bilinear axes (half-pixel centres) of the resize.
    static func padPlan(frameHeight: Int, frameWidth: Int, targetHeight: Int, targetWidth: Int) -> PadPlan {
        let fh = Float(frameHeight), fw = Float(frameWidth)
        let th = Float(targetHeight), tw = Float(targetWidth)
        let ratio = max(fw / tw, fh / th)
        let rh = fh / ratio, rw = fw / ratio
        var p = PadPlan()
        p.resizedHeight = Int(rh.rounded(.down))
        p.resizedWidth = Int(rw.rounded(.down))
        p.top = max(0, Int(((th - rh) / 2).rounded(.down)))
        p.left = max(0, Int(((tw - rw) / 2).rounded(.down)))
        p.rows = bilinearAxis(input: frameHeight, output: p.resizedHeight)
        p.cols = bilinearAxis(input: frameWidth, output: p.resizedWidth)
        return p
    }

    /// `ResizeBilinear` (half-pixel centres) along one axis: `in = (i + 0.5)·(input / output) − 0.5`.
    static func bilinearAxis(input: Int, output: Int) -> BilinearAxis {
        var a = BilinearAxis()
        guard output > 0 else { return a }
        let scale = Float(input) / Float(output)
        for i in 0..<output {
            let position = (Float(i) + 0.5) * scale - 0.5
            let floor = position.rounded(.down)
            a.lower.append(max(Int(floor), 0))
            a.upper.append(min(Int(position.rounded(.up)), input - 1))
            a.lerp.append(position - floor)
        }
        return a
    }
}
