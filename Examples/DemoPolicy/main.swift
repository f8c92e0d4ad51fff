// write-demo-policy: writes a tiny policy that follows the runtime's conventions, for the C robot loop and
// `vlac run` until `vlac compile` produces real ones.
//
//   write-demo-policy OUT_DIR [--no-reset]
//
// Writes OUT_DIR/policies/demo.vla and OUT_DIR/shared/backbone-<sha256>.vla (the layout `vlac compile` uses).

import Glibc
import VLAFormat
import VLATestSupport

let arguments = CommandLine.arguments
guard arguments.count == 2 || (arguments.count == 3 && arguments[2] == "--no-reset") else {
    print("usage: write-demo-policy OUT_DIR [--no-reset]")
    exit(64)
}
let out = arguments[1]
do {
    let files = try DemoPolicy.make(withReset: arguments.count == 2)
    for folder in [out, out + "/policies", out + "/shared"] { _ = mkdir(folder, 0o755) }
    try AtomicFile.write(files.policy, to: out + "/policies/demo.vla")
    try AtomicFile.write(files.blob, to: out + "/shared/" + files.blobName)
    print(out + "/policies/demo.vla")
} catch {
    print("write-demo-policy: \(error)")
    exit(1)
}
