/// Zip archives (npz, PyTorch zip). Filled in by the npz reader.
enum ZipArchive {
    static func looksLikePyTorch(_ file: ByteView) -> Bool { false }
}
