import Testing
import VLAFormat
@testable import VLARuntime

/// Every op against numpy (float64 references from `Tests/Reference/gen_ops_reference.py`).
@Suite struct OpTests {
    @Test func fixturesArePresent() throws {
        let fixtures = try OpFixtures.loaded.get()
        #expect(fixtures.cases.count >= 80)
        // Every op of the op set has at least one case (`call` runs a blob program: CallLinkTests).
        let covered = Set(fixtures.cases.map(\.op))
        for op in OpCode.all where op != .call { #expect(covered.contains(op.name), "no fixture for \(op.name)") }
    }

    @Test(arguments: OpFixtures.caseNames, Config.all)
    func matchesNumpy(name: String, config: Config) throws {
        let fixtures = try OpFixtures.loaded.get()
        let c = try #require(fixtures.cases.first { $0.name == name })
        let built = try OpDocument(c, fixtures, inputsInArena: config.inputsInArena)
        let interpreter = try Interpreter(
            document: built.document,
            options: RuntimeOptions(threads: config.threads, smallProductRows: config.smallProductRows))
        for (id, bytes) in built.arenaInputs {
            try interpreter.setRaw(id, bytes)
        }
        // Run twice: the second run must give the same result (no state kept between runs).
        try interpreter.run(0)
        let first = try interpreter.floats(built.output)
        try interpreter.run(0)
        let got = try interpreter.floats(built.output)
        #expect(first.elementsEqual(got, by: { $0.bitPattern == $1.bitPattern }))
        let want = fixtures.floats(c.output)
        try #require(got.count == want.count)
        var worst = 0.0, worstIndex = -1
        for i in want.indices {
            let w = Double(want[i]), g = Double(got[i])
            if w.isInfinite || w.isNaN {
                #expect(w == g || (w.isNaN && g.isNaN), "\(name)[\(i)]: got \(g), want \(w)")
                continue
            }
            let excess = abs(g - w) - (c.atol + c.rtol * abs(w))
            if !(excess <= worst) { worst = excess.isNaN ? .infinity : excess; worstIndex = i }
        }
        #expect(worst <= 0, "\(name)[\(worstIndex)]: got \(worstIndex >= 0 ? got[worstIndex] : 0), want \(worstIndex >= 0 ? want[worstIndex] : 0) (atol \(c.atol), rtol \(c.rtol))")
    }
}
