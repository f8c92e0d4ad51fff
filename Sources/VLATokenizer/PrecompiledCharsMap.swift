/// SentencePiece's precompiled normalization map (`NormalizerSpec.precompiled_charsmap`, as built for
/// `nmt_nfkc`), also stored base64-encoded in Hugging Face's `Precompiled` normalizer.
///
/// Layout (all little-endian):
/// ```
/// offset 0      UInt32 T        byte size of the trie (a multiple of 4)
/// offset 4      T/4 × UInt32    darts-clone double-array units
/// offset 4+T    bytes           the normalized strings, each terminated by a NUL byte
/// ```
/// A unit's fields: `has_leaf = bit 8`, `value = bits 0..30`, `label = bits 0..7 | bit 31`,
/// `offset = (unit >> 10) << ((unit & 0x200) >> 6)`. A key is looked up byte by byte from unit 0; a leaf's
/// value is the byte offset of the replacement string in the string area.
///
/// > Note: <Docs/Tokenizers.md#normalization>
struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let strings: [UInt8]
    /// True when the map has no trie (an empty `precompiled_charsmap`): every lookup misses.
    var isEmpty: Bool { units.isEmpty }

    /// Parses and checks the blob.
    /// - Throws: ``TokenizerError`` naming `field` when the blob is truncated or a size is inconsistent.
    init(bytes: [UInt8], field: String, limits: TokenizerLimits) throws(TokenizerError) {
        if bytes.isEmpty {
            units = []
            strings = []
            return
        }
        if bytes.count > limits.maxCharsMapBytes {
            throw TokenizerError(
                .limitExceeded, "\(field): \(bytes.count) bytes is above the limit of \(limits.maxCharsMapBytes)")
        }
        guard bytes.count >= 4 else {
            throw TokenizerError(.truncated, "\(field): \(bytes.count) bytes, too short for the trie size", offset: 0)
        }
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard trieSize % 4 == 0 else {
            throw TokenizerError(.malformed, "\(field): trie size \(trieSize) is not a multiple of 4", offset: 0)
        }
        guard trieSize <= bytes.count - 4 else {
            throw TokenizerError(
                .truncated, "\(field): trie of \(trieSize) bytes exceeds the \(bytes.count - 4) bytes after its size",
                offset: 0)
        }
        guard trieSize >= 4 else {
            throw TokenizerError(.malformed, "\(field): the trie has no root unit", offset: 0)
        }
        var u: [UInt32] = []
        var o = 4
        while o < 4 + trieSize {
            u.append(UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)
            o += 4
        }
        units = u
        strings = Array(bytes[(4 + trieSize)...])
    }

    /// Calls `body(length, valueOffset)` for every key that is a prefix of `key[start..<end]`, shortest
    /// first, as darts-clone's `commonPrefixSearch` does. A NUL byte never matches. Returns false when the
    /// trie walks outside its units (a corrupt map).
    @inline(__always)
    func forEachPrefix(_ key: [UInt8], from start: Int, to end: Int, _ body: (Int, Int) -> Void) -> Bool {
        let count = units.count
        if count == 0 { return true }
        var nodePos = Int(Self.offset(units[0]))
        var i = start
        while i < end {
            let c = key[i]
            if c == 0 { return true }
            nodePos ^= Int(c)
            guard nodePos < count else { return false }
            let unit = units[nodePos]
            if Self.label(unit) != UInt32(c) { return true }
            nodePos ^= Int(Self.offset(unit))
            guard nodePos < count else { return false }
            if unit & 0x100 != 0 {
                body(i + 1 - start, Int(units[nodePos] & 0x7FFF_FFFF))
            }
            i += 1
        }
        return true
    }

    /// True when some key starts with `prefix` (the trie has a path for it).
    func hasKeys(startingWith prefix: [UInt8]) -> Bool {
        guard !units.isEmpty else { return false }
        var nodePos = Int(Self.offset(units[0]))
        for c in prefix {
            if c == 0 { return false }
            nodePos ^= Int(c)
            guard nodePos < units.count else { return false }
            let unit = units[nodePos]
            if Self.label(unit) != UInt32(c) { return false }
            nodePos ^= Int(Self.offset(unit))
            guard nodePos < units.count else { return false }
        }
        return true
    }

    /// The replacement string that starts at `valueOffset` (up to its NUL), or nil if it runs outside the map.
    func replacement(at valueOffset: Int) -> ArraySlice<UInt8>? {
        guard valueOffset >= 0, valueOffset < strings.count else { return nil }
        var e = valueOffset
        while e < strings.count, strings[e] != 0 { e += 1 }
        guard e < strings.count else { return nil }
        return strings[valueOffset..<e]
    }

    @inline(__always) static func label(_ u: UInt32) -> UInt32 { u & 0x8000_00FF }
    @inline(__always) static func offset(_ u: UInt32) -> UInt32 { (u >> 10) << ((u & 0x200) >> 6) }
}
