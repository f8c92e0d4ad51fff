/// How a camera frame's bytes are laid out: its size, the distance between rows and the pixel format.
///
/// Cameras and drivers deliver BGR (OpenCV), RGBA or BGRA (many SDKs) and rows padded to an alignment;
/// a `FrameLayout` describes such a buffer so the image contract reads it in place, without a repacking copy.
/// The contract sees the same RGB values it would see in a packed RGB copy, so the actions are bit-identical.
public struct FrameLayout: Hashable, Sendable, CustomStringConvertible {
    /// The byte order of one pixel.
    public struct Pixel: Hashable, Sendable, CustomStringConvertible {
        /// Bytes per pixel.
        public let bytes: Int
        /// The byte offsets of red, green and blue inside a pixel.
        public let red: Int, green: Int, blue: Int
        /// The name used in messages.
        public let name: String

        private init(_ name: String, bytes: Int, red: Int, green: Int, blue: Int) {
            self.name = name
            self.bytes = bytes
            self.red = red
            self.green = green
            self.blue = blue
        }

        /// Three bytes: red, green, blue (what the runtime takes by default).
        public static let rgb = Pixel("RGB", bytes: 3, red: 0, green: 1, blue: 2)
        /// Three bytes: blue, green, red (OpenCV's order).
        public static let bgr = Pixel("BGR", bytes: 3, red: 2, green: 1, blue: 0)
        /// Four bytes: red, green, blue and an ignored fourth byte.
        public static let rgba = Pixel("RGBA", bytes: 4, red: 0, green: 1, blue: 2)
        /// Four bytes: blue, green, red and an ignored fourth byte.
        public static let bgra = Pixel("BGRA", bytes: 4, red: 2, green: 1, blue: 0)
        /// One byte of gray, used as red, green and blue.
        public static let gray = Pixel("gray", bytes: 1, red: 0, green: 0, blue: 0)

        public var description: String { name }
    }

    /// Rows and columns of the frame, each in 1...16384.
    public let height: Int, width: Int
    /// Bytes from the start of one row to the start of the next, at least `width · pixel.bytes`.
    public let rowStride: Int
    /// The pixel format.
    public let pixel: Pixel

    /// The largest side the runtime takes.
    public static let maxSide = 16384

    /// Describes a frame, checking its sizes.
    ///
    /// - Parameters:
    ///   - rowStride: bytes between row starts; nil means packed rows (`width · pixel.bytes`).
    /// - Throws: `.invalidInput` for a side outside 1...16384 or a stride smaller than a row.
    public init(height: Int, width: Int, rowStride: Int? = nil, pixel: Pixel = .rgb) throws(RuntimeError) {
        guard (1...Self.maxSide).contains(height), (1...Self.maxSide).contains(width) else {
            throw RuntimeError(.invalidInput, "frame size \(height)×\(width) is outside 1...\(Self.maxSide) per side")
        }
        let row = width * pixel.bytes  // ≤ 16384 · 4: no overflow
        let stride = rowStride ?? row
        guard stride >= row else {
            throw RuntimeError(
                .invalidInput,
                "row stride \(stride) bytes is smaller than a row: \(width) \(pixel) pixels are \(row) bytes (width × \(pixel.bytes))")
        }
        guard stride <= Int.max / height else {
            throw RuntimeError(.invalidInput, "row stride \(stride) bytes × \(height) rows overflows the address space")
        }
        self.height = height
        self.width = width
        self.rowStride = stride
        self.pixel = pixel
    }

    /// The bytes a buffer must hold: every row's stride but the last row's pixels only (a last row
    /// without its padding is fine).
    public var minimumByteCount: Int { (height - 1) * rowStride + width * pixel.bytes }

    /// True for packed RGB rows: the layout of ``PolicySession/step(frame:height:width:)``.
    public var isPackedRGB: Bool { pixel == .rgb && rowStride == width * 3 }

    /// Checks that a buffer of `count` bytes holds the frame.
    /// - Throws: `.invalidInput` naming both sizes.
    public func check(byteCount count: Int) throws(RuntimeError) {
        guard count >= minimumByteCount else {
            throw RuntimeError(
                .invalidInput,
                "frame buffer has \(count) bytes, a \(height)×\(width) \(pixel) frame with a row stride of \(rowStride) bytes needs \(minimumByteCount) ((height − 1) × stride + width × \(pixel.bytes))")
        }
    }

    public var description: String { "\(height)×\(width) \(pixel), row stride \(rowStride) bytes" }
}
