/// The .vla file format: layout constants, verifying zero-copy reader, deterministic writer.
public enum VLAFormatModule {}
