import Foundation
import Testing
@testable import VLACommands

/// PNG and PPM decoding against Pillow (Tests/Reference/gen_images_reference.py).
@Suite struct ImageDecodingTests {
    static let dir: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/Tests/Fixtures/VLACommands/images/"
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try #require(FileManager.default.contents(atPath: dir + name), "fixture \(name) missing"))
    }

    @Test(arguments: ["rgb", "rgba", "gray", "gray-alpha", "palette", "frame160"])
    func pngMatchesPillow(_ name: String) throws {
        let image = try RGBImage(decoding: try Self.bytes(name + ".png"))
        let want = try Self.bytes(name + ".rgb")
        #expect(image.pixels == want)
        #expect(image.width * image.height * 3 == want.count)
    }

    @Test func ppmMatchesTheRaster() throws {
        let image = try RGBImage(decoding: try Self.bytes("rgb.ppm"))
        #expect(image.width == 17 && image.height == 13)
        #expect(image.pixels == (try Self.bytes("rgb.rgb")))
    }

    @Test func unsupportedPNGsSayWhy() throws {
        let e1 = try #require(throws: ImageError.self) { try RGBImage(decoding: try Self.bytes("interlaced.png")) }
        #expect(e1.code == .unsupported && e1.offset == 28)
        #expect(e1.message.contains("interlaced"))
        let e2 = try #require(throws: ImageError.self) { try RGBImage(decoding: try Self.bytes("gray16.png")) }
        #expect(e2.code == .unsupported && e2.message.contains("bit depth 16"))
        let e3 = try #require(throws: ImageError.self) { try RGBImage(decoding: Array("GIF89a".utf8)) }
        #expect(e3.code == .unsupported)
    }

    @Test(arguments: ["rgb.png", "palette.png", "gray-alpha.png", "rgb.ppm"])
    func everyPrefixFailsCleanly(_ name: String) throws {
        let b = try Self.bytes(name)
        for n in 0..<b.count {
            #expect(throws: ImageError.self) { try RGBImage(decoding: Array(b[0..<n])) }
        }
    }

    @Test(arguments: ["rgb.png", "palette.png", "rgba.png", "rgb.ppm"])
    func byteMutationsNeverTrap(_ name: String) throws {
        let b = try Self.bytes(name)
        var state: UInt64 = 0x5EED
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var decoded = 0
        for _ in 0..<2000 {
            var m = b
            for _ in 0..<(1 + next() % 4) { m[next() % m.count] = UInt8(truncatingIfNeeded: next()) }
            if let img = try? RGBImage(decoding: m) {
                decoded += 1
                #expect(img.pixels.count == img.width * img.height * 3)
            }
        }
        // Mutations that only touch ancillary bytes or pixel values of the PPM still decode.
        #expect(decoded < 2000)
    }

    @Test func limitsApplyBeforeAllocation() throws {
        var limits = ImageLimits()
        limits.maxSide = 16
        let e = try #require(throws: ImageError.self) { try RGBImage(decoding: try Self.bytes("rgb.png"), limits: limits) }
        #expect(e.code == .limitExceeded)
        // A PPM header claiming a huge raster with no bytes behind it.
        let e2 = try #require(throws: ImageError.self) { try RGBImage(decoding: Array("P6 100000 100000 255\n".utf8)) }
        #expect(e2.code == .limitExceeded)
    }
}
