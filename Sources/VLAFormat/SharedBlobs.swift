#if canImport(Glibc)
import Glibc
#else
#error("VLAFormat is built and tested on Linux (Glibc) only; other C libraries need their own tested arm")
#endif

/// Finds and checks the shared blobs a policy references, by SHA-256.
///
/// A blob is looked up in each search folder as `<anything>-<sha256 hex>.vla` or `<sha256 hex>.vla` (the
/// names `vlac compile` writes). A candidate is accepted only when it is a regular file of the size the
/// reference records (checked first, from `fstat`, before anything is read), its whole-file SHA-256 equals the
/// reference, it verifies, it is flagged as a shared blob, and every external tensor of
/// the policy finds a stored (inline) tensor of the same name, dtype and shape at its index. Every `call` op must
/// then name a program of its blob whose inputs and outputs match the op's operands. Names alone never bind.
public struct SharedBlobResolver: Sendable {
    /// Folders searched in order.
    public var searchPaths: [String]
    /// Limits applied when verifying blobs.
    public var limits: FormatLimits

    /// Creates a resolver over `searchPaths`.
    public init(searchPaths: [String], limits: FormatLimits = .default) {
        self.searchPaths = searchPaths
        self.limits = limits
    }

    /// The default search path for a policy at `policyPath`: its folder, then `../shared` beside it.
    public static func defaultSearchPaths(forPolicyAt policyPath: String) -> [String] {
        var folder = "."
        if let slash = policyPath.lastIndex(of: "/") { folder = slash == policyPath.startIndex ? "/" : String(policyPath[..<slash]) }
        return [folder, folder + "/../shared"]
    }

    /// Resolves every shared reference of `file`.
    ///
    /// - Returns: The verified blobs, in the order of `file.sharedRefs`.
    /// - Throws: `FormatError` with code `.sharedBlob` naming the role and hash of every blob that is missing (with
    ///   the folders searched and what to pass), of a candidate that was found but refused (and why), or of a blob
    ///   that does not hold the tensor a policy expects.
    public func resolve(for file: VLAFile) throws(FormatError) -> [VLAFile] {
        var blobs: [VLAFile] = []
        var missing: [(ref: SharedReference, rejected: [String])] = []
        for (r, ref) in file.sharedRefs.enumerated() {
            switch find(ref) {
            case .failure(let reasons):
                missing.append((ref, reasons.rejected))
                continue
            case .success(let blob):
                for (id, tensor) in file.tensors.enumerated() {
                    guard case .external(let tr, let index) = tensor.storage, tr == r else { continue }
                    guard index < blob.tensors.count else {
                        throw FormatError(
                            .sharedBlob,
                            "tensor \(id) \"\(escaped(tensor.name))\" wants tensor \(index) of blob \(ref.role) sha256:\(hexString(ref.sha256)), which has \(blob.tensors.count)")
                    }
                    let found = blob.tensors[index]
                    guard found.name == tensor.name, found.type == tensor.type else {
                        throw FormatError(
                            .sharedBlob,
                            "tensor \(id) \"\(escaped(tensor.name))\" \(tensor.type) does not match tensor \(index) \"\(escaped(found.name))\" \(found.type) of blob \(ref.role) sha256:\(hexString(ref.sha256))")
                    }
                    guard case .inline = found.storage else {
                        throw FormatError(
                            .sharedBlob,
                            "tensor \(id) \"\(escaped(tensor.name))\" names tensor \(index) of blob \(ref.role) sha256:\(hexString(ref.sha256)), which is an arena tensor, not stored bytes")
                    }
                }
                blobs.append(blob)
            }
        }
        if !missing.isEmpty { throw FormatError(.sharedBlob, notFoundMessage(missing)) }
        try SharedBlobResolver.checkCalls(of: file, blobs: blobs, limits: limits)
        return blobs
    }

