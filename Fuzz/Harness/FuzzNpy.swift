// libFuzzer target over the npy reader (Fuzz/run.sh FuzzNpy; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .npy, path: "weights.npy")
    return 0
}
