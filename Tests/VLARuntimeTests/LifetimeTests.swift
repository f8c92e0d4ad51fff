import Testing
import VLAFormat
@testable import VLARuntime

/// Releasing an interpreter stops and joins its worker threads.
@Suite struct LifetimeTests {
    @Test func workersEndWithTheInterpreter() throws {
        let fixtures = try OpFixtures.loaded.get()
        let c = try #require(fixtures.cases.first { $0.name == "linear_2d" })
        let document = try OpDocument(c, fixtures, inputsInArena: false).document
        weak var pool: WorkerPool?
        do {
            let interpreter = try Interpreter(document: document, options: RuntimeOptions(threads: 4))
            pool = interpreter.pool
            #expect(interpreter.threadCount == 4)
            try interpreter.run(0)
        }
        #expect(pool == nil, "the worker pool outlived its interpreter")
    }
}
