import VLAFormat
import VLAModels

/// Assembles a policy document from built model programs, and plans its one arena.
///
/// The memory plan works on regions. Arena bytes `[0, persistent)` hold what `reset` writes and `step` reads
/// (the generated weights, one 64-byte-aligned slot per leaf); no program writes them except `reset`'s head
/// ops. After that, each program's parts (backbone, then policy tail; or frozen encoder, then HN tail) get
/// consecutive regions sized by their own first-fit plans (``VLAModels`` builders), and the programs overlay
/// each other since they never run at the same time. The arena is `persistent + max(program regions)`.
struct Assembler {
    var tensors: [TensorEntry] = []
    var sharedRefs: [SharedReference] = []
    /// Bytes at the start of the arena reserved for reset → step tensors.
    var persistent: UInt64 = 0
    /// Largest end offset of any arena tensor.
    var arenaEnd: UInt64 = 0

    /// How an imported program's input is provided.
    enum InputBinding {
        /// An existing tensor of this document (another part's output); a view is made if the shape differs.
        case tensor(Int)
        /// An inline constant with these values.
        case inline([Float])
        /// An arena tensor at this (persistent) offset.
        case arena(UInt64)
    }

    /// Where an imported part's constants go.
    enum ConstantPlacement {
        /// Inline in this file.
        case inline
        /// External tensors of shared blob `ref`, found by name in `index`; names not found stay inline.
        case external(ref: Int, index: [String: Int])
    }

    /// The result of importing one part.
    struct Imported {
        var ops: [Operation]
        /// Old id → new id.
        var map: [Int: Int]
        /// Input and output names → new ids.
        var inputs: [String: Int]
        var outputs: [String: Int]
    }

    /// Imports `model`'s single program: its tensors prefixed with `prefix`, its arena shifted to `base`.
    mutating func importPart(
        _ model: BuiltModel, prefix: String, base: UInt64, constants: ConstantPlacement,
        inputs bindings: [String: InputBinding] = [:], outputs placed: [String: UInt64] = [:]
    ) -> Imported {
        let doc = model.document
        var map: [Int: Int] = [:]
        let inputNames = Dictionary(model.inputs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let outputNames = Dictionary(model.outputs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for (id, t) in doc.tensors.enumerated() {
            var entry = t
            entry.name = prefix + t.name
            if let name = inputNames[id], let binding = bindings[name] {
                switch binding {
                case .tensor(let existing):
                    if tensors[existing].type == t.type {
                        map[id] = existing
                        continue
                    }
                    entry.name = prefix + name + ".view"
                    entry.location = tensors[existing].location
                case .inline(let values):
                    entry.location = .inline(Bytes.of(values))
                case .arena(let offset):
                    entry.location = .arena(offset: offset)
                    arenaEnd = max(arenaEnd, offset + UInt64(t.byteCount))
                }
            } else if let name = outputNames[id], let offset = placed[name] {
                entry.location = .arena(offset: offset)
                arenaEnd = max(arenaEnd, offset + UInt64(t.byteCount))
            } else {
                switch t.location {
                case .arena(let offset):
                    entry.location = .arena(offset: base + offset)
                    arenaEnd = max(arenaEnd, base + offset + UInt64(t.byteCount))
                case .inline:
                    if case .external(let ref, let index) = constants, let k = index[entry.name] {
                        entry.location = .external(ref: ref, index: k)
                    }
                case .external:
                    break
                }
            }
            tensors.append(entry)
            map[id] = tensors.count - 1
        }
        let program = doc.programs[0]
        let ops = program.operations.map { op in
            Operation(op.opcode, inputs: op.inputs.map { map[$0] ?? $0 }, outputs: op.outputs.map { map[$0] ?? $0 }, attributes: op.attributes)
        }
        var ins: [String: Int] = [:]
        for (name, id) in model.inputs { ins[name] = map[id] }
        var outs: [String: Int] = [:]
        for (name, id) in model.outputs { outs[name] = map[id] }
        return Imported(ops: ops, map: map, inputs: ins, outputs: outs)
    }

    /// Adds an inline f32 tensor.
    mutating func inline(_ name: String, _ shape: [Int], _ values: [Float]) -> Int {
        tensors.append(TensorEntry(name: name, type: TensorType(.f32, shape), location: .inline(Bytes.of(values))))
        return tensors.count - 1
    }

    /// Adds an inline f32 tensor from its little-endian bytes.
    mutating func inlineBytes(_ name: String, _ shape: [Int], _ bytes: [UInt8]) -> Int {
        tensors.append(TensorEntry(name: name, type: TensorType(.f32, shape), location: .inline(bytes)))
        return tensors.count - 1
    }

    /// The arena size: the largest end, rounded up to 64.
    var arenaSize: UInt64 { (max(arenaEnd, persistent) + 63) / 64 * 64 }
}

/// Little-endian bytes of f32 values.
enum Bytes {
    static func of(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 4)
        for (i, v) in values.enumerated() {
            let b = v.bitPattern.littleEndian
            out[4 * i] = UInt8(truncatingIfNeeded: b)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: b >> 16)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: b >> 24)
        }
        return out
    }
}

