import Foundation
import GRDB
import GRDBSQLite

/// Keeps the annotation table's anchor columns equal to `Reanchor`'s answer for the current bodies.
///
/// Runs inside every write transaction that changes an article's body or an annotation's target
/// (a local import or edit, or a synced change), so placements are never stale. The old revisions'
/// texts come from the change log: every body an article ever had is a `body` write there, named
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
            byArticle[article] = try rows(db, sql: "WHERE article_id = ?", [.text(article)])
        }
        for id in annotations {
            for row in try rows(db, sql: "WHERE id = ?", [.text(id)]) where !articles.contains(row.articleID) {
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

    static func rows(_ db: Database, sql whereClause: String, _ values: [Statements.Value]) throws -> [Row] {
        var out: [Row] = []
        try Statements(db: db).each(
            """
            SELECT id, article_id, exact, prefix, suffix, start, "end", revision,
                   anchor_state, anchor_start, anchor_end, anchor_score, anchor_method
            FROM annotation \(whereClause)
            """, values
        ) { row in
            guard let article = Statements.optionalText(row, 1), let exact = Statements.optionalText(row, 2) else { return }
            var anchor: AnchorState?
            if let state = Statements.optionalText(row, 8) {
                var placement: Reanchor.Placement?
                if sqlite3_column_type(row, 9) != SQLITE_NULL, sqlite3_column_type(row, 10) != SQLITE_NULL {
                    placement = Reanchor.Placement(
                        start: Int(sqlite3_column_int64(row, 9)), end: Int(sqlite3_column_int64(row, 10)),
                        score: sqlite3_column_double(row, 11),
                        method: Reanchor.Method(rawValue: Statements.optionalText(row, 12) ?? "") ?? .unchanged)
                }
                anchor = state == "anchored" && placement != nil ? .anchored(placement!) : .orphan(best: placement)
            }
            out.append(Row(
                id: Statements.text(row, 0), articleID: article,
                target: TextTarget(
                    exact: exact, prefix: Statements.optionalText(row, 3) ?? "", suffix: Statements.optionalText(row, 4) ?? "",
                    start: Int(sqlite3_column_int64(row, 5)), end: Int(sqlite3_column_int64(row, 6)),
                    revision: Statements.optionalText(row, 7)),
                anchor: anchor))
        }
        return out
    }

    /// The placements of `rows` (annotations of `article`) in its current body, in the order of
    /// `rows`; nil for each when the body is not known yet.
    static func compute(_ db: Database, article: String, rows: [Row], minScore: Double) throws -> [(id: String, anchor: AnchorState?)] {
        guard !rows.isEmpty else { return [] }
        // The hash and length (in code points) decide the usual case without reading the body.
        let statements = Statements(db: db)
        var current: (hash: String?, length: Int)?
        try statements.each(
            "SELECT content_hash, ifnull(body_length, length(body)) FROM article WHERE id = ? AND body IS NOT NULL",
            [.text(article)]
        ) { row in current = (Statements.optionalText(row, 0), Int(sqlite3_column_int64(row, 1))) }
        guard let current else { return rows.map { ($0.id, nil) } }
        var text: String?
        func body() throws -> String {
            if let text { return text }
            var read = ""
            try statements.each("SELECT body FROM article WHERE id = ?", [.text(article)]) { row in read = Statements.text(row, 0) }
            text = read
            return read
        }
        let hash: String = try current.hash ?? ArticleIdentity.sha256Hex(body())
        let length = current.length
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
        for change in try ChangeLog.changes(ofEntity: article, Statements(db: db)) {
            if case .string(let text)? = change.write(of: "body")?.value {
                out[ArticleIdentity.sha256Hex(text)] = text
            }
        }
        return out
    }

    static func store(_ db: Database, _ outcomes: [(id: String, anchor: AnchorState?)]) throws {
        let statements = Statements(db: db)
        for (id, anchor) in outcomes {
            try statements.run(
                """
                UPDATE annotation SET anchor_state = ?, anchor_start = ?, anchor_end = ?, anchor_score = ?, anchor_method = ?
                WHERE id = ?
                """,
                columns(anchor).map { Statements.Value($0.value) } + [.text(id)])
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
