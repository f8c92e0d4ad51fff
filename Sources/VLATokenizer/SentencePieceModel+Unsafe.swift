import CProtobufC
import CSentencePieceProto

extension SentencePieceModel {
    /// Decodes the protobuf with protobuf-c and copies the fields out; the C message is freed before return.
    /// - Warning: Pointers from protobuf-c never escape this function.
    static func decode(_ bytes: [UInt8], source: String, limits: TokenizerLimits) throws(TokenizerError) -> Raw {
        let result: Result<Raw, TokenizerError> = bytes.withUnsafeBufferPointer { buffer in
            guard let message = sentencepiece__model_proto__unpack(nil, buffer.count, buffer.baseAddress) else {
                return .failure(
                    TokenizerError(.malformed, "\(source): not a valid SentencePiece ModelProto (protobuf-c could not decode it)"))
            }
            defer { sentencepiece__model_proto__free_unpacked(message, nil) }
            var raw = Raw()
            let m = message.pointee
            if m.n_pieces > limits.maxVocabulary {
                return .failure(
                    TokenizerError(.limitExceeded, "\(source): pieces has \(m.n_pieces) entries, above \(limits.maxVocabulary)"))
            }
            for i in 0..<m.n_pieces {
                guard let p = m.pieces[i] else {
                    return .failure(TokenizerError(.malformed, "\(source): pieces[\(i)] is null"))
                }
                let piece = p.pointee
                var pieceBytes: [UInt8] = []
                if piece.has_piece != 0, piece.piece.len > 0, let data = piece.piece.data {
                    pieceBytes = Array(UnsafeBufferPointer(start: data, count: piece.piece.len))
                }
                raw.pieces.append((pieceBytes, piece.score, Int32(piece.type.rawValue)))
            }
            if let t = m.trainer_spec?.pointee {
                raw.modelType = Int32(t.model_type.rawValue)
                raw.treatWhitespaceAsSuffix = t.treat_whitespace_as_suffix != 0
                raw.byteFallback = t.byte_fallback != 0
                raw.unkID = t.unk_id
                raw.bosID = t.bos_id
                raw.eosID = t.eos_id
                raw.padID = t.pad_id
            }
            if let n = m.normalizer_spec?.pointee {
                if let name = n.name {
                    var k = 0
                    while name[k] != 0, k < 4096 {
                        raw.name.append(UInt8(bitPattern: name[k]))
                        k += 1
                    }
                }
                if n.has_precompiled_charsmap != 0, n.precompiled_charsmap.len > 0, let data = n.precompiled_charsmap.data {
                    raw.charsMap = Array(UnsafeBufferPointer(start: data, count: n.precompiled_charsmap.len))
                }
                raw.addDummyPrefix = n.add_dummy_prefix != 0
                raw.removeExtraWhitespaces = n.remove_extra_whitespaces != 0
                raw.escapeWhitespaces = n.escape_whitespaces != 0
            }
            return .success(raw)
        }
        return try result.get()
    }
}
