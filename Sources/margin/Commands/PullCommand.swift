import ArgumentParser
import Foundation

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Fetch the changes a remote has and this replica lacks.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var exchange: ExchangeOptions

    func run() async throws {
        try await Exchange.run(global: global, remotes: exchange.remote.map { [$0] } ?? [], all: false, push: false,
                               pull: true, json: output.json, pageSize: exchange.pageSize, dryRun: exchange.dryRun)
    }
}
