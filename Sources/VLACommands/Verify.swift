import ArgumentParser
import VLAFormat

/// `vlac verify FILE`: digest, structure, shared references, test vectors.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a .vla file completely: digest, structure, shared blobs, test vectors.",
        discussion: """
            Checks, in order: the trailing SHA-256 digest; every offset, length, alignment, count, \
            shape and op signature, and the work budgets (the verifier every load runs); for a policy, \
            the program conventions the runtime relies on; that each shared blob the file references is \
            found by its SHA-256, verifies, and holds the tensors the file expects; and the file's \
            embedded test vectors, run by this build's interpreter. Exits 0 when all hold, 1 with the \
            first problem otherwise.

            Shared blobs are looked up as *-<sha256>.vla in each --shared folder, then in the file's \
            folder and ../shared beside it (the layout vlac compile writes).

            Examples:
              vlac verify out/policies/open-the-top-drawer-12fedafa.vla
              vlac verify policy.vla --shared /opt/robot/vla-shared
            """)

    @Argument(help: ArgumentHelp("The .vla file to check.", valueName: "file"))
    var file: String

    @Option(name: .customLong("shared"), help: ArgumentHelp("A folder holding shared blobs (repeatable).", valueName: "dir"))
    var sharedFolders: [String] = []

    func run() throws {
        let vla = try about(file) { try VLAFile(path: file) }
        print("\(escaped(file)): ok")
        print("  digest        ok  sha256:\(hexString(vla.digest))")
        let kind = vla.header.isSharedBlob ? "shared blob" : "policy"
        print("  structure     ok  \(kind), format \(vla.header.major).\(vla.header.minor), \(vla.tensors.count) tensors, \(vla.programs.count) programs, arena \(vla.arenaSize) bytes")
        if vla.isPolicy {
            let found = try about(file) { try vla.policyPrograms() }
            print("  policy        ok  \"step\"\(found.reset == nil ? "" : " and \"reset\"") follow the policy conventions")
        }
        let search = sharedFolders + SharedBlobResolver.defaultSearchPaths(forPolicyAt: file)
        let blobs = try about(file) { try SharedBlobResolver(searchPaths: search).resolve(for: vla) }
        if blobs.isEmpty {
            print("  shared blobs  none referenced")
        } else {
            for (ref, blob) in zip(vla.sharedRefs, blobs) {
                print("  shared blob   ok  \(escaped(ref.role)) sha256:\(hexString(ref.sha256)) (\(blob.tensors.count) tensors)")
            }
        }
        if !vla.programs.isEmpty {
            let work = vla.programs.indices.map { p in
                "\(escaped(vla.programs[p].name)) \(scientific(SharedBlobResolver.expansion(of: p, in: vla, blobs: blobs).work))"
            }
            print("  work          ok  \(work.joined(separator: ", ")) per run (budget \(scientific(FormatLimits.default.maxProgramWork)))")
        }
        let outcome = try about(file) { try TestVectorCheck.run(vla, blobs: blobs) }
        print("  test vectors  \(outcome)")
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
