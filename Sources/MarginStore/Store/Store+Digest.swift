import Foundation
import GRDB

/// Digests of the replicated state, per kind, so two replicas can tell whether they converged and,
/// when not, where they differ.
public struct StateDigest: Codable, Sendable, Equatable {
    /// Kind → SHA-256 (hex) of that kind's rows in a canonical order.
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
    /// The kinds a digest covers, each with the query that lists its rows canonically. Local
    /// bookkeeping (rowids, tokens, remotes, the clock) is left out: only what sync replicates.
    static let digestQueries: [(kind: String, sql: String)] = [
        ("changes", "SELECT origin, seq, hlc, entity, entity_id, field, value, supersedes, context FROM change ORDER BY origin, seq"),
        ("articles", """
            SELECT id, url, title, byline, source, published_at, language, body, caption, content_hash, deleted,
                   created_hlc, updated_hlc FROM article ORDER BY id
            """),
        ("annotations", """
            SELECT id, article_id, motivation, exact, prefix, suffix, start, "end", revision, note, color, author,
                   deleted, created_hlc, updated_hlc FROM annotation ORDER BY id
            """),
        ("tags", "SELECT entity_id, tag FROM tag ORDER BY entity_id, tag"),
        ("conflicts", "SELECT id, entity, entity_id, field, kind FROM conflict ORDER BY id"),
        ("replicas", "SELECT id, name FROM replica ORDER BY id"),
    ]

    /// Digests of the replicated state.
    public func digest() throws -> StateDigest {
        try read { db in try Self.digest(db) }
    }

    /// Digests of the replicated state and the version vector, read in one transaction so they
    /// describe the same state.
    public func digestAndVector() throws -> (digest: StateDigest, vector: VersionVector) {
        try read { db in
            var vector = VersionVector()
            for row in try Row.fetchAll(db, sql: "SELECT origin, seq FROM version") { vector[row[0]] = row[1] }
            return (try Self.digest(db), vector)
        }
    }

    /// `PRAGMA integrity_check`: ["ok"] for a sound database file, else SQLite's findings.
    public func integrityCheck() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    private static func digest(_ db: Database) throws -> StateDigest {
        var kinds: [String: String] = [:]
        var counts: [String: Int] = [:]
        for (kind, sql) in Self.digestQueries {
            var hasher = SHA256()
            var count = 0
            let rows = try Row.fetchCursor(db, sql: sql)
            while let row = try rows.next() {
                count += 1
                var line = JSONValue.array(row.databaseValues.map(Self.json)).canonical
                line += "\n"
                hasher.update(Array(line.utf8))
            }
            kinds[kind] = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            counts[kind] = count
        }
        return StateDigest(kinds: kinds, counts: counts)
    }

    private static func json(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: return .null
        case .int64(let i): return .int(i)
        case .double(let d): return .string(String(d))
        case .string(let s): return .string(s)
        case .blob(let b): return .string(b.base64EncodedString())
        }
    }
}
