import Synchronization

/// Aligned copies of in-memory constant payloads, shared by every interpreter prepared with the pool.
///
/// ``Interpreter/init(document:options:constants:)`` copies each inline tensor of a document into memory it
/// can read in place. Documents built from one model's converted weights hold the same `[UInt8]` arrays (the
/// builders cache converted weights by name), so interpreters for several shapes of one model (one per token
/// length, say) would each copy the same weights. With a pool, a payload is copied once: the pool keys it by
/// the identity of the array's storage and keeps the array alive, so the key cannot be reused by another
/// array while the pool exists. Payloads of other arrays (per-call constants) are copied once per array.
///
/// Thread-safe. The pool owns every copy until it is released; each interpreter prepared with it keeps it
/// alive. Give it to evaluators whose constants are bounded (model weights and a few per-shape tables), not to
/// interpreters of per-instruction data, which it would keep for its whole lifetime.
@safe public final class ConstantPool: @unchecked Sendable {
    // @unchecked: `entries` and `owned` are read and written only inside `lock`; the copies never change
    // after they are made.
    @unsafe private struct Entry {
        let source: [UInt8]
        let copy: UnsafeRawPointer
    }
    private let lock = Mutex<Int>(0)
    private nonisolated(unsafe) var entries: [Key: Entry] = unsafe [:]
    private let owned = OwnedBuffers()

    private struct Key: Hashable {
        let address: Int
        let count: Int
    }

    /// Creates an empty pool.
    public init() {}

    /// Bytes held by the pool's copies.
    public var bytes: Int { lock.withLock { $0 } }

    /// The pool's 64-byte aligned copy of `payload`, made on first use.
    /// - Throws: `.outOfMemory` when the copy cannot be allocated.
    func copy(of payload: [UInt8]) throws(RuntimeError) -> UnsafeRawPointer {
        let address = unsafe payload.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
        let key = Key(address: address, count: payload.count)
        return try unsafe lock.withLock { (total: inout Int) throws(RuntimeError) -> UnsafeRawPointer in
            if let e = unsafe entries[key] { return unsafe e.copy }
            let p = try unsafe owned.allocate(bytes: payload.count, "a shared constant")
            unsafe payload.withUnsafeBytes { src in
                if let s = src.baseAddress { unsafe p.copyMemory(from: s, byteCount: src.count) }
            }
            unsafe entries[key] = unsafe Entry(source: payload, copy: UnsafeRawPointer(p))
            total += (payload.count + 63) & ~63
            return UnsafeRawPointer(p)
        }
    }
}
