/// The regular expressions that appear in converted tokenizer.json files, and nothing more: alternations
/// of literal characters with quantifiers (`+`, `*`, `?`, `{n}`, `{n,}`, `{n,m}`) and the anchors `\A`,
/// `\z`, `^`, `$`. Leftmost match, alternatives tried in order, greedy quantifiers (Oniguruma's semantics
/// for these patterns). Anything else is rejected at load time with `.unsupported`.
struct SimpleRegex: Sendable {
    enum Item: Sendable {
        case start
        case end
        case literal(bytes: [UInt8], min: Int, max: Int)
    }

    let alternatives: [[Item]]

    /// Parses a pattern.
    /// - Throws: ``TokenizerError`` `.unsupported` naming `field` for any other construct.
    init(_ pattern: String, field: String) throws(TokenizerError) {
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
    }

    private func matchItems(_ items: [Item], _ k: Int, _ text: [UInt8], _ lo: Int, _ hi: Int, _ p: Int) -> Int? {
        if k == items.count { return p }
        switch items[k] {
        case .start:
            return p == lo ? matchItems(items, k + 1, text, lo, hi, p) : nil
        case .end:
            return p == hi ? matchItems(items, k + 1, text, lo, hi, p) : nil
        case .literal(let bytes, let minCount, let maxCount):
            var ends = [p]
            var q = p
            while ends.count - 1 < maxCount, hi - q >= bytes.count, text[q..<(q + bytes.count)].elementsEqual(bytes) {
                q += bytes.count
                ends.append(q)
            }
            if ends.count - 1 < minCount { return nil }
            var r = ends.count - 1
            while r >= minCount {
                if let m = matchItems(items, k + 1, text, lo, hi, ends[r]) { return m }
                r -= 1
            }
            return nil
        }
    }

    /// All non-overlapping matches in `text[lo..<hi]`, leftmost first, at character boundaries.
    func matches(in text: [UInt8], _ lo: Int, _ hi: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var p = lo
        while p <= hi {
            var found: Int?
            for alt in alternatives {
                if let e = matchItems(alt, 0, text, lo, hi, p) {
                    found = e
                    break
                }
            }
            if let e = found, e > p {
                out.append(p..<e)
                p = e
                continue
            }
            if found != nil { out.append(p..<p) }  // an empty match
            if p == hi { break }
            p += UTF8Check.sequenceLength(text[p])
        }
        return out
    }
}
