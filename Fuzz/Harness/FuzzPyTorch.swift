// libFuzzer target over the pytorch reader (Fuzz/run.sh FuzzPyTorch; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPyTorch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .pytorch, path: "pytorch_model.bin")
    return 0
}
