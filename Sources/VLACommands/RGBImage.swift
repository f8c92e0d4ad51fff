/// An 8-bit RGB image decoded from PNG, JPEG or PPM, row-major, 3 bytes per pixel.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `height · width · 3` bytes: R, G, B per pixel.
    public var pixels: [UInt8]

    /// Creates an image.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The formats ``init(decoding:limits:)`` reads, for messages.
    public static let readableFormats = "PNG (8-bit, not interlaced), JPEG (baseline or progressive, not CMYK) and binary PPM (P6)"

    /// Decodes PNG, JPEG (through libjpeg-turbo) or binary PPM (P6), chosen by the first bytes.
    /// - Throws: `ImageError` naming the problem and its byte offset.
    public init(decoding bytes: [UInt8], limits: ImageLimits = ImageLimits()) throws(ImageError) {
        if bytes.starts(with: PNGDecoder.signature) {
            self = try PNGDecoder.decode(bytes, limits: limits)
        } else if bytes.starts(with: JPEGDecoder.signature) {
            self = try JPEGDecoder.decode(bytes, limits: limits)
        } else if bytes.starts(with: Array("P6".utf8)) {
            self = try PPMDecoder.decode(bytes, limits: limits)
        } else {
            throw ImageError(.unsupported, "not an image vlac reads: it reads \(Self.readableFormats)", offset: 0)
        }
    }

    /// The pixels as f32 `[height, width, 3]`, scaled to [0, 1] and normalized per channel: `(x/255 − mean) / std`.
    public func normalized(mean: [Float], std: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: pixels.count)
        for i in pixels.indices {
            let c = i % 3
            out[i] = (Float(pixels[i]) / 255 - mean[c]) / std[c]
        }
        return out
    }
}

/// Limits checked before any image buffer is allocated.
public struct ImageLimits: Sendable, Equatable {
    /// Largest width or height.
    public var maxSide = 8192
    /// Most pixels.
    public var maxPixels = 1 << 26
    /// Creates the default limits.
    public init() {}
}

/// An error decoding an image file.
public struct ImageError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case truncated, malformed, unsupported, limitExceeded }
        private let wrapped: Wrapped
        /// The data ends early.
        public static let truncated = Code(wrapped: .truncated)
        /// A field or checksum is wrong.
        public static let malformed = Code(wrapped: .malformed)
        /// A valid image vlac does not decode (interlaced, 16-bit, ...).
        public static let unsupported = Code(wrapped: .unsupported)
        /// Over an ``ImageLimits`` bound.
        public static let limitExceeded = Code(wrapped: .limitExceeded)
        /// The code's name.
        public var description: String {
            switch wrapped {
            case .truncated: "truncated"
            case .malformed: "malformed"
            case .unsupported: "unsupported"
            case .limitExceeded: "limit exceeded"
            }
        }
    }

    /// The kind.
    public var code: Code
    /// A lowercase clause naming the field or chunk.
    public var message: String
    /// Byte offset in the file.
    public var offset: Int

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `"png: IHDR: interlaced images are not supported (at byte 28)"`.
    public var description: String { "\(message) (at byte \(offset))" }
}

/// Binary PPM (`P6`, maxval ≤ 255).
enum PPMDecoder {
    static func decode(_ b: [UInt8], limits: ImageLimits) throws(ImageError) -> RGBImage {
        var i = 2
        func field(_ name: String) throws(ImageError) -> Int {
            // Whitespace and # comments, then decimal digits.
            while i < b.count {
                if b[i] == UInt8(ascii: "#") {
                    while i < b.count, b[i] != 0x0A { i += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(b[i]) {
                    i += 1
                } else {
                    break
                }
            }
            guard i < b.count else { throw ImageError(.truncated, "ppm: header ends before \(name)", offset: i) }
            let start = i
            var v = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                v = v * 10 + Int(b[i] - 0x30)
                if v > 1 << 30 { throw ImageError(.limitExceeded, "ppm: \(name) is too large", offset: start) }
                i += 1
            }
            guard i > start else { throw ImageError(.malformed, "ppm: \(name) is not a decimal number", offset: start) }
            return v
        }
        let w = try field("width"), h = try field("height"), maxval = try field("maxval")
        guard i < b.count else { throw ImageError(.truncated, "ppm: header ends after maxval", offset: i) }
        i += 1  // the single whitespace byte before the raster
        guard w >= 1, h >= 1 else { throw ImageError(.malformed, "ppm: size \(w)×\(h) is empty", offset: 2) }
        guard maxval >= 1, maxval <= 255 else {
            throw ImageError(.unsupported, "ppm: maxval \(maxval) is not supported (only 8-bit, maxval ≤ 255)", offset: i - 1)
        }
        guard w <= limits.maxSide, h <= limits.maxSide, w * h <= limits.maxPixels else {
            throw ImageError(.limitExceeded, "ppm: size \(w)×\(h) exceeds the limits", offset: 2)
        }
        let n = w * h * 3
        guard b.count - i >= n else {
            throw ImageError(.truncated, "ppm: raster needs \(n) bytes, \(b.count - i) present", offset: i)
        }
        var px = Array(b[i..<(i + n)])
        if maxval != 255 {
            for k in px.indices { px[k] = UInt8(min(255, (Int(px[k]) * 255 + maxval / 2) / maxval)) }
        }
        return RGBImage(width: w, height: h, pixels: px)
    }
}
