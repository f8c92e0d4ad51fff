/// The vlac runtime: the op set, its kernels, the interpreter and the arena.
///
/// Filled in by the op-set and runtime work; the compiler evaluates with the same kernels.
public enum VLARuntimeModule {}
