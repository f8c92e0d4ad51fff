extension SHA256 {
    /// Adds the bytes of `raw` to the input.
    /// - Warning: Do not escape the pointer.
    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        length &+= UInt64(raw.count)
        var i = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, raw.count)
            pending += raw[0 ..< take]
            i = take
            guard pending.count == 64 else { return }
            let block = pending
            pending = []
            block.withUnsafeBytes { compressBlocks($0, from: 0, count: 1) }
        }
        let blocks = (raw.count - i) / 64
        if blocks > 0 { compressBlocks(raw, from: i, count: blocks) }
        i += 64 * blocks
        if i < raw.count { pending += raw[i ..< raw.count] }
    }

    /// Runs the compression function on `count` 64-byte blocks of `raw` starting at `offset`.
    mutating func compressBlocks(_ raw: UnsafeRawBufferPointer, from offset: Int, count: Int) {
        guard let base = raw.baseAddress, offset >= 0, count >= 0, offset + 64 * count <= raw.count else { return }
        SHA256.k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                var (h0, h1, h2, h3, h4, h5, h6, h7) = state
                for block in 0 ..< count {
                    let o = offset + 64 * block
                    for t in 0 ..< 16 { w[t] = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: o + 4 * t, as: UInt32.self)) }
                    for t in 16 ..< 64 {
                        let a = w[t - 15], b = w[t - 2]
                        let s0 = (a >> 7 | a << 25) ^ (a >> 18 | a << 14) ^ (a >> 3)
                        let s1 = (b >> 17 | b << 15) ^ (b >> 19 | b << 13) ^ (b >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, h) = (h0, h1, h2, h3, h4, h5, h6, h7)
                    for t in 0 ..< 64 {
                        let s1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = h &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        h = g; g = f; f = e; e = d &+ t1
                        d = c; c = b; b = a; a = t1 &+ t2
                    }
                    h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e; h5 &+= f; h6 &+= g; h7 &+= h
                }
                state = (h0, h1, h2, h3, h4, h5, h6, h7)
            }
        }
    }
}
