// libFuzzer target over the .vla verifier (built by Fuzz/run.sh, not by SwiftPM).
//
// Every input is first re-sealed: its last 32 bytes are replaced by the SHA-256 of the rest, so mutations
// reach the structural checks instead of stopping at the digest. A file that verifies is then turned back
// into a document and serialized again, which must verify too.
import VLAFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormatReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 32 {
        let digest = SHA256.hash(bytes[0..<(bytes.count - 32)])
        bytes.replaceSubrange((bytes.count - 32)..<bytes.count, with: digest)
    }
    guard let file = try? VLAFile(bytes: bytes) else { return 0 }
    guard let again = try? VLAWriter.serialize(file.document()), (try? VLAFile(bytes: again)) != nil else {
        fatalError("a verified file did not survive document() and serialize()")
    }
    return 0
}
