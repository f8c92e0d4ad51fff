import Foundation
import VLACheckpoint
import VLAFormat
import VLAJSON

extension Checkpoint: WeightSource {
    /// The tensor's shape, or nil.
    public func shape(of name: String) -> [Int]? { self[name]?.shape }

    /// The tensor's values as f32.
    public func floats(of name: String) throws -> [Float] {
        guard let t = self[name] else { throw ModelError(.weightsMismatch, "tensor \"\(name)\" is missing") }
        return t.floats()
    }
}

/// Which foundation model a Hugging Face directory holds, from its `config.json`.
public enum FoundationModel {
    /// A T5 encoder.
    case t5(T5Encoder)
    /// A BERT-family encoder.
    case bert(BertEncoder)
    /// DINOv2.
    case dinov2(DINOv2)

    /// Opens a Hugging Face directory (`config.json` and weights in any format VLACheckpoint reads) and builds
    /// the matching model, choosing by `model_type`.
    ///
    /// - Throws: `ModelError` (`.io` for unreadable files, `.unsupported` for unknown model types, and the
    ///   builders' lists of config and weight problems).
    public static func open(directory: String) throws(ModelError) -> FoundationModel {
        let configPath = directory + "/config.json"
        let contents: [UInt8]?
        do { contents = try RegularFile.read(configPath) } catch { throw ModelError(.io, error.message) }
        guard let data = contents else {
            throw ModelError(.io, "\(configPath): cannot read (a Hugging Face model directory needs config.json)")
        }
        let json: JSONValue
        do { json = try JSONValue(parsing: data) } catch {
            throw ModelError(.badConfig, "\(configPath): \(error.message)", offset: error.offset)
        }
        let type = json["model_type"]?.string ?? ""
        let weights: Checkpoint
        do { weights = try Checkpoint(path: directory) } catch {
            throw ModelError(.io, "\(directory): \(error)")
        }
        switch type {
        case "t5", "mt5": return .t5(try T5Encoder(config: json, weights: weights))
        case "bert": return .bert(try BertEncoder(config: json, weights: weights))
        case "dinov2": return .dinov2(try DINOv2(config: json, weights: weights))
        default:
            throw ModelError(.unsupported, "\(configPath): model_type \"\(type)\" is not supported (supported: t5, mt5, bert, dinov2)")
        }
    }
}
