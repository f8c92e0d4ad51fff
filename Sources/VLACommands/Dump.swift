import ArgumentParser
import VLAFormat

/// `vlac dump FILE`: everything in a .vla file, as text or JSON.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print everything in a .vla file: header, metadata, provenance, sections, tensors, programs.",
        discussion: """
            The file is verified first (digest, then structure); a file that fails verification is not \
            printed, the error is. Control characters and bidirectional marks in names and strings are \
            printed escaped (\\u{1b}), so a hostile file cannot drive the terminal.

            Examples:
              vlac dump out/policies/open-the-top-drawer-12fedafa.vla
              vlac dump --json out/shared/backbone-*.vla | jq '.tensors | length'

            The JSON output's schema is Schemas/vla-dump.schema.json; its "formatVersion" field changes \
            when the output's shape does.
            """)

    @Argument(help: ArgumentHelp("The .vla file to print.", valueName: "file"))
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let vla = try about(file) { try VLAFile(path: file) }
        let report = FileReport(path: file, file: vla)
        print(json ? report.json().serialized() : report.text(), terminator: json ? "\n" : "")
    }
}
