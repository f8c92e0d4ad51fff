import Foundation

extension Compiler {
    /// What a model folder holds, for messages.
    static let modelFolderHolds =
        "a HyperVLA model folder holds config.json, dataset_statistics.json and params.safetensors, params.npz or params.msgpack (Examples/export_hypervla.py writes them)"

    /// Checks that `directory` is a folder holding a config, the action statistics and the HN parameters, before
    /// anything is read from it.
    /// - Throws: `CompileError` `.model` saying what is missing and what a model folder holds.
    static func checkModelFolder(_ directory: String) throws(CompileError) {
        switch FolderEntry.kind(directory) {
        case .missing: throw CompileError(.model, "\(directory): the model folder does not exist (--model DIR; \(modelFolderHolds))")
        case .other: throw CompileError(.model, "\(directory): not a folder (--model takes the model folder; \(modelFolderHolds))")
        case .folder: break
        }
        var missing: [String] = []
        for name in ["config.json", "dataset_statistics.json"] where FolderEntry.kind(directory + "/" + name) == .missing {
            missing.append(name)
        }
        let params = ["params.safetensors", "params.npz", "params.msgpack", "hn_params.safetensors", "hn_params.npz", "hn_params.msgpack"]
        if !params.contains(where: { FolderEntry.kind(directory + "/" + $0) != .missing }) { missing.append("params.*") }
        guard missing.isEmpty else {
            throw CompileError(.model, "\(directory): not a HyperVLA model folder: no \(missing.joined(separator: ", ")); \(modelFolderHolds)")
        }
    }

    /// `1234567` → `"1.2 MB"`.
    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}

/// Whether a path is a folder, something else, or nothing.
enum FolderEntry: Equatable {
    case folder, other, missing

    static func kind(_ path: String) -> FolderEntry {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return .missing }
        return isDir.boolValue ? .folder : .other
    }
}

/// Where a foundation-model folder (the T5 text encoder, the frozen DINOv2) is looked for, and what to say when
/// it is not there: the flag, else the folder `config.json`'s `vlac` section names, else `text_encoder/` or
/// `text-encoder/` (`vision_encoder/` or `vision-encoder/`) inside the model folder, whichever is a folder.
struct EncoderFolder {
    enum Role { case text, vision }
    enum Source { case flag, named, inside }

    let role: Role
    let source: Source
    let model: String
    /// The folder used.
    let path: String

    init(role: Role, flag: String?, named: String?, model: String) {
        self.role = role
        self.model = model
        if let flag {
            source = .flag
            path = flag
        } else if let named {
            source = .named
            path = named
        } else {
            source = .inside
            let (snake, kebab) = (model + "/" + role.names.snake, model + "/" + role.names.kebab)
            path = FolderEntry.kind(snake) == .missing && FolderEntry.kind(kebab) == .folder ? kebab : snake
        }
    }

    /// What to do: the flag and what the folder holds.
    var remedy: String { "pass \(role.flag) DIR, \(role.holds)" }

    /// - Throws: `CompileError` `.model` when ``path`` is not a folder, saying where the name came from and what to pass.
    func requireFolder() throws(CompileError) {
        let kind = FolderEntry.kind(path)
        guard kind != .folder else { return }
        let what = kind == .missing ? "no such folder" : "not a folder"
        switch source {
        case .flag:
            throw CompileError(.model, "\(path): \(what) (given with \(role.flag), which takes \(role.holds))")
        case .named:
            throw CompileError(.model, "\(path): \(what) (named by \(model)/config.json's vlac.\(role.names.snake)); \(remedy)")
        case .inside:
            throw CompileError(
                .model,
                "no \(role.noun): neither \(model)/\(role.names.snake) nor \(model)/\(role.names.kebab) is a folder\(role == .vision ? " (it is needed for use_initial_image = true)" : ""); \(remedy)")
        }
    }
}

extension EncoderFolder.Role {
    var names: (snake: String, kebab: String) { self == .text ? ("text_encoder", "text-encoder") : ("vision_encoder", "vision-encoder") }
    var flag: String { self == .text ? "--text-encoder" : "--vision-encoder" }
    var noun: String { self == .text ? "text encoder" : "vision encoder" }
    var holds: String {
        self == .text
            ? "a Hugging Face T5 folder (config.json, model.safetensors, and tokenizer.json or spiece.model)"
            : "a Hugging Face DINOv2 folder (config.json and model.safetensors)"
    }
}
