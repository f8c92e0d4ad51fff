import ArgumentParser

/// The `vlac` command: compiles HyperVLA policies into verified flat files, and inspects and runs them.
public struct VLAC: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vlac",
        abstract: "Compile HyperVLA robot policies into verified .vla files, and inspect and run them.",
        discussion: """
            A .vla file is a flat, verified, self-describing policy: tensors, programs with a static \
            memory plan, the action and image contracts, provenance and test vectors. Every file is \
            verified (SHA-256 digest first, then every offset, length and op) before anything is trusted.

            A typical run, with the demo model in this repository (in Examples/hypervla-tiny):
              vlac compile --instructions tasks.txt --model model -o out
              vlac verify out/policies/open-the-top-drawer-12fedafa.vla
              vlac run out/policies/open-the-top-drawer-12fedafa.vla --image f0.png
            """,
        version: vlacVersion,
        subcommands: [
            Compile.self, Dump.self, Verify.self, Run.self, Bench.self, Inspect.self, Tokenize.self, Encode.self,
        ]
    )

    public init() {}
}

/// The version of this build of vlac, recorded in every file's provenance.
public let vlacVersion = "0.1.0"
