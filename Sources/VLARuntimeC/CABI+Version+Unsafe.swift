// The version and policy-description entry points of include/vlart.h.

import VLAFormat
import VLARuntime

/// The library's version; equal to `VLART_VERSION_MAJOR/MINOR/PATCH` of the header it was built with (the
/// consumer test, scripts/test-libvlart.sh, checks that `vla_runtime_version()` equals `VLART_VERSION`).
let libraryVersion = (major: UInt32(1), minor: UInt32(0), patch: UInt32(0))

/// The status of a header/library version mismatch (`VLA_ERR_VERSION`).
let vlaVersion: Int32 = 12

@_cdecl("vla_runtime_version")
public func vla_runtime_version() -> UInt32 {
    libraryVersion.major * 10000 + libraryVersion.minor * 100 + libraryVersion.patch
}

@_cdecl("vla_runtime_check_version")
public func vla_runtime_check_version(_ major: UInt32, _ minor: UInt32) -> Int32 {
    let v = libraryVersion
    guard major == v.major else {
        return fail(vlaVersion, "vla_runtime_check_version: the program was built with vlart.h \(major).\(minor), the loaded libvlart is \(v.major).\(v.minor).\(v.patch): major versions differ, so the ABI does not match; rebuild the program against this library's header or load libvlart.so.\(major)")
    }
    guard minor <= v.minor else {
        return fail(vlaVersion, "vla_runtime_check_version: the program was built with vlart.h \(major).\(minor), the loaded libvlart is \(v.major).\(v.minor).\(v.patch), older than the header: functions the program may call are missing; install libvlart \(major).\(minor) or later")
    }
    return vlaOK
}

/// The `VLA_FIELD_*` values of `vla_policy_string`, in order, with their names for messages.
let policyFields = ["instruction", "robot", "crop", "precision", "model_name", "model_sha256", "format_version", "compiler"]

/// The text of one field of a policy's description.
func policyField(_ policy: Policy, _ field: Int) -> String {
    let m = policy.metadata
    switch field {
    case 0: return m.instruction
    case 1: return m.action.robot.description
    case 2: return m.image.crop == .none ? "none" : "\(m.image.crop) \(m.image.cropArea)"
    case 3: return precision(of: policy)
    case 4: return m.model.name
    case 5: return m.model.digest.map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
        }.joined()
    case 6: return "\(policy.file.header.major).\(policy.file.header.minor)"
    default: return policy.file.provenance.compiler
    }
}

/// The number format of the policy's matrix products, from the weights it runs on: `int8` when any weight of
/// the policy or its blobs is i8, else `bf16` when any is bf16, else `fp32`.
func precision(of policy: Policy) -> String {
    var bf16 = false
    for file in [policy.file] + policy.blobs {
        for t in file.tensors {
            if t.type.dtype == .i8 { return "int8" }
            if t.type.dtype == .bf16 { bf16 = true }
        }
    }
    return bf16 ? "bf16" : "fp32"
}

@_cdecl("vla_policy_string")
public func vla_policy_string(
    _ p: OpaquePointer?, _ field: Int32, _ buf: UnsafeMutablePointer<CChar>?, _ len: UInt, _ length: UnsafeMutablePointer<UInt>?
) -> Int32 {
    guard let policy = policy(p) else { return badHandle("vla_policy_string", "policy", p) }
    guard field >= 0, Int(field) < policyFields.count else {
        return fail(vlaInvalidArgument, "vla_policy_string: field \(field) is not a VLA_FIELD_* value (0...\(policyFields.count - 1))")
    }
    guard let length else { return fail(vlaInvalidArgument, "vla_policy_string: length is NULL") }
    let bytes = Array(policyField(policy, Int(field)).utf8)
    length.pointee = UInt(bytes.count)
    guard let buf else {
        if len == 0 { return vlaOK }  // a size query
        return fail(vlaInvalidArgument, "vla_policy_string: buf is NULL with len \(len)")
    }
    guard len > UInt(bytes.count) else {
        return fail(vlaBufferTooSmall, "vla_policy_string: \(policyFields[Int(field)]) has \(bytes.count) bytes and a NUL, len is \(len); *length holds the size")
    }
    for i in 0..<bytes.count { buf[i] = CChar(bitPattern: bytes[i]) }
    buf[bytes.count] = 0
    return vlaOK
}
