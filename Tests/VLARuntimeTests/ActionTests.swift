import Testing
import VLAFormat
import VLARuntime

/// The action contract against numpy + transforms3d + SimplerEnv's ensembler and gripper conventions.
@Suite struct ActionTests {
    static var cases: [RuntimeFixtures.ActionCase] { RuntimeFixtures.actions?.cases ?? [] }

    @Test func fixturesLoad() throws {
        let a = try #require(RuntimeFixtures.actions, "Tests/Fixtures/VLARuntime/actions.json is missing: run make reference")
        #expect(a.cases.count == 5)
    }

    @Test(arguments: cases)
    func episode(_ c: RuntimeFixtures.ActionCase) throws {
        let robot: RobotMapping = ["google_robot": .googleRobot, "widowx_bridge": .widowxBridge, "libero": .libero][c.robot] ?? .none
        let contract = ActionContract(
            actionDim: 7, horizon: 4, squashedDims: 6, squashBound: 5, gripper: .logitThreshold, gripperDim: 6,
            normalization: .meanStd, mean: c.mean, std: c.std, mask: c.mask,
            ensembling: c.ensembling == "uniform" ? .uniform : .none, ensembleWindow: UInt32(c.window),
            rotation: .eulerToAxisAngle, robot: robot)
        let p = try ActionProcessor(contract: contract)
        for (t, raw) in c.raw.enumerated() {
            let action = try p.process(raw.span)
            for (k, want) in c.chunks[t].enumerated() {
                #expect(abs(Double(p.processed[k]) - want) <= 1e-6 * max(1, abs(want)), "step \(t) chunk[\(k)]")
            }
            for d in 0..<7 {
                #expect(abs(Double(action[d]) - c.actions[t][d]) <= 1e-5, "step \(t) dim \(d): \(action[d]) vs \(c.actions[t][d])")
            }
        }
        // A reset starts a new episode: the first action is the first chunk's first step again.
        p.reset()
        let raw0 = c.raw[0]
        let first = try p.process(raw0.span)
        for d in 0..<7 { #expect(abs(Double(first[d]) - c.actions[0][d]) <= 1e-5) }
    }

    @Test func eulerToAxisAngle() throws {
        let cases = try #require(RuntimeFixtures.actions?.euler)
        for c in cases {
            let r = ActionProcessor.eulerToAxisAngle(roll: c.euler[0], pitch: c.euler[1], yaw: c.euler[2])
            #expect(abs(r.0 - c.axangle[0]) < 1e-12 && abs(r.1 - c.axangle[1]) < 1e-12 && abs(r.2 - c.axangle[2]) < 1e-12, "\(c.euler)")
        }
    }

    @Test func wrongChunkSize() throws {
        let p = try ActionProcessor(contract: ActionContract(actionDim: 7, horizon: 4))
        let e = #expect(throws: RuntimeError.self) { try p.process([Float](repeating: 0, count: 27).span) }
        #expect(e?.code == .invalidInput)
    }

    @Test func inconsistentContracts() {
        #expect(throws: RuntimeError.self) { try ActionProcessor(contract: ActionContract(actionDim: 0, horizon: 4)) }
        #expect(throws: RuntimeError.self) { try ActionProcessor(contract: ActionContract(actionDim: 7, horizon: 4, normalization: .meanStd)) }
        #expect(throws: RuntimeError.self) { try ActionProcessor(contract: ActionContract(actionDim: 4, horizon: 4, rotation: .eulerToAxisAngle)) }
        #expect(throws: RuntimeError.self) { try ActionProcessor(contract: ActionContract(actionDim: 7, horizon: 4, gripper: .init(rawValue: 9), gripperDim: 6)) }
    }
}
