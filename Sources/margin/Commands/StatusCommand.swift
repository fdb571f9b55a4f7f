import ArgumentParser
import Foundation
import MarginStore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "This replica, its version vector, and what each remote is known to lack.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let vector = try store.versionVector()
        let counts = try store.counts()
        let remotes = try store.remotes()
        let pending = try remotes.map { try $0.knownVector.map { try store.pendingCount(for: $0) } }
        let equivocations = try store.equivocations()
        if output.json {
            struct RemoteRow: Encodable {
                var name, url: String
                @Null var pending: Int64?
                @Null var last_sync_at: String?
                @Null var last_error: String?
            }
            struct Equivocation: Encodable {
                var origin: String
                var seq: Int64
                var seen_at: String
                @Null var via: String?
                var own_origin: Bool
            }
            struct Status: Encodable {
                var replica_id, replica_name, store: String
                @Null var legacy_replica_id: String?
                var vector: VersionVector
                var articles, annotations, changes, conflicts: Int
                var remotes: [RemoteRow]
                var equivocations: [Equivocation]
            }
            return try Output.json(Status(
                replica_id: store.replicaID, replica_name: store.replicaName, store: global.storePath,
                legacy_replica_id: store.legacyReplicaID, vector: vector,
                articles: counts.articles, annotations: counts.annotations, changes: counts.changes,
                conflicts: counts.conflicts,
                remotes: zip(remotes, pending).map {
                    RemoteRow(name: $0.name, url: $0.url, pending: $1, last_sync_at: $0.lastSyncAt, last_error: $0.lastError)
                },
                equivocations: equivocations.map {
                    Equivocation(origin: $0.origin, seq: $0.seq, seen_at: $0.seenAt, via: $0.via, own_origin: $0.ownOrigin)
                }))
        }
        Output.row("replica \(TerminalText.escaped(store.replicaName)) (\(store.replicaID))"
            + (store.legacyReplicaID.map { ", before protocol 2 \($0)" } ?? ""))
        Output.row("store \(global.storePath)")
        Output.row("\(count(counts.articles, "article")), \(count(counts.annotations, "annotation")), "
            + "\(count(counts.changes, "change")), \(count(counts.conflicts, "conflict"))")
        Output.row("vector \(vector)")
        for (remote, pending) in zip(remotes, pending) {
            let state = pending.map { "\(count($0, "change")) to send" } ?? "never synced"
            let error = remote.lastError.map { "  last error: \(TerminalText.escaped($0))" } ?? ""
            Output.row("remote \(remote.name) \(remote.url): \(state)\(error)")
        }
        for e in equivocations {
            let via = e.via.map { " from \(TerminalText.escaped($0))" } ?? ""
            let meaning = e.ownOrigin
                ? "another store writes as this replica: this store file was copied; keep one copy and make the "
                    + "other a fresh replica (margin init)"
                : "two stores write as this replica (a copied store file?); the change held here stays"
            Output.line("equivocation: \(Store.shortID(e.origin, length: 8))#\(e.seq) arrived with other bytes\(via) "
                + "at \(e.seenAt): \(meaning)")
        }
    }
}
