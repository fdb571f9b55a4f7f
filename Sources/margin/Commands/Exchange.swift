import Foundation
import MarginStore
import MarginSync

/// Push, pull and sync share this: one exchange per remote, through `RemoteLoop`.
enum Exchange {
    /// What happened with one remote, as `--json` prints it (fields are added, never renamed).
    struct Outcome: RemoteRow {
        var remote: String
        /// The exchange went through (conflicts may be pending).
        var ok: Bool
        /// synced, conflicts_pending, unreachable, auth, locked or failed.
        var outcome: String
        /// The exit code this remote alone would give.
        var exit_code: Int32
        @Null var sent: Int?
        @Null var received: Int?
        @Null var conflicts: Int?
        @Null var requests: Int?
        @Null var bytes_sent: Int?
        @Null var bytes_received: Int?
        /// Conflicts listed by `margin conflicts` after the exchange (pulls and syncs).
        @Null var conflicts_pending: Int?
        @Null var error: String?
    }

    /// The last running report of each exchange, kept for when it fails.
    final class PartialReports: @unchecked Sendable {
        private let lock = NSLock()
        private var reports: [String: SyncReport] = [:]

        subscript(remote: String) -> SyncReport? {
            get { lock.withLock { reports[remote] } }
            set { lock.withLock { reports[remote] = newValue } }
        }
    }

    static func run(
        global: GlobalOptions, remotes names: [String], all: Bool, push: Bool, pull: Bool, json: Bool, pageSize: Int,
        dryRun: Bool = false
    ) async throws {
        let store = try global.openStore()
        let chosen = try Remotes.choose(store, names: names, all: all)
        if dryRun { return try await ExchangePlan.run(store: store, remotes: chosen, push: push, pull: pull, json: json) }
        let partial = PartialReports()
        try await RemoteLoop.run(chosen, json: json) { remote in
            defer { Progress.shared.clear() }
            do {
                return try await exchange(store, remote, push: push, pull: pull, json: json, pageSize: pageSize,
                                          partial: partial)
            } catch {
                try? store.recordExchange(remote: remote.name, vector: nil, error: Remotes.sentence(for: error))
                throw error
            }
        } failed: { remote, code, text in
            // What moved before the failure stays moved (each page is atomic): say how much.
            let done = partial[remote.name]
            return Outcome(
                remote: remote.name, ok: false, outcome: Remotes.outcomeName(code), exit_code: code,
                sent: done?.sent ?? 0, received: done?.received ?? 0, conflicts: done?.conflicts ?? 0, error: text)
        }
    }

    private static func exchange(
        _ store: Store, _ remote: RemoteInfo, push: Bool, pull: Bool, json: Bool, pageSize: Int,
        partial: PartialReports
    ) async throws -> Outcome {
        let client = try Remotes.client(for: remote)
        var progress: (@Sendable (String) -> Void)? = nil
        if Terminal.stderrIsTerminal && !json && !Output.quiet {
            let name = remote.name
            progress = { text in Progress.shared.show("\(name): \(text)") }
        }
        var reconciler = Reconciler(store: store, client: client, pageSize: pageSize, progress: progress)
        let name = remote.name
        reconciler.onPage = { partial[name] = $0 }
        let report = try await reconciler.run(remote: remote.name, push: push, pull: pull)
        Progress.shared.clear()
        try store.recordExchange(remote: remote.name, vector: report.remoteVector, error: nil)
        let pending = pull ? try store.counts().conflicts : nil
        let code = (pending ?? 0) > 0 ? ExitStatus.conflictsPending : ExitStatus.success
        let outcome = Outcome(
            remote: remote.name, ok: true, outcome: code == ExitStatus.success ? "synced" : "conflicts_pending",
            exit_code: code, sent: report.sent, received: report.received, conflicts: report.conflicts,
            requests: report.requests, bytes_sent: report.bytesSent, bytes_received: report.bytesReceived,
            conflicts_pending: pending, error: nil)
        if !json {
            let word = code == ExitStatus.success ? Colour.green("synced") : Colour.yellow("conflicts pending")
            var line = "\(remote.name): \(word): sent \(count(report.sent, "change")), "
                + "received \(count(report.received, "change"))"
            if report.conflicts > 0 { line += ", \(count(report.conflicts, "new conflict"))" }
            line += " (\(count(report.requests, "request")), \(Remotes.bytes(report.bytesSent + report.bytesReceived)))"
            Output.row(line)
        }
        if let pending, pending > 0 {
            Output.error("margin: \(remote.name): \(count(pending, "conflict")) pending; see `margin conflicts`, "
                + "settle with `margin resolve`")
        }
        return outcome
    }
}
