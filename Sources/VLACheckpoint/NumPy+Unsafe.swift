extension NumPyReader {
    /// Rewrites a Fortran-order (column-major) array in C order.
    /// - Warning: Do not escape either pointer. Both buffers hold product(shape) × width bytes.
    static func transposeFortran(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, width: Int, shape: [Int]) {
        let count = shape.reduce(1, *)
        guard count > 0, src.count >= count * width, out.count >= count * width,
              let s = src.baseAddress, let d = out.baseAddress else { return }
        let rank = shape.count
        // Fortran strides (in elements): stride[0] = 1, stride[k] = stride[k-1] × shape[k-1].
        var fstride = [Int](repeating: 1, count: rank)
        for k in 1 ..< rank { fstride[k] = fstride[k - 1] * shape[k - 1] }
        var index = [Int](repeating: 0, count: rank)
        for c in 0 ..< count {
            var f = 0
            for k in 0 ..< rank { f += index[k] * fstride[k] }
            (d + c * width).copyMemory(from: s + f * width, byteCount: width)
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
