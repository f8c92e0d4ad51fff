// libFuzzer target over the PNG, JPEG (libjpeg-turbo, not instrumented) and PPM decoders of `vlac run --image`
// (Fuzz/run.sh FuzzPNG). The decoder sources are compiled into this module. A decoded image must have
// width × height × 3 bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = ImageLimits()
    limits.maxPixels = 1 << 22
    guard let image = try? RGBImage(decoding: bytes, limits: limits) else { return 0 }
    precondition(image.pixels.count == image.width * image.height * 3, "decoded size")
    return 0
}
