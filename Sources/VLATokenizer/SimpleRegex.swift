/// The regular expressions that appear in converted tokenizer.json files, and nothing more: alternations
/// of literal characters with quantifiers (`+`, `*`, `?`, `{n}`, `{n,}`, `{n,m}`) and the anchors `\A`,
/// `\z`, `^`, `$`. Leftmost match, alternatives tried in order, greedy quantifiers (Oniguruma's semantics
/// for these patterns). Anything else is rejected at load time with `.unsupported`.
///
/// Matching does not backtrack: the pattern is compiled to a small automaton whose states are (item,
/// repetitions so far), and one pass from the end of the text to its start computes, for every position and
/// state, the end of the match that backtracking would find first from there. Each (state, position) pair
/// is computed once in O(1), so finding all matches costs O(states × text bytes) time and
/// O(states + text bytes) memory, whatever the pattern (eight `a*` then `b` on a long run of `a` included).
/// The number of states is bounded by ``TokenizerLimits/maxRegexStates``.
///
/// > Note: <Docs/Tokenizers.md#regular-expressions>
struct SimpleRegex: Sendable {
    enum Item: Sendable {
        case start
        case end
        case literal(bytes: [UInt8], min: Int, max: Int)
    }

    /// One state of the compiled automaton. `next` and `done` are state indices.
    enum State: Sendable {
        /// The alternative matched: the match ends here.
        case accept
        /// `\A` or `^` (`atStart`), `\z` or `$`: go on to `next` at the same position if it holds.
        case anchor(atStart: Bool, next: Int)
        /// Inside a quantified literal: `more` (another repetition, if the bytes follow) is tried first, then
        /// `done` (the next item at this position). `more` is nil once the maximum count is reached, `done`
        /// is nil below the minimum count; past the minimum of an unbounded item `more` loops to this state.
        case literal(bytes: [UInt8], more: Int?, done: Int?)
    }

    let alternatives: [[Item]]
    /// The compiled states; every same-position successor has a larger index than its state.
    let states: [State]
    /// The first state of each alternative, in the pattern's order.
    let starts: [Int]
    /// The longest literal in bytes (how far ahead a state looks).
    let longestLiteral: Int

    /// Parses a pattern.
    /// - Throws: ``TokenizerError`` `.unsupported` naming `field` for any other construct, `.limitExceeded`
    ///   when the compiled automaton would have more than `maxStates` states (`{n,m}` counts add states).
    init(_ pattern: String, field: String, maxStates: Int = TokenizerLimits().maxRegexStates) throws(TokenizerError) {
        var alts: [[Item]] = [[]]
        let scalars = Array(pattern.unicodeScalars)
        var i = 0
        func unsupported(_ why: String) -> TokenizerError {
            TokenizerError(.unsupported, "\(field): regex \"\(pattern)\": \(why); only literal characters, quantifiers, | and the anchors \\A \\z ^ $ are supported")
        }
        while i < scalars.count {
            let c = scalars[i]
            i += 1
            var literal: Unicode.Scalar
            switch c {
            case "|":
                alts.append([])
                continue
            case "^":
                alts[alts.count - 1].append(.start)
                continue
            case "$":
                alts[alts.count - 1].append(.end)
                continue
            case "\\":
                guard i < scalars.count else { throw unsupported("trailing backslash") }
                let e = scalars[i]
                i += 1
                switch e {
                case "A": alts[alts.count - 1].append(.start); continue
                case "z": alts[alts.count - 1].append(.end); continue
                case "n": literal = "\n"
                case "t": literal = "\t"
                case "r": literal = "\r"
                default:
                    if e.properties.isAlphabetic || ("0"..."9").contains(e) { throw unsupported("escape \\\(e)") }
                    literal = e
                }
            case "(", ")", "[", "]", ".", "+", "*", "?", "{", "}":
                throw unsupported("'\(c)' here")
            default:
                literal = c
            }
            var minCount = 1
            var maxCount = 1
            if i < scalars.count {
                switch scalars[i] {
                case "+": minCount = 1; maxCount = Int.max; i += 1
                case "*": minCount = 0; maxCount = Int.max; i += 1
                case "?": minCount = 0; maxCount = 1; i += 1
                case "{":
                    var j = i + 1
                    var a = 0
                    var digitsA = 0
                    while j < scalars.count, let d = Int(String(scalars[j])), ("0"..."9").contains(scalars[j]) { a = a * 10 + d; j += 1; digitsA += 1; if a > 100_000 { throw unsupported("count too large") } }
                    guard digitsA > 0, j < scalars.count else { throw unsupported("bad {n,m}") }
                    if scalars[j] == "}" {
                        minCount = a; maxCount = a
                    } else if scalars[j] == "," {
                        j += 1
                        var b = 0
                        var digitsB = 0
                        while j < scalars.count, let d = Int(String(scalars[j])), ("0"..."9").contains(scalars[j]) { b = b * 10 + d; j += 1; digitsB += 1; if b > 100_000 { throw unsupported("count too large") } }
                        guard j < scalars.count, scalars[j] == "}" else { throw unsupported("bad {n,m}") }
                        minCount = a
                        maxCount = digitsB > 0 ? b : Int.max
                        guard minCount <= maxCount else { throw unsupported("bad {n,m}") }
                    } else {
                        throw unsupported("bad {n,m}")
                    }
                    i = j + 1
                default: break
                }
                if i < scalars.count, ["+", "*", "?", "{"].contains(scalars[i]) {
                    throw unsupported("lazy or stacked quantifiers")
                }
            }
            var bytes: [UInt8] = []
            UTF8Check.append(literal, to: &bytes)
            alts[alts.count - 1].append(.literal(bytes: bytes, min: minCount, max: maxCount))
        }
        alternatives = alts
        // Compile: per alternative, each item's states in order, then its accept state.
        var states: [State] = []
        var starts: [Int] = []
        var longest = 1
        for alt in alts {
            starts.append(states.count)
            var count = 1  // the accept state
            for item in alt {
                if case .literal(_, let minCount, let maxCount) = item {
                    count += (maxCount == Int.max ? minCount : maxCount) + 1
                } else {
                    count += 1
                }
                if states.count + count > maxStates {
                    throw TokenizerError(
                        .limitExceeded,
                        "\(field): regex \"\(pattern)\" needs more than \(maxStates) matcher states (each {n,m} adds m + 1); use smaller counts")
                }
            }
            for item in alt {
                switch item {
                case .start: states.append(.anchor(atStart: true, next: states.count + 1))
                case .end: states.append(.anchor(atStart: false, next: states.count + 1))
                case .literal(let bytes, let minCount, let maxCount):
                    longest = max(longest, bytes.count)
                    let last = maxCount == Int.max ? minCount : maxCount
                    let first = states.count
                    let after = first + last + 1
                    for c in 0...last {
                        let more: Int? = c < last ? first + c + 1 : (maxCount == Int.max ? first + c : nil)
                        states.append(.literal(bytes: bytes, more: more, done: c >= minCount ? after : nil))
                    }
                }
            }
            states.append(.accept)
        }
        self.states = states
        self.starts = starts
        longestLiteral = longest
    }

