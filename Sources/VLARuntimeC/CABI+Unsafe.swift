// The C ABI of include/vlart.h. Every function catches every error, checks every pointer and size, and
// returns a status; nothing here may trap on caller input (see the header for ownership and threading).

import Synchronization
import VLAFormat
import VLARuntime

#if canImport(Glibc)
import Glibc
#else
#error("VLARuntimeC is built and tested on Linux (Glibc) only")
#endif

let vlaOK: Int32 = 0
let vlaInvalidArgument: Int32 = 1
let vlaInvalidFile: Int32 = 2
let vlaSharedBlob: Int32 = 3
let vlaInvalidProgram: Int32 = 4
let vlaState: Int32 = 5
let vlaBufferTooSmall: Int32 = 6
let vlaRuntime: Int32 = 7
let vlaOutOfMemory: Int32 = 8
let vlaNonFiniteAction: Int32 = 9
let vlaBusy: Int32 = 10
let vlaLimitExceeded: Int32 = 11

/// The per-thread last error message.
final class ErrorBox {
    var bytes: [UInt8] = []
}

/// The pthread key of the per-thread ``ErrorBox``; its destructor releases the box when a thread exits.
let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    _ = pthread_key_create(&key) { p in
        if let p { Unmanaged<ErrorBox>.fromOpaque(p).release() }
    }
    return key
}()

func errorBox() -> ErrorBox {
    if let p = pthread_getspecific(errorKey) { return Unmanaged<ErrorBox>.fromOpaque(p).takeUnretainedValue() }
    let box = ErrorBox()
    _ = pthread_setspecific(errorKey, Unmanaged.passRetained(box).toOpaque())
    return box
}

@discardableResult
func fail(_ status: Int32, _ message: String) -> Int32 {
    errorBox().bytes = Array(message.utf8)
    return status
}

func fail(_ error: RuntimeError) -> Int32 {
    let status: Int32
    switch error.code {
    case .invalidFile: status = vlaInvalidFile
    case .sharedBlob: status = vlaSharedBlob
    case .invalidProgram, .unsupported: status = vlaInvalidProgram
    case .invalidState: status = vlaState
    case .invalidInput: status = vlaInvalidArgument
    case .outOfMemory: status = vlaOutOfMemory
    case .nonFiniteAction: status = vlaNonFiniteAction
    case .limitExceeded: status = vlaLimitExceeded
    default: status = vlaRuntime
    }
    return fail(status, error.description)
}

/// The object behind a `vla_session_t *`: the session and its busy flag.
final class SessionHandle {
    let session: PolicySession
    /// Set while a call runs on the session: a second thread calling at the same time gets `VLA_ERR_BUSY`
    /// instead of racing on the arena and the episode state.
    let busy = Atomic<Bool>(false)
    init(_ session: PolicySession) { self.session = session }

    /// Marks the session busy; false when another call holds it.
    func enter() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged }
    /// Ends a call that ``enter()`` admitted.
    func leave() { busy.store(false, ordering: .releasing) }
}

/// The addresses of every handle vla_policy_open and vla_session_create returned and that is not closed or
/// destroyed yet. A handle is dereferenced only after it is found here, so a closed, destroyed, foreign or
/// garbage pointer is a status (`VLA_ERR_INVALID_ARGUMENT`), never a read of freed memory, unless a later
/// open or create was given the same address (then it names that new object).
let liveHandles = Mutex<Set<UInt>>([])

/// Retains `object` for the caller and records the handle as live.
func register(_ object: AnyObject) -> OpaquePointer {
    let p = Unmanaged.passRetained(object).toOpaque()
    liveHandles.withLock { _ = $0.insert(UInt(bitPattern: p)) }
    return OpaquePointer(p)
}

/// The live object behind a handle, as a strong reference (a concurrent close or destroy cannot free it
/// while the caller uses it); nil for NULL, a handle that is not live, or one of another kind. Allocates nothing.
func lookup<T: AnyObject>(_ p: OpaquePointer?, as: T.Type) -> T? {
    guard let p else { return nil }
    let raw = UnsafeRawPointer(p)
    // Retained under the lock (balanced by takeRetainedValue below), so that a destroy between the lookup and
    // the use cannot free the object.
    let live = liveHandles.withLock { live -> Bool in
        guard live.contains(UInt(bitPattern: raw)) else { return false }
        _ = Unmanaged<AnyObject>.fromOpaque(raw).retain()
        return true
    }
    guard live else { return nil }
    return Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue() as? T
}

