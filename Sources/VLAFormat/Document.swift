/// The contents of a .vla file as plain values: what the writer takes and what the reader reconstructs.
///
/// Tensor ids are indices into ``tensors``. Programs, test vectors and the metadata refer to tensors by id.
public struct VLADocument: Sendable, Hashable {
    /// True for a shared blob (tensors that policies reference by the blob's SHA-256), false for a policy.
    public var isSharedBlob: Bool
    /// The tensor table, in id order.
    public var tensors: [TensorEntry]
    /// Instruction, model identity, action and image contracts.
    public var metadata: Metadata
    /// Named entry points (`reset`, `step`), each an op list.
    public var programs: [Program]
    /// Bytes of the one arena all programs share; arena tensors live at offsets inside it.
    public var arenaSize: UInt64
    /// Where the file came from.
    public var provenance: Provenance
    /// Inputs and expected outputs of programs, run in order on one zeroed arena.
    public var testVectors: [TestVector]
    /// Shared blobs that external tensors point into.
    public var sharedRefs: [SharedReference]

    /// Creates a document.
    public init(
        isSharedBlob: Bool = false, tensors: [TensorEntry] = [], metadata: Metadata = Metadata(),
        programs: [Program] = [], arenaSize: UInt64 = 0, provenance: Provenance = Provenance(),
        testVectors: [TestVector] = [], sharedRefs: [SharedReference] = []
    ) {
        self.isSharedBlob = isSharedBlob
        self.tensors = tensors
        self.metadata = metadata
        self.programs = programs
        self.arenaSize = arenaSize
        self.provenance = provenance
        self.testVectors = testVectors
        self.sharedRefs = sharedRefs
    }
}

extension VLADocument {
    /// The lowest minor version of format 1 that expresses this document: 4 when a `linear_i8` op has an attribute
    /// word (its flags: zero-point activations) or an `attention` op has bf16 products
    /// (``AttentionFlags/bf16Products``); 3 when its action contract has a squash
    /// scale other than the bound or `bounds` normalization, or its image contract resizes with
    /// `pad_lanczos3_antialias`; 2 when it has a `linear_i8` or `linear_bf16` op; 1 when it has a `call` op, a shared
    /// blob with programs or arena tensors, or a test-vector value that is not inline; 0 otherwise.
    public var minimumMinorVersion: UInt16 {
        if programs.contains(where: { $0.operations.contains { $0.opcode == .linearI8 && !$0.attributes.isEmpty } }) {
            return 4
        }
        if programs.contains(where: { $0.operations.contains(where: \.hasBF16Attention) }) { return 4 }
        if metadata.action.hasSquashScale || metadata.action.normalization == .bounds { return 3 }
        if metadata.image.resize == .padLanczos3Antialias { return 3 }
        if programs.contains(where: { $0.operations.contains { $0.opcode.isReducedPrecisionLinear } }) { return 2 }
        if programs.contains(where: { $0.operations.contains { $0.opcode == .call } }) { return 1 }
        if isSharedBlob && (!programs.isEmpty || arenaSize > 0) { return 1 }
        for v in testVectors {
            for b in v.inputs + v.expected where tensors.indices.contains(b.value) {
                if case .inline = tensors[b.value].location { continue }
                return 1
            }
        }
        return 0
    }
}

/// One tensor of the tensor table.
public struct TensorEntry: Sendable, Hashable {
    /// Unique, non-empty UTF-8 name.
    public var name: String
    /// Element type and shape.
    public var type: TensorType
    /// Where the bytes live.
    public var location: TensorLocation
    /// For `i8`: the id of the f32 scale tensor, one scale per element of the last axis. `nil` otherwise.
    public var scaleTensor: Int?

    /// Creates a tensor entry.
    public init(name: String, type: TensorType, location: TensorLocation, scaleTensor: Int? = nil) {
        self.name = name
        self.type = type
        self.location = location
        self.scaleTensor = scaleTensor
    }

    /// Bytes of the payload: element count × dtype width.
    public var byteCount: Int { type.elementCount * type.dtype.byteWidth }
}

