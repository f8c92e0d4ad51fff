/// One instruction of a task list, with the line it came from.
public struct TaskLine: Sendable, Hashable {
    /// 1-based line number of its first occurrence.
    public var line: Int
    /// The instruction text (surrounding whitespace removed).
    public var text: String
}

/// A line of a task list that is not compiled, and why.
public struct TaskLineFailure: Sendable, Hashable {
    /// 1-based line number.
    public var line: Int
    /// A lowercase clause (`not valid UTF-8 (byte 3 of the line)`).
    public var message: String

    /// Creates a failure.
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// A parsed task list: distinct instructions in order, plus per-line warnings and errors.
///
/// Rules: UTF-8, with or without a byte-order mark (it is skipped); one instruction per line; blank lines and
/// lines starting with `#` (after leading spaces) are skipped; surrounding whitespace is trimmed; a duplicate is
/// compiled once (a warning names both lines); a line that is not UTF-8 or contains control characters is an
/// error naming the line. A UTF-16 file is one error that says so (nothing of it is compiled).
public struct TaskList: Sendable {
    /// Distinct instructions in first-seen order.
    public var tasks: [TaskLine] = []
    /// `file:line: ...` warnings.
    public var warnings: [String] = []
    /// `file:line: ...` errors (those lines are not compiled).
    public var errors: [String] = []
    /// The same errors, by line.
    public var failures: [TaskLineFailure] = []

    /// Longest accepted line, in bytes.
    public static let maxLineBytes = 4096
    /// Most instructions in one list.
    public static let maxTasks = 100_000

    /// Parses the bytes of a task list; `name` is used in messages.
    public init(bytes: [UInt8], name: String) {
        func fail(_ line: Int, _ message: String) {
            failures.append(TaskLineFailure(line: line, message: message))
            errors.append("\(name):\(line): \(message)")
        }
        if let encoding = Self.utf16Encoding(bytes) {
            fail(1, "the file looks like \(encoding), not UTF-8; save it as UTF-8 (for example: iconv -f UTF-16 -t UTF-8 \(name) > \(name).utf8)")
            return
        }
        var seen: [String: Int] = [:]
        var lineNo = 0
        // A UTF-8 byte-order mark (what some editors write first) is not part of the first instruction.
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
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
                fail(lineNo, "line is \(raw.count) bytes, over the limit of \(Self.maxLineBytes)")
                continue
            }
            guard let s = String(validating: raw, as: UTF8.self) else {
                var bad = 0
                while bad < raw.count, String(validating: raw[0...bad], as: UTF8.self) != nil || raw[bad] < 0x80 { bad += 1 }
                fail(lineNo, "not valid UTF-8 (byte \(bad + 1) of the line)")
                continue
            }
            let text = s.trimmingWhitespace()
            if text.isEmpty || text.hasPrefix("#") { continue }
            if let c = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                fail(lineNo, "control character U+\(String(c.value, radix: 16, uppercase: true)) in the instruction")
                continue
            }
            if let first = seen[text] {
                warnings.append("\(name):\(lineNo): duplicate of line \(first); compiled once")
                continue
            }
            if tasks.count >= Self.maxTasks {
                fail(lineNo, "more than \(Self.maxTasks) instructions")
                break
            }
            seen[text] = lineNo
            tasks.append(TaskLine(line: lineNo, text: text))
        }
    }

    /// `"UTF-16 (little-endian)"` when `bytes` look like UTF-16: a UTF-16 byte-order mark, or a zero byte in
    /// every other position of the first characters (ASCII text in UTF-16 without a mark); nil otherwise.
    static func utf16Encoding(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xFE]) { return "UTF-16 (little-endian, byte-order mark FF FE)" }
        if bytes.starts(with: [0xFE, 0xFF]) { return "UTF-16 (big-endian, byte-order mark FE FF)" }
        let head = bytes.prefix(64)
        guard head.count >= 4 else { return nil }
        let even = stride(from: 0, to: head.count - 1, by: 2).map { head[$0] }
        let odd = stride(from: 1, to: head.count, by: 2).map { head[$0] }
        if odd.allSatisfy({ $0 == 0 }) && !even.contains(0) { return "UTF-16 (little-endian)" }
        if even.allSatisfy({ $0 == 0 }) && !odd.contains(0) { return "UTF-16 (big-endian)" }
        return nil
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
