import Foundation
import Testing
import VLAFormat

/// Replays every input the fuzzer ever crashed on (Fuzz/FailCases/FuzzFormatReader), the way the fuzz target
/// runs it: re-sealed, verified, and if it verifies, serialized again and verified again.
@Suite struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/FailCases/FuzzFormatReader").standardized

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    @Test func failCaseFolderExists() {
        #expect(FileManager.default.fileExists(atPath: Self.folder.path), "Fuzz/FailCases/FuzzFormatReader is missing")
    }

    @Test(arguments: cases)
    func replay(name: String) throws {
        var bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
        if bytes.count >= 32 {
            bytes.replaceSubrange((bytes.count - 32)..<bytes.count, with: SHA256.hash(bytes[0..<(bytes.count - 32)]))
        }
        guard let file = try? VLAFile(bytes: bytes) else { return }
        _ = try VLAFile(bytes: VLAWriter.serialize(file.document()))
    }
}
