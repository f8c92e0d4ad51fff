/// A byte trie over vocabulary pieces as a double array, for the common-prefix searches of the unigram
/// Viterbi pass, WordPiece and the added-token and user-defined-symbol matchers.
///
/// Node `s` reaches node `t = base(s) + byte` when `check(t) == s`; each unit also holds the value (piece id)
/// of the piece ending at it, so one step reads one or two 12-byte units.
///
/// - Complexity: a search from one position costs O(length of the longest matching piece).
struct PieceTrie: Sendable {
    private struct Unit {
        /// Children are at `base + byte`; 0: no children.
        var base: Int32 = 0
        /// The parent node, -1 for the root, -2 for a free slot.
        var check: Int32 = -2
        /// The piece id ending here, or -1.
        var value: Int32 = -1
    }

    private var units: [Unit] = []
    /// The longest piece, in bytes.
    private(set) var maxLength = 0

    /// Builds the trie. Each piece maps to one value; a later piece with the same bytes replaces the earlier.
    init(_ pieces: [(bytes: [UInt8], value: Int32)]) {
        // A plain trie first (children per node), then placed into the double array breadth first.
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
        var units = [Unit(base: 0, check: -1, value: values[0])]
        // Where the search for a free slot for a node's lowest label starts. It only moves forward; slots
        // left behind stay unused (a little memory), which keeps the build linear in practice.
        var searchFrom = 1
        var queue: [(orig: Int, index: Int)] = [(0, 0)]
        var head = 0
        while head < queue.count {
            let (orig, index) = queue[head]
            head += 1
            let labels = children[orig].keys.sorted()
            guard let low = labels.first else { continue }
            var pos = max(searchFrom, Int(low) + 1)
            var scanned = 0
            search: while true {
                if pos < units.count && units[pos].check != -2 {
                    pos += 1
                    scanned += 1
                    continue
                }
                let b = pos - Int(low)
                for l in labels.dropFirst() {
                    let t = b + Int(l)
                    if t < units.count && units[t].check != -2 {
                        pos += 1
                        scanned += 1
                        continue search
                    }
                }
                break
            }
            if scanned > 64 { searchFrom = max(searchFrom, pos - 16) }
            let b = pos - Int(low)
            units[index].base = Int32(b)
            for l in labels {
                let t = b + Int(l)
                while units.count <= t { units.append(Unit()) }
                let child = Int(children[orig][l] ?? 0)
                units[t].check = Int32(index)
                units[t].value = values[child]
                queue.append((child, t))
            }
        }
        self.units = units
    }

    /// The node reached from `node` on byte `b`, or -1 (node 0 is the root).
    @inline(__always)
    func child(_ node: Int, _ b: UInt8) -> Int {
        let base = Int(units[node].base)
        if base == 0 { return -1 }
        let t = base + Int(b)
        if t < units.count && units[t].check == Int32(truncatingIfNeeded: node) { return t }
        return -1
    }

    /// The value stored at a node (-1: none).
    @inline(__always)
    func value(at node: Int) -> Int32 { units[node].value }

    /// Calls `body(end, value)` for every piece equal to `text[start..<end]` with `end <= limit`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: [UInt8], from start: Int, limit: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var i = start
        while i < limit {
            node = child(node, text[i])
            if node < 0 { return }
            i += 1
            let v = units[node].value
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
        let v = units[node].value
        return v >= 0 ? v : nil
    }
}
