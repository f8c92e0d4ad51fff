import ArgumentParser

/// `vlac verify FILE`: digest, structure, shared references, test vectors.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a .vla file completely.")
    @Argument(help: ArgumentHelp("The .vla file to check.", valueName: "file")) var file: String
    func run() throws {}
}
