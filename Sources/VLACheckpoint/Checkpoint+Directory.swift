import VLAJSON

extension Checkpoint {
    /// The weight files looked for in a Hugging Face directory, in order of preference.
    /// An `*.index.json` file (sharded weights) is preferred over the single file it indexes.
    static let directoryWeightNames = [
        "model.safetensors.index.json", "model.safetensors",
        "pytorch_model.bin.index.json", "pytorch_model.bin",
        "flax_model.msgpack", "model.onnx", "model.npz",
    ]

    /// Reads a Hugging Face layout directory: `config.json` plus weights, possibly sharded with an index
    /// (`{"weight_map": {tensor: shard file}}`). Shard names must be plain file names in the directory.
    static func loadDirectory(_ directory: String, limits: ReaderLimits, mode: ReadMode) throws -> Loaded {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard let weights = Checkpoint.directoryWeightNames.first(where: { FileSystem.isRegularFile(dir + "/" + $0) }) else {
            throw CheckpointError(.unsupportedFormat, "no weights found (looked for \(Checkpoint.directoryWeightNames.joined(separator: ", ")))", file: dir)
        }
        if !weights.hasSuffix(".index.json") {
            var single = try Checkpoint.load(path: dir + "/" + weights, format: nil, limits: limits, mode: mode)
            single.format = .directory
            single.contents.otherFiles = []
            return single
        }
        let indexPath = dir + "/" + weights
        let indexStorage = try ByteStorage.map(path: indexPath)
        guard indexStorage.count <= limits.maxHeaderBytes else {
            throw CheckpointError(.limitExceeded, "index of \(indexStorage.count) bytes exceeds the limit \(limits.maxHeaderBytes)", file: indexPath)
        }
        let json: JSONValue
        do {
            json = try ExpansionBudget.parseJSON(indexStorage.view.bytes, limits: limits, what: "index")
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
        var listed: [TensorInfo] = []
        var files: [CheckpointFile] = []
        for shard in shardOrder {
            let part = try Checkpoint.load(path: dir + "/" + shard, format: nil, limits: limits, mode: mode)
            let want = wanted[shard, default: []]
            let infos = part.contents.infos
            let names = Set(infos.map(\.name))
            for missing in want.subtracting(names).sorted() {
                throw CheckpointError(.malformed, "index maps tensor \"\(missing)\" to \(shard), which does not contain it", file: indexPath)
            }
            tensors += part.contents.tensors.filter { want.contains($0.name) }
            listed += infos.filter { want.contains($0.name) }
            files += part.files
        }
        return Loaded(format: .directory, contents: CheckpointContents(tensors: tensors, listed: mode == .headers ? listed : nil), files: files)
    }
}
