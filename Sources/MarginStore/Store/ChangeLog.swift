import Foundation
import GRDB
import GRDBSQLite

/// A page of runs a peer lacks.
public struct RunPage: Sendable {
    public var runs: [SignedRun]
    /// True when more runs remain after this page.
    public var more: Bool

    public init(runs: [SignedRun], more: Bool) {
        self.runs = runs
        self.more = more
    }

    /// Number of changes in the page.
    public var changeCount: Int { runs.reduce(0) { $0 + $1.count } }
}

/// Reads and appends the change log: the `run` table.
enum ChangeLog {
    /// Appends a run (its origin's row already exists).
    static func insert(_ run: SignedRun, originNum: Int64, hlc: Int64, _ statements: Statements) throws {
        try statements.run(
            "INSERT INTO run(origin, first, last, hlc, hash, signature, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [.int(originNum), .int(run.first), .int(run.last), .int(hlc), .blob(run.hash),
             run.signature.map { .blob($0) } ?? .null, .blob(run.body)])
    }

    /// The change named by `dot`, from the log or from `pending` (this transaction's own changes
    /// not signed yet); nil when not held.
    static func change(at dot: Dot, _ statements: Statements, pending: [Change] = []) throws -> Change? {
        if let change = pending.first(where: { $0.origin == dot.origin && $0.seq == dot.seq }) { return change }
        var found: Change?
        try statements.each(
            """
            SELECT run.first, run.last, run.body FROM run JOIN origin ON origin.num = run.origin
            WHERE origin.id = ? AND run.first <= ? ORDER BY run.first DESC LIMIT 1
            """,
            [.text(dot.origin), .int(dot.seq)]
        ) { row in
            guard dot.seq <= sqlite3_column_int64(row, 1) else { return }
            found = try Statements.withBlob(row, 2) { try RunCodec.change(dot.seq, in: $0) }
        }
        return found
    }

    /// Every change held that wrote the entity `id`, oldest first by clock.
    static func changes(ofEntity id: String, _ statements: Statements) throws -> [Change] {
        var dots: [Dot] = []
        try statements.each(
            """
            SELECT origin.id, entity_change.seq FROM entity_change JOIN origin ON origin.num = entity_change.origin
            WHERE entity_change.entity_id = ?
            """,
            [.text(id)]
        ) { row in dots.append(Dot(origin: Statements.text(row, 0), seq: sqlite3_column_int64(row, 1))) }
        return try dots.compactMap { try change(at: $0, statements) }
            .sorted { ($0.hlc, $0.origin, $0.seq) < ($1.hlc, $1.origin, $1.seq) }
    }

    /// The held run of `origin` that contains `seq`.
    static func run(of originNum: Int64, containing seq: Int64, _ statements: Statements) throws -> StoredRun? {
        var found: StoredRun?
        try statements.each(
            """
            SELECT num, first, last, hash, signature, body FROM run WHERE origin = ? AND first <= ?
            ORDER BY first DESC LIMIT 1
            """,
            [.int(originNum), .int(seq)]
        ) { row in
            guard seq <= sqlite3_column_int64(row, 2) else { return }
            found = StoredRun(
                num: sqlite3_column_int64(row, 0), first: sqlite3_column_int64(row, 1), last: sqlite3_column_int64(row, 2),
                hash: Statements.blob(row, 3) ?? [], signature: Statements.blob(row, 4), body: Statements.blob(row, 5) ?? [])
        }
        return found
    }

    /// A run as the log row holds it.
    struct StoredRun {
        var num: Int64
        var first: Int64
        var last: Int64
        var hash: [UInt8]
        var signature: [UInt8]?
        var body: [UInt8]
    }

    /// The runs held here that a peer at `vector` lacks, in the order they arrived here (a causal
    /// order), as many as fit `limit` changes and about `maxBytes` bytes (at least one run).
    /// A run is shipped whole, so one that starts below the peer's seq (protocol-1 history cut
    /// elsewhere) is sent whole too; the peer skips what it holds.
    static func page(after vector: VersionVector, limit: Int, maxBytes: Int, excluding: Set<String> = [], _ db: Database)
        throws -> RunPage
    {
        let statements = Statements(db: db)
        // Per origin, the runs the peer lacks, by arrival; merged by arrival below.
        var candidates: [(num: Int64, origin: String, count: Int, bytes: Int)] = []
        var origins: [(num: Int64, id: String, seq: Int64, key: [UInt8]?)] = []
        try statements.each("SELECT num, id, seq, key FROM origin WHERE seq > 0", []) { row in
            origins.append((sqlite3_column_int64(row, 0), Statements.text(row, 1), sqlite3_column_int64(row, 2),
                            Statements.blob(row, 3)))
        }
        var keys: [Int64: [UInt8]] = [:]
        var ids: [Int64: String] = [:]
        for origin in origins where origin.seq > vector[origin.id] && !excluding.contains(origin.id) {
            keys[origin.num] = origin.key
            ids[origin.num] = origin.id
            try statements.each(
                """
                SELECT num, last - first + 1, length(body) FROM run WHERE origin = ? AND last > ?
                ORDER BY first LIMIT ?
                """,
                [.int(origin.num), .int(vector[origin.id]), .int(Int64(limit) + 1)]
            ) { row in
                candidates.append((sqlite3_column_int64(row, 0), origin.id, Int(sqlite3_column_int64(row, 1)),
                                   Int(sqlite3_column_int64(row, 2))))
            }
        }
        candidates.sort { $0.num < $1.num }
        var chosen: [(num: Int64, origin: String, count: Int, bytes: Int)] = []
        var changes = 0
        var bytes = 0
        for candidate in candidates {
            if !chosen.isEmpty, changes + candidate.count > limit || bytes + candidate.bytes > maxBytes { break }
            chosen.append(candidate)
            changes += candidate.count
            bytes += candidate.bytes
        }
        var runs: [SignedRun] = []
        runs.reserveCapacity(chosen.count)
        for (num, _, _, _) in chosen {
            try statements.each("SELECT origin, first, last, hash, signature, body FROM run WHERE num = ?", [.int(num)]) { row in
                let origin = sqlite3_column_int64(row, 0)
                let signature = Statements.blob(row, 4)
                runs.append(SignedRun(
                    origin: ids[origin] ?? "", first: sqlite3_column_int64(row, 1), last: sqlite3_column_int64(row, 2),
                    body: Statements.blob(row, 5) ?? [], hash: Statements.blob(row, 3) ?? [],
                    key: signature == nil ? nil : keys[origin], signature: signature))
            }
        }
        // More remain when the peer, holding this page too, would still lack some of an origin.
        var after = vector
        for run in runs { after[run.origin] = max(after[run.origin], run.last) }
        let more = origins.contains { $0.seq > after[$0.id] && !excluding.contains($0.id) }
        return RunPage(runs: runs, more: more)
    }
}
