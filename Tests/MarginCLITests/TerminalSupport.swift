import Foundation
import Testing

// Running the built binary on a real pseudo-terminal: `script` (util-linux, in Debian's
// essential bsdutils) gives the child a pty whose size `stty` sets, and records what the
// terminal received.

/// The `script` command, when this machine has it.
let scriptTool = findOnPath("script")

/// A word for sh -c: in single quotes.
func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// What a terminal of `columns` columns received from `margin ARGS` run on it (stdout and stderr
/// both, as a person sees them), with `\r\n` turned into `\n`.
func onTerminal(
    _ args: [String], store: String, columns: Int = 80, env: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (status: Int32, screen: String) {
    let tool = try #require(scriptTool, "script is missing", sourceLocation: sourceLocation)
    let command = "stty cols \(columns) rows 50 2>/dev/null; exec "
        + ([marginBinary.path] + args).map(shellQuoted).joined(separator: " ")
    var environment = ProcessInfo.processInfo.environment
    environment["MARGIN_STORE"] = store
    environment["XDG_DATA_HOME"] = "/dev/null/margin-tests-have-no-default-store"
    environment["NO_COLOR"] = nil
    environment["COLUMNS"] = nil
    environment["TERM"] = "xterm-256color"
    environment.merge(env) { $1 }
    let result = runProcess(tool, ["-qec", command, "/dev/null"], environment: environment,
                            sourceLocation: sourceLocation)
    return (result.status, result.stdout.replacingOccurrences(of: "\r\n", with: "\n"))
}

/// The lines a terminal shows for `screen`: each `\r` (a rewrite of the line) keeps what follows
/// it, and an erase-to-the-end-of-line clears the rest, as the terminal would.
func visibleLines(_ screen: String) -> [String] {
    screen.components(separatedBy: "\n").map { line in
        var shown = ""
        for part in line.components(separatedBy: "\r") {
            shown = part.isEmpty ? shown : part
        }
        return shown.replacingOccurrences(of: "\u{1B}[K", with: "")
    }
}

/// `text` without colour sequences, to count the columns a line takes.
func withoutColour(_ text: String) -> String {
    text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*[mK]", with: "", options: .regularExpression)
}

/// Columns a line takes (the tests' text is narrow, but for `…`).
func columnsOf(_ line: String) -> Int { withoutColour(line).unicodeScalars.count }
