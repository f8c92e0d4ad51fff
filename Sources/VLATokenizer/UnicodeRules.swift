import Foundation

/// The Unicode character classes the `tokenizers` BERT components use, over Swift's Unicode tables.
enum UnicodeRules {
    /// Rust's `char::is_whitespace` (the White_Space property).
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s.value == 0x20 || (s.value >= 0x09 && s.value <= 0x0D) }
        return s.properties.isWhitespace
    }

    /// Whether `v` lies in one of the inclusive ranges of `table` (lower, upper, lower, upper, ...).
    @inline(__always)
    static func inRanges(_ table: [UInt32], _ v: UInt32) -> Bool {
        var lo = 0
        var hi = table.count / 2
        while lo < hi {
            let mid = (lo + hi) >> 1
            if v < table[2 * mid] {
                hi = mid
            } else if v > table[2 * mid + 1] {
                lo = mid + 1
            } else {
                return true
            }
        }
        return false
    }

    /// BertNormalizer's `is_control` (categories Cc, Cf, Co, Cs in `tokenizers`' own, older tables; not tab,
    /// newline or carriage return). The table was measured from `tokenizers` (``BertUnicodeTables``).
    @inline(__always)
    static func isBertControl(_ s: Unicode.Scalar) -> Bool {
        if s.value >= 0x20 && s.value < 0x7F { return false }
        return inRanges(BertUnicodeTables.control, s.value)
    }

    /// A nonspacing mark as BertNormalizer's `strip_accents` sees it (``BertUnicodeTables``).
    @inline(__always)
    static func isBertNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        s.value >= 0x300 && inRanges(BertUnicodeTables.nonspacingMark, s.value)
    }

    /// BertNormalizer's CJK ideograph ranges.
    @inline(__always)
    static func isChineseChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// BertPreTokenizer's punctuation: ASCII punctuation or Unicode P* in `tokenizers`' own tables
    /// (``BertUnicodeTables``).
    @inline(__always)
    static func isBertPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v)
        }
        return inRanges(BertUnicodeTables.punctuation, v)
    }

    /// Canonical decomposition (NFD) of a scalar sequence.
    static func nfd(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if scalars.allSatisfy({ $0.value < 0xC0 }) { return scalars }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return Array(String(s).decomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Rust's `char::to_lowercase` (full lowercase mapping, one scalar at a time, no final-sigma rule).
    @inline(__always)
    static func appendLowercase(_ s: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        if s.value < 0x80 {
            if s.value >= 0x41 && s.value <= 0x5A { out.append(Unicode.Scalar(UInt8(s.value + 32))) } else { out.append(s) }
            return
        }
        out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
    }
}
