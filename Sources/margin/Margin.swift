import ArgumentParser
import Foundation
import MarginStore

@main
struct Margin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "margin",
        abstract: "Offline-first annotated news: import, highlight, note, tag, search, export and sync.",
        discussion: """
            The store is --store PATH, else $MARGIN_STORE, else $XDG_DATA_HOME/margin/store.sqlite \
            (~/.local/share/margin/store.sqlite). Create it with `margin init --name NAME`.

            Results go to stdout, progress, notes and errors to stderr (`margin: ...`). On a terminal, \
            listings are cut to its width and matches are coloured (never with NO_COLOR); piped or \
            with --json, values are whole. --quiet leaves out notes and progress.

            Exit codes: 0 success, 1 failure (and search: no match), 2 conflicts pending after a sync \
            or pull, 3 verify: states differ, 64 usage error, 65 bad input data, 73 store locked by \
            another process past the wait, 75 remote unreachable or timed out (retry later), 77 token \
            refused.
            """,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, ImportCommand.self, ListCommand.self, ShowCommand.self, SearchCommand.self,
            HighlightCommand.self, NoteCommand.self, TagCommand.self, UntagCommand.self, RemoveCommand.self,
            AnnotationsCommand.self, LogCommand.self, ExportCommand.self, ConflictsCommand.self, ResolveCommand.self,
            ServeCommand.self, TokenCommand.self, RemoteCommand.self, PushCommand.self, PullCommand.self,
            SyncCommand.self, StatusCommand.self, VerifyCommand.self, ReanchorCommand.self, OrphansCommand.self,
            ReattachCommand.self, CompletionCommand.self, FeedCommand.self,
        ]
    )

    /// `margin --store PATH CMD …` (and `margin --quiet CMD …`) are accepted too: a global option
    /// before the subcommand moves after it.
    static func hoistGlobalOptions(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--store", rest.count >= 2 {
                globals += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--store=") || first == "--quiet" || first == "-q" {
                globals.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !globals.isEmpty, !rest.isEmpty else { return arguments }
        // After the whole subcommand path (`token create …`): at the end, or before a `--`.
        var tail = Array(rest)
        tail.insert(contentsOf: globals, at: tail.firstIndex(of: "--") ?? tail.endIndex)
        return tail
    }

    static func main() async {
        let arguments = hoistGlobalOptions(Array(CommandLine.arguments.dropFirst()))
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            fail(parsing: error, arguments)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Output.flush()
            // A large write (an import, a first pull) leaves a large log; every later command
            // would read it whole when it opens the store. And a store at rest is one file: the
            // log folded in, so a copy of the store file alone is complete.
            try? Output.store?.truncateWAL()
            try? Output.store?.close()
        } catch {
            try? Output.store?.truncateWAL()
            try? Output.store?.close()
            guard let failure = CLIError.wrap(error) else { fail(parsing: error, arguments) }
            if !failure.message.isEmpty { Output.error(failure.message) } else { Output.flush() }
            Progress.shared.clear()
            Foundation.exit(failure.code)
        }
    }

    /// Help and version on stdout, exit 0; a usage error in one line (`margin: …`, with a
    /// suggestion for a typo and where to read the usage), exit 64.
    static func fail(parsing error: any Error, _ arguments: [String]) -> Never {
        if let exit = error as? ExitCode {
            Output.flush()
            Foundation.exit(exit.rawValue)
        }
        let code = exitCode(for: error)
        if code == .success {
            Output.line(fullMessage(for: error))
            Output.flush()
            Foundation.exit(0)
        }
        let path = Suggestions.command(in: arguments).path
        let shown = (["margin"] + path).joined(separator: " ")
        let message: String
        if let typo = Suggestions.explain(arguments) {
            message = typo
        } else {
            var text = self.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("Error: ") { text.removeFirst(7) }
            text = text.split(separator: "\n").first.map(String.init) ?? text
            if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
                text = first.lowercased() + text.dropFirst()
            }
            message = "\(text); see `\(shown) --help`"
        }
        Output.error("margin: " + message)
        Foundation.exit(code == .validationFailure ? ExitStatus.usage : code.rawValue)
    }
}
