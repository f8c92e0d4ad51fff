import ArgumentParser
import Testing
@testable import VLACommands

/// The examples in `--help` are whole command lines at 80 columns: none continues onto a second line
/// (a `\` continuation or ArgumentParser wrapping it), so each can be copied as it is shown.
@Suite struct HelpExampleTests {
    static let commands: [(String, any ParsableCommand.Type)] = [
        ("vlac", VLAC.self), ("compile", Compile.self), ("dump", Dump.self), ("verify", Verify.self), ("run", Run.self),
        ("bench", Bench.self), ("inspect", Inspect.self), ("tokenize", Tokenize.self), ("encode", Encode.self),
    ]

    @Test(arguments: commands.indices)
    func examplesAreWholeLinesAt80Columns(_ i: Int) {
        let (name, command) = Self.commands[i]
        let help = command == VLAC.self ? VLAC.helpMessage(columns: 80) : VLAC.helpMessage(for: command, columns: 80)
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        var examples = 0
        var inBlock = false
        for line in lines {
            if line.hasPrefix("  vlac ") {
                examples += 1
                inBlock = true
                #expect(!line.hasSuffix("\\"), "\(name): \(line)")
                #expect(line.count <= 80, "\(name): \(line)")
            } else if inBlock {
                // The line after an example is another example or a blank line, never its continuation.
                #expect(line.isEmpty, "\(name): an example continues onto \"\(line)\"")
                inBlock = false
            }
        }
        #expect(examples >= 1, "\(name) --help shows no example")
    }
}
