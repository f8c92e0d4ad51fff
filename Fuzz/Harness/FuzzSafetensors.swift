// libFuzzer target over the safetensors reader (Fuzz/run.sh FuzzSafetensors; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .safetensors, path: "model.safetensors")
    return 0
}
