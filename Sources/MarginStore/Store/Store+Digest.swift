import Foundation
import GRDB

/// Digests of the replicated state, per kind, so two replicas can tell whether they converged and,
/// when not, where they differ.
public struct StateDigest: Codable, Sendable, Hashable {
    /// Kind → the sum modulo 2^256 (hex) of the SHA-256 of that kind's rows' canonical lines.
    public var kinds: [String: String]
    /// Number of rows per kind.
    public var counts: [String: Int]

    public init(kinds: [String: String], counts: [String: Int]) {
        self.kinds = kinds
        self.counts = counts
    }

    /// The kinds whose digests differ between two replicas.
    public func differences(from other: StateDigest) -> [String] {
        Set(kinds.keys).union(other.kinds.keys).filter { kinds[$0] != other.kinds[$0] }.sorted()
    }
}

extension Store {
    /// The kinds a digest covers, each with the query that lists its rows (the columns of its
    /// line, `DigestLine`). Local bookkeeping (rowids, merge state, tokens, remotes, the clock) is
    /// left out: only what sync replicates.
    static let digestQueries: [(kind: String, sql: String)] = [
        // The change set: its runs (their hashes cover every byte of their changes).
        ("changes", "SELECT origin.id, run.first, run.last, run.hash FROM run JOIN origin ON origin.num = run.origin"),
        ("articles", "SELECT \(Projection.digestColumns(.article).map { "\"\($0)\"" }.joined(separator: ", ")) FROM article"),
        ("annotations",
         "SELECT \(Projection.digestColumns(.annotation).map { "\"\($0)\"" }.joined(separator: ", ")) FROM annotation"),
        ("tags", "SELECT entity_id, tag FROM tag"),
        ("conflicts", "SELECT id, entity, entity_id, field, kind FROM conflict"),
        ("replicas", "SELECT id, name FROM replica"),
    ]

    /// Digests of the replicated state, as the store keeps them (no scan: one row per kind).
    public func digest() throws -> StateDigest {
        try read { db in try Self.digest(db) }
    }

    /// Digests of the replicated state and the version vector, read in one transaction so they
    /// describe the same state.
    public func digestAndVector() throws -> (digest: StateDigest, vector: VersionVector) {
        try read { db in (try Self.digest(db), try Self.vector(db)) }
    }

    /// Digests recomputed from every row: what `digest()` must equal (a check of the kept sums).
    public func recomputedDigest() throws -> StateDigest {
        try read { db in
            var kinds: [String: String] = [:]
            var counts: [String: Int] = [:]
            for (kind, sql) in Self.digestQueries {
                var sum = SetSum()
                var count = 0
                let rows = try Row.fetchCursor(db, sql: sql)
                while let row = try rows.next() {
                    let line: [UInt8]
                    if kind == "changes" {
                        let first: Int64 = row[1]
                        let last: Int64 = row[2]
                        line = DigestLine.run(origin: row[0], first: first, last: last, hash: Array(row[3] as Data))
                        count += Int(last - first + 1)
                    } else {
                        line = DigestLine.row(Array(row.databaseValues))
                        count += 1
                    }
                    sum.add(Hashing.sha256(line))
                }
                kinds[kind] = Hashing.hex(sum.bytes)
                counts[kind] = count
            }
            return StateDigest(kinds: kinds, counts: counts)
        }
    }

    /// `PRAGMA integrity_check`: ["ok"] for a sound database file, else SQLite's findings.
    public func integrityCheck() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    private static func digest(_ db: Database) throws -> StateDigest {
        var kinds: [String: String] = [:]
        var counts: [String: Int] = [:]
        for kind in DigestSums.kinds {
            kinds[kind] = Hashing.hex(SetSum().bytes)
            counts[kind] = 0
        }
        for row in try Row.fetchAll(db, sql: "SELECT kind, sum, count FROM digest") {
            kinds[row[0]] = Hashing.hex(Array(row[1] as Data))
            counts[row[0]] = row[2]
        }
        return StateDigest(kinds: kinds, counts: counts)
    }
}
