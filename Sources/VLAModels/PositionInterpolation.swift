#if canImport(Glibc)
import Glibc
#endif

/// Resampling of a ViT position-embedding grid to another patch grid, in the two ways reference code does it.
///
/// > Note: <Docs/Models.md>
public enum PositionInterpolation: Sendable, Hashable, CustomStringConvertible {
    /// `jax.image.scale_and_translate(method: "bicubic", antialias: false)` at scale `(grid + 0.1) / table`,
    /// translation 0: what transformers' Flax DINOv2 (and so HyperVLA) does, always, even when the grid
    /// equals the table. Keys cubic (a = −0.5); weights renormalized over in-range taps, no clamping.
    case jaxBicubic
    /// `torch.nn.functional.interpolate(size: grid, mode: "bicubic", align_corners: false)`: what
    /// transformers' torch DINOv2 does, skipped when the grid is square and equals the table.
    /// Cubic convolution with a = −0.75; out-of-range taps clamped to the border.
    case torchBicubic

    /// `jax` or `torch`.
    public var description: String {
        switch self {
        case .jaxBicubic: "jax"
        case .torchBicubic: "torch"
        }
    }

    /// Resamples `table` (`[inH, inW, C]`, row-major, channels last) to `[outH, outW, C]`.
    public func resample(_ table: [Float], inH: Int, inW: Int, channels: Int, outH: Int, outW: Int) -> [Float] {
        switch self {
        case .jaxBicubic:
            let sh = Float((Double(outH) + 0.1) / Double(inH))
            let sw = Float((Double(outW) + 0.1) / Double(inW))
            let wy = PositionInterpolation.jaxWeights(input: inH, output: outH, scale: sh)
            let wx = PositionInterpolation.jaxWeights(input: inW, output: outW, scale: sw)
            return PositionInterpolation.separable(table, inH, inW, channels, outH, outW, wy, wx)
        case .torchBicubic:
            if inH == outH, inW == outW, outH == outW { return table }
            let wy = PositionInterpolation.torchWeights(input: inH, output: outH)
            let wx = PositionInterpolation.torchWeights(input: inW, output: outW)
            return PositionInterpolation.separable(table, inH, inW, channels, outH, outW, wy, wx)
        }
    }

    /// A resampling matrix `[output][input]`, dense.
    typealias Weights = [[Float]]

    /// JAX's `compute_weight_mat` for the Keys cubic kernel without antialiasing, in f32 as JAX computes it.
    /// `scale` is the f32 scale; translation is 0.
    static func jaxWeights(input: Int, output: Int, scale: Float) -> Weights {
        let inv = 1 / scale
        var w = Weights(repeating: [Float](repeating: 0, count: input), count: output)
        for o in 0..<output {
            let sample = (Float(o) + 0.5) * inv - 0.5
            var row = [Float](repeating: 0, count: input)
            var sum: Float = 0
            for i in 0..<input {
                row[i] = keys(abs(sample - Float(i)))
                sum += row[i]
            }
            let inRange = sample >= -0.5 && sample <= Float(input) - 0.5
            if !inRange || abs(sum) <= 1000 * Float.ulpOfOne { continue }
            for i in 0..<input { w[o][i] = row[i] / sum }
        }
        return w
    }

    /// The Keys cubic kernel with a = −0.5, as `jax.image`'s `_keys_cubic_kernel`.
    static func keys(_ x: Float) -> Float {
        let x = abs(x)
        if x >= 2 { return 0 }
        if x >= 1 { return ((-0.5 * x + 2.5) * x - 4) * x + 2 }
        return ((1.5 * x - 2.5) * x) * x + 1
    }

    /// PyTorch's CPU bicubic (`align_corners = false`, no antialias) as a dense matrix: source
    /// `(o + 0.5)·in/out − 0.5`, four taps at `floor − 1 ... floor + 2` clamped to the border, a = −0.75.
    static func torchWeights(input: Int, output: Int) -> Weights {
        let scale = Float(input) / Float(output)
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        var w = Weights(repeating: [Float](repeating: 0, count: input), count: output)
        for o in 0..<output {
            let real = scale * (Float(o) + 0.5) - 0.5
            let base = Int(real.rounded(.down))
            let t = real - Float(base)
            let c = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            for k in 0..<4 {
                let i = min(max(base - 1 + k, 0), input - 1)
                w[o][i] += c[k]
            }
        }
        return w
    }

    /// Applies row weights then column weights to a channels-last grid.
    static func separable(
        _ x: [Float], _ inH: Int, _ inW: Int, _ c: Int, _ outH: Int, _ outW: Int, _ wy: Weights, _ wx: Weights
    ) -> [Float] {
        // Rows first: [inH, inW, C] → [outH, inW, C], accumulated in f64.
        var mid = [Double](repeating: 0, count: outH * inW * c)
        for o in 0..<outH {
            for i in 0..<inH where wy[o][i] != 0 {
                let wgt = Double(wy[o][i])
                for j in 0..<(inW * c) { mid[o * inW * c + j] += wgt * Double(x[i * inW * c + j]) }
            }
        }
        var out = [Float](repeating: 0, count: outH * outW * c)
        for o in 0..<outH {
            for q in 0..<outW {
                var acc = [Double](repeating: 0, count: c)
                for j in 0..<inW where wx[q][j] != 0 {
                    let wgt = Double(wx[q][j])
                    let base = (o * inW + j) * c
                    for ch in 0..<c { acc[ch] += wgt * mid[base + ch] }
                }
                for ch in 0..<c { out[(o * outW + q) * c + ch] = Float(acc[ch]) }
            }
        }
        return out
    }
}
