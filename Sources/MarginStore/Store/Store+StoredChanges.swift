import Foundation
import GRDB

/// A page of changes a peer lacks, as the change log holds them.
public struct StoredChangePage: Sendable {
    public var changes: [StoredChange]
    /// True when more changes remain after this page.
    public var more: Bool
}

extension Store {
    /// The changes held here that a peer at `vector` lacks, in seq order per origin, at most
    /// `limit` and at most about `maxBytes` of stored text (always at least one change), with
    /// their JSON columns unparsed: what `changes(after:limit:)` answers, for a caller that only
    /// writes them out again (a sync server, a push).
    public func storedChanges(
        after vector: VersionVector, limit: Int = 1_000, maxBytes: Int = Limits.maxPageBytes
    ) throws -> StoredChangePage {
        precondition(limit > 0)
        return try read { db in
            var out: [StoredChange] = []
            var more = false
            var bytes = 0
            let held = try Row.fetchAll(db, sql: "SELECT origin, seq FROM version ORDER BY origin")
            for row in held {
                let origin: String = row[0]
                let seq: Int64 = row[1]
                guard seq > vector[origin] else { continue }
                if out.count >= limit {
                    more = true
                    break
                }
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT origin, seq, hlc, entity, entity_id, field, value, supersedes, context FROM change
                        WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?
                        """,
                    arguments: [origin, vector[origin], limit - out.count + 1])
                while let row = try rows.next() {
                    if out.count >= limit {
                        more = true
                        break
                    }
                    let change = StoredChange(
                        origin: row[0], seq: row[1], hlc: HLC(rawValue: row[2]),
                        entity: EntityKind(rawValue: row[3]) ?? .article, entityID: row[4], field: row[5],
                        valueJSON: row[6], supersedesJSON: row[7], contextJSON: row[8])
                    bytes += change.storedBytes
                    if bytes > maxBytes, !out.isEmpty {
                        more = true
                        break
                    }
                    out.append(change)
                }
                if bytes > maxBytes { break }
            }
            return StoredChangePage(changes: out, more: more)
        }
    }
}