/// Where a tensor's bytes live.
public enum TensorLocation: Sendable, Hashable {
    /// In this file; the writer places the payload in the DATA section at a 64-byte aligned offset.
    case inline([UInt8])
    /// Tensor number `index` of shared blob `ref` (an index into ``VLADocument/sharedRefs``).
    case external(ref: Int, index: Int)
    /// At `offset` in the arena: written by programs or by the runtime (inputs), never stored.
    case arena(offset: UInt64)
}

/// A named entry point: an op list with its input and output tensors.
public struct Program: Sendable, Hashable {
    /// `reset` or `step` for policies; any UTF-8 name.
    public var name: String
    /// Arena tensors the caller fills before running.
    public var inputs: [Int]
    /// Arena tensors the caller reads after running.
    public var outputs: [Int]
    /// The ops, run in order.
    public var operations: [Operation]

    /// Creates a program.
    public init(name: String, inputs: [Int], outputs: [Int], operations: [Operation]) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.operations = operations
    }
}

/// One op of a program.
public struct Operation: Sendable, Hashable {
    /// What it computes.
    public var opcode: OpCode
    /// Input tensor ids.
    public var inputs: [Int]
    /// Output tensor ids (arena tensors).
    public var outputs: [Int]
    /// Attribute words (f32 attributes as bit patterns).
    public var attributes: [UInt32]

    /// Creates an op.
    public init(_ opcode: OpCode, inputs: [Int], outputs: [Int], attributes: [UInt32] = []) {
        self.opcode = opcode
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// Whether this is an `attention` op whose products are bf16 (``AttentionFlags/bf16Products``, format 1.4).
    public var hasBF16Attention: Bool {
        opcode == .attention && attributes.count == 2 && attributes[1] & AttentionFlags.bf16Products != 0
    }
}

/// A reference to a shared blob by content.
public struct SharedReference: Sendable, Hashable {
    /// SHA-256 of the whole blob file.
    public var sha256: [UInt8]
    /// What the blob is (`backbone`, `hn-tail`, ...), for messages and file names.
    public var role: String
    /// The blob file's size in bytes.
    public var size: UInt64

    /// Creates a reference.
    public init(sha256: [UInt8], role: String, size: UInt64) {
        self.sha256 = sha256
        self.role = role
        self.size = size
    }
}

/// Where a file came from: source hashes, the compiler, its options. No timestamps.
public struct Provenance: Sendable, Hashable {
    /// One input file.
    public struct Source: Sendable, Hashable {
        /// A role or a path relative to the model directory (`model/config.json`).
        public var name: String
        /// SHA-256 of the file.
        public var sha256: [UInt8]
        /// Its size in bytes.
        public var size: UInt64

        /// Creates a source entry.
        public init(name: String, sha256: [UInt8], size: UInt64) {
            self.name = name
            self.sha256 = sha256
            self.size = size
        }
    }

    /// The compiler that wrote the file (`vlac 0.1.0`).
    public var compiler: String
    /// The input files.
    public var sources: [Source]
    /// Options as key/value pairs, in the order given.
    public var options: [Option]

    /// One option.
    public struct Option: Sendable, Hashable {
        /// Its name.
        public var key: String
        /// Its value, as text.
        public var value: String

        /// Creates an option entry.
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Creates provenance.
    public init(compiler: String = "", sources: [Source] = [], options: [Option] = []) {
        self.compiler = compiler
        self.sources = sources
        self.options = options
    }
}

/// One test vector: set these inputs, run the program, compare these outputs.
public struct TestVector: Sendable, Hashable {
    /// Index into the programs.
    public var program: Int
    /// (program input tensor, tensor holding its value: inline, or from 1.1 on external).
    public var inputs: [Binding]
    /// (program output tensor, tensor holding the expected value: inline, or from 1.1 on external).
    public var expected: [Binding]
    /// Largest allowed absolute difference per element.
    public var tolerance: Float

    /// A target tensor and the tensor holding its value (inline, or external: a tensor of a shared blob).
    public struct Binding: Sendable, Hashable {
        /// The program's input or output tensor.
        public var target: Int
        /// An inline or external tensor of the same dtype and shape.
        public var value: Int

        /// Creates a binding.
        public init(target: Int, value: Int) {
            self.target = target
            self.value = value
        }
    }

    /// Creates a test vector.
    public init(program: Int, inputs: [Binding], expected: [Binding], tolerance: Float) {
        self.program = program
        self.inputs = inputs
        self.expected = expected
        self.tolerance = tolerance
    }
}
