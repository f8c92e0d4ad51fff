import Foundation

/// The Unicode character classes the `tokenizers` BERT components use, over Swift's Unicode tables.
enum UnicodeRules {
    /// Rust's `char::is_whitespace` (the White_Space property).
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s.value == 0x20 || (s.value >= 0x09 && s.value <= 0x0D) }
        return s.properties.isWhitespace
    }

    /// The Unicode version of the general-category tables that `tokenizers` uses for its BERT components
    /// (the `unicode_categories` crate, 0.1.1). Scalars assigned later have no category there.
    static let bertCategoryVersion = (major: 8, minor: 0)

    /// The general category as the `unicode_categories` crate sees it: nil for scalars it does not know.
    @inline(__always)
    static func bertCategory(_ s: Unicode.Scalar) -> Unicode.GeneralCategory? {
        let p = s.properties
        guard let age = p.age else { return nil }
        if age.major > bertCategoryVersion.major
            || (age.major == bertCategoryVersion.major && age.minor > bertCategoryVersion.minor)
        {
            return nil
        }
        return p.generalCategory
    }

    /// BertNormalizer's `is_control`: categories Cc, Cf, Co, Cs, except tab, newline and carriage return.
    /// `tokenizers` also names Cn, but its table (the `unicode_categories` crate, built from UnicodeData.txt,
    /// which does not list unassigned code points) matches none, so unassigned scalars are kept.
    @inline(__always)
    static func isBertControl(_ s: Unicode.Scalar) -> Bool {
        if s.value == 0x09 || s.value == 0x0A || s.value == 0x0D { return false }
        if s.value >= 0x20 && s.value < 0x7F { return false }
        switch bertCategory(s) {
        case .control?, .format?, .privateUse?, .surrogate?: return true
        default: return false
        }
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

    /// BertPreTokenizer's punctuation: ASCII punctuation or any Unicode P* category.
    @inline(__always)
    static func isBertPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v)
        }
        switch bertCategory(s) {
        case .connectorPunctuation?, .dashPunctuation?, .openPunctuation?, .closePunctuation?, .initialPunctuation?,
            .finalPunctuation?, .otherPunctuation?:
            return true
        default:
            return false
        }
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
