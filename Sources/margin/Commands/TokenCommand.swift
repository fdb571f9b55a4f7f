import ArgumentParser
import Foundation
import MarginStore

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Bearer tokens `margin serve` accepts.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; it is printed once, only its hash is kept.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "A name for the token (a person or a laptop).") var name: String
        @Flag(help: "The token may pull, digest and verify, not push (a push is refused with 403).")
        var readOnly = false

        func run() throws {
            let token = try global.openStore().createToken(name: name, readOnly: readOnly)
            if output.json {
                struct Made: Encodable { var name, token: String; var read_only: Bool }
                return try Output.json(Made(name: name, token: token, read_only: readOnly))
            }
            Output.line(token)
            if Terminal.stderrIsTerminal { Output.note("token \(name) created; it is shown only now") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List token names (never the tokens), whether read-only, and the replicas that pushed with each.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let tokens = try global.openStore().tokens()
            if output.json {
                struct Origin: Encodable { var origin: String; var key: String?; var first_at, last_at: String }
                struct Row: Encodable { var name, created_at: String; var read_only: Bool; var origins: [Origin] }
                return try Output.json(tokens.map {
                    Row(name: $0.name, created_at: $0.createdAt, read_only: $0.readOnly,
                        origins: $0.origins.map { Origin(origin: $0.origin, key: $0.key, first_at: $0.firstAt, last_at: $0.lastAt) })
                })
            }
            if tokens.isEmpty { Output.note("no tokens: `margin serve` on 127.0.0.1 is open to local processes") }
            for token in tokens {
                let access = token.readOnly ? "read-only" : "read-write"
                Output.row("\(TerminalText.escaped(token.name))  \(access)  created \(token.createdAt)")
                for origin in token.origins {
                    let key = origin.key.map { "key \($0.prefix(12))…" } ?? "unsigned history"
                    Output.row("  pushed \(Store.shortID(origin.origin, length: 8)) (\(key)) from \(origin.firstAt) to \(origin.lastAt)")
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; a running server refuses it at once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String

        func run() throws {
            try global.openStore().revokeToken(name: name)
            Output.line("revoked \(name)")
        }
    }
}
