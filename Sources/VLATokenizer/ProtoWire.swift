/// A protobuf wire-format walker for `.model` files. It runs before protobuf-c so that a truncated or
/// mistyped file gets an error naming the field (`pieces[17].score`) and the byte offset; protobuf-c alone
/// only says that decoding failed.
enum ProtoWire {
    /// The wire type each known field must have, per message, and the nested message it holds.
    private struct Field {
        let name: String
        let wireType: Int
        let message: Message?
        let repeated: Bool
    }

    private enum Message {
        case model, piece, trainer, normalizer

        func field(_ number: UInt64) -> Field? {
            switch (self, number) {
            case (.model, 1): Field(name: "pieces", wireType: 2, message: .piece, repeated: true)
            case (.model, 2): Field(name: "trainer_spec", wireType: 2, message: .trainer, repeated: false)
            case (.model, 3): Field(name: "normalizer_spec", wireType: 2, message: .normalizer, repeated: false)
            case (.model, 5): Field(name: "denormalizer_spec", wireType: 2, message: .normalizer, repeated: false)
            case (.piece, 1): Field(name: "piece", wireType: 2, message: nil, repeated: false)
            case (.piece, 2): Field(name: "score", wireType: 5, message: nil, repeated: false)
            case (.piece, 3): Field(name: "type", wireType: 0, message: nil, repeated: false)
            case (.trainer, 3): Field(name: "model_type", wireType: 0, message: nil, repeated: false)
            case (.trainer, 4): Field(name: "vocab_size", wireType: 0, message: nil, repeated: false)
            case (.trainer, 24): Field(name: "treat_whitespace_as_suffix", wireType: 0, message: nil, repeated: false)
            case (.trainer, 35): Field(name: "byte_fallback", wireType: 0, message: nil, repeated: false)
            case (.trainer, 40): Field(name: "unk_id", wireType: 0, message: nil, repeated: false)
            case (.trainer, 41): Field(name: "bos_id", wireType: 0, message: nil, repeated: false)
            case (.trainer, 42): Field(name: "eos_id", wireType: 0, message: nil, repeated: false)
            case (.trainer, 43): Field(name: "pad_id", wireType: 0, message: nil, repeated: false)
            case (.normalizer, 1): Field(name: "name", wireType: 2, message: nil, repeated: false)
            case (.normalizer, 2): Field(name: "precompiled_charsmap", wireType: 2, message: nil, repeated: false)
            case (.normalizer, 3): Field(name: "add_dummy_prefix", wireType: 0, message: nil, repeated: false)
            case (.normalizer, 4): Field(name: "remove_extra_whitespaces", wireType: 0, message: nil, repeated: false)
            case (.normalizer, 5): Field(name: "escape_whitespaces", wireType: 0, message: nil, repeated: false)
            default: nil
            }
        }
    }

    /// Checks the whole file's wire structure.
    /// - Throws: ``TokenizerError`` `.truncated`, `.malformed` or `.wrongType` naming the field and offset.
    static func check(_ bytes: [UInt8], source: String, limits: TokenizerLimits) throws(TokenizerError) {
        var pieceCount = 0
        try walk(bytes, 0, bytes.count, .model, path: "", source: source, depth: 0, pieceCount: &pieceCount, limits: limits)
    }

    private static func varint(_ bytes: [UInt8], _ pos: inout Int, _ end: Int) -> UInt64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while pos < end {
            let b = bytes[pos]
            pos += 1
            if shift == 63 && b > 1 { return nil }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    private static func walk(
        _ bytes: [UInt8], _ start: Int, _ end: Int, _ message: Message, path: String, source: String, depth: Int,
        pieceCount: inout Int, limits: TokenizerLimits
    ) throws(TokenizerError) {
        var pos = start
        let prefix = path.isEmpty ? "" : path + "."
        while pos < end {
            let tagOffset = pos
            guard let tag = varint(bytes, &pos, end) else {
                throw TokenizerError(
                    pos >= end ? .truncated : .malformed,
                    "\(source): \(path.isEmpty ? "ModelProto" : path): \(pos >= end ? "the data ends inside a field tag" : "bad field tag")",
                    offset: tagOffset)
            }
            let number = tag >> 3
            let wireType = Int(tag & 7)
            guard number > 0 else {
                throw TokenizerError(.malformed, "\(source): \(prefix)field number 0 is not allowed", offset: tagOffset)
            }
            var name = "\(prefix)field \(number)"
            let field = message.field(number)
            if let field {
                name = prefix + field.name
                if field.repeated {
                    if field.name == "pieces" {
                        name += "[\(pieceCount)]"
                        pieceCount += 1
                        if pieceCount > limits.maxVocabulary {
                            throw TokenizerError(
                                .limitExceeded, "\(source): more than \(limits.maxVocabulary) pieces", offset: tagOffset)
                        }
                    }
                }
                if field.wireType != wireType {
                    let names = [0: "varint", 1: "64-bit", 2: "length-delimited", 3: "group start", 4: "group end", 5: "32-bit"]
                    throw TokenizerError(
                        .wrongType,
                        "\(source): \(name) has wire type \(names[wireType] ?? "\(wireType)"), expected \(names[field.wireType] ?? "")",
                        offset: tagOffset)
                }
            }
            switch wireType {
            case 0:
                let at = pos
                guard varint(bytes, &pos, end) != nil else {
                    throw TokenizerError(
                        pos >= end ? .truncated : .malformed,
                        "\(source): \(name): \(pos >= end ? "the data ends inside its value" : "bad varint")", offset: at)
                }
            case 1, 5:
                let size = wireType == 1 ? 8 : 4
                guard end - pos >= size else {
                    throw TokenizerError(.truncated, "\(source): \(name): \(size)-byte value runs past the end", offset: pos)
                }
                pos += size
            case 2:
                let at = pos
                guard let length = varint(bytes, &pos, end) else {
                    throw TokenizerError(
                        pos >= end ? .truncated : .malformed,
                        "\(source): \(name): \(pos >= end ? "the data ends inside its length" : "bad length")", offset: at)
                }
                guard length <= UInt64(end - pos) else {
                    throw TokenizerError(
                        .truncated, "\(source): \(name): length \(length) runs past the end (\(end - pos) bytes left)", offset: at)
                }
                let fieldEnd = pos + Int(length)
                if let nested = field?.message {
                    guard depth < 8 else {
                        throw TokenizerError(.malformed, "\(source): \(name): nested too deeply", offset: at)
                    }
                    try walk(
                        bytes, pos, fieldEnd, nested, path: name, source: source, depth: depth + 1, pieceCount: &pieceCount,
                        limits: limits)
                }
                pos = fieldEnd
            default:
                throw TokenizerError(
                    .malformed, "\(source): \(name): wire type \(wireType) is not supported", offset: tagOffset)
            }
        }
    }
}
