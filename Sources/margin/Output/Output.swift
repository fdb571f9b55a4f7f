import Foundation
import MarginStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the CLI's text goes: results on stdout, progress, notes and errors on stderr
/// (DESIGN.md "CLI conventions").
///
/// stdout is buffered and written with write(2), so a full disk or a closed pipe is an error the
/// CLI handles: a closed pipe ends the process quietly, as Git does (`margin log | head`); any
/// other write error is one line on stderr and exit 1, never a crash.
enum Output {
    /// `--quiet`: no notes or progress on stderr (results and errors still appear).
    nonisolated(unsafe) static var quiet = false

    /// The store whose ids `short` abbreviates; set when a command opens it.
    nonisolated(unsafe) static var store: Store?

    nonisolated(unsafe) private static var buffer: [UInt8] = []

    /// A line on stdout.
    static func line(_ text: String = "") {
        append(text)
        buffer.append(0x0A)
        if Terminal.stdoutIsTerminal || buffer.count >= 1 << 16 { flush() }
    }

    /// A line of a listing: cut to the terminal's width with `…` on a terminal, whole when piped.
    /// `colour` is applied after the cut, so escape sequences never count as columns.
    static func row(_ text: String, colour: ((String) -> String)? = nil) {
        let cut = TerminalText.cut(text, to: Terminal.stdoutWidth)
        line(colour.map { $0(cut) } ?? cut)
    }

    /// Bytes on stdout as they are (an export).
    static func bytes(_ data: Data) {
        flush()
        writeAll(Array(data))
    }

    /// A value as pretty, key-sorted JSON on stdout.
    static func json<T: Encodable>(_ value: T) throws {
        let data = try CanonicalJSON.encode(value, prettyPrinted: true)
        buffer.append(contentsOf: data)
        buffer.append(0x0A)
        flush()
    }

    /// A note on stderr (what happened beside the result, a hint), as `margin: …`; none with `--quiet`.
    static func note(_ text: String) {
        guard !quiet else { return }
        error(text.hasPrefix("margin: ") ? text : "margin: " + text)
    }

    /// A note of several lines: the first as `margin: …`, the others indented under it.
    static func note(_ first: String, more: [String]) {
        guard !quiet else { return }
        note(first)
        let width = Terminal.stderrIsTerminal ? Terminal.stderrWidth : nil
        for line in more { error(TerminalText.cut(line, to: width)) }
    }

    /// A line on stderr, after clearing the progress line and writing what stdout holds, so the
    /// two streams read in order on one terminal.
    static func error(_ text: String) {
        flush()
        Progress.shared.clear()
        let lines = Terminal.stderrIsTerminal ? wrap(text, to: Terminal.stderrWidth, indent: "  ") : [text]
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// A word longer than `width` columns in pieces that fit (a long URL), else the word.
    private static func pieces(_ word: String, _ width: Int) -> [String] {
        guard width > 1, TerminalText.columns(word) > width else { return [word] }
        var out: [String] = []
        var piece = String.UnicodeScalarView()
        var used = 0
        var inEscape = false
        for scalar in word.unicodeScalars {
            if inEscape || scalar == "\u{1B}" {
                piece.append(scalar)
                inEscape = scalar != "m"
                continue
            }
            let w = TerminalText.columns(scalar)
            if used + w > width {
                out.append(String(piece))
                piece = String.UnicodeScalarView()
                used = 0
            }
            piece.append(scalar)
            used += w
        }
        out.append(String(piece))
        return out
    }

    /// `text` broken at spaces into lines of at most `width` columns (a word longer than the
    /// width in pieces), the lines after the first indented.
    static func wrap(_ text: String, to width: Int, indent: String = "") -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard TerminalText.columns(String(paragraph)) > width else {
                lines.append(String(paragraph))
                continue
            }
            let words = paragraph.split(separator: " ", omittingEmptySubsequences: false)
                .flatMap { pieces(String($0), width - indent.count) }
            var line = ""
            var used = 0
            for (i, word) in words.enumerated() {
                let w = TerminalText.columns(word)
                if i == 0 {
                    line = word
                    used = w
                } else if used + 1 + w > width {
                    lines.append(line)
                    line = indent + word
                    used = indent.count + w
                } else {
                    line += " " + word
                    used += 1 + w
                }
            }
            lines.append(line)
        }
        return lines
    }

    private static func append(_ text: String) {
        if Progress.shared.isShowing { Progress.shared.clear() }
        buffer.append(contentsOf: text.utf8)
    }

    /// Writes what stdout holds. Also flushes C's stdio, which `print` in a library would use.
    static func flush() {
        fflush(nil)
        guard !buffer.isEmpty else { return }
        let bytes = buffer
        buffer.removeAll(keepingCapacity: true)
        writeAll(bytes)
    }

    private static func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written >= 0 {
                offset += written
                continue
            }
            let code = errno
            if code == EINTR { continue }
            writeFailed(code)
        }
    }

    /// A closed pipe: quietly, by the signal a reader's exit would have sent (as Git does). Any
    /// other error (a full disk): one line and exit 1.
    private static func writeFailed(_ code: Int32) -> Never {
        if code == EPIPE {
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
            exit(ExitStatus.failure)
        }
        let reason = String(cString: strerror(code))
        FileHandle.standardError.write(Data("margin: cannot write the output: \(reason)\n".utf8))
        exit(ExitStatus.failure)
    }

    /// A short id for text output: unique, at least 8 hex digits, no dashes. Listings use
    /// `ShortIDs` so every id in a column has the same length.
    static func short(_ id: String) -> String {
        guard let store, let length = try? store.uniquePrefixLengths([id])[id] else {
            return Store.shortID(id, length: 8)
        }
        return Store.shortID(id, length: length)
    }

    static var isTerminal: Bool { Terminal.stdoutIsTerminal }
    static var stderrIsTerminal: Bool { Terminal.stderrIsTerminal }

    /// A line of progress on stderr (terminal only, never with `--quiet`), rewritten in place.
    static func progress(_ text: String) {
        guard !quiet else { return }
        Progress.shared.show(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// `1 change`, `2 changes`: a count with its noun.
func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
}

/// `count` for 64-bit counts.
func count(_ n: Int64, _ singular: String, _ plural: String? = nil) -> String {
    count(Int(n), singular, plural)
}
