import ArgumentParser
import Foundation
import MarginStore

@main
struct Margin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "margin",
        abstract: "Offline-first annotated news: import, highlight, note, tag, search, export — and sync.",
        discussion: """
            The store is --store PATH, else $MARGIN_STORE, else $XDG_DATA_HOME/margin/store.sqlite \
            (~/.local/share/margin/store.sqlite). Create it with `margin init --name NAME`.
            Exit codes: 0 success, 1 failure, 2 conflicts pending after a sync or pull, 3 verify: states \
            differ, 64 usage error, 65 bad input data, 73 store locked by another process past the wait, \
            75 remote unreachable or timed out (retry later), 77 token refused.
            """,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, ImportCommand.self, ListCommand.self, ShowCommand.self, SearchCommand.self,
            HighlightCommand.self, NoteCommand.self, TagCommand.self, UntagCommand.self, RemoveCommand.self,
            AnnotationsCommand.self, LogCommand.self, ExportCommand.self, ConflictsCommand.self, ResolveCommand.self,
            ServeCommand.self, TokenCommand.self, RemoteCommand.self, PushCommand.self, PullCommand.self,
            SyncCommand.self, StatusCommand.self, VerifyCommand.self, ReanchorCommand.self, OrphansCommand.self,
        ]
    )

    /// `margin --store PATH CMD …` is accepted too: a global option before the subcommand moves after it.
    static func hoistGlobalOptions(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--store", rest.count >= 2 {
                globals += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--store=") {
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
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(hoistGlobalOptions(Array(CommandLine.arguments.dropFirst())))
        } catch {
            exit(withError: error)  // help, version, usage errors (exit 64)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Ours: one line and a documented code. ArgumentParser's own (help, validation): its way.
            guard let failure = CLIError.wrap(error) else { exit(withError: error) }
            if !failure.message.isEmpty { FileHandle.standardError.write(Data((failure.message + "\n").utf8)) }
            Foundation.exit(failure.code)
        }
    }
}
