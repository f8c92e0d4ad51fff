/// A PNG decoder for what robot cameras and tools write: 8-bit gray, gray + alpha, RGB, RGBA and palette
/// images, not interlaced. Alpha is dropped (the color channels are used as stored). Chunk CRCs are checked.
///
/// Anything else (16-bit samples, bit depths below 8, Adam7 interlacing) is an `.unsupported` error.
enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func be32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }

    static func decode(_ b: [UInt8], limits: ImageLimits) throws(ImageError) -> RGBImage {
        var o = 8
        var width = 0, height = 0, colorType = -1
        var palette: [UInt8] = []
        var idat: [UInt8] = []
        var idatOffset = 0
        var sawEnd = false
        var first = true
        while !sawEnd {
            guard b.count - o >= 12 else { throw ImageError(.truncated, "png: chunk header or CRC cut short", offset: o) }
            let length = Int(be32(b, o))
            let type = String(decoding: b[(o + 4)..<(o + 8)], as: UTF8.self)
            guard length <= 0x7FFF_FFFF else { throw ImageError(.malformed, "png: \(type) length \(length) over 2³¹−1", offset: o) }
            guard b.count - o - 12 >= length else {
                throw ImageError(.truncated, "png: \(type) needs \(length) bytes, \(b.count - o - 12) present", offset: o)
            }
            let data = o + 8
            let crc = be32(b, data + length)
            if PNGInflate.crc32(b, from: o + 4, count: length + 4) != crc {
                throw ImageError(.malformed, "png: \(type) CRC mismatch", offset: data + length)
            }
            if first, type != "IHDR" { throw ImageError(.malformed, "png: first chunk is \(type), not IHDR", offset: o) }
            switch type {
            case "IHDR":
                guard first, length == 13 else { throw ImageError(.malformed, "png: IHDR must come first and have 13 bytes", offset: o) }
                width = Int(be32(b, data))
                height = Int(be32(b, data + 4))
                let depth = b[data + 8]
                colorType = Int(b[data + 9])
                guard width >= 1, height >= 1 else { throw ImageError(.malformed, "png: IHDR: size \(width)×\(height) is empty", offset: data) }
                guard width <= limits.maxSide, height <= limits.maxSide, width * height <= limits.maxPixels else {
                    throw ImageError(.limitExceeded, "png: IHDR: size \(width)×\(height) exceeds the limits", offset: data)
                }
                guard [0, 2, 3, 4, 6].contains(colorType) else {
                    throw ImageError(.malformed, "png: IHDR: color type \(colorType) is not a PNG color type", offset: data + 9)
                }
                guard depth == 8 else {
                    throw ImageError(.unsupported, "png: IHDR: bit depth \(depth) is not supported (only 8-bit samples)", offset: data + 8)
                }
                guard b[data + 10] == 0, b[data + 11] == 0 else {
                    throw ImageError(.malformed, "png: IHDR: unknown compression or filter method", offset: data + 10)
                }
                guard b[data + 12] == 0 else {
                    throw ImageError(.unsupported, "png: IHDR: interlaced (Adam7) images are not supported; re-save without interlacing", offset: data + 12)
                }
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw ImageError(.malformed, "png: PLTE length \(length) is not 3·n ≤ 768", offset: o) }
                palette = Array(b[data..<(data + length)])
            case "IDAT":
                if idat.isEmpty { idatOffset = data }
                // Deflate's worst case is the raw size plus 5 bytes per 16 KiB block: refuse anything larger.
                let raw = height * (1 + width * 4)
                guard idat.count + length <= raw + raw / 1000 + (1 << 16) else {
                    throw ImageError(.limitExceeded, "png: compressed data larger than any image of this size needs", offset: o)
                }
                idat += b[data..<(data + length)]
            case "IEND":
                sawEnd = true
            default:
                // Ancillary chunks (lowercase first letter) are skipped; unknown critical ones are refused.
                if b[o + 4] >= 0x41, b[o + 4] <= 0x5A {
                    throw ImageError(.unsupported, "png: unknown critical chunk \(type)", offset: o)
                }
            }
            first = false
            o = data + length + 4
        }
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
        if colorType == 3, palette.isEmpty { throw ImageError(.malformed, "png: palette image without PLTE", offset: o) }
        guard !idat.isEmpty else { throw ImageError(.malformed, "png: no IDAT chunk", offset: o) }
        let stride = width * channels
        let raw = try PNGInflate.inflate(idat, expected: height * (stride + 1), offset: idatOffset)
        // Undo the per-row filters in place into `img`.
        var img = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1, dst = y * stride
            guard filter <= 4 else { throw ImageError(.malformed, "png: row \(y) has unknown filter type \(filter)", offset: idatOffset) }
            for x in 0..<stride {
                let a = x >= channels ? Int(img[dst + x - channels]) : 0
                let up = y > 0 ? Int(img[dst - stride + x]) : 0
                let c = (x >= channels && y > 0) ? Int(img[dst - stride + x - channels]) : 0
                let v = Int(raw[src + x])
                let pred: Int
                switch filter {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = up
                case 3: pred = (a + up) / 2
                default:
                    let p = a + up - c
                    let pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c
                }
                img[dst + x] = UInt8(truncatingIfNeeded: v + pred)
            }
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) {
            switch colorType {
            case 0, 4:
                let g = img[p * channels]
                rgb[p * 3] = g; rgb[p * 3 + 1] = g; rgb[p * 3 + 2] = g
            case 3:
                let idx = Int(img[p])
                guard idx * 3 + 2 < palette.count else {
                    throw ImageError(.malformed, "png: pixel \(p) uses palette entry \(idx) of \(palette.count / 3)", offset: idatOffset)
                }
                rgb[p * 3] = palette[idx * 3]; rgb[p * 3 + 1] = palette[idx * 3 + 1]; rgb[p * 3 + 2] = palette[idx * 3 + 2]
            default:
                rgb[p * 3] = img[p * channels]; rgb[p * 3 + 1] = img[p * channels + 1]; rgb[p * 3 + 2] = img[p * channels + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }
}
