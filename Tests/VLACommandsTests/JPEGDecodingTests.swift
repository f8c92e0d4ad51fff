import Foundation
import Testing
@testable import VLACommands
import VLAFormat
import VLARuntime

/// JPEG frames through libjpeg-turbo (Tests/Reference/gen_jpeg_fixtures.py made the fixtures and the rasters
/// libjpeg-turbo decodes from them), and hostile JPEG bytes: errors, never a trap.
@Suite struct JPEGDecodingTests {
    static func bytes(_ name: String) throws -> [UInt8] { try ImageDecodingTests.bytes(name) }

    static var sample: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/Examples/frames/coffee.jpg"
    }

    /// The sample frame as vlac decodes it is the frame Pillow decodes, and the image contract on it (with and
    /// without rtx pad and crop) is TensorFlow's `_resize_image` output, every byte
    /// (Tests/Reference/gen_preprocess_reference.py).
    @Test func sampleFrameThroughTheImageContractIsTensorFlows() throws {
        struct Case: Decodable { var name, frame, sha256: String; var crop, pad: Bool; var frameSHA256: String? }
        struct Index: Decodable { var cases: [Case] }
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let indexPath = parts.joined(separator: "/") + "/Tests/Fixtures/VLARuntime/preprocess/index.json"
        let index = try JSONDecoder().decode(Index.self, from: try #require(FileManager.default.contents(atPath: indexPath)))
        let cases = index.cases.filter { $0.frame == "coffee" }
        try #require(cases.count == 4)
        let data = try #require(FileManager.default.contents(atPath: Self.sample))
        let image = try RGBImage(decoding: [UInt8](data))
        #expect(hexString(SHA256.hash(image.pixels)) == cases[0].frameSHA256, "the decoded frame differs from Pillow's")
        for c in cases {
            let p = ImagePreprocessor(contract: ImageContract(
                height: 224, width: 224, resize: c.pad ? .padLanczos3Antialias : .lanczos3Antialias, crop: c.crop ? .central : .none,
                cropArea: c.crop ? 0.9 : 0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
            try p.prepare(frame: image.pixels.span, frameHeight: image.height, frameWidth: image.width)
            #expect(hexString(SHA256.hash(p.pixels)) == c.sha256, "\(c.name)")
        }
    }

    /// Bit for bit what libjpeg-turbo decoded at generation, and within the JPEG's own loss of the source raster
    /// (a swapped channel or a wrong row pitch is far outside it).
    @Test(arguments: [("frame160-q95.jpg", "frame160.rgb", 160, 160, 4.0), ("rgb-progressive.jpg", "rgb.rgb", 17, 13, 10.0),
                      ("gray.jpg", "gray.rgb", 17, 13, 0.2)])
    func decodesLikeLibjpegTurbo(_ name: String, _ source: String, _ width: Int, _ height: Int, _ meanError: Double) throws {
        let image = try RGBImage(decoding: try Self.bytes(name))
        #expect(image.width == width && image.height == height)
        #expect(image.pixels == (try Self.bytes(name + ".rgb")))
        let original = try Self.bytes(source)
        let error = zip(image.pixels, original).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        #expect(Double(error) / Double(original.count) <= meanError)
    }

    @Test func theSampleFrameDecodes() throws {
        let image = try RGBImage(decoding: [UInt8](try #require(FileManager.default.contents(atPath: Self.sample))))
        #expect(image.width == 320 && image.height == 256)
        /// The mean of each channel over rows y0..<y1 and columns x0..<x1.
        func mean(_ y0: Int, _ y1: Int, _ x0: Int, _ x1: Int) -> [Double] {
            var sum = [0.0, 0.0, 0.0]
            for y in y0..<y1 { for x in x0..<x1 { for c in 0..<3 { sum[c] += Double(image.pixels[(y * 320 + x) * 3 + c]) } } }
            return sum.map { $0 / Double((y1 - y0) * (x1 - x0)) }
        }
        // The dark wood in the top-left corner; the coffee in the cup, brown (red over green over blue).
        #expect(mean(0, 30, 0, 30).allSatisfy { $0 < 60 })
        let coffee = mean(108, 148, 140, 180)
        #expect(coffee[0] > 150 && coffee[0] > coffee[1] + 30 && coffee[1] > coffee[2] + 20, "\(coffee)")
    }

    @Test func cmykIsUnsupportedWithAMessage() throws {
        let error = try #require(throws: ImageError.self) { try RGBImage(decoding: try Self.bytes("cmyk.jpg")) }
        #expect(error.code == .unsupported && error.message.contains("CMYK"))
    }

    /// Every prefix (a frame cut off in transfer) is an error: libjpeg's "premature end" warning is fatal here.
    @Test(arguments: ["rgb-progressive.jpg", "gray.jpg", "frame160-q95.jpg"])
    func everyPrefixFailsCleanly(_ name: String) throws {
        let b = try Self.bytes(name)
        let stride = max(1, b.count / 600)
        for n in Swift.stride(from: 0, to: b.count - 1, by: stride) {
            #expect(throws: ImageError.self) { try RGBImage(decoding: Array(b[0..<n])) }
        }
        let truncated = try #require(throws: ImageError.self) { try RGBImage(decoding: Array(b[0..<(b.count * 2 / 3)])) }
        #expect(truncated.code == .truncated && truncated.message.hasPrefix("jpeg: "), "\(truncated)")
    }

    @Test(arguments: ["rgb-progressive.jpg", "gray.jpg"])
    func byteMutationsNeverTrap(_ name: String) throws {
        let b = try Self.bytes(name)
        var state: UInt64 = 0x1DEA
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var failed = 0
        for _ in 0..<1500 {
            var m = b
            for _ in 0..<(1 + next() % 4) { m[3 + next() % (m.count - 3)] = UInt8(truncatingIfNeeded: next()) }
            do {
                let image = try RGBImage(decoding: m)
                #expect(image.pixels.count == image.width * image.height * 3)
            } catch {
                failed += 1
            }
        }
        // Flips in the entropy-coded data may still decode; flips in markers and tables do not.
        #expect(failed > 0 && failed < 1500)
    }

    @Test func limitsApplyBeforeAllocation() throws {
        var limits = ImageLimits()
        limits.maxSide = 100
        let e = try #require(throws: ImageError.self) { try RGBImage(decoding: try Self.bytes("frame160-q95.jpg"), limits: limits) }
        #expect(e.code == .limitExceeded && e.message.contains("160×160"))
        // A header claiming 65000 × 65000 pixels (SOF0 patched) with no data behind it.
        var b = try Self.bytes("gray.jpg")
        let sof = try #require((0..<(b.count - 9)).first { b[$0] == 0xFF && b[$0 + 1] == 0xC0 })
        b[sof + 5] = 0xFD; b[sof + 6] = 0xE8; b[sof + 7] = 0xFD; b[sof + 8] = 0xE8
        let e2 = try #require(throws: ImageError.self) { try RGBImage(decoding: b) }
        #expect(e2.code == .limitExceeded && e2.message.contains("65000×65000"), "\(e2)")
    }

    @Test func notAnImageListsTheFormats() throws {
        let e = try #require(throws: ImageError.self) { try RGBImage(decoding: Array("GIF89a....".utf8)) }
        #expect(e.code == .unsupported)
        #expect(e.message.contains("PNG") && e.message.contains("JPEG") && e.message.contains("PPM"))
    }
}
