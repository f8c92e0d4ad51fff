import Foundation
import VLAFormat
import VLAJSON
import VLAModels
import VLARuntime

extension Compiler {
    /// Compiles every instruction of `tasks` into `out`: `policies/<slug>-<hash8>.vla`, `shared/<role>-<sha256>.vla`
    /// and `manifest.json` (written last).
    ///
    /// Every file is written atomically (temporary file, then rename), and a file whose bytes are already in
    /// place is not rewritten. A run that throws removes the files it wrote that the previous manifest does
    /// not name: OUT is left as before. An instruction whose manifest entry (same instruction, model digest, options,
    /// compiler) names a file that is still present with the recorded SHA-256, that is a policy recording
    /// that instruction, and whose shared blobs are among the ones this run writes, is skipped as up to date. A failing instruction is reported through `progress` and
    /// the others are still written, unless `strict`.
    ///
    /// The run holds ``OutputLock`` on `out` (a second compile into it fails at once) and journals every file
    /// before writing it. It first removes the temporary files that killed runs left (`*.vla.tmp-XXXXXX`,
    /// `manifest.json.tmp-XXXXXX`), and treats the files an interrupted run journaled like files of the
    /// previous manifest: removed unless the new manifest names them. So a run killed at any moment leaves
    /// every file the manifest names complete, no partial file under a final name, and a rerun ends with
    /// exactly what an uninterrupted run writes.
    ///
    /// After the manifest is written, the files the previous manifest named and the new one does not are
    /// removed (only if they still hold the bytes recorded there; nothing else in `out` is touched), unless
    /// `keepStale` or their instruction failed this time: those stay, listed as `stale` in the manifest. A run
    /// that throws before the manifest is written leaves the previous manifest and all its files in place.
    ///
    /// - Throws: `CompileError` for output failures, and for the first failing instruction with `strict`.
    public func compile(
        tasks: TaskList, listName: String, to out: String, strict: Bool = false, keepStale: Bool = false,
        progress: (CompileEvent) -> Void = { _ in }
    ) throws(CompileError) -> CompileSummary {
        let started = Date()
        var summary = CompileSummary()
        summary.loadSeconds = loadSeconds
        let fm = FileManager.default
        for dir in [out, out + "/policies", out + "/shared"] {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw CompileError(.output, "\(dir): cannot create", cause: error)
            }
        }
        let lock = try OutputLock(folder: out)
        let previous = ManifestFile.read(out + "/manifest.json")
        // What a run that throws keeps: the files the manifest in place names (the previous one, until the
        // new one is written).
        var named = Set((previous?.files ?? []).map(\.file))
        var finished = false
        defer { if !finished { Self.abandon(lock, keeping: named, in: out) } }
        let temporaries = Self.removeTemporaries(in: out)
        summary.temporariesRemoved = temporaries.removed
        for note in temporaries.left { progress(.warning(note)) }
        let key = runKey
        var clock = threadCPUSeconds()
        progress(.phase(options.embedShared ? "building the shared parts" : "building the shared blobs"))
        let ctx = try makeContext()
        summary.phases.context = threadCPUSeconds() - clock
        clock = threadCPUSeconds()
        // Shared blobs first: policies name them by hash.
        var shared: [ManifestFile.Shared] = []
        if !ctx.blobs.isEmpty {
            progress(.phase("writing \(ctx.blobs.count) shared blobs (\(Self.megabytes(ctx.blobs.reduce(0) { $0 + $1.bytes.count })))"))
        }
        for b in ctx.blobs {
            let name = "shared/\(b.role)-\(hexString(b.sha)).vla"
            try lock.record(name, sha256: hexString(b.sha), size: b.bytes.count)
            try writeIfChanged(b.bytes, to: out + "/" + name)
            shared.append(.init(role: b.role, file: name, sha256: hexString(b.sha), size: b.bytes.count))
            summary.sharedBytes += b.bytes.count
            summary.sharedFiles.append((b.role, name, b.bytes.count))
        }
        summary.phases.write += threadCPUSeconds() - clock
        summary.sharedBlobs = shared.count
        // Tokenize; lines that fail are reported and left out.
        var entries: [Int: ManifestFile.Policy] = [:]
        var prepared: [Prepared] = []
        let total = tasks.tasks.count
        var done = 0
        var failedLines: Set<String> = []
        for task in tasks.tasks {
            if let old = previous?.policies.first(where: { $0.instruction == task.text }), previous?.key == key,
                let bytes = try? RegularFile.read(out + "/" + old.file), bytes.count == old.size,
                hexString(VLAFormat.SHA256.hash(bytes)) == old.sha256,
                Self.isPolicy(bytes, for: task.text),
                // A blob this run wrote under another hash (a compiler whose output changed without its version)
                // makes the old policy name a blob that is about to go: rewrite it.
                Set(old.shared).isSubset(of: shared.map(\.sha256))
            {
                var e = old
                e.line = task.line
                entries[task.line] = e
                done += 1
                summary.upToDate += 1
                summary.policyBytes += old.size
                progress(.policy(done: done, total: total, instruction: task.text, file: old.file, bytes: old.size, upToDate: true))
                continue
            }
            do { prepared.append(try prepare(task, listName: listName, warn: { progress(.warning($0)) })) } catch {
                if strict { throw error }
                summary.failed += 1
                failedLines.insert(task.text)
                progress(.failed(line: task.line, message: error.description))
            }
        }
        // Batches of one length bucket each, in bucket order then line order (deterministic); evaluated one at
        // a time and emitted on `options.jobs` threads.
        var byBucket: [Int: [Prepared]] = [:]
        for p in prepared { byBucket[Self.bucket(p.count, max: p.ids.count), default: []].append(p) }
        var batches: [(length: Int, items: [Prepared])] = []
        for t in byBucket.keys.sorted() {
            let items = byBucket[t] ?? []
            for i in stride(from: 0, to: items.count, by: options.batchSize) {
                batches.append((t, Array(items[i..<min(i + options.batchSize, items.count)])))
            }
        }
        var firstError: CompileError?
        var phases = summary.phases
        try run(batches: batches, out: out, journal: lock, ctx: ctx, stats: &phases, shouldStop: { strict && firstError != nil }) { p, result in
            switch result {
            case .success(let w):
                entries[p.task.line] = .init(
                    instruction: p.task.text, line: p.task.line, file: w.file, sha256: w.sha256, size: w.size,
                    tokens: p.count, shared: ctx.blobs.map { hexString($0.sha) }, deviation: w.deviation)
                done += 1
                summary.policyBytes += w.size
                progress(.policy(done: done, total: total, instruction: p.task.text, file: w.file, bytes: w.size, upToDate: false))
            case .failure(let error):
                if firstError == nil { firstError = error }
                summary.failed += 1
                failedLines.insert(p.task.text)
                if !strict { progress(.failed(line: p.task.line, message: error.description)) }
            }
        }
        summary.phases = phases
        if strict, let firstError { throw firstError }
        summary.policies = entries.count
        // Files of the previous manifest that this one no longer names: removed after the new manifest is in
        // place, unless kept (--keep-stale, or the instruction failed this time). Kept ones stay listed as
        // stale so that a later run can still remove them.
        let newFiles = Set(shared.map(\.file) + entries.values.map(\.file))
        var stale: [ManifestFile.FileRecord] = []
        var seen: Set<String> = []
        // Files that interrupted runs journaled count as the previous run's: no manifest names them.
        for f in (previous?.files ?? []) + lock.interrupted where !newFiles.contains(f.file) && seen.insert(f.file).inserted {
            stale.append(f)
        }
        var keep = stale.filter { f in keepStale || (f.instruction.map { failedLines.contains($0) } ?? false) }
        // A kept policy may reference the previous blobs: keep those too.
        if keep.contains(where: { $0.file.hasPrefix("policies/") }) {
            keep += stale.filter { $0.file.hasPrefix("shared/") && !keep.map(\.file).contains($0.file) }
        }
        let remove = stale.filter { f in !keep.contains { $0.file == f.file } }
        let manifest = ManifestFile(
            key: key, compiler: compilerVersion, model: .init(name: model.name, digest: hexString(modelDigest)),
            options: provenance.options.map { ($0.key, $0.value) },
            sources: sources.map { .init(name: $0.name, sha256: hexString($0.sha256), size: Int($0.size)) },
            shared: shared, policies: entries.keys.sorted().compactMap { entries[$0] },
            generatedParameters: model.generatedCount, useInitialImage: model.config.useInitialImage,
            precision: precisionReport.precision == .fp32 ? nil : precisionReport,
            stale: keep.filter { fm.fileExists(atPath: out + "/" + $0.file) }.sorted { $0.file < $1.file })
        // The files about to be removed are journaled first: a run killed while removing them leaves them to
        // the next run, which no longer finds them in the (new) manifest. The folders are flushed so that the
        // manifest never names a file a power loss could lose.
        for f in remove { try lock.record(f.file, sha256: f.sha256, size: f.size) }
        for dir in [out + "/policies", out + "/shared"] { try syncDirectory(dir) }
        try writeIfChanged(Array(manifest.json().utf8), to: out + "/manifest.json")
        named = newFiles.union(manifest.stale.map(\.file))
        try syncDirectory(out)
        clock = threadCPUSeconds()
        let (removed, left) = Self.removeStale(remove, in: out)
        summary.removed = removed
        summary.kept = manifest.stale.map(\.file)
        for note in left { progress(.warning(note)) }
        summary.phases.stale = threadCPUSeconds() - clock
        summary.compileSeconds = Date().timeIntervalSince(started)
        lock.finish()
        finished = true
        return summary
    }

    /// A run that throws: removes the journaled files (this run's and interrupted runs') that the manifest in
    /// place does not name (`named`), if they still hold the journaled bytes, then deletes the lock file. Before
    /// the new manifest is written, OUT is left as the previous run left it.
    static func abandon(_ lock: OutputLock, keeping named: Set<String>, in out: String) {
        var seen: Set<String> = []
        _ = removeStale(lock.records.filter { !named.contains($0.file) && seen.insert($0.file).inserted }, in: out)
        lock.finish()
    }

    /// Whether `bytes` verify as a policy whose metadata records `instruction` (a manifest edited to map an
    /// instruction to another instruction's file is not taken at its word).
    static func isPolicy(_ bytes: [UInt8], for instruction: String) -> Bool {
        guard let file = try? VLAFile(bytes: bytes) else { return false }
        return !file.header.isSharedBlob && file.metadata.instruction == instruction
    }

    /// Removes the temporary files that `AtomicFile.write` names `<final>.tmp-XXXXXX` beside vlac's outputs
    /// (`manifest.json` in `out`, `*.vla` in `policies/` and `shared/`): only a killed run leaves them, and the
    /// caller holds the output lock, so no other run is writing them. Returns the removed paths (relative to
    /// `out`) and a note for each that could not be removed.
    static func removeTemporaries(in out: String) -> (removed: [String], left: [String]) {
        let fm = FileManager.default
        var removed: [String] = [], left: [String] = []
        for sub in ["", "policies", "shared"] {
            let dir = sub.isEmpty ? out : out + "/" + sub
            for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                guard let final = AtomicFile.finalName(ofTemporary: name),
                    sub.isEmpty ? final == "manifest.json" : ManifestFile.isOutputName(sub + "/" + final)
                else { continue }
                let relative = sub.isEmpty ? name : sub + "/" + name
                guard (try? fm.attributesOfItem(atPath: dir + "/" + name))?[.type] as? FileAttributeType == .typeRegular else { continue }
                do {
                    try fm.removeItem(atPath: dir + "/" + name)
                    removed.append(relative)
                } catch {
                    left.append("\(relative): a temporary file of an interrupted run; cannot remove (\(error.localizedDescription))")
                }
            }
        }
        return (removed, left)
    }

    func syncDirectory(_ path: String) throws(CompileError) {
        do { try AtomicFile.syncDirectory(path) } catch { throw CompileError(.output, "\(path): cannot flush", cause: error) }
    }

    /// Identifies everything that decides the bytes: compiler, model digest, options.
    var runKey: String {
        var h = VLAFormat.SHA256()
        h.update(Array(compilerVersion.utf8) + [0])
        h.update(modelDigest)
        for o in options.provenancePairs { h.update(Array("\(o.key)=\(o.value)".utf8) + [0]) }
        return hexString(h.finalize())
    }

    func writeIfChanged(_ bytes: [UInt8], to path: String) throws(CompileError) {
        if let existing = try? RegularFile.read(path), existing == bytes { return }
        do { try AtomicFile.write(bytes, to: path) } catch { throw CompileError(.output, "\(path): cannot write", cause: error) }
    }
}

