/// PyTorch zip checkpoints (`torch.save` since 1.6; Hugging Face `pytorch_model.bin`).
///
/// ```
/// <root>/data.pkl      the object, pickled (protocol 2); tensors refer to storages by persistent id
/// <root>/data/<key>    each storage's bytes, stored (not compressed), little-endian
/// <root>/byteorder     "little" (written by torch ≥ 2.1; absent means little)
/// <root>/version, .format_version, .storage_alignment, .data/serialization_id
/// ```
///
/// `data.pkl` is interpreted by ``PickleMachine`` (allow-listed globals only; nothing is executed).
/// Nested dicts are flattened with `.`; non-tensor values are skipped. A tensor whose size and
/// stride are C-contiguous is a zero-copy view of its storage; any other layout is gathered into
/// owned memory. The legacy (pre-1.6, non-zip) format is refused with a remedy.
enum PyTorchReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits) throws -> CheckpointContents {
        if file.hasPrefix([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) || file.hasPrefix([0x80, 0x02, 0x8A]) {
            throw CheckpointError(.legacyFormat, "legacy PyTorch format (before 1.6) is not read: re-save it with torch ≥ 1.6, e.g. torch.save(torch.load(f), f)", offset: 0)
        }
        let zip = try ZipArchive(file, limits: limits)
        let pickles = zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }.sorted { $0.name.count < $1.name.count }
        guard let pkl = pickles.first else {
            throw CheckpointError(.malformed, "PyTorch zip: no data.pkl entry", offset: 0)
        }
        let root = String(pkl.name.dropLast("data.pkl".count))
        if let order = zip.entry(named: root + "byteorder") {
            let text = try zip.contents(order).bytes
            guard text == Array("little".utf8) else {
                throw CheckpointError(.unsupportedFormat, "PyTorch zip: byteorder \"\(String(decoding: text, as: UTF8.self))\" is not little", offset: order.dataOffset)
            }
        }
        var machine = PickleMachine(try zip.contents(pkl), limits: limits)
        let top: PickleMachine.Value
        do { top = try machine.run() } catch let e as CheckpointError {
            var e = e
            if pkl.method == 0, let o = e.offset { e.offset = pkl.dataOffset + o }
            if pkl.method != 0 { e = e.prefixed("entry \"\(pkl.name)\" (inflated): ") }
            throw e
        }
        var tensors: [Tensor] = []
        var storages: [String: ByteView] = [:]
        var seen = Set<Int>()
        var gathered: [String: Tensor] = [:]
        func visit(_ v: PickleMachine.Value, _ name: [String], depth: Int) throws {
            guard depth <= limits.maxDepth else {
                throw CheckpointError(.limitExceeded, "data.pkl: nesting deeper than \(limits.maxDepth)", offset: pkl.dataOffset)
            }
            switch v {
            case .dict(let index):
                guard seen.insert(index).inserted else { return }  // cycles and sharing through the memo
                for (k, value) in machine.dictionaries[index] {
                    let key: String
                    switch k {
                    case .string(let s): key = s
                    case .int(let i): key = String(i)
                    default: continue
                    }
                    try visit(value, name + [key], depth: depth + 1)
                }
            case .tensor(let t):
                guard tensors.count < limits.maxTensors else {
                    throw CheckpointError(.limitExceeded, "more than \(limits.maxTensors) tensors", offset: pkl.dataOffset)
                }
                let label = name.isEmpty ? "tensor" : name.joined(separator: ".")
                let bytes: ByteView
                if let b = storages[t.storage.key] { bytes = b } else {
                    guard let entry = zip.entry(named: root + "data/" + t.storage.key) else {
                        throw CheckpointError(.malformed, "tensor \"\(label)\": storage \"\(t.storage.key)\" has no entry \(root)data/\(t.storage.key)", offset: pkl.dataOffset + t.offset)
                    }
                    bytes = try zip.contents(entry)
                    let need = try ShapeMath.byteCount(shape: [t.storage.elementCount], width: t.storage.dtype.byteWidth, limits: limits, "storage \"\(t.storage.key)\"")
                    guard bytes.count >= need else {
                        throw CheckpointError(.truncated, "tensor \"\(label)\": storage \"\(t.storage.key)\" has \(bytes.count) bytes, its \(t.storage.elementCount) \(t.storage.dtype) elements need \(need)", offset: entry.dataOffset)
                    }
                    storages[t.storage.key] = bytes
                }
                // The memo can name one strided view many times: gather it once.
                let key = "\(t.storage.key)|\(t.storageOffset)|\(t.shape)|\(t.stride)"
                let made = try gathered[key] ?? PyTorchReader.tensor(t, label: label, storage: bytes, path: path, limits: limits, pickleOffset: pkl.dataOffset)
                gathered[key] = made
                tensors.append(Tensor(name: label, dtype: made.dtype, shape: made.shape, data: made.data, file: path))
            default:
                break
            }
        }
        try visit(top, [], depth: 0)
        return CheckpointContents(tensors: tensors)
    }

    /// A tensor from its storage, size, stride and offset (all in elements), bounds-checked.
    static func tensor(_ t: PickleMachine.TensorRef, label: String, storage: ByteView, path: String, limits: ReaderLimits, pickleOffset: Int) throws -> Tensor {
        let width = t.storage.dtype.byteWidth
        let what = "tensor \"\(label)\""
        let at = pickleOffset + t.offset
        let n = try ShapeMath.byteCount(shape: t.shape, width: 1, limits: limits, what, offset: at)
        guard t.storageOffset >= 0, t.stride.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError(.outOfBounds, "\(what): negative storage offset \(t.storageOffset) or stride \(t.stride)", offset: at)
        }
        if n == 0 {
            return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: try storage.slice(0, 0, what), file: path)
        }
        // The last element's index: offset + Σ (size - 1) × stride, with overflow checks.
        var last = t.storageOffset
        for (d, s) in zip(t.shape, t.stride) {
            let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(m)
            guard !o1, !o2 else { throw CheckpointError(.outOfBounds, "\(what): size \(t.shape) × stride \(t.stride) overflows", offset: at) }
            last = sum
        }
        guard last < t.storage.elementCount else {
            throw CheckpointError(.outOfBounds, "\(what): reaches element \(last) of a storage with \(t.storage.elementCount)", offset: at)
        }
        // C-contiguous (ignoring dimensions of size 1)?
        var expected = 1
        var contiguous = true
        for (d, s) in zip(t.shape, t.stride).reversed() where d != 1 {
            if s != expected { contiguous = false; break }
            expected *= d
        }
        let byteCount = n * width
        if contiguous {
            return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: try storage.slice(t.storageOffset * width, byteCount, what), file: path)
        }
        let gathered = ByteStorage.filling(count: byteCount) { out in
            storage.withUnsafeBytes { src in PyTorchReader.gather(src, into: out, width: width, shape: t.shape, stride: t.stride, offset: t.storageOffset) }
        }
        return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: gathered.view, file: path)
    }
}
