import ArgumentParser
import Foundation
import VLATokenizer

/// `vlac tokenize --tokenizer PATH TEXT...`: token ids and pieces of texts, for debugging and scripting.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize text with a SentencePiece .model, a tokenizer.json or a BERT vocab.txt.",
        discussion: """
            Prints the token ids and pieces of each TEXT, exactly as the reference libraries produce them \
            (sentencepiece for a .model file; tokenizers for a tokenizer.json, with the file's own special \
            tokens, truncation and padding; BertWordPieceTokenizer for a vocab.txt).

            --hypervla applies HyperVLA's T5 text processor instead: </s> appended, at most 32 tokens, \
            right-padded with <pad> (id 0), and prints the attention mask.

            Examples:
              vlac tokenize --tokenizer spiece.model "pick up the red block"
              vlac tokenize --tokenizer t5/tokenizer.json --hypervla "open the drawer"
              vlac tokenize --tokenizer tokenizer.json --bench corpus.txt --repeat 5
            """)

    @Option(help: ArgumentHelp("The tokenizer file: .model, tokenizer.json or vocab.txt.", valueName: "path"))
    var tokenizer: String

    @Flag(help: "Use HyperVLA's T5 text processor (max 32 tokens, </s>, padding with id 0).")
    var hypervla = false

    @Flag(help: "Segment only: no special tokens, truncation or padding.")
    var noPostProcessing = false

    @Flag(help: "Print JSON (Schemas/tokenize.schema.json) instead of text.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Benchmark: tokenize every line of this file (one text per line) on one thread and print the rate.",
            valueName: "path"))
    var bench: String?

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Benchmark passes over the file (the best is reported).", valueName: "n"))
    var passes: Int = 3

    @Argument(help: ArgumentHelp("The texts to tokenize.", valueName: "text"))
    var texts: [String] = []

    func validate() throws {
        if bench == nil && texts.isEmpty { throw ValidationError("give at least one TEXT, or --bench FILE") }
        if hypervla && noPostProcessing { throw ValidationError("--hypervla and --no-post-processing exclude each other") }
        if passes < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: tokenizer) else {
            throw ValidationError("cannot read the tokenizer file \(tokenizer)")
        }
        let name = (tokenizer as NSString).lastPathComponent
        let processor: TextProcessor
        if hypervla {
            processor = try TextProcessor.hyperVLA(fileBytes: [UInt8](data), fileName: name)
        } else {
            let t = try Tokenizer(fileBytes: [UInt8](data), fileName: name)
            processor = TextProcessor(tokenizer: t, postProcessing: noPostProcessing ? PostProcessing() : t.defaultPostProcessing)
        }
        if let bench {
            try runBench(processor, path: bench)
            return
        }
        var results: [(String, Encoding)] = []
        for text in texts { results.append((text, try processor.encode(text))) }
        print(json ? Self.json(results, tokenizer: name) : Self.text(results, showMask: processor.postProcessing.padToLength != nil))
    }

    private func runBench(_ processor: TextProcessor, path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        var lines = [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        var best = Double.infinity
        var tokens = 0
        for _ in 0..<passes {
            tokens = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for line in lines { tokens += try processor.encode(utf8: line).ids.count }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let bytes = lines.reduce(0) { $0 + $1.count }
        // A pass too fast for the clock (an empty file) has no rate; JSON has no spelling for infinity or NaN.
        let rate = best > 0 ? Double(lines.count) / best : 0
        if json {
            print(
                "{\"formatVersion\": 1, \"lines\": \(lines.count), \"bytes\": \(bytes), \"tokens\": \(tokens), \"seconds\": \(best), \"linesPerSecond\": \(rate)}"
            )
        } else {
            print(
                "vlac: \(lines.count) lines, \(bytes) bytes, \(tokens) tokens in \(String(format: "%.4f", best)) s (best of \(passes)): "
                    + "\(String(format: "%.0f", rate)) lines/s, \(String(format: "%.2f", Double(bytes) / best / 1e6)) MB/s")
        }
    }

    static func text(_ results: [(String, Encoding)], showMask: Bool) -> String {
        var out: [String] = []
        for (text, e) in results {
            out.append("\(jsonString(text)): \(e.ids.count) tokens")
            out.append("  ids:    " + e.ids.map(String.init).joined(separator: " "))
            out.append("  pieces: " + e.tokens.map { jsonString($0) }.joined(separator: " "))
            if showMask { out.append("  mask:   " + e.attentionMask.map(String.init).joined(separator: " ")) }
        }
        return out.joined(separator: "\n")
    }

    static func json(_ results: [(String, Encoding)], tokenizer: String) -> String {
        var items: [String] = []
        for (text, e) in results {
            items.append(
                "{\"text\": \(jsonString(text)), \"ids\": [\(e.ids.map(String.init).joined(separator: ", "))], "
                    + "\"pieces\": [\(e.tokens.map { jsonString($0) }.joined(separator: ", "))], "
                    + "\"attentionMask\": [\(e.attentionMask.map(String.init).joined(separator: ", "))]}")
        }
        return "{\"formatVersion\": 1, \"tokenizer\": \(jsonString(tokenizer)), \"results\": [\(items.joined(separator: ", "))]}"
    }

    /// A JSON string literal (also used to show pieces unambiguously in text output).
    static func jsonString(_ s: String) -> String {
        var out = ""
        JSON.quote(s, into: &out)
        return out
    }
}