    /// Checks every `call` op of `file` against the blob programs it runs: the program exists, and its inputs and
    /// outputs match the op's operands in count, dtype and shape. Then the budgets of the expanded programs
    /// (each call replaced by its callee's ops): all programs together expand to at most `limits.maxOps` ops
    /// (what the runtime plans), each program's work with its callees' is at most `limits.maxProgramWork`, and
    /// the test vectors' work at most `limits.maxTestVectorWork`.
    ///
    /// - Parameters:
    ///   - blobs: The file's blobs in the order of `file.sharedRefs` (already matched by hash).
    ///   - limits: The budgets (the verifier's defaults unless given).
    /// - Throws: `FormatError` `.sharedBlob` naming the blob's role and hash, the program and the operand;
    ///   `.limitExceeded` naming the budget.
    public static func checkCalls(of file: VLAFile, blobs: [VLAFile], limits: FormatLimits = .default) throws(FormatError) {
        try checkCallSignatures(of: file, blobs: blobs)
        var ops = 0
        var work: [UInt64] = []
        for p in file.programs.indices {
            let e = expansion(of: p, in: file, blobs: blobs)
            ops += e.ops
            let name = escaped(file.programs[p].name)
            guard ops <= Int(limits.maxOps) else {
                throw FormatError(
                    .limitExceeded,
                    "program \"\(name)\" expands to more than \(limits.maxOps) ops with its calls into shared blob programs (FormatLimits.maxOps; the runtime plans at most as many)")
            }
            guard e.work <= limits.maxProgramWork else {
                throw FormatError(
                    .limitExceeded,
                    "program \"\(name)\" with its calls into shared blob programs is \(e.work) FLOP-equivalents of work, over the budget of \(limits.maxProgramWork) per run (FormatLimits.maxProgramWork)")
            }
            work.append(e.work)
        }
        var total: UInt64 = 0
        for (i, vector) in file.testVectors.enumerated() {
            total = OpWork.add(total, work[vector.program])
            guard total <= limits.maxTestVectorWork else {
                throw FormatError(
                    .limitExceeded,
                    "test vector \(i) brings the test vectors' work with their calls into shared blob programs to \(total) FLOP-equivalents, over the budget of \(limits.maxTestVectorWork) (FormatLimits.maxTestVectorWork)")
            }
        }
    }

    /// The size of program `program` of `file` once every `call` is replaced by its callee: ops (a call counts its
    /// callee's ops plus one copy per operand, the most the runtime links: inputs it reads in place have none) and work (``VLAFile/programWork`` plus
    /// each callee's). Call ops whose callee is missing count as one op (``checkCalls(of:blobs:limits:)``
    /// refuses them).
    ///
    /// - Returns: The op count and the work, saturated.
    public static func expansion(of program: Int, in file: VLAFile, blobs: [VLAFile]) -> (ops: Int, work: UInt64) {
        var ops = 0
        var work = file.programWork.indices.contains(program) ? file.programWork[program] : 0
        for op in file.programs[program].operations {
            guard op.opcode == .call, op.attributes.count == 2 else { ops += 1; continue }
            let r = Int(op.attributes[0]), index = Int(op.attributes[1])
            guard blobs.indices.contains(r), blobs[r].programs.indices.contains(index) else { ops += 1; continue }
            ops += blobs[r].programs[index].operations.count + op.inputs.count + op.outputs.count
            work = OpWork.add(work, blobs[r].programWork[index])
        }
        return (ops, work)
    }

    private static func checkCallSignatures(of file: VLAFile, blobs: [VLAFile]) throws(FormatError) {
        for program in file.programs {
            for (k, op) in program.operations.enumerated() where op.opcode == .call {
                let r = Int(op.attributes[0]), index = Int(op.attributes[1])
                let what = "program \"\(escaped(program.name))\" op \(k) (call)"
                guard r < blobs.count, r < file.sharedRefs.count else {
                    throw FormatError(.sharedBlob, "\(what): shared reference \(r) is not resolved")
                }
                let ref = file.sharedRefs[r], blob = blobs[r]
                let blobName = "blob \(ref.role) sha256:\(hexString(ref.sha256))"
                guard index < blob.programs.count else {
                    throw FormatError(.sharedBlob, "\(what): \(blobName) has \(blob.programs.count) programs, the op calls program \(index)")
                }
                let callee = blob.programs[index]
                let calleeName = "program \(index) \"\(escaped(callee.name))\" of \(blobName)"
                for (kind, mine, theirs) in [("input", op.inputs, callee.inputs), ("output", op.outputs, callee.outputs)] {
                    guard mine.count == theirs.count else {
                        throw FormatError(.sharedBlob, "\(what): \(calleeName) has \(theirs.count) \(kind)s, the op passes \(mine.count)")
                    }
                    for (i, (a, b)) in zip(mine, theirs).enumerated() where file.tensors[a].type != blob.tensors[b].type {
                        throw FormatError(
                            .sharedBlob,
                            "\(what): \(kind) \(i) tensor \(a) \"\(escaped(file.tensors[a].name))\" is \(file.tensors[a].type), \(calleeName) takes \(blob.tensors[b].type) (\"\(escaped(blob.tensors[b].name))\")")
                    }
                }
            }
        }
    }

