import Foundation
import GRDB
import GRDBSQLite

/// Turns a protocol-1 store (schema 5) into a protocol-2 one: the data step of `0006_runs.sql`.
///
/// - The replica gets an Ed25519 key and a new, key-derived id for everything it writes from now
///   on; its old id (a UUID) is kept as `legacy_replica_id`.
/// - Every origin's history is cut into runs the same way on every store: in seq order, a run
///   closes at `legacyRunChanges` changes or before it would pass the run size limit, so two
///   stores that converted the same history hold the same runs, and one that held fewer changes
///   holds a prefix of the other's last run (which it replaces when the longer copy arrives).
///   Each protocol-1 change (one field) is one change of its run.
/// - The store's own history (its old id) is signed with the new key; other origins' history is
///   kept unsigned: nobody can prove now who wrote it. A receiver checks that an unsigned run is
///   well formed, chained by hash to the runs before it, and names only dots it holds or dots of
///   other protocol-1 origins; a signed run that follows an unsigned one vouches for it through
///   its `prev` hash. No unsigned run is accepted for a key-derived id, or for an origin once a
///   signed run of it is held.
/// - The rows, tags, conflicts and placements are rebuilt from the runs by the merge engine.
/// - The replica's clock restarts from the wall clock: protocol 1 had moved it past clocks it
///   received, ahead of real time when a peer's clock was.
enum LegacyHistory {
    /// Changes per converted run.
    static let legacyRunChanges = 1_000

    static func convert(_ db: Database) throws {
        guard try db.tableExists("change") else { return }
        let meta = try Dictionary(
            Row.fetchAll(db, sql: "SELECT key, value FROM meta").map { ($0[0] as String, $0[1] as String) },
            uniquingKeysWith: { a, _ in a })
        // A store being created: no identity and no history yet (init writes both after migrating).
        guard let oldID = meta["replica_id"], let name = meta["replica_name"] else { return }
        let key = ReplicaKey()
        let identity = Store.Identity(replicaID: key.replicaID, legacyReplicaID: oldID, key: key)
        try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'replica_id'", arguments: [identity.replicaID])
        // Protocol 1 moved this clock past every clock received, even one ahead of real time; the
        // new id starts from the wall clock (its order after the old id's writes is in the dots).
        try db.execute(sql: "UPDATE meta SET value = '0' WHERE key = 'hlc'")
        try db.execute(
            sql: "INSERT INTO meta(key, value) VALUES ('legacy_replica_id', ?), ('signing_key', ?)",
            arguments: [oldID, Hashing.hex(key.seed)])

        var runs: [(signed: SignedRun, run: Run)] = []
        let origins = try String.fetchAll(db, sql: "SELECT DISTINCT origin FROM change ORDER BY origin")
        for origin in origins {
            let changes = try Row.fetchAll(
                db, sql: "SELECT seq, hlc, entity, entity_id, field, value, supersedes, context FROM change WHERE origin = ? ORDER BY seq",
                arguments: [origin]
            ).map { row -> Change in
                let context: VersionVector? = try (row[7] as String?).map { text in
                    guard case .object(let members) = try JSONValue.parse(text) else { return VersionVector() }
                    return VersionVector(members.compactMapValues(\.intValue))
                }
                return Change(
                    origin: origin, seq: row[0], hlc: HLC(rawValue: row[1]),
                    entity: EntityKind(rawValue: row[2]) ?? .article, entityID: row[3], field: row[4],
                    value: try JSONValue.parse(row[5]), supersedes: try Dot.decodeList(row[6]), context: context)
            }
            runs += cut(changes, origin: origin, signer: origin == oldID ? key : nil)
        }
        // The derived state is rebuilt from the runs, in clock order (protocol 1 advanced its
        // clock past every clock it received, so this is close to causal; the engine does not
        // need it to be).
        for table in ["article", "annotation", "tag", "conflict", "replica", "live_value", "entity_change", "legacy_superseded",
                      "digest"] {
            try db.execute(sql: "DELETE FROM \(table)")
        }
        try db.execute(sql: "INSERT INTO article_fts(article_fts) VALUES ('delete-all')")
        try db.execute(sql: "INSERT INTO note_fts(note_fts) VALUES ('delete-all')")
        runs.sort { ($0.run.changes[0].hlc, $0.run.origin, $0.run.first) < ($1.run.changes[0].hlc, $1.run.origin, $1.run.first) }
        var context = try WriteContext(
            db: db, identity: identity, clock: { Date() })
        for (signed, run) in runs {
            let num = context.origins.numbering(run.origin)
            try context.appendRun(signed, originNum: num, hlc: run.changes.map(\.hlc.rawValue).max() ?? 0)
            var entry = context.origins[num]
            // Runs of one origin are inserted in seq order (the sort keeps it: clocks grow with seq).
            entry.seq = max(entry.seq, run.last)
            if run.last == entry.seq { entry.head = signed.hash }
            if let signerKey = signed.key { entry.key = signerKey }
            context.origins[num] = entry
            try context.receive(run, originNum: num, legacy: true)
        }
        // The new id announces the replica's name, as `margin init` does.
        try context.write(.replica, identity.replicaID, "name", .string(name))
        try context.finish()
    }

    /// Cuts one origin's changes (seq order, from 1) into chained runs; signed when `signer` is given.
    static func cut(_ changes: [Change], origin: String, signer: ReplicaKey?) -> [(signed: SignedRun, run: Run)] {
        var out: [(signed: SignedRun, run: Run)] = []
        var prev: [UInt8] = []
        var start = 0
        while start < changes.count {
            var end = start
            var bytes = 256
            while end < changes.count, end - start < legacyRunChanges {
                let size = RunCodec.estimatedBytes(changes[end])
                if end > start, bytes + size > ChangeLimits.maxRunBytes - 64 * 1024 { break }
                bytes += size
                end += 1
            }
            let run = Run(origin: origin, first: changes[start].seq, prev: prev, changes: Array(changes[start..<end]))
            let body = RunCodec.encode(run)
            let hash = Hashing.sha256(body)
            let signed = SignedRun(
                origin: origin, first: run.first, last: run.last, body: body, hash: hash, key: signer?.publicKey,
                signature: signer?.sign(runHash: hash))
            out.append((signed, run))
            prev = hash
            start = end
        }
        return out
    }
}
