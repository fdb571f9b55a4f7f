import Foundation
import GRDB

/// One annotation's placement before and after re-anchoring.
public struct ReanchorChange: Sendable, Equatable {
    public var annotation: Annotation
    /// As stored (nil when never computed).
    public var before: AnchorState?
    /// As computed now.
    public var after: AnchorState

    /// What happens to the annotation, for reports.
    public enum Kind: String, Sendable {
        /// Same span (or still an orphan).
        case unchanged
        /// Anchored at another span.
        case moved
        /// Its text is gone: becomes an orphan.
        case orphaned
        /// An orphan whose text is found again.
        case reattached
    }

    public var kind: Kind {
        switch (before, after) {
        case (.anchored(let a)?, .anchored(let b)):
            return a.start == b.start && a.end == b.end ? .unchanged : .moved
        case (.orphan?, .orphan): return .unchanged
        case (_, .orphan): return .orphaned
        case (.orphan?, .anchored), (nil, .anchored): return .reattached
        }
    }
}

extension Store {
    /// Re-anchors the annotations of one article (or all) against the current bodies.
    /// - Parameters:
    ///   - articleRef: an article id or unique prefix; nil for every article.
    ///   - minScore: the confidence a placement needs (default: the store's, normally
    ///     `Reanchor.defaultMinScore`); below it an annotation is an orphan.
    ///   - dryRun: report only; otherwise the placements are stored and, when `minScore` is given,
    ///     it becomes this store's threshold for later re-anchoring.
    /// - Returns: Every live annotation considered, with its placement before and after.
    public func reanchor(articleRef: String? = nil, minScore: Double? = nil, dryRun: Bool) throws -> [ReanchorChange] {
        if let minScore, !(0...1).contains(minScore) {
            throw StoreError.invalidArgument("--min-score must be between 0 and 1 (got \(minScore))")
        }
        let article = try articleRef.map { try resolve($0, kinds: [.article]).id }
        func compute(_ db: Database) throws -> [ReanchorChange] {
            let threshold = try minScore ?? Anchoring.minScore(db)
            var sql = """
                SELECT annotation.* FROM annotation JOIN article ON article.id = annotation.article_id
                WHERE annotation.deleted = 0 AND article.deleted = 0 AND annotation.exact IS NOT NULL
                """
            if article != nil { sql += " AND annotation.article_id = ?" }
            let allTags = try tagsByEntity(db)
            var byArticle: [String: [Annotation]] = [:]
            for row in try Row.fetchAll(db, sql: sql, arguments: article.map { [$0] } ?? []) {
                let annotation = Self.annotation(row, tags: allTags[row["id"] as String] ?? [])
                byArticle[annotation.articleID, default: []].append(annotation)
            }
            var changes: [ReanchorChange] = []
            for (articleID, group) in byArticle.sorted(by: { $0.key < $1.key }) {
                let rows = group.map { Anchoring.Row(id: $0.id, articleID: $0.articleID, target: $0.target, anchor: $0.anchor) }
                let outcomes = try Anchoring.compute(db, article: articleID, rows: rows, minScore: threshold)
                for (annotation, outcome) in zip(group, outcomes) {
                    guard let after = outcome.anchor else { continue }
                    changes.append(ReanchorChange(annotation: annotation, before: annotation.anchor, after: after))
                }
            }
            return changes.sorted {
                ($0.annotation.articleID, $0.annotation.target.start, $0.annotation.id)
                    < ($1.annotation.articleID, $1.annotation.target.start, $1.annotation.id)
            }
        }
        if dryRun { return try read(compute) }
        return try writeLocal { db in
            if let minScore {
                try db.execute(
                    sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [Anchoring.minScoreKey, String(minScore)])
            }
            let changes = try compute(db)
            try Anchoring.store(db, changes.map { ($0.annotation.id, $0.after) })
            return changes.map { change in
                var change = change
                change.annotation.anchor = change.after
                return change
            }
        }
    }

    /// The confidence a placement needs in this store (`margin reanchor --min-score`, default 0.7);
    /// an approximate match needs `Reanchor.fuzzyMargin` more.
    public func minimumScore() throws -> (threshold: Double, fuzzyMargin: Double) {
        (try read { db in try Anchoring.minScore(db) }, Reanchor.fuzzyMargin)
    }

    /// Annotations whose text is gone from their article's current body, oldest first.
    public func orphans() throws -> [Annotation] {
        try read { db in
            let allTags = try tagsByEntity(db)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT annotation.* FROM annotation JOIN article ON article.id = annotation.article_id
                    WHERE annotation.anchor_state = 'orphan' AND annotation.deleted = 0 AND article.deleted = 0
                    ORDER BY annotation.created_hlc, annotation.id
                    """
            ).map { Self.annotation($0, tags: allTags[$0["id"] as String] ?? []) }
        }
    }

    /// The texts an article's body has had, newest first: content hash, text, and when it was written.
    public func revisions(of articleID: String) throws -> [(hash: String, body: String, hlc: HLC)] {
        try read { db in
            var seen = Set<String>()
            var out: [(hash: String, body: String, hlc: HLC)] = []
            for change in try ChangeLog.changes(ofEntity: articleID, Statements(db: db)).reversed() {
                guard case .string(let text)? = change.write(of: "body")?.value else { continue }
                let hash = ArticleIdentity.sha256Hex(text)
                if seen.insert(hash).inserted { out.append((hash, text, change.hlc)) }
            }
            return out
        }
    }
}
