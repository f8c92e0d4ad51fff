import ArgumentParser
import VLAFormat
import VLARuntime

/// `vlac verify FILE`: digest, structure, shared references, test vectors.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a .vla file completely: digest, structure, shared blobs, test vectors.",
        discussion: """
            Checks, in order: the trailing SHA-256 digest; every offset, length, alignment, count, \
            shape and op signature, and the work budgets (the verifier every load runs); for a policy, \
            the program conventions the runtime relies on; that each shared blob the file references is \
            found by its SHA-256, verifies, and holds the tensors the file expects; and the file's \
            embedded test vectors, run by this build's interpreter; and that a session's arena fits \
            the runtime's limit (--max-arena-bytes, the runtime's default unless the robot sets \
            another). Prints each check as it holds, then \
            the verdict once, last: "FILE: ok, all N checks hold" (exit 0), or the first check that \
            fails as the error (exit 1). --json prints the checks and the verdict as one object \
            (Schemas/verify.schema.json); --quiet prints only a failure.

            Shared blobs are looked up as *-<sha256>.vla in each --shared folder, then in the file's \
            folder and ../shared beside it (the layout vlac compile writes).

            Examples:
              vlac verify out/policies/open-the-top-drawer-12fedafa.vla
              vlac verify policy.vla --shared /opt/robot/vla-shared --json
            """)

    @Argument(help: ArgumentHelp("The .vla file to check.", valueName: "file"))
    var file: String

    @Option(name: .customLong("shared"), help: ArgumentHelp("A folder holding shared blobs (repeatable).", valueName: "dir"))
    var sharedFolders: [String] = []

    @Option(help: ArgumentHelp(
        "The arena limit the robot's runtime runs with (RuntimeLimits.maxArenaBytes, vla_session_options_t.max_arena_bytes).",
        valueName: "bytes"))
    var maxArenaBytes: Int = RuntimeLimits.defaultMaxArenaBytes

    @Flag(help: "Print JSON (Schemas/verify.schema.json): every check and the verdict.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only a failure (the exit status says the rest).")
    var quiet = false

    /// One check and what it found.
    struct Check {
        var name: String
        var ok: Bool
        var detail: String
    }

    func run() throws {
        var checks: [Check] = []
        var failure: String?
        do {
            try runChecks { checks.append($0) }
        } catch {
            // The first check that fails ends the run; its message is the verdict.
            checks.append(Check(name: error.check, ok: false, detail: error.message))
            failure = "\(error.check): \(error.message)"
        }
        if json {
            var fields: [(String, JSON)] = [
                ("formatVersion", .int(1)), ("file", .string(file)), ("ok", .bool(failure == nil)),
                ("checks", .array(checks.map { .object([("name", .string($0.name)), ("ok", .bool($0.ok)), ("detail", .string($0.detail))]) })),
            ]
            if let failure { fields.append(("error", .string(failure))) }
            print(JSON.object(fields).serialized())
            if failure != nil { throw ExitCode(1) }
            return
        }
        if !quiet {
            for c in checks {
                let label = c.name + String(repeating: " ", count: max(1, 14 - c.name.count))
                print("  \(label)\(c.ok ? "ok  \(c.detail)" : "FAILED (below)")")
            }
        }
        // The verdict, once, last: on standard output when every check holds, as the error otherwise.
        if let failure { throw CommandFailure("\(file): \(failure)") }
        if !quiet { print("\(escaped(file)): ok, all \(checks.count) checks hold") }
    }

    /// The check that failed and its message.
    struct Failure: Error {
        var check: String
        var message: String
    }

    /// Runs `body` as check `name`: its error becomes a ``Failure`` naming the check.
    func check<R>(_ name: String, _ body: () throws -> R) throws(Failure) -> R {
        do { return try body() } catch { throw Failure(check: name, message: "\(error)") }
    }

    /// Runs the checks in order, reporting each as it passes; throws the first failure.
    func runChecks(_ report: (Check) -> Void) throws(Failure) {
        let vla: VLAFile
        do { vla = try VLAFile(path: file) } catch {
            throw Failure(check: error.code == .digestMismatch ? "digest" : "structure", message: "\(error)")
        }
        report(Check(name: "digest", ok: true, detail: "sha256:\(hexString(vla.digest))"))
        let kind = vla.header.isSharedBlob ? "shared blob" : "policy"
        report(Check(
            name: "structure", ok: true,
            detail: "\(kind), format \(vla.header.major).\(vla.header.minor), \(vla.tensors.count) tensors, \(vla.programs.count) programs, arena \(vla.arenaSize) bytes"))
        if vla.isPolicy {
            let found = try check("policy") { try vla.policyPrograms() }
            report(Check(name: "policy", ok: true, detail: "\"step\"\(found.reset == nil ? "" : " and \"reset\"") follow the policy conventions"))
        }
        let search = sharedFolders + SharedBlobResolver.defaultSearchPaths(forPolicyAt: file)
        let blobs = try check("shared blobs") { try SharedBlobResolver(searchPaths: search).resolve(for: vla) }
        if blobs.isEmpty {
            report(Check(name: "shared blobs", ok: true, detail: "none referenced"))
        } else {
            for (ref, blob) in zip(vla.sharedRefs, blobs) {
                report(Check(name: "shared blob", ok: true, detail: "\(escaped(ref.role)) sha256:\(hexString(ref.sha256)) (\(blob.tensors.count) tensors)"))
            }
        }
        if !vla.programs.isEmpty {
            let work = vla.programs.indices.map { p in
                "\(escaped(vla.programs[p].name)) \(scientific(SharedBlobResolver.expansion(of: p, in: vla, blobs: blobs).work))"
            }
            report(Check(name: "work", ok: true, detail: "\(work.joined(separator: ", ")) per run (budget \(scientific(FormatLimits.default.maxProgramWork)))"))
        }
        var limits = RuntimeLimits()
        limits.maxArenaBytes = max(0, maxArenaBytes)
        if vla.isPolicy {
            let arena = Policy.sessionArenaBytes(of: vla, blobs: blobs)
            guard arena <= UInt64(limits.maxArenaBytes) else {
                throw Failure(
                    check: "session",
                    message: "a session needs an arena of \(arena) bytes, over the runtime's limit of \(maxArenaBytes) bytes: "
                        + "vla_session_create refuses it (VLA_ERR_LIMIT_EXCEEDED); a robot that means to run it must raise "
                        + "max_arena_bytes, and --max-arena-bytes checks against that")
            }
            report(Check(name: "session", ok: true, detail: "arena \(arena) bytes (runtime limit \(maxArenaBytes))"))
        }
        let outcome = try check("test vectors") { try TestVectorCheck.run(vla, blobs: blobs, options: RuntimeOptions(limits: limits)) }
        report(Check(name: "test vectors", ok: true, detail: outcome.hasPrefix("ok  ") ? String(outcome.dropFirst(4)) : outcome))
    }
}

/// `4.6e10`: a work figure with two significant digits.
private func scientific(_ value: UInt64) -> String {
    guard value >= 1000 else { return "\(value)" }
    var exponent = 0, mantissa = Double(value)
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    let tenths = Int((mantissa * 10).rounded())
    return tenths >= 100 ? "1.0e\(exponent + 1)" : "\(tenths / 10).\(tenths % 10)e\(exponent)"
}
