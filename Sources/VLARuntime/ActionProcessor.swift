import VLAFormat

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Turns the `step` program's raw output `[horizon, actionDim]` into the executed action, as a file's action
/// contract says (Schemas/vla-format.md §7), in this order:
///
/// 1. squash: `bound · tanh(x / bound)` on dims `< squashedDims`;
/// 2. gripper rule: `logit ≥ 0 → 1, else 0` on the gripper dim;
/// 3. unnormalize: `a · std + mean` where the mask is set;
/// 4. ensembling: the uniform mean of `chunk[t − k][k]` over the last `ensembleWindow` chunks (k = 0 is the
///    newest chunk's first action), or the newest chunk's first action;
/// 5. rotation: dims 3..<6 (roll, pitch, yaw, static xyz axes) → axis · angle, as `transforms3d`'s
///    `euler2axangle` computes it (through the quaternion, in double precision);
/// 6. robot mapping of the gripper dim (hypervla.md §7.4): google_robot's relative gripper with a 15-step
///    sticky repeat, widowx_bridge's `2·(g > 0.5) − 1`, libero's `2·g − 1`.
///
/// Ensembling and the sticky gripper keep state across steps; ``reset()`` clears it. All buffers are
/// allocated at init: ``process(_:)`` allocates nothing. Not `Sendable` (mutable state of one episode).
public final class ActionProcessor {
    /// The contract it applies.
    public let contract: ActionContract
    /// Actions per chunk and dims per action.
    public let horizon: Int, actionDim: Int
    /// Steps a google_robot gripper change is repeated for (SimplerEnv's `sticky_gripper_num_repeat`).
    public static let stickyRepeat = 15

    /// The last raw chunk (`horizon × actionDim`), as the program wrote it.
    public private(set) var raw: [Float]
    /// The last chunk after squash, gripper rule and unnormalization.
    public private(set) var processed: [Float]
    /// The action after ensembling, rotation and robot mapping (`actionDim` values).
    public private(set) var action: [Float]

    /// Ring of the last `window` processed chunks (double precision), newest at `(head − 1) mod window`.
    var history: [Double]
    var historyCount = 0
    var head = 0
    let window: Int
    /// `bounds`: the per-dim width `high − low + 1e-8` (empty otherwise).
    let boundsWidth: [Float]
    var previousGripper: Double? = nil
    var stickyOn = false
    var stickyValue = 0.0
    var stickyCount = 0

    /// Creates a processor.
    /// - Throws: `.invalidProgram` when the contract is inconsistent (dims, window, mean/std sizes); the
    ///   verifier already rejects such files, this guards in-memory contracts.
    public init(contract: ActionContract) throws(RuntimeError) {
        self.contract = contract
        horizon = Int(contract.horizon)
        actionDim = Int(contract.actionDim)
        guard (1...64).contains(horizon), (1...64).contains(actionDim) else {
            throw RuntimeError(.invalidProgram, "action contract: horizon \(horizon) and action_dim \(actionDim) must be in 1...64")
        }
        guard Int(contract.squashedDims) <= actionDim,
              contract.gripper == .none || Int(contract.gripperDim) < actionDim
        else {
            throw RuntimeError(.invalidProgram, "action contract: squashed_dims \(contract.squashedDims) or gripper dim \(contract.gripperDim) exceeds action_dim \(actionDim)")
        }
        if contract.normalization == .meanStd || contract.normalization == .bounds {
            guard contract.mean.count == actionDim, contract.std.count == actionDim, contract.mask.count == actionDim else {
                throw RuntimeError(.invalidProgram, "action contract: mean, std and mask need \(actionDim) values each")
            }
        }
        if contract.rotation == .eulerToAxisAngle, actionDim < 6 {
            throw RuntimeError(.invalidProgram, "action contract: euler_to_axis_angle needs dims 3..<6, action_dim is \(actionDim)")
        }
        if contract.robot != .none, contract.gripper == .none {
            throw RuntimeError(.invalidProgram, "action contract: robot mapping \(contract.robot) needs a gripper dim (gripper rule is none)")
        }
        for value in [contract.gripper.isKnown, contract.normalization.isKnown, contract.ensembling.isKnown, contract.rotation.isKnown, contract.robot.isKnown]
        where !value {
            throw RuntimeError(.unsupported, "action contract: an enumeration value this runtime does not know (\(contract.gripper), \(contract.normalization), \(contract.ensembling), \(contract.rotation), \(contract.robot))")
        }
        if contract.squashedDims > 0 {
            guard contract.squashBound > 0, contract.effectiveSquashScale > 0 else {
                throw RuntimeError(.invalidProgram, "action contract: squash bound \(contract.squashBound) and scale \(contract.squashScale) must be positive")
            }
        }
        // bounds: (a + 1)·w/2 + low with w = high − low + 1e-8, formed in double and rounded once (the released
        // wrapper subtracts the float64 statistics, then multiplies the float32 actions).
        boundsWidth = contract.normalization == .bounds
            ? (0..<actionDim).map { Float(Double(contract.std[$0]) - Double(contract.mean[$0]) + 1e-8) } : []
        window = contract.ensembling == .uniform ? max(1, min(Int(contract.ensembleWindow), horizon)) : 1
        raw = [Float](repeating: 0, count: horizon * actionDim)
        processed = [Float](repeating: 0, count: horizon * actionDim)  // its own storage: a shared buffer would be copied by the first step
        action = [Float](repeating: 0, count: actionDim)
        history = [Double](repeating: 0, count: window * horizon * actionDim)
    }

