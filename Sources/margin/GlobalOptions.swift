import ArgumentParser
import Foundation
import MarginStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The store file (default: $MARGIN_STORE, else $XDG_DATA_HOME/margin/store.sqlite).")
    var store: String?

    @Flag(name: [.short, .long], help: "No notes or progress on stderr: results and errors only.")
    var quiet = false

    /// The store path, from --store, $MARGIN_STORE, $XDG_DATA_HOME or ~/.local/share.
    var storePath: String {
        if let store { return Self.expand(store) }
        let env = ProcessInfo.processInfo.environment
        if let path = env["MARGIN_STORE"], !path.isEmpty { return Self.expand(path) }
        let data = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (data as NSString).appendingPathComponent("margin/store.sqlite")
    }

    /// Opens the store (never creates one), with the lock wait and clock-skew limit from the
    /// environment, and applies `--quiet`.
    func openStore() throws -> Store {
        Output.quiet = quiet
        var options = Store.Options()
        let environment = ProcessInfo.processInfo.environment
        if let seconds = try Self.seconds("MARGIN_LOCK_TIMEOUT", environment) { options.lockTimeout = seconds }
        if let seconds = try Self.seconds("MARGIN_MAX_CLOCK_SKEW", environment) { options.maxClockSkew = seconds }
        let store = try Store.open(at: storePath, options: options)
        Output.store = store
        return store
    }

    /// A number of seconds from the environment; a value that is not one is an error, not ignored.
    static func seconds(_ name: String, _ environment: [String: String]) throws -> Double? {
        guard let text = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        // (At most about 31 years: more would overflow the clock arithmetic.)
        guard let seconds = Double(text), seconds >= 0, seconds <= 1e9 else {
            throw CLIError(message: "margin: \(name) must be a number of seconds from 0 to 1000000000 (it is '\(text)')",
                           code: ExitStatus.usage)
        }
        return seconds
    }

    static func expand(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return expanded }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(expanded)
    }
}
