import ArgumentParser
import Foundation
import VLACheckpoint
import VLAFormat

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

            A HyperVLA model folder (config.json with hypernet_kwargs) lists each params.* file and \
            the text- and vision-encoder folders it uses (named in config.json's vlac section, else \
            text_encoder/ or text-encoder/ and vision_encoder/ or vision-encoder/ inside it). A .vla \
            file is pointed to vlac dump; other files that are not checkpoints (a Git LFS pointer, an \
            image, an archive) are named by their first bytes.

            Examples:
              vlac inspect all-MiniLM-L6-v2/model.safetensors
              vlac inspect all-MiniLM-L6-v2/ --json > tensors.json
              vlac inspect model.onnx --graph
              vlac inspect Examples/hypervla-tiny/model
            """
    )

    @Argument(help: ArgumentHelp("The checkpoint file, or a directory in the Hugging Face layout.", valueName: "path"))
    var path: String

    @Flag(help: "Print JSON (Schemas/inspect.schema.json) instead of text.")
    var json = false

    @Flag(help: "For ONNX, list every graph node (name and operator).")
    var graph = false

    @Flag(name: .customLong("no-hash"), help: "Skip the SHA-256 of the files (it reads every byte).")
    var noHash = false

    func run() throws {
        if let model = try HyperVLAFolder(path: path) {
            print(try model.render(json: json, hash: !noHash), terminator: "")
            return
        }
        let head = Self.firstBytes(of: path)
        if let what = Self.notACheckpoint(head, path: path) { throw CommandFailure("\(path): \(what)") }
        let listing: CheckpointListing
        do { listing = try CheckpointListing(path: path) } catch {
            // A file whose magic bytes name a format was read by that format's reader: its message stands.
            guard !head.isEmpty, !Self.hasCheckpointMagic(head) else { throw error }
            throw CommandFailure(
                "\(error) (the file starts with \(head.prefix(8).map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")); vlac inspect reads safetensors, NumPy .npy/.npz, Flax msgpack, ONNX and PyTorch files and Hugging Face folders)")
        }
        print(Inspect.render(listing, json: json, graph: graph, hash: !noHash), terminator: "")
    }

    /// The first 32 bytes of a regular file (empty for a folder, a FIFO, a device or an unreadable path).
    static func firstBytes(of path: String) -> [UInt8] {
        guard let type = try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType, type == .typeRegular,
            let handle = FileHandle(forReadingAtPath: path)
        else { return [] }
        defer { try? handle.close() }
        return Array((try? handle.read(upToCount: 32)) ?? Data())
    }

    /// Whether `head` starts like a NumPy, zip (npz, PyTorch), legacy PyTorch or safetensors file.
    static func hasCheckpointMagic(_ head: [UInt8]) -> Bool {
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) || head.starts(with: [0x50, 0x4B]) || head.starts(with: [0x80, 0x02, 0x8A]) { return true }
        // safetensors: a little-endian u64 header length, then '{'.
        return head.count > 8 && head[8] == UInt8(ascii: "{") && head[6] == 0 && head[7] == 0
    }

    /// What a file is when its first bytes say it is not a checkpoint (a .vla file, a Git LFS pointer, an
    /// image...), with what to do; nil when it may be one.
    static func notACheckpoint(_ head: [UInt8], path: String) -> String? {
        func starts(_ prefix: [UInt8]) -> Bool { head.starts(with: prefix) }
        if starts(Layout.magic) {
            return "a .vla file (a compiled policy or shared blob), not a checkpoint: vlac dump \(path) lists its tensors and programs, vlac verify \(path) checks it"
        }
        if starts(Array("version https://git-lfs".utf8)) {
            return "a Git LFS pointer, not the weights: fetch them with git lfs pull (or download the file itself)"
        }
        let known: [([UInt8], String)] = [
            ([0x89] + Array("HDF".utf8), "an HDF5 file (Keras .h5?), which vlac does not read: export the weights to safetensors"),
            (Array("GGUF".utf8), "a GGUF file (llama.cpp), which vlac does not read: use the model's safetensors"),
            ([0x89] + Array("PNG".utf8), "a PNG image, not a checkpoint"),
            ([0xFF, 0xD8, 0xFF], "a JPEG image, not a checkpoint"),
            ([0x7F] + Array("ELF".utf8), "an executable (ELF), not a checkpoint"),
            ([0x1F, 0x8B], "gzip-compressed: decompress it first (gunzip), then inspect what it holds"),
            (Array("BZh".utf8), "bzip2-compressed: decompress it first (bunzip2)"),
            ([0xFD] + Array("7zXZ".utf8), "xz-compressed: decompress it first (unxz)"),
            ([0x28, 0xB5, 0x2F, 0xFD], "zstd-compressed: decompress it first (unzstd)"),
        ]
        if let (_, what) = known.first(where: { starts($0.0) }) { return what }
        if !head.isEmpty && head.allSatisfy { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || (0x20..<0x7F).contains($0) } {
            if let first = head.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                return "a JSON file, not weights: vlac inspect FOLDER lists the weights of the Hugging Face or HyperVLA folder it belongs to"
            }
            return "a text file, not a checkpoint (vlac inspect reads safetensors, NumPy .npy/.npz, Flax msgpack, ONNX and PyTorch files and Hugging Face folders)"
        }
        return nil
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

/// A HyperVLA model folder for `vlac inspect`: its `params.*` files and the encoder folders it uses.
struct HyperVLAFolder {
    var path: String
    var params: [String]
    var encoders: [(role: String, path: String, source: String)]

    /// Nil when `path` is not a folder whose config.json has `hypernet_kwargs`.
    init?(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
            let type = try? FileManager.default.attributesOfItem(atPath: path + "/config.json")[.type] as? FileAttributeType, type == .typeRegular,
            let data = FileManager.default.contents(atPath: path + "/config.json"),
            let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        let model = config["model"] as? [String: Any] ?? [:]
        guard config["hypernet_kwargs"] != nil || model["hypernet_kwargs"] != nil else { return nil }
        self.path = path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        params = names.filter { ($0.hasPrefix("params.") || $0.hasPrefix("hn_params.")) && !$0.hasSuffix(".json") }
        let vlac = config["vlac"] as? [String: Any] ?? [:]
        encoders = []
        for (key, kebab, role) in [("text_encoder", "text-encoder", "text encoder"), ("vision_encoder", "vision-encoder", "vision encoder")] {
            if let named = vlac[key] as? String {
                encoders.append((role, named.hasPrefix("/") ? named : path + "/" + named, "named in config.json"))
            } else if let inside = [key, kebab].first(where: { names.contains($0) }) {
                encoders.append((role, path + "/" + inside, "inside the model folder"))
            }
        }
    }

    /// The listing of every params file, then the encoder folders, as text or JSON, ending in a newline.
    func render(json: Bool, hash: Bool) throws -> String {
        var listings: [CheckpointListing] = []
        for name in params { listings.append(try about(path + "/" + name) { try CheckpointListing(path: path + "/" + name) }) }
        if json {
            var o = "{\n  \"formatVersion\": 1,\n  \"path\": \(Inspect.quoted(path)),\n  \"format\": \"hypervla\",\n"
            o += "  \"encoders\": [" + encoders.map { "{\"role\": \(Inspect.quoted($0.role)), \"path\": \(Inspect.quoted($0.path)), \"exists\": \(FileManager.default.fileExists(atPath: $0.path))}" }.joined(separator: ", ") + "],\n"
            o += "  \"params\": [\n" + listings.map { Inspect.render($0, json: true, graph: false, hash: hash).trimmingTrailingNewlines().replacingOccurrences(of: "\n", with: "\n    ").prefixed("    ") }.joined(separator: ",\n")
            o += (listings.isEmpty ? "" : "\n") + "  ]\n}\n"
            return o
        }
        var out = "\(Inspect.escaped(path)): HyperVLA model folder, \(params.count) params file\(params.count == 1 ? "" : "s")\(params.isEmpty ? " (none: a model folder holds params.safetensors, params.npz or params.msgpack)" : "")\n"
        for e in encoders {
            let there = FileManager.default.fileExists(atPath: e.path)
            out += "  \(e.role): \(Inspect.escaped(e.path)) (\(e.source)\(there ? "; vlac inspect \(Inspect.escaped(e.path)) lists it" : "; not there"))\n"
        }
        if encoders.count < 2 {
            out += "  encoders not named: vlac compile looks for text_encoder/ (or text-encoder/) and vision_encoder/ (or vision-encoder/) inside the folder, or takes --text-encoder and --vision-encoder\n"
        }
        for l in listings { out += "\n" + Inspect.render(l, json: false, graph: false, hash: hash) }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
    fileprivate func prefixed(_ p: String) -> String { p + self }
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }

    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
