import Foundation
import GRDB

/// The kinds of record a user can name by id.
public enum RecordKind: String, Codable, Sendable {
    case article, annotation, conflict

    var entity: EntityKind { self == .annotation ? .annotation : .article }
}

/// A record named by a full id.
public struct ResolvedID: Sendable, Equatable {
    public var kind: RecordKind
    public var id: String
}

/// A full-text search result.
public struct SearchHit: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case article, note }
    public var kind: Kind
    public var articleID: String
    public var annotationID: String?
    public var title: String
    /// Matching text with the matches between « and ».
    public var snippet: String
    /// bm25: lower is better.
    public var rank: Double
}

/// One change as the audit log shows it.
public struct LogEntry: Codable, Sendable, Equatable {
    public var origin: String
    public var originName: String?
    public var seq: Int64
    public var hlc: HLC
    public var time: String
    public var entity: EntityKind
    public var entityID: String
    public var field: String
    public var value: JSONValue
    /// The value this write replaced, when the author saw exactly one.
    public var previous: JSONValue?
}

extension Store {
    /// Finds the one record whose id starts with `ref`.
    public func resolve(_ ref: String, kinds: Set<RecordKind>, includeDeleted: Bool = false) throws -> ResolvedID {
        try read { db in try resolveID(ref, kinds: kinds, includeDeleted: includeDeleted, db: db) }
    }

