/// A byte trie over vocabulary pieces, flattened into arrays, for the common-prefix searches of the
/// unigram Viterbi pass and of the user-defined-symbol matcher.
///
/// - Complexity: a search from one position costs O(length of the longest matching piece × log fan-out).
struct PieceTrie: Sendable {
    private var rootChild = [Int32](repeating: -1, count: 256)
    private var childStart: [Int32] = []
    private var childCount: [Int32] = []
    private var edgeByte: [UInt8] = []
    private var edgeTarget: [Int32] = []
    private var value: [Int32] = []
    /// The longest piece, in bytes.
    private(set) var maxLength = 0

    /// Builds the trie. Each piece maps to one value; a later piece with the same bytes replaces the earlier.
    init(_ pieces: [(bytes: [UInt8], value: Int32)]) {
        // Build with per-node dictionaries, then flatten with sorted edges.
        var children: [[UInt8: Int32]] = [[:]]
        var values: [Int32] = [-1]
        for (bytes, v) in pieces where !bytes.isEmpty {
            var node = 0
            for b in bytes {
                if let next = children[node][b] {
                    node = Int(next)
                } else {
                    let next = Int32(children.count)
                    children.append([:])
                    values.append(-1)
                    children[node][b] = next
                    node = Int(next)
                }
            }
            values[node] = v
            maxLength = max(maxLength, bytes.count)
        }
        childStart = [Int32](repeating: 0, count: children.count)
        childCount = [Int32](repeating: 0, count: children.count)
        for (n, map) in children.enumerated() {
            childStart[n] = Int32(edgeByte.count)
            childCount[n] = Int32(map.count)
            for (b, t) in map.sorted(by: { $0.key < $1.key }) {
                edgeByte.append(b)
                edgeTarget.append(t)
            }
        }
        for (b, t) in children[0] { rootChild[Int(b)] = t }
        value = values
    }

    @inline(__always)
    private func child(_ node: Int, _ b: UInt8) -> Int {
        if node == 0 { return Int(rootChild[Int(b)]) }
        var lo = Int(childStart[node])
        var hi = lo + Int(childCount[node])
        while lo < hi {
            let mid = (lo + hi) >> 1
            let e = edgeByte[mid]
            if e == b { return Int(edgeTarget[mid]) }
            if e < b { lo = mid + 1 } else { hi = mid }
        }
        return -1
    }

    /// Calls `body(end, value)` for every piece equal to `text[start..<end]` with `end <= limit`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: [UInt8], from start: Int, limit: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var i = start
        while i < limit {
            node = child(node, text[i])
            if node < 0 { return }
            i += 1
            let v = value[node]
            if v >= 0 { body(i, v) }
        }
    }

    /// The value of the longest piece that is a prefix of `text[start..<limit]`, with its end, or nil.
    func longestPrefix(_ text: [UInt8], from start: Int, limit: Int) -> (end: Int, value: Int32)? {
        var best: (end: Int, value: Int32)?
        forEachPrefix(text, from: start, limit: limit) { end, v in best = (end, v) }
        return best
    }

    /// The value stored for exactly these bytes, or nil.
    func lookup(_ bytes: some Collection<UInt8>) -> Int32? {
        var node = 0
        for b in bytes {
            node = child(node, b)
            if node < 0 { return nil }
        }
        let v = value[node]
        return v >= 0 ? v : nil
    }
}
