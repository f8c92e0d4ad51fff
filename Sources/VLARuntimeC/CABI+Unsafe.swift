// The C ABI of include/vlart.h. Every function catches every error, checks every pointer and size, and
// returns a status; nothing here may trap on caller input (see the header for ownership and threading).

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
    case .invalidInput: status = error.message.contains("reset") && error.message.contains("before step") ? vlaState : vlaInvalidArgument
    default: status = vlaRuntime
    }
    return fail(status, error.description)
}

/// The object behind a `vla_session_t *`.
final class SessionHandle {
    let session: PolicySession
    init(_ session: PolicySession) { self.session = session }
}

func policy(_ p: OpaquePointer?) -> Policy? {
    guard let p else { return nil }
    return Unmanaged<Policy>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

func session(_ p: OpaquePointer?) -> PolicySession? {
    guard let p else { return nil }
    return Unmanaged<SessionHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue().session
}

/// `height · width · 3` with overflow and range checks, or a failure status.
func frameBytes(_ height: Int, _ width: Int, _ byteCount: Int) -> (Int, Int32)? {
    guard (1...16384).contains(height), (1...16384).contains(width) else {
        return (0, fail(vlaInvalidArgument, "frame size \(height)×\(width) is outside 1...16384 per side"))
    }
    let expected = height * width * 3  // ≤ 16384² · 3: no overflow on 64-bit
    guard byteCount == expected else {
        return (0, fail(vlaInvalidArgument, "frame byte_count is \(byteCount), a \(height)×\(width) RGB frame has \(expected) bytes (height × width × 3)"))
    }
    return nil
}

@_cdecl("vla_last_error_message")
public func vla_last_error_message(_ buf: UnsafeMutablePointer<CChar>?, _ len: Int) -> Int {
    let bytes = errorBox().bytes
    guard let buf, len > 0 else { return bytes.count }
    let n = min(bytes.count, len - 1)
    for i in 0..<n { buf[i] = CChar(bitPattern: bytes[i]) }
    buf[n] = 0
    return bytes.count
}

@_cdecl("vla_policy_open")
public func vla_policy_open(
    _ path: UnsafePointer<CChar>?, _ dirs: UnsafePointer<UnsafePointer<CChar>?>?, _ dirCount: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let out else { return fail(vlaInvalidArgument, "vla_policy_open: out is NULL") }
    out.pointee = nil
    guard let path else { return fail(vlaInvalidArgument, "vla_policy_open: path is NULL") }
    guard dirCount >= 0, dirCount <= 1024 else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dir_count \(dirCount) is over 1024") }
    var search: [String]? = nil
    if dirCount > 0 {
        guard let dirs else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dirs is NULL with shared_dir_count \(dirCount)") }
        var list: [String] = []
        for i in 0..<dirCount {
            guard let d = dirs[i] else { return fail(vlaInvalidArgument, "vla_policy_open: shared_dirs[\(i)] is NULL") }
            list.append(String(cString: d))
        }
        search = list
    }
    do {
        let p = try Policy(path: String(cString: path), sharedSearchPaths: search)
        out.pointee = OpaquePointer(Unmanaged.passRetained(p).toOpaque())
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_policy_close")
public func vla_policy_close(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<Policy>.fromOpaque(UnsafeRawPointer(p)).release()
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
    guard let policy = policy(p) else { return fail(vlaInvalidArgument, "vla_policy_info: policy is NULL") }
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
    guard let policy = policy(p) else { return fail(vlaInvalidArgument, "vla_policy_self_test: policy is NULL") }
    guard let passed else { return fail(vlaInvalidArgument, "vla_policy_self_test: passed is NULL") }
    do {
        let results = try policy.selfTest()
        let failing = results.filter { !$0.passed }
        passed.pointee = failing.isEmpty ? 1 : 0
        if let f = failing.first {
            fail(vlaRuntime, "test vector \(f.index) (\(f.program)): max |difference| \(f.maxAbsDifference) exceeds tolerance \(f.tolerance)")
        }
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_session_create")
public func vla_session_create(_ p: OpaquePointer?, _ threads: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(vlaInvalidArgument, "vla_session_create: out is NULL") }
    out.pointee = nil
    guard let policy = policy(p) else { return fail(vlaInvalidArgument, "vla_session_create: policy is NULL") }
    guard (0...64).contains(threads) else { return fail(vlaInvalidArgument, "vla_session_create: threads \(threads) is outside 0...64") }
    do {
        let s = try PolicySession(policy: policy, options: RuntimeOptions(threads: max(1, Int(threads))))
        out.pointee = OpaquePointer(Unmanaged.passRetained(SessionHandle(s)).toOpaque())
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_session_destroy")
public func vla_session_destroy(_ s: OpaquePointer?) {
    guard let s else { return }
    Unmanaged<SessionHandle>.fromOpaque(UnsafeRawPointer(s)).release()
}

@_cdecl("vla_session_reset")
public func vla_session_reset(_ s: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ height: Int, _ width: Int, _ byteCount: Int) -> Int32 {
    guard let session = session(s) else { return fail(vlaInvalidArgument, "vla_session_reset: session is NULL") }
    guard let rgb else { return fail(vlaInvalidArgument, "vla_session_reset: rgb is NULL") }
    if let (_, status) = frameBytes(height, width, byteCount) { return status }
    do {
        try session.reset(frame: UnsafeBufferPointer(start: rgb, count: byteCount).span, height: height, width: width)
        return vlaOK
    } catch {
        return fail(error)
    }
}

func copyAction(_ session: PolicySession, _ action: UnsafeMutablePointer<Float>, _ capacity: Int) {
    let a = session.actions
    for i in 0..<a.actionDim { action[i] = a.action[i] }
}

@_cdecl("vla_session_step")
public func vla_session_step(
    _ s: OpaquePointer?, _ rgb: UnsafePointer<UInt8>?, _ height: Int, _ width: Int, _ byteCount: Int,
    _ action: UnsafeMutablePointer<Float>?, _ capacity: Int
) -> Int32 {
    guard let session = session(s) else { return fail(vlaInvalidArgument, "vla_session_step: session is NULL") }
    guard let rgb else { return fail(vlaInvalidArgument, "vla_session_step: rgb is NULL") }
    guard let action else { return fail(vlaInvalidArgument, "vla_session_step: action is NULL") }
    guard capacity >= session.actions.actionDim else {
        return fail(vlaBufferTooSmall, "vla_session_step: action_capacity \(capacity) is below action_dim \(session.actions.actionDim)")
    }
    if let (_, status) = frameBytes(height, width, byteCount) { return status }
    do {
        _ = try session.step(frame: UnsafeBufferPointer(start: rgb, count: byteCount).span, height: height, width: width)
        copyAction(session, action, capacity)
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_session_step_preprocessed")
public func vla_session_step_preprocessed(
    _ s: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ byteCount: Int, _ action: UnsafeMutablePointer<Float>?, _ capacity: Int
) -> Int32 {
    guard let session = session(s) else { return fail(vlaInvalidArgument, "vla_session_step_preprocessed: session is NULL") }
    guard let pixels else { return fail(vlaInvalidArgument, "vla_session_step_preprocessed: pixels is NULL") }
    guard let action else { return fail(vlaInvalidArgument, "vla_session_step_preprocessed: action is NULL") }
    guard capacity >= session.actions.actionDim else {
        return fail(vlaBufferTooSmall, "vla_session_step_preprocessed: action_capacity \(capacity) is below action_dim \(session.actions.actionDim)")
    }
    let expected = session.image.height * session.image.width * 3
    guard byteCount == expected else {
        return fail(vlaInvalidArgument, "vla_session_step_preprocessed: byte_count is \(byteCount), expected \(session.image.height)×\(session.image.width)×3 = \(expected)")
    }
    do {
        _ = try session.step(pixels: UnsafeBufferPointer(start: pixels, count: byteCount).span)
        copyAction(session, action, capacity)
        return vlaOK
    } catch {
        return fail(error)
    }
}

@_cdecl("vla_session_chunk")
public func vla_session_chunk(_ s: OpaquePointer?, _ processed: Int32, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int) -> Int32 {
    guard let session = session(s) else { return fail(vlaInvalidArgument, "vla_session_chunk: session is NULL") }
    guard let out else { return fail(vlaInvalidArgument, "vla_session_chunk: out is NULL") }
    guard processed == 0 || processed == 1 else { return fail(vlaInvalidArgument, "vla_session_chunk: processed must be 0 or 1, got \(processed)") }
    let chunk = processed == 1 ? session.processedChunk : session.rawChunk
    guard capacity >= chunk.count else {
        return fail(vlaBufferTooSmall, "vla_session_chunk: capacity \(capacity) is below horizon × action_dim = \(chunk.count)")
    }
    for i in 0..<chunk.count { out[i] = chunk[i] }
    return vlaOK
}
