import Foundation
import GRDB
import GRDBSQLite

/// What importing one article did.
public struct ImportOutcome: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// A new article.
        case created
        /// A known article whose fields changed (a new body is a new revision).
        case updated
        /// A known article, nothing changed: no change recorded.
        case unchanged
        /// A deleted article imported again.
        case restored
    }

    public var id: String
    public var title: String
    public var status: Status
    /// Number of field changes recorded.
    public var changes: Int
}

/// How a highlight names its passage.
public enum Anchor: Sendable, Equatable {
    case quote(exact: String, prefix: String?, suffix: String?)
    case position(start: Int, end: Int)
}

extension Store {
    /// Imports articles in one transaction. An article already held with the same fields records
    /// nothing; changed fields (a corrected body, say) are recorded as new writes.
    public func importArticles(_ articles: [ImportedArticle]) throws -> [ImportOutcome] {
        try write { context in
            var outcomes: [ImportOutcome] = []
            for article in articles {
                outcomes.append(try importArticle(article, &context))
            }
            return outcomes
        }
    }

    private func importArticle(_ article: ImportedArticle, _ context: inout WriteContext) throws -> ImportOutcome {
        let title = article.title.trimmed()
        let body = article.body.trimmed()
        guard !title.isEmpty else { throw StoreError.invalidArgument("an article has no title; give it one") }
        guard !body.isEmpty else { throw StoreError.invalidArgument("the article \"\(title)\" has no body text") }
        let url = article.url.flatMap(ArticleIdentity.canonicalURL)
        let id = url.map(ArticleIdentity.id(canonicalURL:)) ?? ArticleIdentity.id(url: nil, title: title, body: body)
        let fields: [(String, String?)] = [
            ("url", url), ("title", title), ("byline", article.byline), ("source", article.source),
            ("published_at", article.publishedAt), ("language", article.language), ("body", body),
            ("caption", article.caption),
        ]
        // The row's fields, in the order of `fields`, and its deleted flag.
        var row: (values: [String?], deleted: Bool)?
        try context.statements.each(
            "SELECT url, title, byline, source, published_at, language, body, caption, deleted FROM article WHERE id = ?",
            [.text(id)]
        ) { statement in
            row = ((0..<8).map { Statements.optionalText(statement, CInt($0)) }, sqlite3_column_int64(statement, 8) != 0)
        }
        let exists = row?.values[1] != nil
        let wasDeleted = row?.deleted ?? false
        // No row: no replica has written this article yet (rows come with the first change held).
        if row == nil { context.created(id) }
        var written = 0
        for (index, (field, value)) in fields.enumerated() {
            guard let value, !value.isEmpty else { continue }
            if let row, row.values[index] == value { continue }
            try context.write(.article, id, field, .string(value))
            written += 1
        }
        if wasDeleted {
            try context.write(.article, id, "deleted", .bool(false))
            written += 1
        }
        let status: ImportOutcome.Status =
            wasDeleted ? .restored : !exists ? .created : written > 0 ? .updated : .unchanged
        return ImportOutcome(id: id, title: title, status: status, changes: written)
    }

    /// Highlights a passage of an article.
    /// - Parameters:
    ///   - articleRef: the article's id or a unique prefix of it.
    ///   - anchor: the quote (with context to single it out) or the code-point positions.
    /// - Returns: the new annotation.
    /// - Throws: unknown or ambiguous ids, a quote that does not occur or occurs more than once,
    ///   positions outside the body. Nothing is written then.
    public func highlight(
        articleRef: String, anchor: Anchor, note: String? = nil, tags: [String] = [], color: String? = nil
    ) throws -> Annotation {
        let request = try HighlightRequest(articleRef: articleRef, anchor: anchor, note: note, tags: tags, color: color)
            .validated()
        var articles: [String: HighlightedArticle] = [:]
        let id = try write { context in try writeHighlight(request, &context, &articles) }
        return try annotation(id)
    }

    /// One highlight to make: what `highlight(articleRef:anchor:note:tags:color:)` takes.
    public struct HighlightRequest: Sendable, Equatable {
        public var articleRef: String
        public var anchor: Anchor
        public var note: String?
        public var tags: [String]
        public var color: String?

        public init(articleRef: String, anchor: Anchor, note: String? = nil, tags: [String] = [], color: String? = nil) {
            self.articleRef = articleRef
            self.anchor = anchor
            self.note = note
            self.tags = tags
            self.color = color
        }