    /// All non-overlapping matches in `text[lo..<hi]`, leftmost first, at character boundaries.
    /// - Complexity: O(`states.count` × (`hi` - `lo`)).
    func matches(in text: [UInt8], _ lo: Int, _ hi: Int) -> [Range<Int>] {
        var steps = 0
        return matches(in: text, lo, hi, steps: &steps)
    }

    /// All non-overlapping matches in `text[lo..<hi]`, adding to `steps` the number of (state, position)
    /// pairs evaluated: exactly `states.count` × (`hi` - `lo` + 1).
    func matches(in text: [UInt8], _ lo: Int, _ hi: Int, steps: inout Int) -> [Range<Int>] {
        let firstEnd = firstMatchEnds(text, lo, hi, steps: &steps)
        var out: [Range<Int>] = []
        var p = lo
        while p <= hi {
            let e = firstEnd[p - lo]
            if e > p {
                out.append(p..<e)
                p = e
                continue
            }
            if e == p { out.append(p..<p) }  // an empty match
            if p == hi { break }
            p += UTF8Check.sequenceLength(text[p])
        }
        return out
    }

    /// For every position `p` in `lo...hi`, where the match that starts at `p` ends (-1 for none): the end
    /// that trying the alternatives in order, each quantifier greedy with backtracking, finds first.
    ///
    /// `R(s, p)`, the first match end from state `s` at position `p`, depends only on `R(more, p + |bytes|)`
    /// and on `R(done or next, p)` with a larger state index, so one pass over positions from `hi` down, and
    /// over states from the last down, computes each value once. Only the last `longestLiteral + 1` rows are
    /// kept.
    private func firstMatchEnds(_ text: [UInt8], _ lo: Int, _ hi: Int, steps: inout Int) -> [Int] {
        let n = states.count
        let window = longestLiteral + 1
        var rows = [Int](repeating: -1, count: window * n)
        var firstEnd = [Int](repeating: -1, count: hi - lo + 1)
        var p = hi
        while p >= lo {
            let row = (p % window) * n
            var s = n - 1
            while s >= 0 {
                var r = -1
                switch states[s] {
                case .accept:
                    r = p
                case .anchor(let atStart, let next):
                    if p == (atStart ? lo : hi) { r = rows[row + next] }
                case .literal(let bytes, let more, let done):
                    if let more, hi - p >= bytes.count, text[p..<(p + bytes.count)].elementsEqual(bytes) {
                        r = rows[((p + bytes.count) % window) * n + more]
                    }
                    if r < 0, let done { r = rows[row + done] }
                }
                rows[row + s] = r
                s -= 1
            }
            steps += n
            for start in starts where rows[row + start] >= 0 {
                firstEnd[p - lo] = rows[row + start]
                break
            }
            p -= 1
        }
        return firstEnd
    }
}

