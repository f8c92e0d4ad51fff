import Foundation
import Testing
import VLACompiler
import VLATestSupport

/// A FIFO where a model folder's file is expected (a config, a tokenizer) is refused at once instead of blocking
/// the compile forever in `open` or `read` until a writer appears (issue 16).
@Suite struct FIFOTests {
    /// Runs `body` under ``FIFOWatchdog``: a reader stuck on `fifo` is unblocked after 20 s and the test fails.
    static func withoutHanging<R>(on fifo: String, _ body: () throws -> R) rethrows -> R {
        let (result, blocked) = try FIFOWatchdog.run(on: fifo, body)
        #expect(!blocked, "reading \(fifo) blocked until a writer came")
        return result
    }

    @Test(arguments: ["model/config.json", "text-encoder/tokenizer.json", "vision-encoder/config.json"])
    func fifoInAModelFolderIsRefused(_ file: String) throws {
        let dir = try Paths.copyOfTiny("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/" + file
        try FileManager.default.removeItem(atPath: fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = try Self.withoutHanging(on: fifo) {
            try #require(throws: CompileError.self) { _ = try Compiler(model: dir + "/model") }
        }
        #expect("\(error)".contains("\(file) is a FIFO, where a regular file is expected"), "\(error)")
    }
}
