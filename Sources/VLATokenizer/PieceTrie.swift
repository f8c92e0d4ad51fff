/// A byte trie over vocabulary pieces, flattened into arrays, for the common-prefix searches of the
/// unigram Viterbi pass and of the user-defined-symbol matcher.
///
/// Each node is one 16-byte record (its value, and where its children are); a node with many children
/// has a 256-entry table, others a sorted edge list searched by bisection.
///
/// - Complexity: a search from one position costs O(length of the longest matching piece × log fan-out).
struct PieceTrie: Sendable {
    private struct Node {
        /// The piece id ending here, or -1.
        var value: Int32 = -1
        /// Offset of the 256-entry child table in `dense`, or -1.
        var dense: Int32 = -1
        /// First edge in `edges`, and how many.
        var edgeStart: Int32 = 0
        var edgeCount: Int32 = 0
    }

    private struct Edge {
        var byte: UInt8
        var target: Int32
    }

    private var nodes: [Node] = []
    private var edges: [Edge] = []
    private var dense: [Int32] = []
    /// The longest piece, in bytes.
    private(set) var maxLength = 0

    /// Builds the trie. Each piece maps to one value; a later piece with the same bytes replaces the earlier.
    init(_ pieces: [(bytes: [UInt8], value: Int32)]) {
        // Build with per-node dictionaries, then flatten.
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
        nodes = [Node](repeating: Node(), count: children.count)
        for (n, map) in children.enumerated() {
            nodes[n].value = values[n]
            if n == 0 || map.count >= 8 {
                nodes[n].dense = Int32(dense.count)
                var table = [Int32](repeating: -1, count: 256)
                for (b, t) in map { table[Int(b)] = t }
                dense += table
            } else {
                nodes[n].edgeStart = Int32(edges.count)
                nodes[n].edgeCount = Int32(map.count)
                for (b, t) in map.sorted(by: { $0.key < $1.key }) { edges.append(Edge(byte: b, target: t)) }
            }
        }
    }

    /// The node reached from `node` on byte `b`, or -1 (node 0 is the root).
    @inline(__always)
    func child(_ node: Int, _ b: UInt8) -> Int {
        let n = nodes[node]
        if n.dense >= 0 { return Int(dense[Int(n.dense) + Int(b)]) }
        var lo = Int(n.edgeStart)
        var hi = lo + Int(n.edgeCount)
        while lo < hi {
            let mid = (lo + hi) >> 1
            let e = edges[mid]
            if e.byte == b { return Int(e.target) }
            if e.byte < b { lo = mid + 1 } else { hi = mid }
        }
        return -1
    }

    /// The value stored at a node (-1: none).
    @inline(__always)
    func value(at node: Int) -> Int32 { nodes[node].value }

    /// Calls `body(end, value)` for every piece equal to `text[start..<end]` with `end <= limit`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: [UInt8], from start: Int, limit: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var i = start
        while i < limit {
            node = child(node, text[i])
            if node < 0 { return }
            i += 1
            let v = nodes[node].value
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
        let v = nodes[node].value
        return v >= 0 ? v : nil
    }
}
