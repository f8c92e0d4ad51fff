import Foundation
import Testing
import VLACommands

/// Replays every input the image fuzz target crashed on (`Fuzz/FailCases/FuzzPNG/`) the way
/// Fuzz/Harness/FuzzPNG.swift runs it: decode with at most 2^22 pixels; a decoded image has width × height × 3 bytes.
@Suite struct ImageFuzzReplayTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/FailCases/FuzzPNG")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    @Test func failCaseFolderExists() {
        #expect(FileManager.default.fileExists(atPath: Self.folder.path), "Fuzz/FailCases/FuzzPNG is missing")
    }

    @Test(arguments: cases)
    func replay(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
        var limits = ImageLimits()
        limits.maxPixels = 1 << 22
        guard let image = try? RGBImage(decoding: bytes, limits: limits) else { return }
        #expect(image.pixels.count == image.width * image.height * 3)
    }
}