/// `manifest.json` (Schemas/manifest.schema.json): what a compile run wrote.
struct ManifestFile {
    struct Model { var name: String; var digest: String }
    struct Source { var name: String; var sha256: String; var size: Int }
    struct Shared { var role: String; var file: String; var sha256: String; var size: Int }
    struct Policy {
        var instruction: String
        var line: Int
        var file: String
        var sha256: String
        var size: Int
        var tokens: Int
        var shared: [String]
        var deviation: PolicyDeviation? = nil
    }
    var key: String
    var compiler: String
    var model: Model
    var options: [(String, String)]
    var sources: [Source]
    var shared: [Shared]
    var policies: [Policy]
    var generatedParameters: Int
    var useInitialImage: Bool
    /// With a reduced precision: what it costs the backbone.
    var precision: PrecisionReport? = nil
    /// Files an earlier run wrote that no current entry names, kept on purpose (`--keep-stale`, or their
    /// instruction failed this time): a later run removes them once they are no longer needed.
    var stale: [FileRecord] = []

    /// A file vlac wrote, as a manifest records it (policies: with their instruction).
    struct FileRecord {
        var file: String
        var sha256: String
        var size: Int
        var instruction: String?
    }

    func json() -> String {
        let q = JSONValue.quoted
        var s = "{\n"
        s += "  \"formatVersion\": 1,\n"
        s += "  \"compiler\": \(q(compiler)),\n"
        s += "  \"key\": \(q(key)),\n"
        s += "  \"model\": {\"name\": \(q(model.name)), \"digest\": \(q(model.digest)), \"generatedParameters\": \(generatedParameters), \"useInitialImage\": \(useInitialImage)},\n"
        func dev(_ d: Deviation) -> String {
            func n(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "null" }
            return "{\"relativeL2\": \(n(d.relativeL2)), \"maxAbs\": \(n(d.maxAbs))}"
        }
        if let p = precision {
            s += "  \"precision\": {\"mode\": \(q(p.precision.description)), \"bound\": \(p.bound), \"convertedLinears\": \(p.convertedLinears), \"backbone\": {\"testFrame\": \(dev(p.backbone)), \"calibration\": \(dev(p.calibrationBackbone)), \"calibrationFrames\": \(p.calibrationFrames)}},\n"
        }
        s += "  \"options\": {" + options.map { "\(q($0.0)): \(q($0.1))" }.joined(separator: ", ") + "},\n"
        s += "  \"sources\": [\n" + sources.map { "    {\"name\": \(q($0.name)), \"sha256\": \(q($0.sha256)), \"size\": \($0.size)}" }.joined(separator: ",\n") + "\n  ],\n"
        s += "  \"shared\": [\n" + shared.map { "    {\"role\": \(q($0.role)), \"file\": \(q($0.file)), \"sha256\": \(q($0.sha256)), \"size\": \($0.size)}" }.joined(separator: ",\n") + (shared.isEmpty ? "" : "\n") + "  ],\n"
        s += "  \"policies\": [\n" + policies.map {
            "    {\"instruction\": \(q($0.instruction)), \"line\": \($0.line), \"file\": \(q($0.file)), \"sha256\": \(q($0.sha256)), \"size\": \($0.size), \"tokens\": \($0.tokens), \"shared\": [" + $0.shared.map(q).joined(separator: ", ") + "]"
                + ($0.deviation.map { ", \"deviation\": {\"testFrame\": \(dev($0.testFrame)), \"calibration\": \(dev($0.calibration)), \"gripperFlips\": \($0.gripperFlips), \"gripperDecisions\": \($0.gripperDecisions)}" } ?? "") + "}"
        }.joined(separator: ",\n") + (policies.isEmpty ? "" : "\n") + "  ]" + (stale.isEmpty ? "\n" : ",\n")
        if !stale.isEmpty {
            s += "  \"stale\": [\n" + stale.map {
                "    {\"file\": \(q($0.file)), \"sha256\": \(q($0.sha256)), \"size\": \($0.size)" + ($0.instruction.map { ", \"instruction\": \(q($0))" } ?? "") + "}"
            }.joined(separator: ",\n") + "\n  ]\n"
        }
        s += "}\n"
        return s
    }