        /// Tags validated, the note trimmed (empty: none), the color checked.
        func validated() throws -> HighlightRequest {
            var request = self
            request.tags = try Store.validatedTags(tags)
            request.note = note.map { $0.trimmed() }.flatMap { $0.isEmpty ? nil : $0 }
            if let color { try Store.validateColor(color) }
            return request
        }
    }

    /// Makes several highlights in one transaction (a bulk import of annotations): all of them, or
    /// none when one fails.
    /// - Returns: the new annotations' ids, in the order of `requests`.
    public func highlight(_ requests: [HighlightRequest]) throws -> [String] {
        let requests = try requests.map { try $0.validated() }
        return try write { context in
            var articles: [String: HighlightedArticle] = [:]
            return try requests.map { try writeHighlight($0, &context, &articles) }
        }
    }

    /// What a highlight needs of its article, read once per transaction per article named.
    struct HighlightedArticle {
        var id: String
        var body: String
        var contentHash: String
    }

    private func writeHighlight(
        _ request: HighlightRequest, _ context: inout WriteContext, _ articles: inout [String: HighlightedArticle]
    ) throws -> String {
        let article: HighlightedArticle
        if let known = articles[request.articleRef] {
            article = known
        } else {
            func read(_ id: String) throws -> HighlightedArticle? {
                var found: HighlightedArticle?
                try context.statements.each(
                    """
                    SELECT body, content_hash FROM article
                    WHERE id = ? AND title IS NOT NULL AND body IS NOT NULL AND deleted = 0
                    """, [.text(id)]
                ) { row in
                    found = HighlightedArticle(
                        id: id, body: Statements.text(row, 0), contentHash: Statements.optionalText(row, 1) ?? "")
                }
                return found
            }
            // A whole id (what a bulk import names) is looked up as it is; a prefix, or an id
            // not found, goes through resolveID, which says what is wrong with it.
            if let found = try read(request.articleRef) {
                article = found
            } else {
                let id = try resolveID(request.articleRef, kinds: [.article], db: context.db).id
                guard let found = try read(id) else { throw StoreError.notFound(kind: "article", id: id) }
                article = found
            }
            articles[request.articleRef] = article
        }
        let articleID = article.id
        let target: TextTarget
        switch request.anchor {
        case .quote(let exact, let prefix, let suffix):
            target = try TextAnchor.target(
                in: article.body, exact: exact, prefix: prefix, suffix: suffix, revision: article.contentHash,
                articleID: articleID)
        case .position(let start, let end):
            target = try TextAnchor.target(in: article.body, start: start, end: end, revision: article.contentHash)
        }
        let id = UUIDv7.make(now: clock())
        context.created(id)
        // Made on the current body: it is where it says, and placing it needs no second look.
        context.place(id, .anchored(.init(start: target.start, end: target.end, score: 1, method: .unchanged)))
        let motivation: Motivation = request.note == nil ? .highlighting : .commenting
        try context.write(.annotation, id, "article", .string(articleID))
        try context.write(.annotation, id, "motivation", .string(motivation.rawValue))
        try context.write(.annotation, id, "target", Self.json(target))
        try context.write(.annotation, id, "author", .string(replicaName))
        if let note = request.note { try context.write(.annotation, id, "note", .string(note)) }
        if let color = request.color { try context.write(.annotation, id, "color", .string(color)) }
        for tag in request.tags { try context.write(.annotation, id, "tag/\(tag)", .bool(true)) }
        return id
    }

    /// Sets (or with an empty text, removes) the note of an annotation.
    @discardableResult
    public func setNote(annotationRef: String, text: String) throws -> Annotation {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let id = try write { context -> String in
            let id = try resolveID(annotationRef, kinds: [.annotation], db: context.db).id
            let current = try fetchAnnotation(id, db: context.db)
            // Writing over a conflict would bury the text another replica typed: settle it first.
            if let conflict = try String.fetchOne(
                context.db, sql: "SELECT id FROM conflict WHERE entity_id = ? AND field = 'note'", arguments: [id])
            {
                throw StoreError.invalidArgument(
                    "the note of annotation \(id) has a conflict; see `margin conflicts` and settle it with "
                        + "`margin resolve \(conflict.prefix(12)) --keep mine|theirs|TEXT` first")
            }
            if current.note == (text.isEmpty ? nil : text) { return id }
            try context.write(.annotation, id, "note", text.isEmpty ? .null : .string(text))
            // A highlight with a note comments; without one it highlights again (W3C motivations).
            let motivation: Motivation? = text.isEmpty
                ? (current.motivation == .commenting ? .highlighting : nil)
                : (current.motivation == .highlighting ? .commenting : nil)
            if let motivation { try context.write(.annotation, id, "motivation", .string(motivation.rawValue)) }
            return id
        }
        return try annotation(id)
    }