    /// The candidates of `ref` that were refused, and why.
    struct NotFound: Error {
        var rejected: [String]
    }

    private func find(_ ref: SharedReference) -> Result<VLAFile, NotFound> {
        let hex = hexString(ref.sha256)
        var rejected: [String] = []
        for folder in searchPaths {
            for name in SharedBlobResolver.entries(of: folder) where name == "\(hex).vla" || name.hasSuffix("-\(hex).vla") {
                let path = folder + "/" + name
                do {
                    // The size first, from fstat: a candidate of another size (say, a huge sparse file) is refused
                    // before it is hashed; a FIFO or device is refused without blocking.
                    let blob = try VLAFile(path: path, limits: limits, byteCount: ref.size)
                    guard blob.header.isSharedBlob else { rejected.append("\(path): not a shared blob"); continue }
                    guard blob.contentHash() == ref.sha256 else {
                        rejected.append("\(path): its SHA-256 is \(hexString(blob.contentHash())), the file was altered")
                        continue
                    }
                    return .success(blob)
                } catch {
                    rejected.append("\(path): \(error)")
                }
            }
        }
        return .failure(NotFound(rejected: rejected))
    }

    /// One message for every blob not found: the ones whose file was there but refused (why, and that the file
    /// must be replaced), then the ones not there at all (where vlac looked, what each folder was, and `--shared`).
    private func notFoundMessage(_ missing: [(ref: SharedReference, rejected: [String])]) -> String {
        var parts: [String] = []
        for (ref, rejected) in missing where !rejected.isEmpty {
            parts.append(
                "shared blob \(ref.role) sha256:\(hexString(ref.sha256)) was found but refused: \(rejected.joined(separator: "; ")); replace it with the blob vlac compile wrote for this policy (OUT/shared), or compile again")
        }
        let absent = missing.filter { $0.rejected.isEmpty }.map(\.ref)
        if !absent.isEmpty {
            let names = absent.map { "\($0.role) sha256:\(hexString($0.sha256))" }.joined(separator: ", ")
            let folders = searchPaths.isEmpty ? "no search folders" : searchPaths.map { $0 + SharedBlobResolver.folderNote($0) }.joined(separator: ", ")
            parts.append(
                (absent.count == 1 ? "shared blob \(names) not found" : "\(absent.count) shared blobs not found: \(names)")
                    + " (looked for *-<sha256>.vla in \(folders)); pass the folder that holds \(absent.count == 1 ? "it" : "them") with --shared DIR (vlac compile writes them to OUT/shared)")
        }
        return parts.joined(separator: "; ")
    }

    /// What is wrong with a search folder, for the not-found message: `" (no such folder)"`, a file given where a
    /// folder is wanted, or a `vlac compile` output folder (whose blobs are in its `shared/`); empty when it is
    /// a readable folder.
    static func folderNote(_ folder: String) -> String {
        switch folderKind(folder) {
        case .missing: return " (no such folder)"
        case .file:
            var parent = "."
            if let slash = folder.lastIndex(of: "/") { parent = slash == folder.startIndex ? "/" : String(folder[..<slash]) }
            return " (a file, not a folder: --shared takes the folder that holds the blobs, such as \(parent))"
        case .folder:
            let names = entries(of: folder)
            if names.contains("manifest.json") && names.contains("shared") {
                return " (the output folder of vlac compile: its blobs are in \(folder)/shared)"
            }
            return ""
        }
    }

    enum FolderKind { case folder, file, missing }

    /// Whether `path` is a folder that can be listed, something else that exists, or nothing.
    static func folderKind(_ path: String) -> FolderKind {
        if let dir = unsafe opendir(path) {
            unsafe closedir(dir)
            return .folder
        }
        // A folder that cannot be listed still has a "." entry.
        if access(path + "/.", F_OK) == 0 { return .folder }
        return access(path, F_OK) == 0 ? .file : .missing
    }

    /// File names in `folder` (empty when it cannot be read).
    static func entries(of folder: String) -> [String] {
        guard let dir = unsafe opendir(folder) else { return [] }
        defer { unsafe closedir(dir) }
        var names: [String] = []
        while let entry = unsafe readdir(dir) {
            let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { raw in
                unsafe String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
