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
    /// False for protocol-1 history of another replica, which no key signed (kept unsigned when
    /// the store upgraded): who wrote it cannot be proven.
    public var signed: Bool
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
        // Ids are shown without separators: a ref is hex digits, typed with or without an
        // annotation id's dashes, as `urn:uuid:…` too.
        var digits = ref.lowercased().trimmingCharacters(in: .whitespaces)
        if digits.hasPrefix("urn:uuid:") { digits.removeFirst(9) }
        digits.removeAll { $0 == "-" }
        guard !digits.isEmpty, digits.count <= 32, digits.utf8.allSatisfy(Self.isHexDigit) else {
            throw StoreError.invalidID(ref)
        }
        var found: [ResolvedID] = []
        if kinds.contains(.article) {
            let (low, high) = Self.range(digits)
            found += try String.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id FROM article WHERE id >= ? AND id < ? AND title IS NOT NULL AND body IS NOT NULL\(live) LIMIT 11"),
                arguments: [low, high]
            ).map { ResolvedID(kind: .article, id: $0) }
        }
        if kinds.contains(.annotation) {
            let (low, high) = Self.range(Self.uuidForm(digits))
            found += try String.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id FROM annotation WHERE id >= ? AND id < ? AND article_id IS NOT NULL\(live) LIMIT 11"),
                arguments: [low, high]
            ).map { ResolvedID(kind: .annotation, id: $0) }
        }
        if kinds.contains(.conflict) {
            let (low, high) = Self.range(digits)
            found += try String.fetchAll(
                db.cachedStatement(sql: "SELECT id FROM conflict WHERE id >= ? AND id < ? LIMIT 11"),
                arguments: [low, high]
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

    /// Live articles, newest first by published date, then title; optionally only those with a tag
    /// or source, and one page of them (`limit` nil: all). A page reads only its rows (an index
    /// in that order, Schema/0007), so its cost does not follow the store's size.
    public func articles(tag: String? = nil, source: String? = nil, limit: Int? = nil, offset: Int = 0) throws
        -> [Article]
    {
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
            if limit != nil || offset > 0 {
                sql += " LIMIT ? OFFSET ?"
                arguments += [limit ?? -1, offset]
            }
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let tags = try tagsOf(rows.map { $0["id"] as String }, all: limit == nil && offset == 0, db: db)
            return try rows.map { try Self.article($0, tags: tags[$0["id"] as String] ?? []) }
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
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let tags = try tagsOf(rows.map { $0["id"] as String }, all: articleID == nil, db: db)
            return rows.map { Self.annotation($0, tags: tags[$0["id"] as String] ?? []) }
        }
    }

    /// How many live annotations each of these articles has, and how many of them are orphans.
    public func annotationCounts(articleIDs: [String]) throws -> [String: (annotations: Int, orphans: Int)] {
        try read { db in
            var out: [String: (annotations: Int, orphans: Int)] = [:]
            let statement = try db.cachedStatement(sql: """
                SELECT count(*), coalesce(sum(anchor_state = 'orphan'), 0) FROM annotation
                WHERE article_id = ? AND deleted = 0 AND start IS NOT NULL
                """)
            for id in Set(articleIDs) {
                if let row = try Row.fetchOne(statement, arguments: [id]), (row[0] as Int) > 0 {
                    out[id] = (row[0], row[1])
                }
            }
            return out
        }
    }

    /// One page of a search: the hits, and whether more follow.
    public struct SearchPage: Sendable, Equatable {
        public var hits: [SearchHit]
        /// More hits follow this page (ask again with a larger offset).
        public var more: Bool
    }

    /// Full-text search over article titles and bodies and annotation notes, best first.
    /// - Parameter query: a plain query or query syntax, as `SearchQuery` reads it.
    /// - Throws: `StoreError.invalidArgument` for a malformed query, naming what is wrong.
    public func search(_ query: String, limit: Int = 50) throws -> [SearchHit] {
        try search(query, limit: limit, offset: 0).hits
    }

    /// One page of a search, best first: `limit` hits after the first `offset`. Only the page's
    /// hits get a snippet, so a page costs the ranking of the matches and no more.
    public func search(_ query: String, limit: Int, offset: Int) throws -> SearchPage {
        let parsed = try SearchQuery(query)
        guard limit > 0 else { throw StoreError.invalidArgument("the limit of a search is at least 1") }
        let wanted = offset + limit + 1
        return try read { db in
            do {
                struct Ranked {
                    var kind: SearchHit.Kind
                    var rowid: Int64
                    var id: String
                    var rank: Double
                }
                var ranked: [Ranked] = []
                // Ranked in the index; each candidate, best first, checked live until the page is full.
                if parsed.scope != .notes {
                    let matches = try Row.fetchCursor(
                        db.cachedStatement(sql: """
                            SELECT rowid, bm25(article_fts, 5.0, 1.0) AS rank FROM article_fts
                            WHERE article_fts MATCH ? ORDER BY rank, rowid
                            """), arguments: [parsed.expression])
                    let live = try db.cachedStatement(
                        sql: "SELECT id FROM article INDEXED BY article_state WHERE num = ? AND deleted = 0")
                    var found = 0
                    while found < wanted, let match = try matches.next() {
                        let rowid: Int64 = match[0]
                        guard let id = try String.fetchOne(live, arguments: [rowid]) else { continue }
                        ranked.append(Ranked(kind: .article, rowid: rowid, id: id, rank: match[1]))
                        found += 1
                    }
                }
                if parsed.scope != .articles {
                    let matches = try Row.fetchCursor(
                        db.cachedStatement(sql: """
                            SELECT note_fts.rowid, annotation.id, annotation.article_id, bm25(note_fts) AS rank
                            FROM note_fts JOIN annotation ON annotation.num = note_fts.rowid
                            WHERE note_fts MATCH ? AND annotation.deleted = 0
                            ORDER BY rank, annotation.id
                            """), arguments: [parsed.expression])
                    let live = try db.cachedStatement(
                        sql: "SELECT 1 FROM article INDEXED BY article_id_state WHERE id = ? AND deleted = 0")
                    var found = 0
                    while found < wanted, let match = try matches.next() {
                        let article: String = match[2]
                        guard try Int.fetchOne(live, arguments: [article]) != nil else { continue }
                        ranked.append(Ranked(kind: .note, rowid: match[0], id: match[1], rank: match[3]))
                        found += 1
                    }
                }
                // Best first; equal ranks in a fixed order, so pages never overlap.
                ranked.sort { a, b in
                    if a.rank != b.rank { return a.rank < b.rank }
                    if a.kind != b.kind { return a.kind == .article }
                    return a.rowid < b.rowid
                }
                let page = ranked.dropFirst(offset).prefix(limit)
                let hits = try page.map { hit -> SearchHit in
                    if hit.kind == .article {
                        let row = try Row.fetchOne(
                            db.cachedStatement(sql: """
                                SELECT article.title, snippet(article_fts, -1, '«', '»', '…', 16)
                                FROM article_fts JOIN article ON article.num = article_fts.rowid
                                WHERE article_fts MATCH ? AND article_fts.rowid = ?
                                """), arguments: [parsed.expression, hit.rowid])
                        return SearchHit(kind: .article, articleID: hit.id, annotationID: nil, title: row?[0] ?? "",
                                         snippet: row?[1] ?? "", rank: hit.rank)
                    }
                    let row = try Row.fetchOne(
                        db.cachedStatement(sql: """
                            SELECT annotation.article_id, article.title, snippet(note_fts, 0, '«', '»', '…', 16)
                            FROM note_fts JOIN annotation ON annotation.num = note_fts.rowid
                            JOIN article ON article.id = annotation.article_id
                            WHERE note_fts MATCH ? AND note_fts.rowid = ?
                            """), arguments: [parsed.expression, hit.rowid])
                    return SearchHit(kind: .note, articleID: row?[0] ?? "", annotationID: hit.id, title: row?[1] ?? "",
                                     snippet: row?[2] ?? "", rank: hit.rank)
                }
                return SearchPage(hits: hits, more: ranked.count > offset + limit)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
                // The translation makes only valid FTS5; this is a bug, said as one.
                throw StoreError.invalidArgument(
                    "cannot search for '\(query)' (\(error.message ?? "bad query")); please report it")
            }
        }
    }

    /// The audit log, newest first (by arrival; one entry per field written): every change held,
    /// or those of one entity (by clock).
    public func log(entityID: String? = nil, limit: Int = 100, offset: Int = 0) throws -> [LogEntry] {
        try read { db in
            let statements = Statements(db: db)
            var names: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM replica WHERE name <> ''") { names[row[0]] = row[1] }
            var signedRuns: [String: Bool] = [:]
            func isSigned(_ change: Change) throws -> Bool {
                let key = "\(change.origin):\(change.seq)"
                if let known = signedRuns[key] { return known }
                let signed = try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT run.signature IS NOT NULL FROM run JOIN origin ON origin.num = run.origin
                        WHERE origin.id = ? AND run.first <= ? ORDER BY run.first DESC LIMIT 1
                        """,
                    arguments: [change.origin, change.seq]) ?? false
                signedRuns[key] = signed
                return signed
            }
            var out: [LogEntry] = []
            var skipped = 0
            func add(_ change: Change, signed: Bool) throws -> Bool {
                for write in change.writes.reversed() {
                    if skipped < offset {
                        skipped += 1
                        continue
                    }
                    var previous: JSONValue? = nil
                    if write.supersedes.count == 1,
                       let old = try ChangeLog.change(at: write.supersedes[0], statements)?.write(of: write.field)
                    {
                        previous = old.value
                    }
                    out.append(LogEntry(
                        origin: change.origin, originName: names[change.origin], seq: change.seq, hlc: change.hlc,
                        time: change.hlc.iso8601, entity: change.entity, entityID: change.entityID, field: write.field,
                        value: write.value, previous: previous, signed: signed))
                    if out.count >= limit { return false }
                }
                return true
            }
            guard limit > 0 else { return [] }
            if let entityID {
                for change in try ChangeLog.changes(ofEntity: entityID, statements).reversed() {
                    guard try add(change, signed: isSigned(change)) else { break }
                }
                return out
            }
            let runs = try Row.fetchCursor(
                db, sql: "SELECT run.body, run.signature IS NOT NULL FROM run ORDER BY run.num DESC")
            scan: while let row = try runs.next() {
                let body: [UInt8] = Array(row[0] as Data)
                let run = try RunCodec.decode(body)
                for change in run.changes.reversed() {
                    guard try add(change, signed: row[1]) else { break scan }
                }
            }
            return out
        }
    }

    /// Counts of what the store holds, for status output.
    public func counts() throws -> (articles: Int, annotations: Int, changes: Int, conflicts: Int) {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM article WHERE deleted = 0 AND title IS NOT NULL") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM annotation WHERE deleted = 0 AND article_id IS NOT NULL") ?? 0,
             try Int.fetchOne(db, sql: "SELECT ifnull(sum(seq), 0) FROM origin") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM conflict") ?? 0)
        }
    }

    func tags(_ id: String, db: Database) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT tag FROM tag WHERE entity_id = ? ORDER BY tag"), arguments: [id])
    }

    /// Every tag in use, in order.
    public func tagNames() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT DISTINCT tag FROM tag ORDER BY tag") }
    }

    /// The tags of these entities: read per entity for a few, in one pass for `all`.
    func tagsOf(_ ids: [String], all: Bool, db: Database) throws -> [String: [String]] {
        if all && ids.count > 200 { return try tagsByEntity(db) }
        var out: [String: [String]] = [:]
        for id in ids where out[id] == nil {
            let tags = try tags(id, db: db)
            if !tags.isEmpty { out[id] = tags }
        }
        return out
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
    /// How many hex digits (an annotation id's dashes not counted) name each of `ids` uniquely
    /// among every id the store holds (articles, annotations, conflicts, deleted ones too), at
    /// least `minimum`. As Git abbreviates: from each id's neighbours in the sorted indexes, a few
    /// index lookups per id, never a scan of every id.
    public func uniquePrefixLengths(_ ids: [String], minimum: Int = 8) throws -> [String: Int] {
        // Thousands of ids (a whole listing): one sorted pass over every id costs less than
        // six lookups each.
        if ids.count > 2_000 { return try uniquePrefixLengthsByScan(ids, minimum: minimum) }
        return try read { db in
            var out: [String: Int] = [:]
            // Each table's neighbours of the id, in one statement (annotation ids in their UUID layout);
            // an empty table has none (a store of imported articles has no annotation or conflict yet).
            let statements = Statements(db: db)
            var tables: [String] = []
            for table in ["article", "annotation", "conflict"]
            where try statements.exists("SELECT 1 FROM \(table) LIMIT 1", []) {
                tables.append(table)
            }
            let query: String = "SELECT " + tables.map { table in
                let key = table == "annotation" ? "?2" : "?1"
                return "(SELECT id FROM \(table) WHERE id < \(key) ORDER BY id DESC LIMIT 1), "
                    + "(SELECT id FROM \(table) WHERE id > \(key) ORDER BY id LIMIT 1)"
            }.joined(separator: ", ")
            for id in ids where out[id] == nil {
                let digits = String(decoding: id.utf8.filter { $0 != UInt8(ascii: "-") }, as: UTF8.self)
                var length = minimum
                let keys: [Statements.Value] =
                    tables.contains("annotation") ? [.text(digits), .text(Self.uuidForm(digits))] : [.text(digits)]
                if !tables.isEmpty {
                    try statements.each(query, keys) { row in
                        for column in CInt(0)..<CInt(2 * tables.count) {
                            guard let neighbour = Statements.optionalText(row, column) else { continue }
                            let other = neighbour.utf8.filter { $0 != UInt8(ascii: "-") }
                            let common = zip(digits.utf8, other).prefix { $0 == $1 }.count
                            length = max(length, common + 1)
                        }
                    }
                }
                out[id] = min(length, digits.count)
            }
            return out
        }
    }

    private func uniquePrefixLengthsByScan(_ ids: [String], minimum: Int) throws -> [String: Int] {
        let all = try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM article UNION ALL SELECT id FROM annotation UNION ALL SELECT id FROM conflict")
        }.map { Array($0.utf8.filter { $0 != UInt8(ascii: "-") }) }.sorted { $0.lexicographicallyPrecedes($1) }
        func common(_ a: [UInt8], _ b: [UInt8]) -> Int { zip(a, b).prefix { $0 == $1 }.count }
        var out: [String: Int] = [:]
        for id in ids where out[id] == nil {
            let digits = Array(id.utf8.filter { $0 != UInt8(ascii: "-") })
            // The first index not below `digits`: the id itself when held, else its successor.
            var low = 0, high = all.count
            while low < high {
                let mid = (low + high) / 2
                if all[mid].lexicographicallyPrecedes(digits) { low = mid + 1 } else { high = mid }
            }
            var length = minimum
            if low > 0 { length = max(length, common(all[low - 1], digits) + 1) }
            var next = low
            while next < all.count, all[next] == digits { next += 1 }
            if next < all.count { length = max(length, common(all[next], digits) + 1) }
            out[id] = min(length, digits.count)
        }
        return out
    }

    /// The id a user types for `id`: its first `length` hex digits, dashes left out.
    public static func shortID(_ id: String, length: Int) -> String {
        // An ASCII id (every id the store makes) is cut on its bytes: one character each.
        if id.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: Array(id.utf8.lazy.filter { $0 != UInt8(ascii: "-") }.prefix(length)), as: UTF8.self)
        }
        return String(id.lazy.filter { $0 != "-" }.prefix(length))
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// Hex digits in an annotation id's layout (8-4-4-4-12): dashes where its digits reach them.
    static func uuidForm(_ digits: String) -> String {
        if digits.utf8.allSatisfy({ $0 < 0x80 }) {
            var out: [UInt8] = []
            out.reserveCapacity(digits.utf8.count + 4)
            for (i, c) in digits.utf8.enumerated() {
                if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
                out.append(c)
            }
            return String(decoding: out, as: UTF8.self)
        }
        var out = ""
        for (i, c) in digits.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append("-") }
            out.append(c)
        }
        return out
    }

    /// The ids that start with `prefix`: `prefix` up to, not including, the next possible prefix
    /// (ids use 0-9, a-f and '-', all below 'g').
    static func range(_ prefix: String) -> (String, String) { (prefix, prefix + "g") }
}
