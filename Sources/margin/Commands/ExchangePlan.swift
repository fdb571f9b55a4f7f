import Foundation
import MarginStore
import MarginSync

/// `--dry-run`: what an exchange would send and receive, per origin, from the two version
/// vectors alone (one `GET /v1/vector`); nothing is written, not even the time of the sync.
enum ExchangePlan {
    struct Origin: Encodable {
        var origin: String
        @Null var name: String?
        var local, remote: Int64
        var send, receive: Int64
    }

    struct Plan: RemoteRow {
        var remote: String
        var ok: Bool
        var outcome: String
        var exit_code: Int32
        @Null var send: Int64?
        @Null var receive: Int64?
        @Null var origins: [Origin]?
        @Null var error: String?
    }

    static func run(store: Store, remotes: [RemoteInfo], push: Bool, pull: Bool, json: Bool) async throws {
        let local = try store.versionVector()
        let names = try store.replicaNames()
        try await RemoteLoop.run(remotes, json: json) { remote in
            let theirs = try await Remotes.client(for: remote).vector()
            let origins = Set(local.seqs.keys).union(theirs.seqs.keys).sorted().map { origin in
                Origin(origin: origin, name: names[origin], local: local[origin], remote: theirs[origin],
                       send: push ? max(0, local[origin] - theirs[origin]) : 0,
                       receive: pull ? max(0, theirs[origin] - local[origin]) : 0)
            }.filter { $0.send > 0 || $0.receive > 0 }
            let plan = Plan(remote: remote.name, ok: true, outcome: "planned", exit_code: ExitStatus.success,
                            send: origins.reduce(0) { $0 + $1.send }, receive: origins.reduce(0) { $0 + $1.receive },
                            origins: origins, error: nil)
            if !json {
                Output.row("\(remote.name): would send \(count(plan.send ?? 0, "change")), "
                    + "receive \(count(plan.receive ?? 0, "change")) (dry run: nothing changed)")
                for origin in origins {
                    let id = Store.shortID(origin.origin, length: 8)
                    let who = origin.name.map { "\(TerminalText.escaped($0)) (\(id))" } ?? id
                    Output.row("  \(who): send \(origin.send), receive \(origin.receive)")
                }
            }
            return plan
        } failed: { remote, code, text in
            Plan(remote: remote.name, ok: false, outcome: Remotes.outcomeName(code), exit_code: code, error: text)
        }
    }
}
