import ArgumentParser
import Foundation

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
                               pull: true, json: output.json, pageSize: exchange.pageSize, dryRun: exchange.dryRun)
    }
}
