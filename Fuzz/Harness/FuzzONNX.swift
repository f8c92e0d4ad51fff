// libFuzzer target over the onnx reader (Fuzz/run.sh FuzzONNX; body in CheckpointHarness.swift).
import VLACheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzCheckpoint(data, size, format: .onnx, path: "model.onnx")
    return 0
}