    /// Forgets the ensembling history and the gripper state (a new episode).
    public func reset() {
        historyCount = 0
        head = 0
        previousGripper = nil
        stickyOn = false
        stickyValue = 0
        stickyCount = 0
    }

    /// Applies the contract to one raw chunk and returns the action (``action``).
    ///
    /// The last line of defence before a robot: a raw chunk holding a NaN or an infinity, or a chunk that the
    /// contract turns into one (an absurd mean or std), is refused with `.nonFiniteAction` before it enters the
    /// ensembling history, so the episode state is as before the call and ``action`` keeps the last good action.
    /// ``raw`` still receives the chunk (for diagnosis); ``processed`` may hold the refused chunk.
    ///
    /// - Parameter chunk: `horizon × actionDim` raw values.
    /// - Throws: `.invalidInput` when the count is wrong; `.nonFiniteAction` naming the first non-finite value.
    /// - Complexity: O(window × actionDim + horizon × actionDim); allocates nothing.
    @discardableResult
    public func process(_ chunk: Span<Float>) throws(RuntimeError) -> [Float] {
        guard chunk.count == raw.count else {
            throw RuntimeError(.invalidInput, "raw action chunk has \(chunk.count) values, the contract says \(horizon)×\(actionDim)")
        }
        for i in 0..<raw.count { raw[i] = chunk[i] }
        for i in 0..<raw.count where !raw[i].isFinite {
            throw ActionProcessor.nonFinite("the step program's raw chunk", raw[i], i, actionDim)
        }
        let squashed = Int(contract.squashedDims)
        let bound = contract.squashBound, scale = contract.effectiveSquashScale
        let bounds = contract.normalization == .bounds
        let gdim = Int(contract.gripperDim)
        for h in 0..<horizon {
            for d in 0..<actionDim {
                var v = raw[h * actionDim + d]
                if d < squashed { v = bound * tanhf(v / scale) }
                if contract.gripper == .logitThreshold, d == gdim { v = v >= 0 ? 1 : 0 }
                if contract.normalization == .meanStd, contract.mask[d] { v = v * contract.std[d] + contract.mean[d] }
                if bounds, contract.mask[d] { v = (v + 1) * boundsWidth[d] / 2 + contract.mean[d] }
                guard v.isFinite else {
                    throw ActionProcessor.nonFinite("the chunk after squash, gripper rule and unnormalization (check the action contract's squash bound, mean and std)", v, h * actionDim + d, actionDim)
                }
                processed[h * actionDim + d] = v
            }
        }
        let slot = head * horizon * actionDim
        for i in 0..<processed.count { history[slot + i] = Double(processed[i]) }
        head = (head + 1) % window
        historyCount = min(historyCount + 1, window)
        // Ensembling: the newest chunk contributes its step 0, the one before its step 1, ...
        var mean = (0.0, 0.0, 0.0)
        for d in 0..<actionDim {
            var sum = 0.0
            for k in 0..<historyCount {
                let chunkIndex = (head - 1 - k + 2 * window) % window
                sum += history[chunkIndex * horizon * actionDim + k * actionDim + d]
            }
            let value = sum / Double(historyCount)
            if contract.rotation == .eulerToAxisAngle, (3..<6).contains(d) {
                if d == 3 { mean.0 = value } else if d == 4 { mean.1 = value } else { mean.2 = value }
            }
            action[d] = Float(value)
        }
        if contract.rotation == .eulerToAxisAngle {
            let r = ActionProcessor.eulerToAxisAngle(roll: mean.0, pitch: mean.1, yaw: mean.2)
            action[3] = Float(r.0); action[4] = Float(r.1); action[5] = Float(r.2)
        }
        if contract.robot != .none {
            let g = Double(action[gdim])
            action[gdim] = Float(mapGripper(g))
        }
        // Finite chunks give finite means; checked anyway, so that no later change can hand one on.
        for d in 0..<actionDim where !action[d].isFinite {
            throw ActionProcessor.nonFinite("the action after ensembling, rotation and robot mapping", action[d], d, actionDim)
        }
        return action
    }

