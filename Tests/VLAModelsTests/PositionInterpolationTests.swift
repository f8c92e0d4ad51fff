import Testing
@testable import VLAModels

/// Position-table resampling against `jax.image.scale_and_translate` and `torch.nn.functional.interpolate`
/// (Tests/Reference/gen_models_reference.py, fixture bicubic.safetensors).
@Suite struct PositionInterpolationTests {
    /// (input H, W, output H, W, channels), as in the generator.
    static let cases = [(37, 37, 16, 16, 8), (8, 8, 6, 6, 5), (8, 8, 5, 7, 3), (7, 7, 10, 12, 4), (8, 8, 8, 8, 3)]

    @Test(arguments: 0..<5) func jaxBicubicMatchesScaleAndTranslate(_ i: Int) throws {
        let f = try Fixtures.tensors("bicubic.safetensors")
        let (ih, iw, oh, ow, c) = Self.cases[i]
        #expect(try f.dims("case\(i).table_hwc") == [ih, iw, c])
        let got = PositionInterpolation.jaxBicubic.resample(try f.values("case\(i).table_hwc"), inH: ih, inW: iw, channels: c, outH: oh, outW: ow)
        let want = try f.values("case\(i).output_hwc")
        // jax computes in f32 with its own summation order: 1e-6 absolute on values of size ~1.
        #expect(maxAbsDiff(got, want) <= 1e-6)
    }

    @Test(arguments: 0..<5) func torchBicubicMatchesInterpolate(_ i: Int) throws {
        let f = try Fixtures.tensors("bicubic.safetensors")
        let (ih, iw, oh, ow, c) = Self.cases[i]
        let got = PositionInterpolation.torchBicubic.resample(try f.values("case\(i).table_hwc"), inH: ih, inW: iw, channels: c, outH: oh, outW: ow)
        // torch sums its 4×4 taps in f32 (vlac in f64): up to ~4e-6 on values of size ~3; 1e-5 allowed.
        let diff = maxAbsDiff(got, try f.values("case\(i).torch_output_hwc"))
        #expect(diff <= 1e-5, "max difference \(diff)")
    }

    @Test func theTwoModesDiffer() throws {
        // hypervla.md §4.2: the torch-style resize is off by about 0.25 on the 37 → 16 table.
        let f = try Fixtures.tensors("bicubic.safetensors")
        let t = try f.values("case0.table_hwc")
        let a = PositionInterpolation.jaxBicubic.resample(t, inH: 37, inW: 37, channels: 8, outH: 16, outW: 16)
        let b = PositionInterpolation.torchBicubic.resample(t, inH: 37, inW: 37, channels: 8, outH: 16, outW: 16)
        #expect(maxAbsDiff(a, b) > 0.05)
    }
}
