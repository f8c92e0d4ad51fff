import Foundation
import Testing
import VLATokenizer

/// Replays every input the tokenizer fuzz targets crashed on (`Fuzz/FailCases/FuzzTokenizerJSON/`,
/// `Fuzz/FailCases/FuzzSentencePiece/`) the way Fuzz/Harness/FuzzTokenizerJSON.swift and FuzzSentencePiece.swift
/// run them: load, then encode a fixed mixed-script sentence.
@Suite struct FuzzReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let targets = [("FuzzTokenizerJSON", "tokenizer.json"), ("FuzzSentencePiece", "spiece.model")]

    static let cases: [String] = targets.flatMap { target, name in
        let dir = root.appendingPathComponent("Fuzz/FailCases/\(target)").path
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { !$0.hasPrefix(".") }.sorted().map { name + "|" + dir + "/" + $0 }
    }

    @Test func failCaseFoldersExist() {
        for (target, _) in Self.targets {
            let dir = Self.root.appendingPathComponent("Fuzz/FailCases/\(target)").path
            #expect(FileManager.default.fileExists(atPath: dir), "\(dir) is missing")
        }
    }

    @Test(arguments: cases)
    func replay(_ item: String) throws {
        let parts = item.split(separator: "|", maxSplits: 1).map(String.init)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: parts[1])))
        guard let tokenizer = try? Tokenizer(fileBytes: bytes, fileName: parts[0]) else { return }
        _ = try? tokenizer.encode("Pick up the red block, 2×  then place it in the bowl: déjà vu 東京 ok")
    }
}
