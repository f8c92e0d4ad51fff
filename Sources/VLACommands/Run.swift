import ArgumentParser
import Foundation
import VLAFormat
import VLARuntime

/// `vlac run POLICY --image PATH...`: reset on the first image, step on each, print the actions.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a policy on camera images and print the actions.",
        discussion: """
            Opens the policy (verifying it and finding its shared blobs by SHA-256), starts an episode \
            with reset on the first image, then runs one step per image, in order, and prints each \
            action after the whole action contract (squash, gripper, unnormalize, temporal ensembling, \
            rotation and robot mapping). Images are PNG (8-bit gray, RGB, RGBA or palette), JPEG \
            (baseline or progressive, through libjpeg-turbo) or binary PPM (P6) of any size; the policy's \
            image contract resizes and crops them.

            Shared blobs are looked up as *-<sha256>.vla in each --shared folder, then in the policy's \
            folder and ../shared beside it (the layout vlac compile writes).

            Examples:
              vlac run out/policies/open-the-top-drawer-12fedafa.vla --image f0.png --json
              vlac run policy.vla --shared /opt/vla-shared --image f0.jpg --image f1.jpg
            """)

    @Argument(help: ArgumentHelp("The policy .vla file.", valueName: "policy"))
    var policy: String

    @Option(name: .customLong("image"), help: ArgumentHelp("A camera frame, PNG, JPEG or PPM (repeatable; the first also resets).", valueName: "path"))
    var images: [String] = []

    @Option(name: .customLong("shared"), help: ArgumentHelp("A folder holding shared blobs (repeatable).", valueName: "dir"))
    var sharedFolders: [String] = []

    @Option(help: ArgumentHelp("Kernel threads, including the calling one.", valueName: "n"))
    var threads: Int = 1

    @Flag(help: "Also print each step's raw action chunk (the step program's output).")
    var raw = false

    @Flag(help: "Print JSON (Schemas/run.schema.json) instead of text.")
    var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one --image") }
        if !(1...64).contains(threads) { throw ValidationError("--threads must be in 1...64") }
    }

    func run() throws {
        let search = sharedFolders + SharedBlobResolver.defaultSearchPaths(forPolicyAt: policy)
        // Policy's errors already name the file.
        let opened: Policy
        do { opened = try Policy(path: policy, sharedSearchPaths: search) } catch { throw CommandFailure("\(error)") }
        let session = try about(policy) { try PolicySession(policy: opened, options: RuntimeOptions(threads: threads)) }
        var steps: [JSON] = []
        if !json {
            print("\(escaped(policy)): \"\(escaped(opened.metadata.instruction))\", \(opened.metadata.action.actionDim) action dims, \(opened.resetProgram == nil ? "no reset program" : "reset on the first image")")
        }
        for (t, path) in images.enumerated() {
            let image = try about(path) { () throws -> RGBImage in
                guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot read the file") }
                return try RGBImage(decoding: [UInt8](data))
            }
            let action = try about(path) { () throws -> [Float] in
                if t == 0 { try session.reset(frame: image.pixels.span, height: image.height, width: image.width) }
                return try session.step(frame: image.pixels.span, height: image.height, width: image.width)
            }
            if json {
                var fields: [(String, JSON)] = [("image", .string(path)), ("height", .int(Int64(image.height))), ("width", .int(Int64(image.width))), ("action", .array(action.map { .float($0) }))]
                if raw { fields.append(("rawChunk", .array(session.rawChunk.map { .float($0) }))) }
                steps.append(.object(fields))
            } else {
                print("step \(t) \(escaped(path)) (\(image.width)×\(image.height)): " + action.map { format($0) }.joined(separator: " "))
                if raw {
                    let d = Int(opened.metadata.action.actionDim)
                    for h in 0..<Int(opened.metadata.action.horizon) {
                        print("  raw[\(h)]: " + session.rawChunk[(h * d)..<(h * d + d)].map { format($0) }.joined(separator: " "))
                    }
                }
            }
        }
        if json {
            let out = JSON.object([
                ("formatVersion", .int(1)), ("policy", .string(policy)),
                ("instruction", .string(opened.metadata.instruction)), ("steps", .array(steps)),
            ])
            print(out.serialized())
        }
    }

    func format(_ v: Float) -> String {
        let s = String(format: "%+.6f", Double(v))
        return s
    }
}
