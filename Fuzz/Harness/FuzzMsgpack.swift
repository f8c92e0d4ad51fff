// libFuzzer target over the msgpack reader (Fuzz/run.sh FuzzMsgpack; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMsgpack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .msgpack, path: "flax_model.msgpack")
    return 0
}
