import Testing
import VLAFormat
@testable import VLARuntime
import Foundation

/// The image contract against TensorFlow running the released `_resize_image` (resize_with_pad for rtx,
/// resize lanczos3 antialias, crop_and_resize, round, clip, uint8): every output byte equal (fixtures from
/// Tests/Reference/gen_preprocess_reference.py, tensorflow-cpu 2.21.0).
@Suite struct PreprocessTests {
    static func contract(crop: Bool, pad: Bool) -> ImageContract {
        ImageContract(
            height: 224, width: 224, resize: pad ? .padLanczos3Antialias : .lanczos3Antialias, crop: crop ? .central : .none,
            cropArea: crop ? 0.9 : 0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    @Test(arguments: RuntimeFixtures.preprocessCases.filter { $0.frame != "coffee" })
    func bitExactWithTensorFlow(_ c: RuntimeFixtures.PreprocessCase) throws {
        let p = ImagePreprocessor(contract: Self.contract(crop: c.crop, pad: c.pad))
        let frame = try #require(RuntimeFixtures.preprocessFrame(c))
        try p.prepare(frame: frame.span, frameHeight: c.height, frameWidth: c.width)
        if let file = c.file {
            let expected = try [UInt8](Data(contentsOf: RuntimeFixtures.root.appendingPathComponent("preprocess/\(file)")))
            let differ = zip(p.pixels, expected).filter { $0 != $1 }.count
            #expect(differ == 0, "\(c.name): \(differ) of \(expected.count) bytes differ from TensorFlow")
        }
        #expect(p.pixels.reduce(0) { $0 + Int($1) } == c.sum, "\(c.name): byte sum")
        #expect(hexString(SHA256.hash(p.pixels)) == c.sha256, "\(c.name): SHA-256 of the 224×224×3 output")
    }

    /// The same frame twice, then another size and back: the cached tables give the same bytes.
    @Test func cachedTablesAreReused() throws {
        let cases = RuntimeFixtures.preprocessCases.filter { $0.frame == "noise" && ($0.height == 480 || $0.height == 120) && $0.crop && !$0.pad }
        try #require(cases.count == 2)
        let p = ImagePreprocessor(contract: Self.contract(crop: true, pad: false))
        for c in cases + cases + cases.reversed() {
            let frame = try #require(RuntimeFixtures.preprocessFrame(c))
            try p.prepare(frame: frame.span, frameHeight: c.height, frameWidth: c.width)
            #expect(hexString(SHA256.hash(p.pixels)) == c.sha256, "\(c.name)")
        }
    }

    /// Rounding and clipping as TensorFlow's round (half to even), clip_by_value(0, 255), cast(uint8).
    @Test func quantizeRoundsHalfToEvenThenClips() {
        let cases: [(Float, UInt8)] = [
            (-0.5, 0), (0.5, 0), (1.5, 2), (2.5, 2), (0.49999997, 0), (0.50000006, 1), (127.49999, 127), (254.5, 254),
            (255.49998, 255), (255.5, 255), (300, 255), (-3, 0), (-1e30, 0), (1e30, 255), (.nan, 0), (.infinity, 255),
        ]
        for (v, want) in cases { #expect(ImagePreprocessor.quantize(v) == want, "\(v)") }
        for k in 0...2550 {
            let v = Float(k) / 10 - 0.05
            #expect(ImagePreprocessor.quantize(v) == UInt8(min(max(v.rounded(.toNearestOrEven), 0), 255)), "\(v)")
        }
    }

    /// `resize_with_pad` geometry for the SimplerEnv cameras: 480×640 → 240×320 at row 8; 512×640 fills the canvas.
    @Test func padGeometry() {
        let bridge = ImagePreprocessor.padPlan(frameHeight: 480, frameWidth: 640, targetHeight: 256, targetWidth: 320)
        #expect(bridge.resizedHeight == 240 && bridge.resizedWidth == 320 && bridge.top == 8 && bridge.left == 0)
        let google = ImagePreprocessor.padPlan(frameHeight: 512, frameWidth: 640, targetHeight: 256, targetWidth: 320)
        #expect(google.resizedHeight == 256 && google.resizedWidth == 320 && google.top == 0 && google.left == 0)
    }

    /// A frame so thin that resize_with_pad would make it zero rows is refused, not resized to garbage.
    @Test func padRefusesAFrameItWouldResizeToNothing() {
        let p = ImagePreprocessor(contract: Self.contract(crop: false, pad: true))
        let frame = [UInt8](repeating: 9, count: 1 * 2000 * 3)
        let e = #expect(throws: RuntimeError.self) { try p.prepare(frame: frame.span, frameHeight: 1, frameWidth: 2000) }
        #expect(e?.code == .invalidInput)
        #expect(e?.message.contains("resize_with_pad") == true)
    }

    /// Every frame layout (BGR, RGBA, BGRA, padded rows) and the worker threads give the packed frame's bytes.
    @Test(arguments: [false, true])
    func layoutsAndThreadsGiveTheSameBytes(_ pad: Bool) throws {
        let c = try #require(RuntimeFixtures.preprocessCases.first { $0.name == (pad ? "300x200-noise-rtx-crop" : "300x200-noise-crop") })
        let rgb = try #require(RuntimeFixtures.preprocessFrame(c))
        for (pixel, order) in [(FrameLayout.Pixel.bgr, [2, 1, 0, -1]), (.rgba, [0, 1, 2, 3]), (.bgra, [2, 1, 0, 3])] {
            let bpp = order.count == 4 && order[3] >= 0 ? 4 : 3
            let stride = c.width * bpp + 5
            var bytes = [UInt8](repeating: 77, count: stride * c.height)
            for y in 0..<c.height {
                for x in 0..<c.width {
                    for k in 0..<3 { bytes[y * stride + x * bpp + order[k]] = rgb[(y * c.width + x) * 3 + k] }
                }
            }
            let layout = try FrameLayout(height: c.height, width: c.width, rowStride: stride, pixel: pixel)
            for threads in [1, 3] {
                let p = ImagePreprocessor(contract: Self.contract(crop: true, pad: pad), pool: WorkerPool(threadCount: threads))
                try p.prepare(frame: bytes.span, layout: layout)
                #expect(hexString(SHA256.hash(p.pixels)) == c.sha256, "\(pixel) with \(threads) threads")
            }
        }
    }

    @Test func normalizationIsImageNet() throws {
        let p = ImagePreprocessor(contract: ImageContract(height: 2, width: 1, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
        let frame: [UInt8] = [0, 128, 255, 10, 20, 30]
        try p.prepare(frame: frame.span, frameHeight: 2, frameWidth: 1)
        var out = [Float](repeating: 0, count: 6)
        var span = out.mutableSpan
        p.normalize(into: &span)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        for i in 0..<6 {
            let want = (Double(frame[i]) / 255 - Double(mean[i % 3])) / Double(std[i % 3])
            #expect(abs(Double(out[i]) - want) < 1e-5)
        }
    }

    @Test(arguments: [(0, 5), (5, 0), (16385, 2), (4, 4)])
    func badFrameSizes(_ size: (Int, Int)) {
        let p = ImagePreprocessor(contract: ImageContract(height: 224, width: 224, resize: .lanczos3Antialias))
        let frame = [UInt8](repeating: 7, count: 10)
        #expect(throws: RuntimeError.self) { try p.prepare(frame: frame.span, frameHeight: size.0, frameWidth: size.1) }
    }

    @Test func noResizeNeedsExactSize() throws {
        let p = ImagePreprocessor(contract: ImageContract(height: 2, width: 2))
        let frame = [UInt8](repeating: 7, count: 3 * 3 * 3)
        let e = #expect(throws: RuntimeError.self) { try p.prepare(frame: frame.span, frameHeight: 3, frameWidth: 3) }
        #expect(e?.code == .invalidInput)
        #expect(e?.message.contains("3×3") == true)
    }
}
