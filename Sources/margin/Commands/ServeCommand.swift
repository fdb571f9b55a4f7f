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
            Output.error("margin: serving \(TerminalText.escaped(store.replicaName)) on http://\(host):\(port)")
        }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
