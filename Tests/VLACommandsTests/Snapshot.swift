import Foundation
import Testing

/// Compares text against a committed golden file in `Snapshots/` beside this suite.
///
/// `VLAC_RECORD_GOLDENS=1` rewrites the golden file and then fails the test, so re-recording is always a
/// deliberate, visible step (run again without it to check).
func assertSnapshot(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let url = folder.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["VLAC_RECORD_GOLDENS"] == "1" {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        Issue.record("re-recorded Snapshots/\(name); run again without VLAC_RECORD_GOLDENS to check it", sourceLocation: sourceLocation)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("no golden file Snapshots/\(name); record it with VLAC_RECORD_GOLDENS=1", sourceLocation: sourceLocation)
        return
    }
    if expected != actual {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
        let got = line < a.count ? String(a[line]) : "<end>", want = line < e.count ? String(e[line]) : "<end>"
        Issue.record("output differs from Snapshots/\(name) at line \(line + 1):\n  got:  \(got)\n  want: \(want)", sourceLocation: sourceLocation)
    }
}
