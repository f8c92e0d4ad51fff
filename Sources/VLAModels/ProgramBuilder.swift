import VLAFormat

/// A model built as a program: a document with one program, and the ids of its inputs and outputs.
public struct BuiltModel: Sendable {
    /// Tensors (weights inline, activations in the arena) and the single program `forward`.
    public var document: VLADocument
    /// The program's input tensors, by role (`"image"`), in program order.
    public var inputs: [(name: String, id: Int)]
    /// The program's output tensors, by role (`"last_hidden_state"`, `"embedding"`), in program order.
    public var outputs: [(name: String, id: Int)]
    /// For text encoders, the attention mask the program was built with (1 real token, 0 padding): it
    /// travels with the last hidden state (HyperVLA's hypernetwork masks padded keys with it).
    public var attentionMask: [UInt8]?

    /// The id of the output called `name`.
    public func output(_ name: String) -> Int? { outputs.first { $0.name == name }?.id }
    /// The id of the input called `name`.
    public func input(_ name: String) -> Int? { inputs.first { $0.name == name }?.id }
}

/// Builds a program from ops: constants go inline, activations into one arena with a static memory plan.
///
/// The plan gives each activation buffer an arena offset (64-byte aligned) reused once the buffer's last
/// reader has run. A view (same bytes, another shape) shares its source's buffer and extends its lifetime.
/// Program inputs and outputs are live for the whole program.
struct ProgramBuilder {
    private(set) var tensors: [TensorEntry] = []
    private var operations: [Operation] = []
    private var inputs: [(String, Int)] = []
    private var outputs: [(String, Int)] = []

    /// Per arena tensor: its buffer index.
    private var bufferOf: [Int: Int] = [:]
    /// Per buffer: size, defining op index (-1 for inputs), last reading op index.
    private var buffers: [(bytes: Int, def: Int, lastUse: Int)] = []

    // MARK: constants

    /// An inline f32 constant.
    mutating func constant(_ name: String, _ shape: [Int], _ values: [Float]) -> Int {
        add(TensorEntry(name: name, type: TensorType(.f32, shape), location: .inline(LittleEndianBytes.of(values))))
    }

    /// An inline f32 constant from its little-endian bytes.
    mutating func constant(_ name: String, _ shape: [Int], bytes: [UInt8]) -> Int {
        add(TensorEntry(name: name, type: TensorType(.f32, shape), location: .inline(bytes)))
    }

    /// An inline i32 constant (token ids).
    mutating func constant(_ name: String, _ shape: [Int], int32 values: [Int32]) -> Int {
        add(TensorEntry(name: name, type: TensorType(.i32, shape), location: .inline(LittleEndianBytes.of(values))))
    }

    /// An inline u8 constant (masks).
    mutating func constant(_ name: String, _ shape: [Int], uint8 values: [UInt8]) -> Int {
        add(TensorEntry(name: name, type: TensorType(.u8, shape), location: .inline(values)))
    }

    // MARK: arena tensors

    /// A program input the caller fills before running.
    mutating func input(_ name: String, _ type: TensorType) -> Int {
        let id = arenaTensor(name, type, def: -1)
        inputs.append((name, id))
        return id
    }

    /// Marks `id` as a program output called `name`.
    mutating func output(_ name: String, _ id: Int) {
        outputs.append((name, id))
    }

    /// A view of `id` with another shape (same element count, same bytes).
    mutating func view(_ id: Int, _ shape: [Int], _ name: String) -> Int {
        let b = bufferOf[id] ?? 0
        return add(
            TensorEntry(name: name, type: TensorType(tensors[id].type.dtype, shape), location: .arena(offset: 0)),
            buffer: b)
    }

    /// Appends an op writing a new activation of type `type`; returns the activation's id.
    mutating func op(
        _ code: OpCode, _ ins: [Int], _ name: String, _ type: TensorType, attributes: [UInt32] = []
    ) -> Int {
        let index = operations.count
        let out = arenaTensor(name, type, def: index)
        for i in ins { use(i, at: index) }
        operations.append(Operation(code, inputs: ins, outputs: [out], attributes: attributes))
        return out
    }

    /// The type of tensor `id`.
    func type(_ id: Int) -> TensorType { tensors[id].type }

    // MARK: finishing

    /// Runs the memory plan and returns the document.
    func finish(programName: String = "forward") -> BuiltModel {
        let end = operations.count
        var lastUse = buffers.map(\.lastUse)
        var def = buffers.map(\.def)
        for (_, id) in inputs + outputs {
            if let b = bufferOf[id] {
                lastUse[b] = end
                def[b] = Swift.min(def[b], -1)
            }
        }
        // Greedy first-fit in order of definition, over buffers still live.
        let order = buffers.indices.sorted { (def[$0], $0) < (def[$1], $1) }
        var placed: [(offset: Int, size: Int, lastUse: Int)] = []
        var offsetOf = [Int](repeating: 0, count: buffers.count)
        var arena = 0
        let align = Layout.arenaAlignment
        for b in order {
            let size = (buffers[b].bytes + align - 1) / align * align
            let live = placed.filter { $0.lastUse >= def[b] }.sorted { $0.offset < $1.offset }
            var candidate = 0
            for p in live {
                if candidate + size <= p.offset { break }
                candidate = Swift.max(candidate, p.offset + p.size)
            }
            offsetOf[b] = candidate
            placed.append((candidate, Swift.max(size, align), lastUse[b]))
            arena = Swift.max(arena, candidate + Swift.max(size, align))
        }
        var tensors = self.tensors
        for (id, b) in bufferOf {
            tensors[id].location = .arena(offset: UInt64(offsetOf[b]))
        }
        let program = Program(
            name: programName, inputs: inputs.map(\.1), outputs: outputs.map(\.1), operations: operations)
        let doc = VLADocument(tensors: tensors, programs: [program], arenaSize: UInt64(arena))
        return BuiltModel(document: doc, inputs: inputs, outputs: outputs, attentionMask: nil)
    }

    // MARK: private

    private mutating func add(_ entry: TensorEntry, buffer: Int? = nil) -> Int {
        tensors.append(entry)
        let id = tensors.count - 1
        if let buffer { bufferOf[id] = buffer }
        return id
    }

    private mutating func arenaTensor(_ name: String, _ type: TensorType, def: Int) -> Int {
        buffers.append((type.elementCount * type.dtype.byteWidth, def, def))
        return add(TensorEntry(name: name, type: type, location: .arena(offset: 0)), buffer: buffers.count - 1)
    }

    private mutating func use(_ id: Int, at index: Int) {
        if let b = bufferOf[id] { buffers[b].lastUse = Swift.max(buffers[b].lastUse, index) }
    }
}

/// f32 attribute word.
func bits(_ x: Float) -> UInt32 { x.bitPattern }
