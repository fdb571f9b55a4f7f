import ArgumentParser
import Foundation
import MarginStore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a store with a new replica identity.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "A name for this replica, like laptop-a (default: the host name).")
    var name: String?

    func run() throws {
        let name = name ?? ProcessInfo.processInfo.hostName.components(separatedBy: ".").first ?? "margin"
        let store = try Store.create(at: global.storePath, name: name)
        Output.store = store
        if output.json {
            try Output.json(["store": global.storePath, "replica_id": store.replicaID, "replica_name": store.replicaName])
        } else {
            Output.line("created store \(global.storePath) for replica \(store.replicaName) (\(store.replicaID))")
        }
    }
}
