/// Where one planned op of an interpreter came from: an op of the file's program, or, for the ops a linked
/// `call` expands to, a place inside that call (see ``Interpreter/origins``).
public struct OpOrigin: Sendable, Hashable {
    /// What a planned op expanded from a `call` is.
    public enum Part: Sendable, Hashable {
        /// The copy of the call's input `index` into the called program's input.
        case copyIn(Int)
        /// Op `index` of the called blob program.
        case op(Int)
        /// The copy of the called program's output `index` into the call's output.
        case copyOut(Int)
    }

    /// A place inside a linked `call`.
    public struct Callee: Sendable, Hashable {
        /// The shared-blob reference (index into the file's `sharedRefs`).
        public var blob: Int
        /// The index of the called program in that blob.
        public var program: Int
        /// Which part of the call.
        public var part: Part

        public init(blob: Int, program: Int, part: Part) {
            self.blob = blob
            self.program = program
            self.part = part
        }
    }

    /// The index of the op in the file's program (the `call` for every op expanded from one).
    public var op: Int
    /// For ops expanded from a `call`: where inside it; nil for the file's own ops.
    public var callee: Callee?

    public init(op: Int, callee: Callee? = nil) {
        self.op = op
        self.callee = callee
    }
}
