import ArgumentParser
import Foundation
import MarginStore
import MarginSync

/// margin-bench: the standard workload, measured side by side with plain SQLite and a CRDT peer.
/// Run it through Scripts/bench (release build). Prints a table and writes the figures as JSON.
@main
struct MarginBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "margin-bench",
        abstract: "Margin's benchmark: local writes, apply, sync, verification, beside plain SQLite and pycrdt.",
        subcommands: [Run.self, Serve.self, Pull.self],
        defaultSubcommand: Run.self)

    /// The benchmark itself.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the benchmark and print its table.")
        @OptionGroup var options: BenchOptions

        func run() async throws { try await benchmark(options) }
    }

    /// A hub in its own process (so its peak memory is its own): serves a store, prints "port N".
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve a store on 127.0.0.1 (a child of the bench).")
        @Option(help: "The store to serve.") var store: String

        func run() async throws { try await serveRole(store: store) }
    }

    /// A first sync of a new, empty replica in its own process; prints JSON figures.
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "First sync of a new replica (a child of the bench).")
        @Option(help: "The new store's path.") var store: String
        @Option(help: "The hub's URL.") var url: String
        @Option(help: "Changes per page.") var pageSize = SyncProtocol.defaultPageSize

        func run() async throws { try await pullRole(store: store, url: url, pageSize: pageSize) }
    }
}

/// The workload's size and what to run.
struct BenchOptions: ParsableArguments {
    @Option(help: "Articles imported.") var articles = 10_000
    @Option(help: "Annotations made.") var annotations = 50_000
    @Option(help: "Edits, one transaction each.") var edits = 1_000
    @Option(help: "A CSV of articles (url,date,title,text) to recombine into the workload.") var corpus: String?
    @Option(help: "The pycrdt peer's script (Scripts/crdt-peer.py); skipped without it.") var crdtScript: String?
    @Option(help: "Changes per page in the first sync.") var pageSize = SyncProtocol.defaultPageSize
    @Option(help: "Changes per batch when applying in-process and over HTTP.") var applyBatch = SyncProtocol.maxBatch
    @Option(help: "Write the figures as JSON here.") var json: String?
    @Flag(help: "Only build the change set and apply it in-process (for profiling).") var applyOnly = false
    @Flag(help: "A smoke run (CI): fewer repetitions, figures printed, targets not judged.") var smoke = false

    func validate() throws {
        guard articles >= 1 else { throw ValidationError("--articles must be at least 1") }
        guard (1...SyncProtocol.maxBatch).contains(pageSize) else {
            throw ValidationError("--page-size must be 1 to \(SyncProtocol.maxBatch)")
        }
        guard (1...SyncProtocol.maxBatch).contains(applyBatch) else {
            throw ValidationError("--apply-batch must be 1 to \(SyncProtocol.maxBatch)")
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("margin-bench: \(message)\n".utf8))
    exit(1)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("margin-bench: \(message)\n".utf8))
}
