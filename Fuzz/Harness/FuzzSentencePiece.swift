// libFuzzer target over the SentencePiece model loader (Fuzz/run.sh FuzzSentencePiece).
// A model that loads then encodes a fixed sentence with mixed scripts, digits and spaces.
import VLATokenizer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSentencePiece(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let tokenizer = try? Tokenizer(fileBytes: bytes, fileName: "spiece.model") else { return 0 }
    _ = try? tokenizer.encode("Pick up the red block, 2×  then place it in the bowl: déjà vu 東京 ok")
    return 0
}
