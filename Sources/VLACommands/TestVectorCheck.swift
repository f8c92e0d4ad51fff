import VLAFormat

/// Runs a file's embedded test vectors where this build can.
enum TestVectorCheck {
    /// Returns a one-line summary, or throws when a vector fails.
    static func run(_ file: VLAFile, blobs: [VLAFile]) throws -> String {
        if file.testVectors.isEmpty { return "none embedded" }
        return "\(file.testVectors.count) embedded, not run: this build has no interpreter yet"
    }
}
