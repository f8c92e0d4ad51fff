import Foundation
import Testing
@testable import VLATokenizer

/// The tokenizer.json regex matcher: linear work on patterns that make a backtracking matcher exponential,
/// the same matches as backtracking on random small patterns, and the pattern-size budget.
@Suite struct RegexTests {
    /// Eight `a*` then `b` (an exponential case for backtracking) on 10 000 `a`: no match, and exactly
    /// `states × (bytes + 1)` steps; with a `b` at the end, one match of the whole text.
    @Test func nestedStarsAreLinear() throws {
        let r = try SimpleRegex(String(repeating: "a*", count: 8) + "b", field: "test")
        #expect(r.states.count == 11)  // 8 loops, b and b-done, accept
        let text = [UInt8](repeating: UInt8(ascii: "a"), count: 10_000)
        var steps = 0
        #expect(r.matches(in: text, 0, text.count, steps: &steps).isEmpty)
        #expect(steps == r.states.count * (text.count + 1))
        let withB = text + [UInt8(ascii: "b")]
        steps = 0
        #expect(r.matches(in: withB, 0, withB.count, steps: &steps) == [0..<withB.count])
        #expect(steps == r.states.count * (withB.count + 1))
    }

    /// Alternatives of stacked optional runs (`(a?){n}a{n}`-like work for a backtracker) stay linear too.
    @Test func optionalRunsAreLinear() throws {
        let r = try SimpleRegex("a{0,30}a{0,30}a{0,30}c|a", field: "test")
        let text = [UInt8](repeating: UInt8(ascii: "a"), count: 500)
        var steps = 0
        let ms = r.matches(in: text, 0, text.count, steps: &steps)
        #expect(ms.count == 500 && ms.allSatisfy { $0.count == 1 })
        #expect(steps == r.states.count * 501)
    }

    /// Random patterns over `a`, `b` and `é` with every quantifier and anchor, on random texts: the same
    /// matches as a plain backtracking matcher (the semantics `tokenizers` has for these patterns).
    @Test func agreesWithBacktracking() throws {
        var rng = SplitMix(seed: 0x5EED_1234)
        let atoms = ["a", "b", "é", "^", "$", "\\A", "\\z"]
        let quantifiers = ["", "", "+", "*", "?", "{2}", "{1,}", "{0,2}", "{1,3}"]
        let letters: [String] = ["a", "b", "é"]
        var checked = 0
        for _ in 0..<400 {
            var pattern = ""
            for k in 0..<(1 + rng.below(6)) {
                if k > 0 && rng.below(4) == 0 { pattern += "|" }
                let atom = atoms[rng.below(atoms.count)]
                pattern += atom
                if atom.count == 1 && atom != "^" && atom != "$" { pattern += quantifiers[rng.below(quantifiers.count)] }
            }
            let r = try SimpleRegex(pattern, field: "test")
            for _ in 0..<5 {
                let text = Array((0..<rng.below(9)).map { _ in letters[rng.below(3)] }.joined().utf8)
                #expect(r.matches(in: text, 0, text.count) == Backtracking(r).matches(text), "\(pattern) on \(String(decoding: text, as: UTF8.self))")
                checked += 1
            }
        }
        #expect(checked == 2000)
    }

    /// The attack as a file carries it: a `Split` pre-tokenizer with eight `a*` then `b` in a tokenizer.json,
    /// encoding 4,096 `a` then `b` (a backtracking matcher would not finish): the whole text is one split.
    @Test func splitPatternInATokenizerFile() throws {
        let json = TokenizerJSONBadInputTests.small.replacingOccurrences(
            of: "\"pre_tokenizer\": {\"type\": \"Metaspace\"",
            with: "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\(String(repeating: "a*", count: 8))b\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"Metaspace\"")
            .replacingOccurrences(of: "\"split\": true},", with: "\"split\": true}]},")
        let t = try HFTokenizer(jsonBytes: Array(json.utf8), source: "attack.json")
        let ids = try t.encode(String(repeating: "a", count: 4096) + "b").ids
        // "▁a" then 4,095 "a" then "b" then </s>.
        #expect(ids == [4] + [Int32](repeating: 6, count: 4095) + [5, 1])
    }

    /// A pattern over the state budget is refused at load time, naming the field and the budget.
    @Test func stateBudget() {
        do {
            _ = try SimpleRegex("x{5000}", field: "t.json: normalizer.pattern.Regex")
            Issue.record("expected limitExceeded")
        } catch {
            #expect(error.code == .limitExceeded)
            #expect(error.description.contains("t.json: normalizer.pattern.Regex") && error.description.contains("4096"), "\(error)")
        }
        #expect((try? SimpleRegex("x{4000}", field: "t")) != nil)
        #expect((try? SimpleRegex("x{10}", field: "t", maxStates: 8)) == nil)
    }
}

/// The reference: try the alternatives in order, each quantifier greedy, backtracking over repetition counts.
/// Exponential in the worst case, so only run on small inputs.
private struct Backtracking {
    let regex: SimpleRegex
    init(_ regex: SimpleRegex) { self.regex = regex }

    func match(_ items: [SimpleRegex.Item], _ k: Int, _ text: [UInt8], _ p: Int) -> Int? {
        if k == items.count { return p }
        switch items[k] {
        case .start: return p == 0 ? match(items, k + 1, text, p) : nil
        case .end: return p == text.count ? match(items, k + 1, text, p) : nil
        case .literal(let bytes, let minCount, let maxCount):
            var ends = [p]
            while ends.count - 1 < maxCount, let q = ends.last, text.count - q >= bytes.count, Array(text[q..<(q + bytes.count)]) == bytes {
                ends.append(q + bytes.count)
            }
            var r = ends.count - 1
            while r >= minCount {
                if let e = match(items, k + 1, text, ends[r]) { return e }
                r -= 1
            }
            return nil
        }
    }

    func matches(_ text: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var p = 0
        while p <= text.count {
            let found = regex.alternatives.lazy.compactMap { match($0, 0, text, p) }.first
            if let e = found, e > p {
                out.append(p..<e)
                p = e
                continue
            }
            if found != nil { out.append(p..<p) }
            if p == text.count { break }
            p += UTF8Check.sequenceLength(text[p])
        }
        return out
    }
}

/// A small seeded generator (SplitMix64), so that failures reproduce.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
