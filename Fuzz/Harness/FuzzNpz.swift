// libFuzzer target over the npz reader (Fuzz/run.sh FuzzNpz; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .npz, path: "weights.npz")
    return 0
}