    /// Adds tags to an article or an annotation. Tags already there record nothing.
    /// - Returns: the entity's id and kind.
    @discardableResult
    public func addTags(ref: String, tags: [String]) throws -> ResolvedID {
        let tags = try Self.validatedTags(tags)
        guard !tags.isEmpty else { throw StoreError.invalidArgument("give at least one tag") }
        return try write { context in
            let target = try resolveID(ref, kinds: [.article, .annotation], db: context.db)
            let held = try Set(String.fetchAll(context.db, sql: "SELECT tag FROM tag WHERE entity_id = ?",
                                               arguments: [target.id]))
            for tag in tags where !held.contains(tag) {
                try context.write(target.kind.entity, target.id, "tag/\(tag)", .bool(true))
            }
            return target
        }
    }

    /// Removes tags from an article or an annotation (observed-remove: an add this replica has not
    /// seen yet survives).
    /// - Throws: `StoreError.invalidArgument` naming a tag that is not there.
    @discardableResult
    public func removeTags(ref: String, tags: [String]) throws -> ResolvedID {
        let tags = try Self.validatedTags(tags)
        guard !tags.isEmpty else { throw StoreError.invalidArgument("give at least one tag") }
        return try write { context in
            let target = try resolveID(ref, kinds: [.article, .annotation], db: context.db)
            let held = try Set(String.fetchAll(context.db, sql: "SELECT tag FROM tag WHERE entity_id = ?",
                                               arguments: [target.id]))
            if let missing = tags.first(where: { !held.contains($0) }) {
                throw StoreError.invalidArgument(
                    "\(target.kind.rawValue) \(target.id.prefix(8)) has no tag '\(missing)'"
                        + (held.isEmpty ? "" : " (its tags: \(held.sorted().joined(separator: ", ")))"))
            }
            for tag in tags { try context.write(target.kind.entity, target.id, "tag/\(tag)", .bool(false)) }
            return target
        }
    }

    /// Deletes an article or an annotation (a tombstone that syncs).
    @discardableResult
    public func remove(ref: String) throws -> ResolvedID {
        try write { context in
            let target = try resolveID(ref, kinds: [.article, .annotation], db: context.db)
            let vector = try context.deleteContext(target.kind.entity, target.id)
            try context.write(target.kind.entity, target.id, "deleted", .bool(true), context: vector)
            return target
        }
    }

    static func json(_ target: TextTarget) -> JSONValue {
        var object: [String: JSONValue] = [
            "exact": .string(target.exact), "prefix": .string(target.prefix), "suffix": .string(target.suffix),
            "start": .int(Int64(target.start)), "end": .int(Int64(target.end)),
        ]
        if let revision = target.revision { object["revision"] = .string(revision) }
        return .object(object)
    }

    static func validatedTags(_ tags: [String]) throws -> [String] {
        var out: [String] = []
        for raw in tags {
            // Printable ASCII that needs no trimming is a tag as it stands (and already NFC).
            if let first = raw.utf8.first, let last = raw.utf8.last, first != UInt8(ascii: "#"), first != 0x20, last != 0x20,
               raw.utf8.count <= 100, raw.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
            {
                if !out.contains(raw) { out.append(raw) }
                continue
            }
            var tag = raw.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
            if tag.hasPrefix("#") { tag.removeFirst() }
            guard !tag.isEmpty, tag.count <= 100, !tag.contains(where: { $0.isNewline }),
                  tag.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
            else {
                throw StoreError.invalidArgument("'\(raw)' is not a tag: a tag is 1 to 100 characters on one line")
            }
            if !out.contains(tag) { out.append(tag) }
        }
        return out
    }

    static func validateColor(_ color: String) throws {
        let ok = color.count <= 32 && !color.isEmpty
            && color.allSatisfy { $0.isLetter || $0.isNumber || $0 == "#" || $0 == "-" }
        guard ok else {
            throw StoreError.invalidArgument("'\(color)' is not a color: use a name like yellow or a hex like #ffd400")
        }
    }
}
