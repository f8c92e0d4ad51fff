import ArgumentParser
import VLACheckpoint

/// `vlac inspect PATH`: the tensors of any supported checkpoint file or Hugging Face directory.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tensors of a checkpoint file or model directory.",
        discussion: """
            Reads safetensors, NumPy .npy/.npz, Flax msgpack, ONNX and PyTorch zip checkpoints, or a \
            Hugging Face directory (config.json + weights, sharded safetensors with an index). Prints \
            each tensor's name, dtype, shape and byte size, the totals, and the SHA-256 of every file \
            read. Weights are mapped, not copied, and never decompressed: a compressed .npz entry is \
            inflated only as far as its header. A path that is not a regular file or directory (a \
            FIFO, a device) is refused at once. For ONNX it also prints the opsets and the operators.

            Examples:
              vlac inspect all-MiniLM-L6-v2/model.safetensors
              vlac inspect all-MiniLM-L6-v2/ --json > tensors.json
              vlac inspect model.onnx --graph
            """
    )

    @Argument(help: ArgumentHelp("The checkpoint file, or a directory in the Hugging Face layout.", valueName: "path"))
    var path: String

    @Flag(help: "Print JSON instead of text (the layout is versioned by \"formatVersion\").")
    var json = false

    @Flag(help: "For ONNX, list every graph node (name and operator).")
    var graph = false

    @Flag(name: .customLong("no-hash"), help: "Skip the SHA-256 of the files (it reads every byte).")
    var noHash = false

    func run() throws {
        let listing = try CheckpointListing(path: path)
        print(Inspect.render(listing, json: json, graph: graph, hash: !noHash), terminator: "")
    }

    /// The report for `checkpoint`, as text or JSON, ending in a newline.
    static func render(_ checkpoint: CheckpointListing, json: Bool, graph: Bool, hash: Bool) -> String {
        let digests = checkpoint.files.map { (path: $0.path, bytes: $0.bytes.count, sha256: hash ? $0.sha256().hex : nil) }
        return json ? renderJSON(checkpoint, digests: digests, graph: graph) : renderText(checkpoint, digests: digests, graph: graph)
    }

    static func renderText(_ c: CheckpointListing, digests: [(path: String, bytes: Int, sha256: String?)], graph: Bool) -> String {
        var out = "\(escaped(c.path)): \(c.format), \(c.tensors.count) tensors\n"
        for d in digests {
            out += "  file \(escaped(d.path)) \(d.bytes) bytes" + (d.sha256.map { " sha256 \($0)" } ?? "") + "\n"
        }
        for (k, v) in c.metadata { out += "  \(escaped(k)): \(escaped(v))\n" }
        if let g = c.graph {
            out += "  opsets: " + g.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : escaped($0.domain)) \($0.version)" }.joined(separator: ", ") + "\n"
            var counts: [String: Int] = [:]
            for n in g.nodes { counts[n.opType, default: 0] += 1 }
            out += "  graph \"\(escaped(g.name))\": \(g.nodes.count) nodes; inputs \(g.inputs.map(escaped).joined(separator: ", ")); outputs \(g.outputs.map(escaped).joined(separator: ", "))\n"
            out += "  operators: " + counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\(escaped($0.key)) ×\($0.value)" }.joined(separator: ", ") + "\n"
            if graph {
                for (i, n) in g.nodes.enumerated() { out += "  node \(i) \(escaped(n.opType)) \"\(escaped(n.name))\"\n" }
            }
        }
        let rows = c.tensors.map { [escaped($0.name), $0.dtype.name, "[" + $0.shape.map(String.init).joined(separator: ", ") + "]", String($0.byteCount)] }
        let header = ["name", "dtype", "shape", "bytes"]
        var widths = header.map(\.count)
        for r in rows { for i in r.indices { widths[i] = max(widths[i], r[i].count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, s in i == 3 ? String(repeating: " ", count: widths[i] - s.count) + s : s + String(repeating: " ", count: widths[i] - s.count) }
                .joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        out += line(header)
        for r in rows { out += line(r) }
        out += "total: \(c.tensors.count) tensors, \(c.totalElements) elements, \(c.totalBytes) bytes\n"
        return out
    }

    static func renderJSON(_ c: CheckpointListing, digests: [(path: String, bytes: Int, sha256: String?)], graph: Bool) -> String {
        var o = "{\n  \"formatVersion\": 1,\n"
        o += "  \"path\": \(quoted(c.path)),\n  \"format\": \(quoted(c.format.name)),\n"
        o += "  \"files\": [" + digests.map { d in
            "{\"path\": \(quoted(d.path)), \"bytes\": \(d.bytes)" + (d.sha256.map { ", \"sha256\": \(quoted($0))" } ?? "") + "}"
        }.joined(separator: ", ") + "],\n"
        o += "  \"metadata\": {" + c.metadata.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "},\n"
        if let g = c.graph {
            o += "  \"graph\": {\"name\": \(quoted(g.name)), \"opsets\": [" + g.opsets.map { "{\"domain\": \(quoted($0.domain)), \"version\": \($0.version)}" }.joined(separator: ", ") + "]"
            o += ", \"inputs\": [" + g.inputs.map(quoted).joined(separator: ", ") + "], \"outputs\": [" + g.outputs.map(quoted).joined(separator: ", ") + "]"
            o += ", \"nodeCount\": \(g.nodes.count)"
            if graph { o += ", \"nodes\": [" + g.nodes.map { "{\"name\": \(quoted($0.name)), \"opType\": \(quoted($0.opType))}" }.joined(separator: ", ") + "]" }
            o += "},\n"
        }
        o += "  \"tensors\": [\n" + c.tensors.map { t in
            "    {\"name\": \(quoted(t.name)), \"dtype\": \(quoted(t.dtype.name)), \"shape\": [\(t.shape.map(String.init).joined(separator: ", "))], \"bytes\": \(t.byteCount)}"
        }.joined(separator: ",\n") + (c.tensors.isEmpty ? "" : "\n") + "  ],\n"
        o += "  \"totals\": {\"tensors\": \(c.tensors.count), \"elements\": \(c.totalElements), \"bytes\": \(c.totalBytes)}\n}\n"
        return o
    }

    /// Names come from untrusted files: control characters and bidirectional overrides are escaped so
    /// they cannot drive the terminal or disguise a name.
    static func escaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            // C0 and C1 controls, DEL, and the bidirectional overrides and isolates (they reorder text).
            if u.value < 0x20 || u.value == 0x7F || (0x80 ..< 0xA0).contains(u.value)
                || (0x202A ... 0x202E).contains(u.value) || (0x2066 ... 0x2069).contains(u.value) {
                out += "\\u{\(String(u.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = ""
        JSON.quote(s, into: &out)
        return out
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