/// Forgets a live handle and releases the caller's reference; false (nothing released) when it is not live.
@discardableResult
func unregister(_ p: OpaquePointer?) -> Bool {
    guard let p else { return false }
    let raw = UnsafeRawPointer(p)
    let removed = liveHandles.withLock { $0.remove(UInt(bitPattern: raw)) != nil }
    if removed { Unmanaged<AnyObject>.fromOpaque(raw).release() }
    return removed
}

func policy(_ p: OpaquePointer?) -> Policy? { lookup(p, as: Policy.self) }

func sessionHandle(_ p: OpaquePointer?) -> SessionHandle? { lookup(p, as: SessionHandle.self) }

func session(_ p: OpaquePointer?) -> PolicySession? { sessionHandle(p)?.session }

/// The message for a NULL or dead handle.
func badHandle(_ function: String, _ kind: String, _ p: OpaquePointer?) -> Int32 {
    fail(vlaInvalidArgument, p == nil ? "\(function): \(kind) is NULL" : "\(function): \(kind) is not a live handle (closed or destroyed already, or not a \(kind))")
}

/// Runs `body` on a live session marked busy; `VLA_ERR_BUSY` when another thread is inside a call on it.
func withSession(_ function: String, _ s: OpaquePointer?, _ body: (PolicySession) -> Int32) -> Int32 {
    guard let handle = sessionHandle(s) else { return badHandle(function, "session", s) }
    guard handle.enter() else {
        return fail(vlaBusy, "\(function): another thread is inside a call on this session; use one session per thread")
    }
    defer { handle.leave() }
    return body(handle.session)
}

/// Range checks of a frame's `height`, `width` and `byte_count` (C `size_t`, so compared unsigned: `(size_t)-1`
/// is a huge size, not −1), or a failure status.
func frameBytes(_ height: UInt, _ width: UInt, _ byteCount: UInt) -> (Int, Int32)? {
    guard (1...16384).contains(height), (1...16384).contains(width) else {
        return (0, fail(vlaInvalidArgument, "frame size \(height)×\(width) is outside 1...16384 per side"))
    }
    let expected = height * width * 3  // ≤ 16384² · 3: no overflow
    guard byteCount == expected else {
        return (0, fail(vlaInvalidArgument, "frame byte_count is \(byteCount), a \(height)×\(width) RGB frame has \(expected) bytes (height × width × 3)"))
    }
    return nil
}

@_cdecl("vla_last_error_message")
public func vla_last_error_message(_ buf: UnsafeMutablePointer<CChar>?, _ len: UInt) -> UInt {
    let bytes = errorBox().bytes
    guard let buf, len > 0 else { return UInt(bytes.count) }
    let n = min(bytes.count, Int(min(len - 1, UInt(Int.max))))
    for i in 0..<n { buf[i] = CChar(bitPattern: bytes[i]) }
    buf[n] = 0
    return UInt(bytes.count)
}

