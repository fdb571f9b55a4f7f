import Foundation

/// The progress line on stderr: on a terminal only, one line cut to the width, rewritten in
/// place (`\r` and erase to the end of the line, so a shorter text leaves nothing of a longer
/// one), and cleared before anything else is written and when the work is done.
final class Progress: @unchecked Sendable {
    static let shared = Progress()

    private let lock = NSLock()
    private var showing = false

    /// A line is on the screen.
    var isShowing: Bool { lock.withLock { showing } }

    /// Shows `text` in place of the previous line.
    func show(_ text: String) {
        guard Terminal.stderrIsTerminal else { return }
        let line = TerminalText.cut(TerminalText.escaped(text), to: Terminal.stderrWidth - 1)
        lock.withLock {
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
            showing = true
        }
    }

    /// Clears the line, leaving the cursor at the start of an empty line.
    func clear() {
        lock.withLock {
            guard showing else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            showing = false
        }
    }
}
