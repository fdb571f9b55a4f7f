import ArgumentParser
import Foundation
import MarginStore

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Bearer tokens `margin serve` accepts.",
        subcommands: [Create.self, List.self, Revoke.self, Bind.self, Unbind.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; it is printed once, only its hash is kept.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "A name for the token (a person or a laptop).") var name: String
        @Flag(help: "The token may pull, digest and verify, not push (a push is refused with 403).")
        var readOnly = false
        @Option(name: .customLong("replica"),
                help: "Bind this replica id to the token (repeatable): a member whose runs `serve --members-only` accepts.")
        var replicas: [String] = []

        func run() throws {
            let store = try global.openStore()
            for replica in replicas where !ReplicaIdentity.isReplicaID(replica) {
                throw CLIError(message: "margin: '\(replica)' is not a replica id; the laptop's `margin status` shows its id",
                               code: ExitStatus.usage)
            }
            let token = try store.createToken(name: name, readOnly: readOnly)
            for replica in replicas { try store.bindMember(token: name, origin: replica) }
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
                struct Row: Encodable {
                    var name, created_at: String; var read_only: Bool; var members: [String]; var origins: [Origin]
                }
                return try Output.json(tokens.map {
                    Row(name: $0.name, created_at: $0.createdAt, read_only: $0.readOnly, members: $0.members,
                        origins: $0.origins.map { Origin(origin: $0.origin, key: $0.key, first_at: $0.firstAt, last_at: $0.lastAt) })
                })
            }
            if tokens.isEmpty { Output.note("no tokens: `margin serve` on 127.0.0.1 is open to local processes") }
            for token in tokens {
                let access = token.readOnly ? "read-only" : "read-write"
                Output.row("\(TerminalText.escaped(token.name))  \(access)  created \(token.createdAt)")
                for member in token.members { Output.row("  member \(member)") }
                for origin in token.origins {
                    let key = origin.key.map { "key \($0.prefix(12))…" } ?? "unsigned history"
                    Output.row("  pushed \(Store.shortID(origin.origin, length: 8)) (\(key)) from \(origin.firstAt) to \(origin.lastAt)")
                }
            }
        }
    }

    struct Bind: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bind a replica (its id, derived from its key) to a token: a member `serve --members-only` accepts.",
            discussion: """
                The replica's id is shown by `margin status` on that laptop. A member's runs are accepted \
                whichever token delivers them (laptops relay each other's runs); revoking the token, or \
                `margin token unbind`, ends the membership.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String
        @Argument(help: "The replica id.") var replica: String

        func run() throws {
            try global.openStore().bindMember(token: name, origin: replica)
            Output.line("bound \(replica) to \(name)")
        }
    }

    struct Unbind: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unbind a replica from a token.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String
        @Argument(help: "The replica id.") var replica: String

        func run() throws {
            try global.openStore().unbindMember(token: name, origin: replica)
            Output.line("unbound \(replica) from \(name)")
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
