import Foundation
import GRDB

/// Keeps the annotation table's anchor columns equal to `Reanchor`'s answer for the current bodies.
///
/// Runs inside every write transaction that changes an article's body or an annotation's target
/// (a local import or edit, or a synced change), so placements are never stale. The old revisions'
/// texts come from the change log: every body an article ever had is a `body` change there, named
/// by its SHA-256 (the annotation's `revision`).
enum Anchoring {
    /// The meta key of this store's re-anchoring threshold (`margin reanchor --min-score`).
    static let minScoreKey = "reanchor_min_score"

    static func minScore(_ db: Database) throws -> Double {
        if let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [minScoreKey]),
            let value = Double(text)
        {
            return value
        }
        return Reanchor.defaultMinScore
    }

    /// One annotation's stored target, as re-anchoring needs it.
    struct Row {
        var id: String
        var articleID: String
        var target: TextTarget
        var anchor: AnchorState?
    }

    /// Recomputes and stores the placement of every annotation of `articles` and of `annotations`.
    static func refresh(_ db: Database, articles: Set<String>, annotations: Set<String>) throws {
        guard !articles.isEmpty || !annotations.isEmpty else { return }
        var byArticle: [String: [Row]] = [:]
        for article in articles {
            byArticle[article] = try rows(db, sql: "WHERE article_id = ?", [article])
        }
        for id in annotations {
            for row in try rows(db, sql: "WHERE id = ?", [id]) where !articles.contains(row.articleID) {
                byArticle[row.articleID, default: []].append(row)
            }
        }
        let threshold = try minScore(db)
        for (article, rows) in byArticle {
            let outcomes = try compute(db, article: article, rows: rows, minScore: threshold)
            try store(db, outcomes)
        }
    }

    /// Recomputes every annotation's placement (after a migration, or with a new threshold).
    static func refreshAll(_ db: Database) throws {
        let articles = try String.fetchAll(db, sql: "SELECT DISTINCT article_id FROM annotation WHERE article_id IS NOT NULL")
        try refresh(db, articles: Set(articles), annotations: [])
    }

    static func rows(_ db: Database, sql whereClause: String, _ arguments: StatementArguments) throws -> [Row] {
        let statement = try db.cachedStatement(sql: """
            SELECT id, article_id, exact, prefix, suffix, start, "end", revision,
                   anchor_state, anchor_start, anchor_end, anchor_score, anchor_method
            FROM annotation \(whereClause)
            """)
        return try GRDB.Row.fetchAll(statement, arguments: arguments).compactMap { row in
            guard let article: String = row["article_id"], let exact: String = row["exact"] else { return nil }
            return Row(
                id: row["id"], articleID: article,
                target: TextTarget(
                    exact: exact, prefix: row["prefix"] ?? "", suffix: row["suffix"] ?? "",
                    start: row["start"] ?? 0, end: row["end"] ?? 0, revision: row["revision"]),
                anchor: Store.anchor(row))
        }
    }

    /// The placements of `rows` (annotations of `article`) in its current body, in the order of
    /// `rows`; nil for each when the body is not known yet.
    static func compute(_ db: Database, article: String, rows: [Row], minScore: Double) throws -> [(id: String, anchor: AnchorState?)] {
        guard !rows.isEmpty else { return [] }
        // The hash and length (SQLite counts code points) decide the usual case without reading
        // the body into memory.
        guard let current = try GRDB.Row.fetchOne(
            db.cachedStatement(sql: "SELECT content_hash, length(body) FROM article WHERE id = ? AND body IS NOT NULL"),
            arguments: [article])
        else {
            return rows.map { ($0.id, nil) }
        }
        var text: String?
        func body() throws -> String {
            if let text { return text }
            let read = try String.fetchOne(
                db.cachedStatement(sql: "SELECT body FROM article WHERE id = ?"), arguments: [article]) ?? ""
            text = read
            return read
        }
        let hash: String = try current[0] ?? ArticleIdentity.sha256Hex(body())
        let length: Int = current[1]
        var result: [AnchorState?] = Array(repeating: nil, count: rows.count)
        var pending: [String?: [Int]] = [:]
        for (i, row) in rows.enumerated() {
            // Made on the current body (and its offsets within it): it is where it says.
            let t = row.target
            if t.revision == hash, 0 <= t.start, t.start < t.end, t.end <= length {
                result[i] = .anchored(.init(start: t.start, end: t.end, score: 1, method: .unchanged))
            } else {
                pending[t.revision, default: []].append(i)
            }
        }
        if !pending.isEmpty {
            let revisions = try revisionTexts(db, article: article)
            for (revision, group) in pending {
                let old = revision.flatMap { revisions[$0] }
                let outcomes = Reanchor.locate(group.map { rows[$0].target }, oldBody: old, newBody: try body(), minScore: minScore)
                for (i, outcome) in zip(group, outcomes) { result[i] = AnchorState(outcome) }
            }
        }
        return zip(rows, result).map { ($0.id, $1) }
    }

    /// Every body the article has had, by content hash, from the change log.
    static func revisionTexts(_ db: Database, article: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let values = try String.fetchAll(
            db.cachedStatement(sql: "SELECT value FROM change WHERE entity_id = ? AND field = 'body'"), arguments: [article])
        for value in values {
            if case .string(let text)? = try? JSONValue.parse(value) {
                out[ArticleIdentity.sha256Hex(text)] = text
            }
        }
        return out
    }

    static func store(_ db: Database, _ outcomes: [(id: String, anchor: AnchorState?)]) throws {
        let statement = try db.cachedStatement(sql: """
            UPDATE annotation SET anchor_state = ?, anchor_start = ?, anchor_end = ?, anchor_score = ?, anchor_method = ?
            WHERE id = ?
            """)
        for (id, anchor) in outcomes {
            try statement.execute(arguments: StatementArguments(columns(anchor).map(\.value) + [id.databaseValue]))
        }
    }

    /// The anchor columns of an annotation row for a placement (all NULL for none).
    static func columns(_ anchor: AnchorState?) -> [(column: String, value: DatabaseValue)] {
        var state: String?
        var placement: Reanchor.Placement?
        switch anchor {
        case .anchored(let p)?:
            state = "anchored"
            placement = p
        case .orphan(let best)?:
            state = "orphan"
            placement = best
        case nil:
            break
        }
        return [
            ("anchor_state", state.databaseValue), ("anchor_start", placement?.start.databaseValue ?? .null),
            ("anchor_end", placement?.end.databaseValue ?? .null),
            ("anchor_score", placement.map { (($0.score * 1000).rounded() / 1000).databaseValue } ?? .null),
            ("anchor_method", placement?.method.rawValue.databaseValue ?? .null),
        ]
    }
}
