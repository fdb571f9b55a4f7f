import Foundation
import MarginStore

/// One remote's row in the output of a command over remotes (`--json` prints them in an array).
protocol RemoteRow: Encodable {
    /// The exit code this remote alone would give.
    var exit_code: Int32 { get }
}

/// The loop every command over remotes shares (push, pull, sync, their dry runs, verify): each
/// remote in turn; a failing remote gets its row and an error line on stderr and does not stop
/// the others; `--json` prints the rows; the command exits with the worst code (README, "Exit codes").
enum RemoteLoop {
    /// - Parameters:
    ///   - each: what the command does with one remote, and its row.
    ///   - failed: the row of a remote whose `each` threw, from its exit code and sentence.
    static func run<Row: RemoteRow>(
        _ remotes: [RemoteInfo], json: Bool, each: (RemoteInfo) async throws -> Row,
        failed: (RemoteInfo, _ code: Int32, _ message: String) -> Row
    ) async throws {
        var rows: [Row] = []
        var worst = ExitStatus.success
        for remote in remotes {
            let row: Row
            do {
                row = try await each(remote)
            } catch {
                let code = Remotes.exitCode(for: error)
                let text = Remotes.sentence(for: error)
                // On stderr in JSON mode too: a cron log keeps the sentence next to the JSON.
                Output.error("margin: \(remote.name): \(text)")
                row = failed(remote, code, text)
            }
            worst = ExitStatus.worst(worst, row.exit_code)
            rows.append(row)
        }
        if json { try Output.json(rows) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }
}
