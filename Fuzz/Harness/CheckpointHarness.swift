// Shared body of the checkpoint libFuzzer targets (built by Fuzz/run.sh, not by SwiftPM).
//
// Each target fixes one format, so the reader is reached whatever the magic bytes say. A checkpoint that
// parses has every small tensor converted to floats, so the element decoders and the strided-view and
// storage checks run on what the reader accepted.
import VLACheckpoint

/// Tensors with more elements than this are listed but not converted: the readers' budgets allow them
/// when the bytes are really there, and converting them would only measure memory.
let convertedElementLimit = 1 << 20

func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int, format: CheckpointFormat, path: String) {
    let storage = ByteStorage(copying: UnsafeBufferPointer(start: data, count: size))
    guard let checkpoint = try? Checkpoint(parsing: storage.view, path: path, format: format) else { return }
    for tensor in checkpoint.tensors where tensor.elementCount <= convertedElementLimit {
        let floats = tensor.floats()
        precondition(floats.count == tensor.elementCount * tensor.dtype.floatsPerElement, "conversion count")
    }
}
