extension PyTorchReader {
    /// Copies a strided view into C order. The caller has checked that every index is inside `src`.
    /// - Warning: Do not escape either pointer.
    static func gather(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, width: Int, shape: [Int], stride: [Int], offset: Int) {
        guard let s = src.baseAddress, let d = out.baseAddress else { return }
        let count = shape.reduce(1, *)
        let rank = shape.count
        var index = [Int](repeating: 0, count: rank)
        for c in 0 ..< count {
            var e = offset
            for k in 0 ..< rank { e += index[k] * stride[k] }
            guard (e + 1) * width <= src.count, (c + 1) * width <= out.count else { return }
            (d + c * width).copyMemory(from: s + e * width, byteCount: width)
            var k = rank - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < shape[k] { break }
                index[k] = 0
                k -= 1
            }
        }
    }
}
