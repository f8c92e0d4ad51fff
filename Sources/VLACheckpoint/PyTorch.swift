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
/// stride are C-contiguous is a zero-copy view of its storage; any other layout is checked against
/// the storage's bytes and gathered into owned memory, within the expansion budget
/// (``ReaderLimits/expansionBudget(forInput:)`` of the file's size). The legacy (pre-1.6, non-zip)
/// format is refused with a remedy.
enum PyTorchReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits, mode: ReadMode = .tensors) throws -> CheckpointContents {
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
        var machine = PickleMachine(try zip.contents(pkl), limits: limits, fileBytes: file.count)
        let top: PickleMachine.Value
        do { top = try machine.run() } catch let e as CheckpointError {
            var e = e
            if pkl.method == 0, let o = e.offset { e.offset = pkl.dataOffset + o }
            if pkl.method != 0 { e = e.prefixed("entry \"\(pkl.name)\" (inflated): ") }
            throw e
        }
        var tensors: [Tensor] = []
        var listed: [TensorInfo] = []
        /// Each storage's bytes (``ReadMode/tensors``) or byte count (``ReadMode/headers``), read once.
        var storages: [String: (bytes: ByteView?, count: Int)] = [:]
        var seen = Set<Int>()
        var gathered: [String: Tensor] = [:]
        var names = ExpansionBudget(limits, input: file.count, what: "data.pkl: tensor names")
        var gatherBudget = ExpansionBudget(limits, input: file.count, what: "data.pkl: gathered strided views")
        func storage(_ ref: PickleMachine.StorageRef, label: String, at: Int) throws -> (bytes: ByteView?, count: Int) {
            if let s = storages[ref.key] { return s }
            guard let entry = zip.entry(named: root + "data/" + ref.key) else {
                throw CheckpointError(.malformed, "tensor \"\(label)\": storage \"\(ref.key)\" has no entry \(root)data/\(ref.key)", offset: at)
            }
            // Listing reads a stored storage (its CRC is checked) but never inflates a deflated one.
            let bytes: ByteView? = mode == .headers && entry.method != 0 ? nil : try zip.contents(entry)
            let count = bytes?.count ?? entry.size
            if let bytes, bytes.count > 8 << 20 { bytes.releasePages() }
            let need = try ShapeMath.byteCount(shape: [ref.elementCount], width: ref.dtype.byteWidth, limits: limits, "storage \"\(ref.key)\"")
            guard count >= need else {
                throw CheckpointError(.truncated, "tensor \"\(label)\": storage \"\(ref.key)\" has \(count) bytes, its \(ref.elementCount) \(ref.dtype) elements need \(need)", offset: entry.dataOffset)
            }
            storages[ref.key] = (bytes, count)
            return (bytes, count)
        }
        func visit(_ v: PickleMachine.Value, _ name: String?, depth: Int) throws {
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
                    // The joined name is built once per key and charged: deep keys cannot multiply.
                    let full = name.map { $0 + "." + key } ?? key
                    guard full.utf8.count <= limits.maxNameBytes else {
                        throw CheckpointError(.limitExceeded, "data.pkl: a tensor name under \"\(full.prefix(80))…\" is longer than \(limits.maxNameBytes) bytes", offset: pkl.dataOffset)
                    }
                    try names.charge(full.utf8.count + 16, offset: pkl.dataOffset)
                    try visit(value, full, depth: depth + 1)
                }
            case .tensor(let index):
                guard tensors.count + listed.count < limits.maxTensors else {
                    throw CheckpointError(.limitExceeded, "more than \(limits.maxTensors) tensors", offset: pkl.dataOffset)
                }
                let t = machine.tensorRefs[index]
                let label = name ?? "tensor"
                let at = pkl.dataOffset + t.offset
                let (bytes, count) = try storage(t.storage, label: label, at: at)
                let view = try PyTorchReader.checkView(t, label: label, storageBytes: count, limits: limits, at: at)
                guard let bytes, mode == .tensors else {
                    listed.append(TensorInfo(name: label, dtype: t.storage.dtype, shape: t.shape, byteCount: view.byteCount, file: path))
                    return
                }
                // The memo can name one strided view many times: gather it once.
                let key = "\(t.storage.key)|\(t.storageOffset)|\(t.shape)|\(t.stride)"
                let made: Tensor
                if let g = gathered[key] { made = g } else {
                    if !view.contiguous { try gatherBudget.charge(view.byteCount, offset: at) }
                    made = try PyTorchReader.tensor(t, view, label: label, storage: bytes, path: path)
                    gathered[key] = made
                }
                tensors.append(Tensor(name: label, dtype: made.dtype, shape: made.shape, data: made.data, file: path))
            default:
                break
            }
        }
        try visit(top, nil, depth: 0)
        return CheckpointContents(tensors: tensors, listed: mode == .headers ? listed : nil)
    }

    /// What ``checkView(_:label:storageBytes:limits:at:)`` found.
    struct View {
        /// The tensor's bytes (`product(shape) × width`).
        var byteCount: Int
        /// Whether it is C-contiguous (a zero-copy slice of its storage).
        var contiguous: Bool
    }

    /// Checks a view (size, stride and offset in elements) against the storage's real byte count,
    /// with overflow-checked arithmetic, before anything is materialised.
    /// - Throws: `.outOfBounds` if an offset or stride is negative, the arithmetic overflows, or the
    ///   last element lies past the storage's bytes.
    static func checkView(_ t: PickleMachine.TensorRef, label: String, storageBytes: Int, limits: ReaderLimits, at: Int) throws -> View {
        let width = t.storage.dtype.byteWidth
        let what = "tensor \"\(label)\""
        let n = try ShapeMath.byteCount(shape: t.shape, width: width, limits: limits, what, offset: at)
        guard t.storageOffset >= 0, t.stride.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError(.outOfBounds, "\(what): negative storage offset \(t.storageOffset) or stride \(t.stride)", offset: at)
        }
        if n == 0 { return View(byteCount: 0, contiguous: true) }
        // The last element's index: offset + Σ (size - 1) × stride, and its end in bytes.
        var last = t.storageOffset
        for (d, s) in zip(t.shape, t.stride) {
            let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(m)
            guard !o1, !o2 else { throw CheckpointError(.outOfBounds, "\(what): size \(t.shape) × stride \(t.stride) overflows", offset: at) }
            last = sum
        }
        let (lastEnd, o3) = last.multipliedReportingOverflow(by: width)
        let (end, o4) = lastEnd.addingReportingOverflow(width)
        guard !o3, !o4, last < t.storage.elementCount, end <= storageBytes else {
            throw CheckpointError(.outOfBounds, "\(what): reaches element \(last) of a storage with \(t.storage.elementCount) elements (\(storageBytes) bytes)", offset: at)
        }
        // C-contiguous (ignoring dimensions of size 1)?
        var expected = 1
        var contiguous = true
        for (d, s) in zip(t.shape, t.stride).reversed() where d != 1 {
            if s != expected { contiguous = false; break }
            expected *= d  // ≤ the element count, which did not overflow
        }
        return View(byteCount: n, contiguous: contiguous)
    }

    /// A tensor from its checked view: a slice of the storage if contiguous, else gathered.
    static func tensor(_ t: PickleMachine.TensorRef, _ view: View, label: String, storage: ByteView, path: String) throws -> Tensor {
        let width = t.storage.dtype.byteWidth
        if view.byteCount == 0 {
            return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: try storage.slice(0, 0, label), file: path)
        }
        if view.contiguous {
            // storageOffset × width ≤ the last element's byte offset, which checkView bounded.
            return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: try storage.slice(t.storageOffset * width, view.byteCount, "tensor \"\(label)\""), file: path)
        }
        let gathered = ByteStorage.filling(count: view.byteCount) { out in
            storage.withUnsafeBytes { src in PyTorchReader.gather(src, into: out, width: width, shape: t.shape, stride: t.stride, offset: t.storageOffset) }
        }
        return Tensor(name: label, dtype: t.storage.dtype, shape: t.shape, data: gathered.view, file: path)
    }
}
