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

        func run() throws {
            let token = try global.openStore().createToken(name: name)
            if output.json { return try Output.json(["name": name, "token": token]) }
            Output.line(token)
            if Terminal.stderrIsTerminal { Output.note("token \(name) created; it is shown only now") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List token names (never the tokens).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let tokens = try global.openStore().tokens()
            if output.json {
                struct Row: Encodable { var name, created_at: String }
                return try Output.json(tokens.map { Row(name: $0.name, created_at: $0.createdAt) })
            }
            if tokens.isEmpty { Output.note("no tokens: `margin serve` on 127.0.0.1 is open to local processes") }
            for token in tokens { Output.row("\(TerminalText.escaped(token.name))  created \(token.createdAt)") }
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
