import Foundation
import Synchronization
import Testing
import VLACompiler

/// A FIFO where a model folder's file is expected (a config, a tokenizer) is refused at once instead of blocking
/// the compile forever in `open` or `read` until a writer appears (issue 16).
@Suite struct FIFOTests {
    /// Runs `body`; a watchdog that finds it still running after 20 s opens `fifo` for writing, which
    /// unblocks a reader stuck on it, and the test fails instead of hanging.
    static func withoutHanging<R>(on fifo: String, _ body: () throws -> R) rethrows -> R {
        let state = Atomic<Int>(0)  // 0 running, 1 returned, 2 unblocked by the watchdog
        let watchdog = Thread {
            for _ in 0..<2000 {
                if state.load(ordering: .acquiring) == 1 { return }
                usleep(10_000)
            }
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { state.store(2, ordering: .releasing); close(fd) }
        }
        watchdog.start()
        defer { _ = state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing) }
        let result = try body()
        #expect(state.load(ordering: .acquiring) != 2, "reading \(fifo) blocked until a writer came")
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