@_cdecl("vla_policy_open")
public func vla_policy_open(
    _ path: UnsafePointer<CChar>?, _ dirs: UnsafePointer<UnsafePointer<CChar>?>?, _ dirCount: UInt,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let out else { return fail(vlaInvalidArgument, "vla_policy_open: out is NULL") }
    out.pointee = nil
    guard let path else { return fail(vlaInvalidArgument, "vla_policy_open: path is NULL") }
    guard dirCount <= 1024 else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dir_count \(dirCount) is over 1024") }
    var search: [String]? = nil
    if dirCount > 0 {
        guard let dirs else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dirs is NULL with shared_dir_count \(dirCount)") }
        var list: [String] = []
        for i in 0..<Int(dirCount) {
            guard let d = dirs[i] else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dirs[\(i)] is NULL") }
            list.append(String(cString: d))
        }
        search = list
    }
    do {
        let p = try Policy(path: String(cString: path), sharedSearchPaths: search)
        out.pointee = register(p)
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_policy_close")
public func vla_policy_close(_ p: OpaquePointer?) {
    guard p != nil else { return }
    if policy(p) == nil || !unregister(p) { fail(vlaInvalidArgument, "vla_policy_close: policy is not a live handle (closed already?); nothing was released") }
}

/// Mirrors `vla_policy_info_t` (same field order and types; C layout rules give the same offsets).
struct PolicyInfo {
    var actionDim: UInt32
    var horizon: UInt32
    var imageHeight: UInt32
    var imageWidth: UInt32
    var hasReset: Int32
    var mappedBytes: UInt64
    var arenaBytes: UInt64
}

@_cdecl("vla_policy_info")
public func vla_policy_info(_ p: OpaquePointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    guard let policy = policy(p) else { return badHandle("vla_policy_info", "policy", p) }
    guard let info else { return fail(vlaInvalidArgument, "vla_policy_info: info is NULL") }
    let m = policy.metadata
    let value = PolicyInfo(
        actionDim: m.action.actionDim, horizon: m.action.horizon, imageHeight: m.image.height, imageWidth: m.image.width,
        hasReset: policy.resetProgram == nil ? 0 : 1, mappedBytes: UInt64(policy.mappedBytes), arenaBytes: policy.sessionArenaBytes)
    info.storeBytes(of: value, as: PolicyInfo.self)
    return vlaOK
}

@_cdecl("vla_policy_self_test")
public func vla_policy_self_test(_ p: OpaquePointer?, _ passed: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let policy = policy(p) else { return badHandle("vla_policy_self_test", "policy", p) }
    guard let passed else { return fail(vlaInvalidArgument, "vla_policy_self_test: passed is NULL") }
    do {
        let results = try policy.selfTest()
        let failing = results.filter { !$0.passed }
        passed.pointee = failing.isEmpty ? 1 : 0
        if let f = failing.first {
            fail(vlaRuntime, "test vector \(f.index) (\(f.program)): \(f.failure ?? "does not hold")")
        }
        return vlaOK
    } catch {
        return fail(error)
    }
}

/// Mirrors `vla_session_options_t` (version 1: 16 bytes; C layout rules give the same offsets).
struct SessionOptions {
    var structSize: UInt32
    var threads: Int32
    var maxArenaBytes: UInt64
}

@_cdecl("vla_session_create")
public func vla_session_create(_ p: OpaquePointer?, _ threads: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    createSession("vla_session_create", p, threads: threads, maxArenaBytes: 0, out)
}

@_cdecl("vla_session_create_with_options")
public func vla_session_create_with_options(
    _ p: OpaquePointer?, _ options: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let out else { return fail(vlaInvalidArgument, "vla_session_create_with_options: out is NULL") }
    out.pointee = nil
    guard let options else { return fail(vlaInvalidArgument, "vla_session_create_with_options: options is NULL") }
    let size = options.loadUnaligned(as: UInt32.self)
    guard size >= UInt32(MemoryLayout<SessionOptions>.size) else {
        return fail(vlaInvalidArgument, "vla_session_create_with_options: options->struct_size is \(size), at least sizeof(vla_session_options_t) = \(MemoryLayout<SessionOptions>.size) (initialize with VLA_SESSION_OPTIONS_INIT)")
    }
    let value = options.loadUnaligned(as: SessionOptions.self)
    return createSession("vla_session_create_with_options", p, threads: value.threads, maxArenaBytes: value.maxArenaBytes, out)
}

/// Creates a session with `threads` (0...64, 0 means 1) and an arena limit (0: the default).
func createSession(_ function: String, _ p: OpaquePointer?, threads: Int32, maxArenaBytes: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(vlaInvalidArgument, "\(function): out is NULL") }
    out.pointee = nil
    guard let policy = policy(p) else { return badHandle(function, "policy", p) }
    guard (0...64).contains(threads) else { return fail(vlaInvalidArgument, "\(function): threads \(threads) is outside 0...64") }
    var limits = RuntimeLimits()
    if maxArenaBytes != 0 { limits.maxArenaBytes = Int(clamping: maxArenaBytes) }
    let need = policy.sessionArenaBytes
    guard need <= UInt64(limits.maxArenaBytes) else {
        return fail(vlaLimitExceeded, "\(function): the policy's session arena is \(need) bytes, over the limit of \(limits.maxArenaBytes) (raise max_arena_bytes with vla_session_create_with_options if this machine has the memory)")
    }
    do {
        let s = try PolicySession(policy: policy, options: RuntimeOptions(threads: max(1, Int(threads)), limits: limits))
        out.pointee = register(SessionHandle(s))
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_session_destroy")
public func vla_session_destroy(_ s: OpaquePointer?) {
    guard s != nil else { return }
    if sessionHandle(s) == nil || !unregister(s) { fail(vlaInvalidArgument, "vla_session_destroy: session is not a live handle (destroyed already?); nothing was released") }
}

@_cdecl("vla_session_reset")
public func vla_session_reset(_ s: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ height: UInt, _ width: UInt, _ byteCount: UInt) -> Int32 {
    withSession("vla_session_reset", s) { session in
        guard let rgb else { return fail(vlaInvalidArgument, "vla_session_reset: rgb is NULL") }
        if let (_, status) = frameBytes(height, width, byteCount) { return status }
        do throws(RuntimeError) {
            try session.reset(frame: UnsafeBufferPointer(start: rgb, count: Int(byteCount)).span, height: Int(height), width: Int(width))
            return vlaOK
        } catch {
            return fail(error)
        }
    }
}

func copyAction(_ session: PolicySession, _ action: UnsafeMutablePointer<Float>) {
    let a = session.actions
    for i in 0..<a.actionDim { action[i] = a.action[i] }
}

/// `capacity` (a C `size_t`) against the action size, unsigned: `(size_t)-1` is a large buffer, never −1.
func checkCapacity(_ function: String, _ name: String, _ capacity: UInt, _ needed: Int, _ what: String) -> Int32? {
    guard capacity < UInt(needed) else { return nil }
    return fail(vlaBufferTooSmall, "\(function): \(name) \(capacity) is below \(what) \(needed)")
}

@_cdecl("vla_session_step")
public func vla_session_step(
    _ s: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ height: UInt, _ width: UInt, _ byteCount: UInt,
    _ action: UnsafeMutablePointer<Float>?, _ capacity: UInt
) -> Int32 {
    withSession("vla_session_step", s) { session in
        guard let rgb else { return fail(vlaInvalidArgument, "vla_session_step: rgb is NULL") }
        guard let action else { return fail(vlaInvalidArgument, "vla_session_step: action is NULL") }
        if let status = checkCapacity("vla_session_step", "action_capacity", capacity, session.actions.actionDim, "action_dim") { return status }
        if let (_, status) = frameBytes(height, width, byteCount) { return status }
        do throws(RuntimeError) {
            _ = try session.step(frame: UnsafeBufferPointer(start: rgb, count: Int(byteCount)).span, height: Int(height), width: Int(width))
            copyAction(session, action)
            return vlaOK
        } catch {
            return fail(error)
        }
    }
}

@_cdecl("vla_session_step_preprocessed")
public func vla_session_step_preprocessed(
    _ s: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ byteCount: UInt, _ action: UnsafeMutablePointer<Float>?, _ capacity: UInt
) -> Int32 {
    withSession("vla_session_step_preprocessed", s) { session in
        guard let pixels else { return fail(vlaInvalidArgument, "vla_session_step_preprocessed: pixels is NULL") }
        guard let action else { return fail(vlaInvalidArgument, "vla_session_step_preprocessed: action is NULL") }
        if let status = checkCapacity("vla_session_step_preprocessed", "action_capacity", capacity, session.actions.actionDim, "action_dim") { return status }
        let expected = session.image.height * session.image.width * 3
        guard byteCount == UInt(expected) else {
            return fail(vlaInvalidArgument, "vla_session_step_preprocessed: byte_count is \(byteCount), expected \(session.image.height)×\(session.image.width)×3 = \(expected)")
        }
        do throws(RuntimeError) {
            _ = try session.step(pixels: UnsafeBufferPointer(start: pixels, count: expected).span)
            copyAction(session, action)
            return vlaOK
        } catch {
            return fail(error)
        }
    }
}

@_cdecl("vla_session_chunk")
public func vla_session_chunk(_ s: OpaquePointer?, _ processed: Int32, _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    withSession("vla_session_chunk", s) { session in
        guard let out else { return fail(vlaInvalidArgument, "vla_session_chunk: out is NULL") }
        guard processed == 0 || processed == 1 else { return fail(vlaInvalidArgument, "vla_session_chunk: processed must be 0 or 1, got \(processed)") }
        let chunk = processed == 1 ? session.processedChunk : session.rawChunk
        if let status = checkCapacity("vla_session_chunk", "capacity", capacity, chunk.count, "horizon × action_dim =") { return status }
        for i in 0..<chunk.count { out[i] = chunk[i] }
        return vlaOK
    }
}
