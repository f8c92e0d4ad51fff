// The frame-description entry points of include/vlart.h: frames as cameras deliver them (BGR, RGBA, BGRA,
// gray, padded rows), read in place through VLARuntime's FrameLayout.

import VLARuntime

/// Mirrors `vla_frame_t` (same field order and types; C layout rules give the same offsets). Read with
/// `loadUnaligned`, so the caller's struct may sit at any address.
struct FrameDescription {
    var data: UnsafePointer<UInt8>?
    var byteCount: UInt
    var height: UInt
    var width: UInt
    var rowStride: UInt
    var pixelFormat: Int32
}

/// The `VLA_PIXEL_*` values, in order.
let pixelFormats: [FrameLayout.Pixel] = [.rgb, .bgr, .rgba, .bgra, .gray]

/// Reads and checks a `vla_frame_t`: the buffer and its layout, or a failure status (with the message stored).
func frame(_ function: String, _ raw: UnsafeRawPointer?) -> Result<(UnsafeBufferPointer<UInt8>, FrameLayout), FailureStatus> {
    guard let raw else { return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): frame is NULL"))) }
    let f = raw.loadUnaligned(as: FrameDescription.self)
    guard let data = f.data else { return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): frame->data is NULL"))) }
    guard f.pixelFormat >= 0, Int(f.pixelFormat) < pixelFormats.count else {
        return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): frame->pixel_format \(f.pixelFormat) is not a VLA_PIXEL_* value (RGB 0, BGR 1, RGBA 2, BGRA 3, GRAY 4)")))
    }
    let pixel = pixelFormats[Int(f.pixelFormat)]
    // Every size_t is compared unsigned: (size_t)-1 is a huge size, never -1.
    let side = UInt(FrameLayout.maxSide)
    guard (1...side).contains(f.height), (1...side).contains(f.width) else {
        return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): frame size \(f.height)×\(f.width) is outside 1...\(side) per side")))
    }
    guard f.rowStride <= UInt(Int.max), f.byteCount <= UInt(Int.max) else {
        return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): frame->row_stride \(f.rowStride) or byte_count \(f.byteCount) is over the largest object size")))
    }
    let layout: FrameLayout
    do throws(RuntimeError) {
        layout = try FrameLayout(height: Int(f.height), width: Int(f.width), rowStride: f.rowStride == 0 ? nil : Int(f.rowStride), pixel: pixel)
        try layout.check(byteCount: Int(f.byteCount))
    } catch {
        return .failure(FailureStatus(fail(vlaInvalidArgument, "\(function): \(error.message)")))
    }
    return .success((UnsafeBufferPointer(start: data, count: layout.minimumByteCount), layout))
}

/// A status already stored with its message by ``fail(_:_:)``.
struct FailureStatus: Error {
    let status: Int32
    init(_ status: Int32) { self.status = status }
}

@_cdecl("vla_session_reset_frame")
public func vla_session_reset_frame(_ s: OpaquePointer?, _ description: UnsafeRawPointer?) -> Int32 {
    withSession("vla_session_reset_frame", s) { session in
        let (buffer, layout): (UnsafeBufferPointer<UInt8>, FrameLayout)
        switch frame("vla_session_reset_frame", description) {
        case .failure(let f): return f.status
        case .success(let v): (buffer, layout) = v
        }
        do throws(RuntimeError) {
            try session.reset(frame: buffer.span, layout: layout)
            return vlaOK
        } catch {
            return fail(error)
        }
    }
}

@_cdecl("vla_session_step_frame")
public func vla_session_step_frame(
    _ s: OpaquePointer?, _ description: UnsafeRawPointer?, _ action: UnsafeMutablePointer<Float>?, _ capacity: UInt
) -> Int32 {
    withSession("vla_session_step_frame", s) { session in
        guard let action else { return fail(vlaInvalidArgument, "vla_session_step_frame: action is NULL") }
        if let status = checkCapacity("vla_session_step_frame", "action_capacity", capacity, session.actions.actionDim, "action_dim") { return status }
        let (buffer, layout): (UnsafeBufferPointer<UInt8>, FrameLayout)
        switch frame("vla_session_step_frame", description) {
        case .failure(let f): return f.status
        case .success(let v): (buffer, layout) = v
        }
        do throws(RuntimeError) {
            _ = try session.step(frame: buffer.span, layout: layout)
            copyAction(session, action)
            return vlaOK
        } catch {
            return fail(error)
        }
    }
}
