import Testing
@testable import VLATokenizer

/// The double-array trie against a dictionary, on random byte pieces (all 256 byte values).
@Suite struct PieceTrieTests {
    @Test func matchesDictionary() {
        var rng = SeededRandom(state: 7)
        var pieces: [[UInt8]: Int32] = [:]
        var list: [(bytes: [UInt8], value: Int32)] = []
        for i in 0..<20_000 {
            let n = Int.random(in: 1...10, using: &rng)
            let alphabet = i % 2 == 0 ? 256 : 6  // dense and sparse branching
            let p = (0..<n).map { _ in UInt8(Int.random(in: 0..<alphabet, using: &rng)) }
            pieces[p] = Int32(i)
            list.append((p, Int32(i)))
        }
        let trie = PieceTrie(list)
        for (p, v) in pieces { #expect(trie.lookup(p) == v) }
        for _ in 0..<2000 {
            let n = Int.random(in: 1...14, using: &rng)
            let text = (0..<n).map { _ in UInt8(Int.random(in: 0..<(Bool.random(using: &rng) ? 256 : 6), using: &rng)) }
            var want: [(Int, Int32)] = []
            for end in 1...n { if let v = pieces[Array(text[0..<end])] { want.append((end, v)) } }
            var got: [(Int, Int32)] = []
            trie.forEachPrefix(text, from: 0, limit: n) { got.append(($0, $1)) }
            #expect(got.map(\.0) == want.map(\.0) && got.map(\.1) == want.map(\.1))
            if pieces[text] == nil { #expect(trie.lookup(text) == nil) }
        }
        #expect(PieceTrie([]).lookup([1]) == nil)
    }
}