    /// The error for a non-finite value at flat index `i` of a `[·, actionDim]` array.
    static func nonFinite(_ what: String, _ value: Float, _ i: Int, _ actionDim: Int) -> RuntimeError {
        RuntimeError(
            .nonFiniteAction,
            "\(what) holds \(value) at [\(i / actionDim)][\(i % actionDim)]; nothing was handed on (refusing a NaN or infinite action)")
    }

    func mapGripper(_ g: Double) -> Double {
        switch contract.robot {
        case .widowxBridge: return g > 0.5 ? 1 : -1
        case .libero: return 2 * g - 1
        case .googleRobot:
            var relative = 0.0
            if let previous = previousGripper { relative = previous - g }
            previousGripper = g
            if abs(relative) > 0.5, !stickyOn {
                stickyOn = true
                stickyValue = relative
            }
            if stickyOn {
                stickyCount += 1
                relative = stickyValue
            }
            if stickyCount == ActionProcessor.stickyRepeat {
                stickyOn = false
                stickyCount = 0
                stickyValue = 0
            }
            return relative
        default: return g
        }
    }

    /// Euler angles (static x, y, z axes: roll about x first) → axis · angle, through the unit quaternion,
    /// as transforms3d's `euler2axangle(ai, aj, ak, 'sxyz')` and `quat2axangle` compute it.
    public static func eulerToAxisAngle(roll: Double, pitch: Double, yaw: Double) -> (Double, Double, Double) {
        let ai = roll / 2, aj = pitch / 2, ak = yaw / 2
        let ci = cos(ai), si = sin(ai), cj = cos(aj), sj = sin(aj), ck = cos(ak), sk = sin(ak)
        let cc = ci * ck, cs = ci * sk, sc = si * ck, ss = si * sk
        var w = cj * cc + sj * ss
        var x = cj * sc - sj * cs
        var y = cj * ss + sj * cc
        var z = cj * cs - sj * sc
        let nq = w * w + x * x + y * y + z * z
        guard nq.isFinite else { return (.nan, .nan, .nan) }
        if nq < Double.ulpOfOne * Double.ulpOfOne { return (0, 0, 0) }
        if nq != 1 {
            let s = nq.squareRoot()
            w /= s; x /= s; y /= s; z /= s
        }
        let len2 = x * x + y * y + z * z
        let threshold = Double.ulpOfOne * 3
        if len2 < threshold * threshold { return (0, 0, 0) }
        let angle = 2 * acos(max(min(w, 1), -1))
        let len = len2.squareRoot()
        return (x / len * angle, y / len * angle, z / len * angle)
    }
}
