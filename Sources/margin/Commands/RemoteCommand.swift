import ArgumentParser
import Foundation
import MarginStore

struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "Peers this replica syncs with.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a remote.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A name, like hub.") var name: String
        @Argument(help: "Its URL, like http://127.0.0.1:8421.") var url: String
        @Option(help: "The environment variable holding its bearer token (never written to disk).")
        var tokenEnv: String?

        func validate() throws {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  let host = parsed.host, !host.isEmpty
            else {
                throw ValidationError("'\(url)' is not an http:// or https:// URL with a host, like http://127.0.0.1:8421")
            }
            if let tokenEnv, tokenEnv.isEmpty || !tokenEnv.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                throw ValidationError("--token-env takes the name of an environment variable, like HUB_TOKEN (no $)")
            }
        }

        func run() throws {
            try global.openStore().addRemote(name: name, url: url, tokenEnv: tokenEnv)
            Output.line("added remote \(name) \(url)" + (tokenEnv.map { " (token from $\($0))" } ?? ""))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List remotes.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let remotes = try global.openStore().remotes()
            if output.json {
                struct Row: Encodable {
                    var name, url: String
                    @Null var token_env: String?
                    @Null var last_sync_at: String?
                    @Null var last_error: String?
                }
                return try Output.json(remotes.map {
                    Row(name: $0.name, url: $0.url, token_env: $0.tokenEnv, last_sync_at: $0.lastSyncAt,
                        last_error: $0.lastError)
                })
            }
            if remotes.isEmpty { Output.note("no remotes; add one with `margin remote add NAME URL`") }
            for r in remotes {
                Output.row("\(r.name)  \(r.url)" + (r.tokenEnv.map { "  token from $\($0)" } ?? ""))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a remote.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The remote's name.") var name: String

        func run() throws {
            try global.openStore().removeRemote(name: name)
            Output.line("removed remote \(name)")
        }
    }
}
