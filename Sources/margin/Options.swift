import ArgumentParser
import Foundation
import MarginStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The store file (default: $MARGIN_STORE, else $XDG_DATA_HOME/margin/store.sqlite).")
    var store: String?

    /// The store path, from --store, $MARGIN_STORE, $XDG_DATA_HOME or ~/.local/share.
    var storePath: String {
        if let store { return Self.expand(store) }
        let env = ProcessInfo.processInfo.environment
        if let path = env["MARGIN_STORE"], !path.isEmpty { return Self.expand(path) }
        let data = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (data as NSString).appendingPathComponent("margin/store.sqlite")
    }

    func openStore() throws -> Store {
        var options = Store.Options()
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["MARGIN_LOCK_TIMEOUT"], let seconds = Double(text), seconds >= 0 {
            options.lockTimeout = seconds
        }
        if let text = environment["MARGIN_MAX_CLOCK_SKEW"], let seconds = Double(text), seconds >= 0 {
            options.maxClockSkew = seconds
        }
        let store = try Store.open(at: storePath, options: options)
        Output.store = store
        return store
    }

    static func expand(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return expanded }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(expanded)
    }
}

/// `--json` for commands that print records.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (a stable shape, see README) instead of text.")
    var json = false
}
