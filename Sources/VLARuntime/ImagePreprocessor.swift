import VLAFormat

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Turns a uint8 RGB camera frame into the `step` program's input, as a file's image contract says.
///
/// The steps (Schemas/vla-format.md §7, hypervla.md §4.1):
/// 1. resize to height × width with TensorFlow's `resize(method: lanczos3, antialias: true)`, defined as
///    `jax.image.scale_and_translate` defines it: for each axis separately (rows first, then columns), output
///    sample `i` sits at input coordinate `(i + 0.5) / scale − 0.5`, the lanczos3 kernel is stretched by
///    `max(1 / scale, 1)` when shrinking, weights are divided by their sum, and samples whose centre falls
///    outside `[−0.5, n − 0.5]` are 0;
/// 2. optionally a central square crop of area `cropArea` with TensorFlow's `crop_and_resize` bilinear
///    formula, back to height × width, on the float image (no rounding in between);
/// 3. round half to even, clip to 0...255;
/// 4. `(x / 255 − mean) / std` per channel, written channels-last.
///
/// Weight tables are built once per input frame size and cached, so repeated frames of one size allocate
/// nothing. Not `Sendable`: it owns mutable scratch buffers (one per session).
public final class ImagePreprocessor {
    /// The contract it applies.
    public let contract: ImageContract
    /// Output height and width.
    public let height: Int, width: Int

    /// One axis of a separable resize: for each output index, taps `first ..< first + count` of the input.
    struct AxisWeights {
        var inputSize = 0
        var first: [Int] = []
        var count: [Int] = []
        /// `taps` weights per output index (zero-padded).
        var weights: [Float] = []
        var taps = 0
    }

    var rows = AxisWeights()
    var cols = AxisWeights()
    /// `[height][inputWidth][3]` after the row pass.
    var rowPass: [Float] = []
    /// `[height][width][3]` after both passes (float, before rounding).
    var resized: [Float]
    /// `[height][width][3]` after the crop (float).
    var cropped: [Float]
    /// The uint8 frame after rounding: what the network saw (for tests and `vlac run`).
    public private(set) var pixels: [UInt8]
    /// Crop sample positions (precomputed from the contract).
    var cropY: [(lo: Int, hi: Int, t: Float, inside: Bool)] = []
    var cropX: [(lo: Int, hi: Int, t: Float, inside: Bool)] = []

