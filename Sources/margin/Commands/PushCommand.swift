import ArgumentParser
import Foundation

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Send a remote the changes it lacks.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var exchange: ExchangeOptions

    func run() async throws {
        try await Exchange.run(global: global, remotes: exchange.remote.map { [$0] } ?? [], all: false, push: true,
                               pull: false, json: output.json, pageSize: exchange.pageSize, dryRun: exchange.dryRun)
    }
}
