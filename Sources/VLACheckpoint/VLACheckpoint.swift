/// Checkpoint readers (safetensors, npy/npz, Flax msgpack, ONNX, PyTorch zip) behind one tensor-store API.
public enum VLACheckpointModule {}
