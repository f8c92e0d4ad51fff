import CTurboJPEG

/// JPEG frames through libjpeg-turbo's TurboJPEG API: baseline and progressive, gray, YCbCr and RGB JPEGs,
/// decoded to packed RGB. CMYK and other color spaces TurboJPEG cannot turn into RGB are `.unsupported`.
///
/// The file is hostile input: the size in the header is checked against ``ImageLimits`` before any pixel buffer
/// is allocated, a warning (a truncated or corrupt entropy segment, which libjpeg would fill in gray) is an
/// error (`TJFLAG_STOPONWARNING`), and progressive files with more than libjpeg-turbo's 500 scans are refused
/// (`TJFLAG_LIMITSCANS`), so no input makes the decoder run without bound. libjpeg reports no byte offsets,
/// so the errors carry offset 0 and libjpeg-turbo's message.
enum JPEGDecoder {
    /// Start of image, then the first marker.
    static let signature: [UInt8] = [0xFF, 0xD8, 0xFF]

    static func decode(_ bytes: [UInt8], limits: ImageLimits) throws(ImageError) -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError(.malformed, "jpeg: libjpeg-turbo could not start a decompressor", offset: 0)
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> ImageError {
            let text = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            let lowered = text.lowercased()
            let code: ImageError.Code =
                lowered.contains("premature end") || lowered.contains("truncated") ? .truncated
                : lowered.contains("unsupported") || lowered.contains("not supported") ? .unsupported : .malformed
            return ImageError(code, "jpeg: \(what): \(text)", offset: 0)
        }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer { b in
            tjDecompressHeader3(handle, b.baseAddress, UInt(b.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw failure("header") }
        let w = Int(width), h = Int(height)
        guard w >= 1, h >= 1 else { throw ImageError(.malformed, "jpeg: size \(w)×\(h) is empty", offset: 0) }
        guard w <= limits.maxSide, h <= limits.maxSide, w * h <= limits.maxPixels else {
            throw ImageError(.limitExceeded, "jpeg: size \(w)×\(h) exceeds the limits", offset: 0)
        }
        guard colorspace != TJCS_CMYK.rawValue, colorspace != TJCS_YCCK.rawValue else {
            throw ImageError(.unsupported, "jpeg: CMYK images are not supported; save the frame as RGB", offset: 0)
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
        let status = bytes.withUnsafeBufferPointer { b in
            pixels.withUnsafeMutableBufferPointer { p in
                tjDecompress2(handle, b.baseAddress, UInt(b.count), p.baseAddress, width, Int32(w * 3), height,
                              TJPF_RGB.rawValue, flags)
            }
        }
        guard status == 0 else { throw failure("decoding \(w)×\(h)") }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}
