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
            TLS-terminating reverse proxy in front for https. With --members-only, pushed runs are \
            accepted only from replicas bound to a token (`margin token bind NAME REPLICA`). A client \
            that is slow to send its request is disconnected; one connection over --max-connections \
            is answered 503, one request over --max-requests-per-token 429, both with Retry-After, \
            which margin's client honours. MARGIN_MAX_CLOCK_SKEW may be raised, never set below the \
            protocol's \(Int(ChangeLimits.maxClockSkew)) s: the hub would refuse what laptops accept.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8421
    @Flag(help: "Accept pushed runs only from replicas bound to a token (and this store's own).")
    var membersOnly = false
    @Option(help: "Connections served at once; one more is answered 503 with Retry-After.")
    var maxConnections = ServerLimits().maxConnections
    @Option(help: "Requests of one token in progress at once; one more is answered 429 with Retry-After.")
    var maxRequestsPerToken = ServerLimits().maxRequestsPerToken
    @Option(help: "Seconds a connection has to send a request's headers.")
    var headerTimeout = ServerLimits().headerTimeout
    @Option(help: "Seconds a request's body has to arrive.")
    var bodyTimeout = ServerLimits().bodyTimeout
    @Option(help: "Seconds an idle connection is kept open between requests.")
    var idleTimeout = ServerLimits().idleTimeout

    var limits: ServerLimits {
        var limits = ServerLimits()
        limits.maxConnections = maxConnections
        limits.maxRequestsPerToken = maxRequestsPerToken
        limits.headerTimeout = headerTimeout
        limits.bodyTimeout = bodyTimeout
        limits.idleTimeout = idleTimeout
        return limits
    }

    func validate() throws {
        if let problem = limits.problem { throw ValidationError(problem) }
    }

    func run() async throws {
        let store = try global.openStore()
        // Refused at start, not discovered by a laptop months later.
        if store.maxClockSkew < ChangeLimits.maxClockSkew {
            throw CLIError(
                message: "margin: MARGIN_MAX_CLOCK_SKEW is \(Self.seconds(store.maxClockSkew)) s, stricter than the protocol's "
                    + "\(Int(ChangeLimits.maxClockSkew)) s: this hub would refuse changes that every laptop accepts, and "
                    + "they could never be pushed; unset it or set at least \(Int(ChangeLimits.maxClockSkew))",
                code: ExitStatus.usage)
        }
        if !SyncServer.isLoopback(host), try !store.hasTokens() {
            throw CLIError(
                message: "margin: refusing to listen on \(host) without tokens: anyone could read and write this store; "
                    + "create one with `margin token create NAME` first (or serve on 127.0.0.1)",
                code: ExitStatus.usage)
        }
        if membersOnly, try store.memberOrigins().isEmpty {
            Output.note("--members-only and no replica is bound to a token: only this store's own runs are accepted; "
                + "bind laptops with `margin token bind NAME REPLICA`")
        }
        let app = SyncServer.buildApplication(
            store: store, host: host, port: port, limits: limits, membersOnly: membersOnly
        ) { port in
            Output.error("margin: serving \(TerminalText.escaped(store.replicaName)) on http://\(host):\(port)")
        }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