    /// A policy's recorded deviation (kept for policies that are up to date; figures that do not parse read as infinite).
    static func deviation(_ o: [String: Any]) -> PolicyDeviation {
        func dev(_ v: Any?) -> Deviation {
            let d = v as? [String: Any] ?? [:]
            return Deviation(relativeL2: (d["relativeL2"] as? NSNumber)?.doubleValue ?? .infinity, maxAbs: (d["maxAbs"] as? NSNumber)?.doubleValue ?? .infinity)
        }
        var out = PolicyDeviation()
        out.testFrame = dev(o["testFrame"])
        out.calibration = dev(o["calibration"])
        out.gripperFlips = o["gripperFlips"] as? Int ?? 0
        out.gripperDecisions = o["gripperDecisions"] as? Int ?? 0
        return out
    }

    /// Reads a previous manifest (nil when absent or unreadable: everything is then recompiled).
    static func read(_ path: String) -> (key: String, policies: [Policy], files: [FileRecord])? {
        guard let bytes = try? RegularFile.read(path),
            let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let key = obj["key"] as? String, let list = obj["policies"] as? [[String: Any]]
        else { return nil }
        var out: [Policy] = []
        for p in list {
            guard let i = p["instruction"] as? String, let f = p["file"] as? String, let s = p["sha256"] as? String,
                let size = p["size"] as? Int, !f.contains(".."), f.hasPrefix("policies/")
            else { continue }
            out.append(Policy(
                instruction: i, line: p["line"] as? Int ?? 0, file: f, sha256: s, size: size, tokens: p["tokens"] as? Int ?? 0,
                shared: p["shared"] as? [String] ?? [], deviation: (p["deviation"] as? [String: Any]).map(Self.deviation)))
        }
        // Every file it names (policies, shared blobs, stale files kept earlier): a later run may remove the
        // ones it no longer needs. Only plain names under policies/ or shared/ ending in .vla are accepted.
        var files = out.map { FileRecord(file: $0.file, sha256: $0.sha256, size: $0.size, instruction: $0.instruction) }
        for entry in (obj["shared"] as? [[String: Any]] ?? []) + (obj["stale"] as? [[String: Any]] ?? []) {
            guard let f = entry["file"] as? String, let s = entry["sha256"] as? String, let size = entry["size"] as? Int else { continue }
            files.append(FileRecord(file: f, sha256: s, size: size, instruction: entry["instruction"] as? String))
        }
        files = files.filter { f in isOutputName(f.file) && f.sha256.count == 64 }
        return (key, out, files)
    }

    /// Whether `file` is a name vlac writes: `policies/NAME.vla` or `shared/NAME.vla`, NAME without `/` and not
    /// starting with a dot.
    static func isOutputName(_ file: String) -> Bool {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && (parts[0] == "policies" || parts[0] == "shared") && parts[1].hasSuffix(".vla")
            && !parts[1].hasPrefix(".")
    }
}
