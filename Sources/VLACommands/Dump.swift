import ArgumentParser

/// `vlac dump FILE`: everything in a .vla file, as text or JSON.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print everything in a .vla file.")
    @Argument(help: ArgumentHelp("The .vla file to print.", valueName: "file")) var file: String
    func run() throws {}
}