    /// - Parameter includeDeleted: also match deleted articles and annotations (for the audit log).
    func resolveID(_ ref: String, kinds: Set<RecordKind>, includeDeleted: Bool = false, db: Database) throws
        -> ResolvedID
    {
        let live = includeDeleted ? "" : " AND deleted = 0"
        // Ids are lowercase hex and '-': a ref that is already one needs no normalizing.
        let isID = !ref.isEmpty && ref.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D }
        let prefix = isID ? ref : ref.lowercased().trimmingCharacters(in: .whitespaces)
            .replacingOccurrences(of: "urn:uuid:", with: "")
        guard isID || !prefix.isEmpty && prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw StoreError.invalidID(ref)
        }
        var found: [ResolvedID] = []
        let upper = prefix + "g"  // ids use 0-9, a-f and '-', all below 'g'
        if kinds.contains(.article) {
            found += try String.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id FROM article WHERE id >= ? AND id < ? AND title IS NOT NULL AND body IS NOT NULL\(live) LIMIT 11"),
                arguments: [prefix, upper]
            ).map { ResolvedID(kind: .article, id: $0) }
        }
        if kinds.contains(.annotation) {
            found += try String.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id FROM annotation WHERE id >= ? AND id < ? AND article_id IS NOT NULL\(live) LIMIT 11"),
                arguments: [prefix, upper]
            ).map { ResolvedID(kind: .annotation, id: $0) }
        }
        if kinds.contains(.conflict) {
            found += try String.fetchAll(
                db, sql: "SELECT id FROM conflict WHERE id >= ? AND id < ? LIMIT 11", arguments: [prefix, upper]
            ).map { ResolvedID(kind: .conflict, id: $0) }
        }
        if found.count == 1 { return found[0] }
        if found.isEmpty, !includeDeleted {
            // Name a deleted record as deleted rather than unknown.
            if let deleted = try? resolveID(ref, kinds: kinds.subtracting([.conflict]), includeDeleted: true, db: db) {
                throw StoreError.deleted(kind: deleted.kind.rawValue, id: deleted.id)
            }
        }
        if found.isEmpty {
            if kinds == [.article] { throw StoreError.invalidArgument("no article has an id starting with '\(ref)'; see `margin list`") }
            if kinds == [.annotation] {
                throw StoreError.invalidArgument("no annotation has an id starting with '\(ref)'; see `margin annotations`")
            }
            if kinds == [.conflict] { throw StoreError.invalidArgument("no conflict has an id starting with '\(ref)'; see `margin conflicts`") }
            throw StoreError.unknownID(ref)
        }
        throw StoreError.ambiguousID(ref, candidates: found.prefix(10).map { "\($0.kind.rawValue) \($0.id)" })
    }

    /// One article by full id.
    public func article(_ id: String) throws -> Article {
        try read { db in try fetchArticle(id, db: db) }
    }

    /// One annotation by full id.
    public func annotation(_ id: String) throws -> Annotation {
        try read { db in try fetchAnnotation(id, db: db) }
    }

    func fetchArticle(_ id: String, db: Database) throws -> Article {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM article WHERE id = ? AND title IS NOT NULL AND body IS NOT NULL"),
            arguments: [id])
        else { throw StoreError.notFound(kind: "article", id: id) }
        if row["deleted"] as Int64 != 0 { throw StoreError.deleted(kind: "article", id: id) }
        return try Self.article(row, tags: tags(id, db: db))
    }

    func fetchAnnotation(_ id: String, db: Database) throws -> Annotation {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM annotation WHERE id = ? AND article_id IS NOT NULL"), arguments: [id])
        else { throw StoreError.notFound(kind: "annotation", id: id) }
        if row["deleted"] as Int64 != 0 { throw StoreError.deleted(kind: "annotation", id: id) }
        return Self.annotation(row, tags: try tags(id, db: db))
    }

    /// Live articles, newest first by published date, then title; optionally only those with a tag or source.
    public func articles(tag: String? = nil, source: String? = nil) throws -> [Article] {
        try read { db in
            var sql = "SELECT * FROM article WHERE deleted = 0 AND title IS NOT NULL AND body IS NOT NULL"
            var arguments: StatementArguments = []
            if let tag {
                sql += " AND id IN (SELECT entity_id FROM tag WHERE tag = ?)"
                arguments += [tag]
            }
            if let source {
                sql += " AND source = ? COLLATE NOCASE"
                arguments += [source]
            }
            sql += " ORDER BY published_at DESC, title, id"
            let allTags = try tagsByEntity(db)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                try Self.article($0, tags: allTags[$0["id"] as String] ?? [])
            }
        }
    }

    /// Live annotations of live articles (of one article when given), in body order.
    public func annotations(articleID: String? = nil) throws -> [Annotation] {
        try read { db in
            var sql = """
                SELECT annotation.* FROM annotation JOIN article ON article.id = annotation.article_id
                WHERE annotation.deleted = 0 AND article.deleted = 0 AND annotation.start IS NOT NULL
                """
            var arguments: StatementArguments = []
            if let articleID {
                sql += " AND annotation.article_id = ?"
                arguments += [articleID]
            }
            sql += " ORDER BY article.id, COALESCE(annotation.anchor_start, annotation.start), annotation.\"end\", annotation.id"
            let allTags = try tagsByEntity(db)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                Self.annotation($0, tags: allTags[$0["id"] as String] ?? [])
            }
        }
    }

    /// Full-text search over article titles and bodies and annotation notes, best first.
    /// - Throws: `StoreError.invalidArgument` for a query FTS5 cannot parse.
    public func search(_ query: String, limit: Int = 50) throws -> [SearchHit] {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreError.invalidArgument("the search query is empty") }
        // A plain query is matched word by word; FTS5 syntax (quotes, AND/OR/NOT, prefix*) is kept.
        let pattern = trimmed
        return try read { db in
            do {
                let articles = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT article.id, article.title,
                               snippet(article_fts, 1, '«', '»', '…', 16) AS snippet, bm25(article_fts, 5.0, 1.0) AS rank
                        FROM article_fts JOIN article ON article.num = article_fts.rowid
                        WHERE article_fts MATCH ? AND article.deleted = 0
                        ORDER BY rank LIMIT ?
                        """, arguments: [pattern, limit]
                ).map {
                    SearchHit(kind: .article, articleID: $0["id"], annotationID: nil, title: $0["title"],
                              snippet: $0["snippet"], rank: $0["rank"])
                }
                let notes = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT annotation.id, annotation.article_id, article.title,
                               snippet(note_fts, 0, '«', '»', '…', 16) AS snippet, bm25(note_fts) AS rank
                        FROM note_fts JOIN annotation ON annotation.num = note_fts.rowid
                        JOIN article ON article.id = annotation.article_id
                        WHERE note_fts MATCH ? AND annotation.deleted = 0 AND article.deleted = 0
                        ORDER BY rank LIMIT ?
                        """, arguments: [pattern, limit]
                ).map {
                    SearchHit(kind: .note, articleID: $0["article_id"], annotationID: $0["id"], title: $0["title"],
                              snippet: $0["snippet"], rank: $0["rank"])
                }
                return Array((articles + notes).sorted { ($0.rank, $0.articleID) < ($1.rank, $1.articleID) }.prefix(limit))
            } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
                throw StoreError.invalidArgument(
                    "cannot search for \(query): \(error.message ?? "bad query"); put phrases in double quotes")
            }
        }
    }

    /// The audit log, newest first: every change held, or those of one entity.
    public func log(entityID: String? = nil, limit: Int = 100) throws -> [LogEntry] {
        try read { db in
            var sql = "SELECT change.*, replica.name AS origin_name FROM change LEFT JOIN replica ON replica.id = change.origin"
            var arguments: StatementArguments = []
            if let entityID {
                sql += " WHERE change.entity_id = ?"
                arguments += [entityID]
            }
            sql += " ORDER BY change.hlc DESC, change.origin DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let dots = try WriteContext.decodeDots(row["supersedes"])
                var previous: JSONValue? = nil
                if dots.count == 1, let text = try String.fetchOne(
                    db, sql: "SELECT value FROM change WHERE origin = ? AND seq = ?",
                    arguments: [dots[0].origin, dots[0].seq])
                {
                    previous = try JSONValue.parse(text)
                }
                let hlc = HLC(rawValue: row["hlc"])
                return LogEntry(
                    origin: row["origin"], originName: row["origin_name"], seq: row["seq"], hlc: hlc, time: hlc.iso8601,
                    entity: EntityKind(rawValue: row["entity"]) ?? .article, entityID: row["entity_id"],
                    field: row["field"], value: try JSONValue.parse(row["value"]), previous: previous)
            }
        }
    }

    /// Counts of what the store holds, for status output.
    public func counts() throws -> (articles: Int, annotations: Int, changes: Int, conflicts: Int) {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM article WHERE deleted = 0 AND title IS NOT NULL") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM annotation WHERE deleted = 0 AND article_id IS NOT NULL") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM change") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM conflict") ?? 0)
        }
    }

    func tags(_ id: String, db: Database) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT tag FROM tag WHERE entity_id = ? ORDER BY tag"), arguments: [id])
    }

    func tagsByEntity(_ db: Database) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT entity_id, tag FROM tag ORDER BY entity_id, tag") {
            out[row[0], default: []].append(row[1])
        }
        return out
    }

    static func article(_ row: Row, tags: [String]) throws -> Article {
        Article(
            id: row["id"], url: row["url"], title: row["title"], byline: row["byline"], source: row["source"],
            publishedAt: row["published_at"], language: row["language"], body: row["body"], caption: row["caption"],
            contentHash: row["content_hash"] ?? "", tags: tags, createdAt: HLC(rawValue: row["created_hlc"]),
            updatedAt: HLC(rawValue: row["updated_hlc"]))
    }

    static func annotation(_ row: Row, tags: [String]) -> Annotation {
        Annotation(
            id: row["id"], articleID: row["article_id"],
            motivation: Motivation(rawValue: row["motivation"] ?? "") ?? .highlighting,
            target: TextTarget(
                exact: row["exact"] ?? "", prefix: row["prefix"] ?? "", suffix: row["suffix"] ?? "",
                start: row["start"] ?? 0, end: row["end"] ?? 0, revision: row["revision"]),
            note: row["note"], color: row["color"], tags: tags, author: row["author"] ?? "",
            createdAt: HLC(rawValue: row["created_hlc"]), updatedAt: HLC(rawValue: row["updated_hlc"]),
            anchor: anchor(row))
    }

    static func anchor(_ row: Row) -> AnchorState? {
        guard let state: String = row["anchor_state"] else { return nil }
        var placement: Reanchor.Placement?
        if let start: Int = row["anchor_start"], let end: Int = row["anchor_end"] {
            placement = Reanchor.Placement(
                start: start, end: end, score: row["anchor_score"] ?? 0,
                method: Reanchor.Method(rawValue: row["anchor_method"] ?? "") ?? .unchanged)
        }
        if state == "anchored", let placement { return .anchored(placement) }
        return .orphan(best: placement)
    }
}

extension Store {
    /// The shortest prefix (at least `minimum` characters) that names each id unambiguously,
    /// like git's abbreviated hashes. Annotation ids are time-ordered, so ids made in the same
    /// minute share their first 8 characters and need a longer prefix.
    public func abbreviations(minimum: Int = 8) throws -> [String: String] {
        let ids = try read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM article WHERE title IS NOT NULL
                UNION SELECT id FROM annotation WHERE article_id IS NOT NULL
                UNION SELECT id FROM conflict ORDER BY 1
                """)
        }
        func common(_ a: String, _ b: String) -> Int {
            zip(a, b).prefix { $0 == $1 }.count
        }
        var out: [String: String] = [:]
        for (i, id) in ids.enumerated() {
            var length = minimum
            if i > 0 { length = max(length, common(ids[i - 1], id) + 1) }
            if i + 1 < ids.count { length = max(length, common(ids[i + 1], id) + 1) }
            out[id] = String(id.prefix(length))
        }
        return out
    }
}
