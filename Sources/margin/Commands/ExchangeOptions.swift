import ArgumentParser
import MarginSync

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
