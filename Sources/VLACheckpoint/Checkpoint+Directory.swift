extension Checkpoint {
    /// The weight files looked for in a Hugging Face directory, in order of preference.
    /// An `*.index.json` file (sharded weights) is preferred over the single file it indexes.
    static let directoryWeightNames = [
        "model.safetensors.index.json", "model.safetensors",
        "pytorch_model.bin.index.json", "pytorch_model.bin",
        "flax_model.msgpack", "model.onnx", "model.npz",
    ]

    /// Opens a Hugging Face layout directory: `config.json` plus weights, possibly sharded with an index
    /// (`{"weight_map": {tensor: shard file}}`). Shard names must be plain file names in the directory.
    init(directory: String, limits: ReaderLimits) throws {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard let weights = Checkpoint.directoryWeightNames.first(where: { FileSystem.isRegularFile(dir + "/" + $0) }) else {
            throw CheckpointError(.unsupportedFormat, "no weights found (looked for \(Checkpoint.directoryWeightNames.joined(separator: ", ")))", file: dir)
        }
        if !weights.hasSuffix(".index.json") {
            let single = try Checkpoint(path: dir + "/" + weights, limits: limits)
            try self.init(path: dir, format: .directory,
                          contents: CheckpointContents(tensors: single.tensors, metadata: single.metadata, graph: single.graph),
                          files: single.files, limits: limits)
            return
        }
        let indexPath = dir + "/" + weights
        let indexStorage = try ByteStorage.map(path: indexPath)
        guard indexStorage.count <= limits.maxHeaderBytes else {
            throw CheckpointError(.limitExceeded, "index of \(indexStorage.count) bytes exceeds the limit \(limits.maxHeaderBytes)", file: indexPath)
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(indexStorage.view.bytes, maxDepth: limits.maxDepth, what: "index")
        } catch let e as CheckpointError { throw e.inFile(indexPath) }
        guard let map = json["weight_map"]?.object else {
            throw CheckpointError(.malformed, "index has no \"weight_map\" object", offset: 0, file: indexPath)
        }
        var shardOrder: [String] = []
        var wanted: [String: Set<String>] = [:]
        for (tensor, v) in map {
            guard let shard = v.string else {
                throw CheckpointError(.malformed, "weight_map entry \"\(tensor)\" is not a file name", file: indexPath)
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw CheckpointError(.unsafePath, "weight_map entry \"\(tensor)\": shard \"\(shard)\" is not a file name inside the directory", file: indexPath)
            }
            if wanted[shard] == nil { shardOrder.append(shard) }
            wanted[shard, default: []].insert(tensor)
        }
        var tensors: [Tensor] = []
        var files: [CheckpointFile] = []
        for shard in shardOrder {
            let part = try Checkpoint(path: dir + "/" + shard, limits: limits)
            let names = Set(part.names)
            for missing in wanted[shard, default: []].subtracting(names).sorted() {
                throw CheckpointError(.malformed, "index maps tensor \"\(missing)\" to \(shard), which does not contain it", file: indexPath)
            }
            tensors += part.tensors.filter { wanted[shard, default: []].contains($0.name) }
            files += part.files
        }
        try self.init(path: dir, format: .directory, contents: CheckpointContents(tensors: tensors), files: files, limits: limits)
    }
}