/// One program of a shared blob: a built model's single program under `name`.
struct BlobProgram {
    var name: String
    var model: BuiltModel
    /// Prepended to the names of the program's tensors.
    var prefix: String
    /// The model outputs the program returns (what policies consume); nil: all of them.
    var outputs: [String]? = nil
}

/// A format 1.1 shared blob that holds built models' programs (`call` targets) and their constants.
///
/// Tensors are named `<part prefix><name>`. Constants are stored once: a constant of a later program with the same
/// prefixed name, type and bytes as an earlier one is shared; one whose bytes differ is renamed
/// `<prefix><program>/<name>` (parts must have distinct prefixes). Arena tensors keep their own plan's offsets: the
/// programs overlay one arena of the largest plan's size (they never run at the same time). `extra` tensors
/// (inline, such as the test frame) are appended.
///
/// - Returns: the blob document and the name → index map of its tensors.
func sharedBlob(programs parts: [BlobProgram], role: String, metadata: Metadata, provenance: Provenance,
                extra: [TensorEntry] = []) -> (VLADocument, [String: Int]) {
    var tensors: [TensorEntry] = []
    var index: [String: Int] = [:]
    var programs: [Program] = []
    var arena: UInt64 = 0
    for part in parts {
        let doc = part.model.document
        let prefix = part.prefix
        var map: [Int: Int] = [:]
        var pendingScale: [(Int, Int)] = []
        for (id, t) in doc.tensors.enumerated() {
            var e = t
            switch t.location {
            case .arena:
                e.name = prefix + t.name
            default:
                e.name = prefix + t.name
                if let k = index[e.name] {
                    if tensors[k].type == t.type, tensors[k].location == t.location {
                        map[id] = k
                        continue
                    }
                    e.name = prefix + part.name + "/" + t.name
                }
            }
            if let s = t.scaleTensor { pendingScale.append((tensors.count, s)) }
            index[e.name] = tensors.count
            tensors.append(e)
            map[id] = tensors.count - 1
        }
        for (k, s) in pendingScale { tensors[k].scaleTensor = map[s] }
        let program = doc.programs[0]
        programs.append(Program(
            name: part.name, inputs: part.model.inputs.map { map[$0.id] ?? -1 },
            outputs: part.model.outputs.filter { part.outputs?.contains($0.name) ?? true }.map { map[$0.id] ?? -1 },
            operations: program.operations.map { op in
                Operation(op.opcode, inputs: op.inputs.map { map[$0] ?? -1 }, outputs: op.outputs.map { map[$0] ?? -1 }, attributes: op.attributes)
            }))
        arena = max(arena, doc.arenaSize)
    }
    for e in extra {
        index[e.name] = tensors.count
        tensors.append(e)
    }
    var m = metadata
    m.role = role
    m.instruction = ""
    m.action = ActionContract()
    let doc = VLADocument(isSharedBlob: true, tensors: tensors, metadata: m, programs: programs, arenaSize: (arena + 63) / 64 * 64, provenance: provenance)
    return (doc, index)
}
