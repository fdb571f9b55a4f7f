import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MarginStore
import MarginSync
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve this store to other replicas over HTTP (the sync protocol, /v1).",
        discussion: """
            Listens on 127.0.0.1 by default. Another address needs at least one token \
            (`margin token create NAME`); once a token exists, every request needs one. Put a \
            TLS-terminating reverse proxy in front for https.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8421

    func run() async throws {
        let store = try global.openStore()
        if !SyncServer.isLoopback(host), try !store.hasTokens() {
            throw CLIError(
                message: "margin: refusing to listen on \(host) without tokens: anyone could read and write this store; "
                    + "create one with `margin token create NAME` first (or serve on 127.0.0.1)",
                code: ExitStatus.usage)
        }
        let app = SyncServer.buildApplication(store: store, host: host, port: port) { port in
            FileHandle.standardError.write(Data("margin: serving \(store.replicaName) on http://\(host):\(port)\n".utf8))
        }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

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
            print(token)
            if Output.stderrIsTerminal {
                FileHandle.standardError.write(Data("token \(name) created; it is shown only now\n".utf8))
            }
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
            if tokens.isEmpty { print("no tokens: `margin serve` on 127.0.0.1 is open to local processes") }
            for token in tokens { print("\(token.name)  created \(token.createdAt)") }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; a running server refuses it at once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String

        func run() throws {
            try global.openStore().revokeToken(name: name)
            print("revoked \(name)")
        }
    }
}

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

        func run() throws {
            try global.openStore().addRemote(name: name, url: url, tokenEnv: tokenEnv)
            print("added remote \(name) \(url)" + (tokenEnv.map { " (token from $\($0))" } ?? ""))
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
                    var token_env, last_sync_at, last_error: String?
                }
                return try Output.json(remotes.map {
                    Row(name: $0.name, url: $0.url, token_env: $0.tokenEnv, last_sync_at: $0.lastSyncAt,
                        last_error: $0.lastError)
                })
            }
            for r in remotes {
                print("\(r.name)  \(r.url)" + (r.tokenEnv.map { "  token from $\($0)" } ?? ""))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a remote.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The remote's name.") var name: String

        func run() throws {
            try global.openStore().removeRemote(name: name)
            print("removed remote \(name)")
        }
    }
}

/// Push, pull and sync share this.
enum Exchange {
    /// What happened with one remote, as `--json` prints it (fields are added, never renamed).
    struct Outcome: Encodable {
        var remote: String
        /// The exchange went through (conflicts may be pending).
        var ok: Bool
        /// synced, conflicts_pending, unreachable, auth, locked or failed.
        var outcome: String
        /// The exit code this remote alone would give.
        var exit_code: Int32
        var sent, received, conflicts, requests, bytes_sent, bytes_received: Int?
        /// Conflicts listed by `margin conflicts` after the exchange (pulls and syncs).
        var conflicts_pending: Int?
        var error: String?
    }

    static func run(
        global: GlobalOptions, remotes names: [String], all: Bool, push: Bool, pull: Bool, json: Bool, pageSize: Int,
        dryRun: Bool = false
    ) async throws {
        let store = try global.openStore()
        let chosen = try chooseRemotes(store, names: names, all: all)
        if dryRun {
            return try await DryRun.run(store: store, remotes: chosen, push: push, pull: pull, json: json)
        }
        var outcomes: [Outcome] = []
        var worst = ExitStatus.success
        for remote in chosen {
            var outcome: Outcome
            let partial = PartialReport()
            do {
                let client = SyncClient(baseURL: URL(string: remote.url)!, token: try token(for: remote))
                var progress: (@Sendable (String) -> Void)? = nil
                if Output.stderrIsTerminal && !json {
                    let name = remote.name
                    progress = { text in FileHandle.standardError.write(Data("\r\(name): \(text)   ".utf8)) }
                }
                var reconciler = Reconciler(store: store, client: client, pageSize: pageSize, progress: progress)
                reconciler.onPage = { partial.report = $0 }
                let report = try await reconciler.run(remote: remote.name, push: push, pull: pull)
                if progress != nil { FileHandle.standardError.write(Data("\n".utf8)) }
                try store.recordExchange(remote: remote.name, vector: report.remoteVector, error: nil)
                let pending = pull ? try store.counts().conflicts : nil
                let code = (pending ?? 0) > 0 ? ExitStatus.conflictsPending : ExitStatus.success
                outcome = Outcome(
                    remote: remote.name, ok: true, outcome: code == ExitStatus.success ? "synced" : "conflicts_pending",
                    exit_code: code, sent: report.sent, received: report.received, conflicts: report.conflicts,
                    requests: report.requests, bytes_sent: report.bytesSent, bytes_received: report.bytesReceived,
                    conflicts_pending: pending, error: nil)
                if !json {
                    print("\(remote.name): sent \(report.sent), received \(report.received), "
                        + "conflicts \(report.conflicts) (\(report.requests) requests, "
                        + "\(report.bytesSent + report.bytesReceived) bytes)")
                }
                if let pending, pending > 0 {
                    let what = pending == 1 ? "1 conflict" : "\(pending) conflicts"
                    FileHandle.standardError.write(Data(
                        "margin: \(remote.name): \(what) pending; see `margin conflicts`, settle with `margin resolve`\n".utf8))
                }
            } catch {
                try? store.recordExchange(remote: remote.name, vector: nil, error: "\(error)")
                let code = exitCode(for: error)
                let text = (error as? CLIError)?.message.replacingOccurrences(of: "margin: ", with: "") ?? "\(error)"
                // What moved before the failure stays moved (each page is atomic): say how much.
                let done = partial.report
                outcome = Outcome(
                    remote: remote.name, ok: false, outcome: outcomeName(code), exit_code: code,
                    sent: done?.sent ?? 0, received: done?.received ?? 0, conflicts: done?.conflicts ?? 0, error: text)
                // On stderr in JSON mode too: a cron log keeps the sentence next to the JSON.
                FileHandle.standardError.write(Data("margin: \(remote.name): \(text)\n".utf8))
            }
            worst = ExitStatus.worst(worst, outcome.exit_code)
            outcomes.append(outcome)
        }
        if json { try Output.json(outcomes) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }

    /// The last running report of an exchange, kept for when it fails.
    final class PartialReport: @unchecked Sendable {
        private let lock = NSLock()
        private var _report: SyncReport?

        var report: SyncReport? {
            get { lock.withLock { _report } }
            set { lock.withLock { _report = newValue } }
        }
    }

    /// The remotes a command names: one by name, every one with `all`, or the only one.
    static func chooseRemotes(_ store: Store, names: [String], all: Bool) throws -> [RemoteInfo] {
        let known = try store.remotes()
        if all {
            if known.isEmpty {
                throw CLIError(message: "margin: no remotes; add one with `margin remote add NAME URL`", code: ExitStatus.usage)
            }
            return known
        } else if let name = names.first {
            return [try store.remote(named: name)]
        } else if known.count == 1 {
            return known
        }
        throw CLIError(
            message: known.isEmpty
                ? "margin: no remotes; add one with `margin remote add NAME URL`"
                : "margin: name a remote (\(known.map(\.name).joined(separator: ", "))) or use --all",
            code: ExitStatus.usage)
    }

    static func token(for remote: RemoteInfo) throws -> String? {
        guard let variable = remote.tokenEnv else { return nil }
        guard let token = ProcessInfo.processInfo.environment[variable], !token.isEmpty else {
            throw CLIError(
                message: "margin: remote \(remote.name) takes its token from $\(variable), which is not set; "
                    + "export \(variable)=TOKEN", code: ExitStatus.auth)
        }
        return token
    }

    static func exitCode(for error: any Error) -> Int32 {
        switch error {
        case let error as SyncError:
            switch error {
            case .unauthorized: return ExitStatus.auth
            case .protocolMismatch: return ExitStatus.failure
            default: return error.isTemporary ? ExitStatus.temporary : ExitStatus.failure
            }
        case let error as CLIError: return error.code
        case let error as StoreError:
            if case .locked = error { return ExitStatus.locked }
            return ExitStatus.failure
        default: return ExitStatus.failure
        }
    }

    /// The `outcome` word of a failed exchange.
    static func outcomeName(_ code: Int32) -> String {
        switch code {
        case ExitStatus.temporary: return "unreachable"
        case ExitStatus.auth: return "auth"
        case ExitStatus.locked: return "locked"
        default: return "failed"
        }
    }
}

/// `--dry-run`: what an exchange would send and receive, per origin, from the two version
/// vectors alone (one `GET /v1/vector`); nothing is written, not even the time of the sync.
enum DryRun {
    struct Origin: Encodable {
        var origin: String
        var name: String?
        var local, remote: Int64
        var send, receive: Int64
    }

    struct Plan: Encodable {
        var remote: String
        var ok: Bool
        var outcome: String
        var exit_code: Int32
        var send, receive: Int64?
        var origins: [Origin]?
        var error: String?
    }

    static func run(store: Store, remotes: [RemoteInfo], push: Bool, pull: Bool, json: Bool) async throws {
        let local = try store.versionVector()
        let names = try store.replicaNames()
        var plans: [Plan] = []
        var worst = ExitStatus.success
        for remote in remotes {
            var plan: Plan
            do {
                let client = SyncClient(baseURL: URL(string: remote.url)!, token: try Exchange.token(for: remote))
                let theirs = try await client.vector()
                let origins = Set(local.seqs.keys).union(theirs.seqs.keys).sorted().map { origin in
                    Origin(origin: origin, name: names[origin], local: local[origin], remote: theirs[origin],
                           send: push ? max(0, local[origin] - theirs[origin]) : 0,
                           receive: pull ? max(0, theirs[origin] - local[origin]) : 0)
                }.filter { $0.send > 0 || $0.receive > 0 }
                plan = Plan(remote: remote.name, ok: true, outcome: "planned", exit_code: ExitStatus.success,
                            send: origins.reduce(0) { $0 + $1.send }, receive: origins.reduce(0) { $0 + $1.receive },
                            origins: origins, error: nil)
                if !json {
                    print("\(remote.name): would send \(plan.send!), receive \(plan.receive!) (dry run: nothing changed)")
                    for origin in origins {
                        let who = origin.name.map { "\($0) (\(origin.origin.prefix(8)))" } ?? String(origin.origin.prefix(8))
                        print("  \(who): send \(origin.send), receive \(origin.receive)")
                    }
                }
            } catch {
                let code = Exchange.exitCode(for: error)
                let text = (error as? CLIError)?.message.replacingOccurrences(of: "margin: ", with: "") ?? "\(error)"
                plan = Plan(remote: remote.name, ok: false, outcome: Exchange.outcomeName(code), exit_code: code,
                            error: text)
                FileHandle.standardError.write(Data("margin: \(remote.name): \(text)\n".utf8))
            }
            worst = ExitStatus.worst(worst, plan.exit_code)
            plans.append(plan)
        }
        if json { try Output.json(plans) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }
}

/// What push, pull and sync take.
struct ExchangeOptions: ParsableArguments {
    @Option(help: "Changes per request (1 to \(SyncProtocol.maxBatch)).") var pageSize = SyncProtocol.defaultPageSize
    @Flag(help: "Say what would be sent and received, per origin, and change nothing.") var dryRun = false
    @Argument(help: "The remote (optional when there is only one).") var remote: String?

    func validate() throws {
        if !(1...SyncProtocol.maxBatch).contains(pageSize) {
            throw ValidationError("--page-size is 1 to \(SyncProtocol.maxBatch)")
        }
    }
}

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Send a remote the changes it lacks.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var exchange: ExchangeOptions

    func run() async throws {
        try await Exchange.run(global: global, remotes: exchange.remote.map { [$0] } ?? [], all: false, push: true,
                               pull: false, json: output.json, pageSize: exchange.pageSize,
                               dryRun: exchange.dryRun)
    }
}

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch the changes a remote has and this replica lacks.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var exchange: ExchangeOptions

    func run() async throws {
        try await Exchange.run(global: global, remotes: exchange.remote.map { [$0] } ?? [], all: false, push: false,
                               pull: true, json: output.json, pageSize: exchange.pageSize,
                               dryRun: exchange.dryRun)
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Pull then push: both sides end up holding every change.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var exchange: ExchangeOptions
    @Flag(help: "Every remote, one after the other; a failing remote does not stop the others.") var all = false

    func validate() throws {
        if all && exchange.remote != nil { throw ValidationError("give a remote or --all, not both") }
    }

    func run() async throws {
        try await Exchange.run(global: global, remotes: exchange.remote.map { [$0] } ?? [], all: all, push: true,
                               pull: true, json: output.json, pageSize: exchange.pageSize,
                               dryRun: exchange.dryRun)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "This replica, its version vector, and what each remote is known to lack.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let vector = try store.versionVector()
        let counts = try store.counts()
        let remotes = try store.remotes()
        let pending = try remotes.map { try $0.knownVector.map { try store.pendingCount(for: $0) } }
        if output.json {
            struct RemoteRow: Encodable {
                var name, url: String
                var pending: Int64?
                var last_sync_at, last_error: String?
            }
            struct Status: Encodable {
                var replica_id, replica_name, store: String
                var vector: VersionVector
                var articles, annotations, changes, conflicts: Int
                var remotes: [RemoteRow]
            }
            return try Output.json(Status(
                replica_id: store.replicaID, replica_name: store.replicaName, store: global.storePath, vector: vector,
                articles: counts.articles, annotations: counts.annotations, changes: counts.changes,
                conflicts: counts.conflicts,
                remotes: zip(remotes, pending).map {
                    RemoteRow(name: $0.name, url: $0.url, pending: $1, last_sync_at: $0.lastSyncAt, last_error: $0.lastError)
                }))
        }
        print("replica \(store.replicaName) (\(store.replicaID))")
        print("store \(global.storePath)")
        print("\(counts.articles) articles, \(counts.annotations) annotations, \(counts.changes) changes, "
            + "\(counts.conflicts) conflicts")
        print("vector \(vector)")
        for (remote, pending) in zip(remotes, pending) {
            let state = pending.map { "\($0) changes to send" } ?? "never synced"
            let error = remote.lastError.map { "  last error: \($0)" } ?? ""
            print("remote \(remote.name) \(remote.url): \(state)\(error)")
        }
    }
}
