/// One instruction of a task list, with the line it came from.
public struct TaskLine: Sendable, Hashable {
    /// 1-based line number of its first occurrence.
    public var line: Int
    /// The instruction text (surrounding whitespace removed).
    public var text: String
}

/// A parsed task list: distinct instructions in order, plus per-line warnings and errors.
///
/// Rules: one instruction per line; blank lines and lines starting with `#` (after leading spaces) are
/// skipped; surrounding whitespace is trimmed; a duplicate is compiled once (a warning names both lines); a
/// line that is not UTF-8 or contains control characters is an error naming the line.
public struct TaskList: Sendable {
    /// Distinct instructions in first-seen order.
    public var tasks: [TaskLine] = []
    /// `file:line: ...` warnings.
    public var warnings: [String] = []
    /// `file:line: ...` errors (those lines are not compiled).
    public var errors: [String] = []

    /// Longest accepted line, in bytes.
    public static let maxLineBytes = 4096
    /// Most instructions in one list.
    public static let maxTasks = 100_000

    /// Parses the bytes of a task list; `name` is used in messages.
    public init(bytes: [UInt8], name: String) {
        var seen: [String: Int] = [:]
        var lineNo = 0
        var start = 0
        var i = 0
        let n = bytes.count
        while start < n {
            i = start
            while i < n, bytes[i] != 0x0A { i += 1 }
            lineNo += 1
            var raw = Array(bytes[start..<i])
            start = i + 1
            if raw.last == 0x0D { raw.removeLast() }
            if raw.count > Self.maxLineBytes {
                errors.append("\(name):\(lineNo): line is \(raw.count) bytes, over the limit of \(Self.maxLineBytes)")
                continue
            }
            guard let s = String(validating: raw, as: UTF8.self) else {
                var bad = 0
                while bad < raw.count, String(validating: raw[0...bad], as: UTF8.self) != nil || raw[bad] < 0x80 { bad += 1 }
                errors.append("\(name):\(lineNo): not valid UTF-8 (byte \(bad + 1) of the line)")
                continue
            }
            let text = s.trimmingWhitespace()
            if text.isEmpty || text.hasPrefix("#") { continue }
            if let c = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                errors.append("\(name):\(lineNo): control character U+\(String(c.value, radix: 16, uppercase: true)) in the instruction")
                continue
            }
            if let first = seen[text] {
                warnings.append("\(name):\(lineNo): duplicate of line \(first); compiled once")
                continue
            }
            if tasks.count >= Self.maxTasks {
                errors.append("\(name):\(lineNo): more than \(Self.maxTasks) instructions")
                break
            }
            seen[text] = lineNo
            tasks.append(TaskLine(line: lineNo, text: text))
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = Array(unicodeScalars)
        var a = 0, b = scalars.count
        while a < b, scalars[a].properties.isWhitespace { a += 1 }
        while b > a, scalars[b - 1].properties.isWhitespace { b -= 1 }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[a..<b])
        return String(out)
    }

    /// A file-name slug: lowercase ASCII letters and digits, runs of anything else as one `-`, at most 48.
    var slug: String {
        var out = ""
        var dash = false
        for u in unicodeScalars {
            if u.isASCII, (u.properties.isAlphabetic || ("0"..."9").contains(Character(u))) {
                if dash, !out.isEmpty { out.append("-") }
                dash = false
                out.append(Character(u).lowercased())
            } else {
                dash = true
            }
            if out.count >= 48 { break }
        }
        return out.isEmpty ? "instruction" : out
    }
}