    /// Creates a preprocessor for a contract whose height and width are in 1...16384.
    public init(contract: ImageContract) {
        self.contract = contract
        height = Int(contract.height)
        width = Int(contract.width)
        let n = height * width * 3
        resized = [Float](repeating: 0, count: n)
        cropped = contract.crop == .central ? [Float](repeating: 0, count: n) : []
        pixels = [UInt8](repeating: 0, count: n)
        if contract.crop == .central {
            cropY = ImagePreprocessor.cropSamples(size: height, area: Double(contract.cropArea))
            cropX = ImagePreprocessor.cropSamples(size: width, area: Double(contract.cropArea))
        }
    }

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
    /// - Throws: `.invalidInput` when the buffer is smaller than the layout needs, or the contract has no
    ///   resize and the frame is not height × width.
    /// - Complexity: O(output pixels × taps); allocates only when the frame size differs from the last one.
    public func prepare(frame: Span<UInt8>, layout: FrameLayout) throws(RuntimeError) {
        try layout.check(byteCount: frame.count)
        let frameHeight = layout.height, frameWidth = layout.width
        let packed = layout.isPackedRGB
        let stride = layout.rowStride, bpp = layout.pixel.bytes
        let r = layout.pixel.red, g = layout.pixel.green, b = layout.pixel.blue
        if contract.resize == .none {
            guard frameHeight == height, frameWidth == width else {
                throw RuntimeError(
                    .invalidInput,
                    "frame is \(frameHeight)×\(frameWidth), the policy takes \(height)×\(width) frames and does not resize (resize method none)")
            }
            for y in 0..<height {
                for x in 0..<width {
                    let src = y * stride + x * bpp, dst = (y * width + x) * 3
                    pixels[dst] = frame[src + r]
                    pixels[dst + 1] = frame[src + g]
                    pixels[dst + 2] = frame[src + b]
                }
            }
            return
        }
        if rows.inputSize != frameHeight || rowPass.count != height * frameWidth * 3 {
            rows = ImagePreprocessor.axisWeights(input: frameHeight, output: height)
            rowPass = [Float](repeating: 0, count: height * frameWidth * 3)
        }
        if cols.inputSize != frameWidth {
            cols = ImagePreprocessor.axisWeights(input: frameWidth, output: width)
        }
        // Rows: rowPass[i][x][c] = Σ_t w(i, t) · frame[first(i) + t][x][c].
        let rowStride = frameWidth * 3
        for i in 0..<height {
            let base = i * rowStride
            for j in 0..<rowStride { rowPass[base + j] = 0 }
            let first = rows.first[i]
            for t in 0..<rows.count[i] {
                let w = rows.weights[i * rows.taps + t]
                if packed {
                    let src = (first + t) * rowStride
                    for j in 0..<rowStride { rowPass[base + j] += w * Float(frame[src + j]) }
                } else {
                    // The same products and sums in the same order as the packed loop, so the same floats.
                    let src = (first + t) * stride
                    for x in 0..<frameWidth {
                        let p = src + x * bpp, q = base + x * 3
                        rowPass[q] += w * Float(frame[p + r])
                        rowPass[q + 1] += w * Float(frame[p + g])
                        rowPass[q + 2] += w * Float(frame[p + b])
                    }
                }
            }
        }
        // Columns.
        for i in 0..<height {
            for o in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                let first = cols.first[o]
                for t in 0..<cols.count[o] {
                    let w = cols.weights[o * cols.taps + t]
                    let src = (i * frameWidth + first + t) * 3
                    r += w * rowPass[src]
                    g += w * rowPass[src + 1]
                    b += w * rowPass[src + 2]
                }
                let dst = (i * width + o) * 3
                resized[dst] = r
                resized[dst + 1] = g
                resized[dst + 2] = b
            }
        }
        if contract.crop == .central {
            cropAndResize()
            quantize(cropped)
        } else {
            quantize(resized)
        }
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
        let m0 = contract.mean[0], m1 = contract.mean[1], m2 = contract.mean[2]
        let s0 = contract.std[0], s1 = contract.std[1], s2 = contract.std[2]
        var i = 0
        while i + 2 < pixels.count, i + 2 < out.count {
            out[i] = (Float(pixels[i]) / 255 - m0) / s0
            out[i + 1] = (Float(pixels[i + 1]) / 255 - m1) / s1
            out[i + 2] = (Float(pixels[i + 2]) / 255 - m2) / s2
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

    /// Round half to even and clip to 0...255 (TensorFlow `round` then `clip_by_value` then `cast`).
    func quantize(_ source: [Float]) {
        for i in 0..<pixels.count {
            let v = source[i].rounded(.toNearestOrEven)
            pixels[i] = v.isNaN ? 0 : UInt8(min(max(v, 0), 255))
        }
    }

    /// TensorFlow `crop_and_resize` of the central box, bilinear, extrapolation value 0.
    func cropAndResize() {
        for i in 0..<height {
            let y = cropY[i]
            for j in 0..<width {
                let x = cropX[j]
                let dst = (i * width + j) * 3
                guard y.inside, x.inside else {
                    cropped[dst] = 0; cropped[dst + 1] = 0; cropped[dst + 2] = 0
                    continue
                }
                for c in 0..<3 {
                    let tl = resized[(y.lo * width + x.lo) * 3 + c]
                    let tr = resized[(y.lo * width + x.hi) * 3 + c]
                    let bl = resized[(y.hi * width + x.lo) * 3 + c]
                    let br = resized[(y.hi * width + x.hi) * 3 + c]
                    let top = tl + (tr - tl) * x.t
                    let bottom = bl + (br - bl) * x.t
                    cropped[dst + c] = top + (bottom - top) * y.t
                }
            }
        }
    }

    /// Sample positions of `crop_and_resize` with box `[off, off + s]` (s = √area) on an axis of `size`
    /// pixels, cropped back to `size`: `in = off·(size−1) + i·s·(size−1)/(size−1)`.
    static func cropSamples(size: Int, area: Double) -> [(lo: Int, hi: Int, t: Float, inside: Bool)] {
        // The box is computed in double precision and stored as f32, as Python code handing it to TF does.
        let s = area.squareRoot()
        let off = (1 - s) / 2
        let y1 = Float(off), y2 = Float(off + s)
        let scale: Float = size > 1 ? (y2 - y1) * Float(size - 1) / Float(size - 1) : 0
        var out: [(lo: Int, hi: Int, t: Float, inside: Bool)] = []
        for i in 0..<size {
            let v: Float = size > 1 ? y1 * Float(size - 1) + Float(i) * scale : 0.5 * (y1 + y2) * Float(size - 1)
            if v < 0 || v > Float(size - 1) {
                out.append((0, 0, 0, false))
                continue
            }
            let lo = Int(v.rounded(.down)), hi = Int(v.rounded(.up))
            out.append((lo, hi, v - Float(lo), true))
        }
        return out
    }

    /// The lanczos3 weights of one axis, as `jax.image.scale_and_translate(method: "lanczos3", antialias: true)`
    /// computes them (in double precision, then stored as f32).
    static func axisWeights(input: Int, output: Int) -> AxisWeights {
        let scale = Double(output) / Double(input)
        let inv = 1 / scale
        let kernelScale = max(inv, 1)
        let radius = 3 * kernelScale
        var firsts: [Int] = [], counts: [Int] = []
        var rowsOfWeights: [[Double]] = []
        for i in 0..<output {
            let center = (Double(i) + 0.5) * inv - 0.5
            guard center >= -0.5, center <= Double(input) - 0.5 else {
                firsts.append(0); counts.append(0); rowsOfWeights.append([])
                continue
            }
            let lo = max(0, Int((center - radius).rounded(.down)))
            let hi = min(input - 1, Int((center + radius).rounded(.up)))
            var ws: [Double] = []
            var sum = 0.0
            for j in lo...max(lo, hi) where j <= hi {
                let w = lanczos3(abs(center - Double(j)) / kernelScale)
                ws.append(w)
                sum += w
            }
            if abs(sum) > 1000 * Double(Float.ulpOfOne) {
                for k in ws.indices { ws[k] /= sum }
            } else {
                for k in ws.indices { ws[k] = 0 }
            }
            firsts.append(lo); counts.append(ws.count); rowsOfWeights.append(ws)
        }
        let taps = counts.max() ?? 0
        var flat = [Float](repeating: 0, count: taps * output)
        for i in 0..<output {
            for (k, w) in rowsOfWeights[i].enumerated() { flat[i * taps + k] = Float(w) }
        }
        return AxisWeights(inputSize: input, first: firsts, count: counts, weights: flat, taps: taps)
    }

    /// `sinc(x)·sinc(x/3)` for |x| < 3 (1 near 0, 0 beyond 3), as JAX writes it.
    static func lanczos3(_ x: Double) -> Double {
        if x > 3 { return 0 }
        if x <= 1e-3 { return 1 }
        return 3 * sin(Double.pi * x) * sin(Double.pi * x / 3) / (Double.pi * Double.pi * x * x)
    }
}
