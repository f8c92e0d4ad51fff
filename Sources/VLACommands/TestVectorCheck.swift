import VLAFormat
import VLARuntime

/// Runs a file's embedded test vectors with this build's interpreter.
enum TestVectorCheck {
    /// Returns a one-line summary, or throws naming the first vector that does not hold.
    static func run(_ file: VLAFile, blobs: [VLAFile], options: RuntimeOptions = RuntimeOptions()) throws -> String {
        if file.testVectors.isEmpty { return "none embedded" }
        let results = try TestVectors.run(file: file, blobs: blobs, options: options)
        if let bad = results.first(where: { !$0.passed }) {
            throw CommandFailure(
                bad.nonFiniteOutputs > 0
                    ? "test vector \(bad.index) (program \"\(escaped(bad.program))\") does not hold: \(bad.failure ?? ""); the runtime refuses non-finite actions, so the policy cannot run"
                    : "test vector \(bad.index) (program \"\(escaped(bad.program))\") does not hold: largest difference \(bad.maxAbsDifference) exceeds the tolerance \(bad.tolerance); the file and this build's kernels disagree")
        }
        let worst = results.map(\.maxAbsDifference).max() ?? 0
        return "ok  \(results.count) run, largest difference \(worst) (tolerances \(Set(results.map(\.tolerance)).sorted().map { "\($0)" }.joined(separator: ", ")))"
    }
}
