// The image contract as VLARuntime computed it before the TensorFlow-exact rewrite (commit fb3d831): weights in
// double precision, scalar loops over Swift arrays, one thread. Kept only so that `vlac-kernel-bench image`
// times the old and the new implementation in the same run; it is not bit-exact with TensorFlow.
#if canImport(Glibc)
import Glibc
#endif
import VLAFormat

final class LegacyImagePreprocessor {
    struct AxisWeights {
        var inputSize = 0
        var first: [Int] = []
        var count: [Int] = []
        var weights: [Float] = []
        var taps = 0
    }

    let height: Int, width: Int, crop: Bool
    var rows = AxisWeights(), cols = AxisWeights()
    var rowPass: [Float] = []
    var resized: [Float], cropped: [Float]
    var pixels: [UInt8]
    var cropY: [(lo: Int, hi: Int, t: Float, inside: Bool)] = []
    var cropX: [(lo: Int, hi: Int, t: Float, inside: Bool)] = []

    init(height: Int, width: Int, crop: Bool) {
        self.height = height
        self.width = width
        self.crop = crop
        let n = height * width * 3
        resized = [Float](repeating: 0, count: n)
        cropped = [Float](repeating: 0, count: n)
        pixels = [UInt8](repeating: 0, count: n)
        if crop {
            cropY = Self.cropSamples(size: height, area: Double(Float(0.9)))
            cropX = Self.cropSamples(size: width, area: Double(Float(0.9)))
        }
    }

    func prepare(frame: [UInt8], frameHeight: Int, frameWidth: Int) {
        if rows.inputSize != frameHeight || rowPass.count != height * frameWidth * 3 {
            rows = Self.axisWeights(input: frameHeight, output: height)
            rowPass = [Float](repeating: 0, count: height * frameWidth * 3)
        }
        if cols.inputSize != frameWidth { cols = Self.axisWeights(input: frameWidth, output: width) }
        let rowStride = frameWidth * 3
        for i in 0..<height {
            let base = i * rowStride
            for j in 0..<rowStride { rowPass[base + j] = 0 }
            let first = rows.first[i]
            for t in 0..<rows.count[i] {
                let w = rows.weights[i * rows.taps + t]
                let src = (first + t) * rowStride
                for j in 0..<rowStride { rowPass[base + j] += w * Float(frame[src + j]) }
            }
        }
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
        if crop {
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
                        let tl = resized[(y.lo * width + x.lo) * 3 + c], tr = resized[(y.lo * width + x.hi) * 3 + c]
                        let bl = resized[(y.hi * width + x.lo) * 3 + c], br = resized[(y.hi * width + x.hi) * 3 + c]
                        let top = tl + (tr - tl) * x.t
                        let bottom = bl + (br - bl) * x.t
                        cropped[dst + c] = top + (bottom - top) * y.t
                    }
                }
            }
        }
        let source = crop ? cropped : resized
        for i in 0..<pixels.count {
            let v = source[i].rounded(.toNearestOrEven)
            pixels[i] = v.isNaN ? 0 : UInt8(min(max(v, 0), 255))
        }
    }

    static func cropSamples(size: Int, area: Double) -> [(lo: Int, hi: Int, t: Float, inside: Bool)] {
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
                let x = abs(center - Double(j)) / kernelScale
                let w = x > 3 ? 0 : x <= 1e-3 ? 1 : 3 * sin(Double.pi * x) * sin(Double.pi * x / 3) / (Double.pi * Double.pi * x * x)
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
}
