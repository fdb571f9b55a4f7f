import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the terminal (if any) behind stdout and stderr can show.
///
/// DESIGN.md "CLI conventions": colour only on a terminal and never with `NO_COLOR`; lines cut to
/// the width only on a terminal; the width from `ioctl(TIOCGWINSZ)`, else `$COLUMNS`, else 80.
enum Terminal {
    /// stdout is a terminal.
    static let stdoutIsTerminal = isatty(STDOUT_FILENO) != 0
    /// stderr is a terminal.
    static let stderrIsTerminal = isatty(STDERR_FILENO) != 0

    /// Colour on stdout: a terminal, `NO_COLOR` unset or empty (no-color.org), `TERM` not dumb.
    static let stdoutColour = stdoutIsTerminal && colourAllowed
    /// Colour on stderr, by the same rule.
    static let stderrColour = stderrIsTerminal && colourAllowed

    private static var colourAllowed: Bool {
        let environment = ProcessInfo.processInfo.environment
        if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }

    /// The width of the terminal behind `fd` in columns: the window size, else `$COLUMNS`, else 80.
    static func width(of fd: Int32) -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 {
            return columns
        }
        return 80
    }

    /// stdout's width when it is a terminal; nil when piped (lines are then kept whole).
    static let stdoutWidth: Int? = stdoutIsTerminal ? width(of: STDOUT_FILENO) : nil
    /// stderr's width, for the progress line.
    static let stderrWidth: Int = width(of: STDERR_FILENO)
}

/// ANSI colours (SGR), applied only when the stream is a colour terminal.
enum Colour: String {
    case bold = "1"
    case red = "31"
    case green = "32"
    case yellow = "33"
    case cyan = "36"
    case dim = "2"
    /// The match in a search snippet, as grep and ripgrep show it.
    case match = "1;31"
    /// A highlighted passage in `show`.
    case highlight = "30;43"

    /// `text` in this colour on stdout, or as it is when stdout takes no colour.
    func callAsFunction(_ text: String, on stderr: Bool = false) -> String {
        guard stderr ? Terminal.stderrColour : Terminal.stdoutColour else { return text }
        return "\u{1B}[\(rawValue)m\(text)\u{1B}[0m"
    }
}
