import Foundation
import GRDB

/// What importing one annotation did.
public struct AnnotationImportOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Anchored in its article and created.
        case created
        /// Already in the store (same id): nothing written.
        case unchanged
        /// Created, but its quote is not in the article's current body: kept as an orphan.
        case orphaned
        /// Not imported: its article is not in the store (import the article first).
        case skipped
    }

    public var status: Status
    /// The annotation's id in Margin (nil when skipped).
    public var id: String?
    public var articleID: String?
    /// What the user should know (why it was skipped, tags dropped…).
    public var message: String?
}

extension Store {
    /// Imports annotations made elsewhere (W3C JSON-LD, Hypothesis) into the articles they name, in
    /// one transaction. Each is anchored by its selectors in the article's current body: the quote
    /// (weighted by its prefix, suffix and position) first, the position alone when there is no
    /// quote. A quote that cannot be placed is kept as an orphan, never attached to a look-alike.
    /// Ids are kept (Margin's own `urn:uuid:`) or derived from the source's id, so importing the
    /// same file twice creates nothing the second time.
    public func importAnnotations(_ items: [ImportedAnnotation]) throws -> [AnnotationImportOutcome] {
        try write { context in
            var outcomes: [AnnotationImportOutcome] = []
            for item in items {
                outcomes.append(try importAnnotation(item, &context))
            }
            return outcomes
        }
    }

    static func importedID(_ item: ImportedAnnotation) -> String {
        if let sourceID = item.sourceID?.lowercased(), sourceID.hasPrefix("urn:uuid:"),
            let uuid = UUID(uuidString: String(sourceID.dropFirst(9)))
        {
            return uuid.uuidString.lowercased()
        }
        // Margin's own id, exported in another format (Hypothesis rows carry it as is).
        if let sourceID = item.sourceID, UUID(uuidString: sourceID) != nil { return sourceID.lowercased() }
        let key = item.sourceID.map { "\(item.origin)\n\($0)" }
            ?? "\(item.origin)\n\(item.source)\n\(item.exact ?? "")\n\(item.start ?? -1)\n\(item.note ?? "")"
        // A name-based UUID (version 8 layout) from the SHA-256 of the source's id.
        var bytes = Array(Hashing.sha256(Array(key.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    private func importAnnotation(_ item: ImportedAnnotation, _ context: inout WriteContext) throws -> AnnotationImportOutcome {
        let db = context.db
        let id = Self.importedID(item)
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM annotation WHERE id = ?", arguments: [id]) == true {
            return AnnotationImportOutcome(status: .unchanged, id: id, articleID: nil, message: nil)
        }
        // The article: by Margin's own URN, else by its URL (the id Margin derives from it).
        var articleID: String?
        if item.source.hasPrefix("urn:margin:article:") {
            articleID = String(item.source.dropFirst("urn:margin:article:".count)).removingPercentEncoding
        } else if ArticleIdentity.canonicalURL(item.source) != nil {
            articleID = ArticleIdentity.id(url: item.source, title: "", body: "")
        }
        guard let articleID,
            try Bool.fetchOne(db, sql: "SELECT 1 FROM article WHERE id = ? AND deleted = 0 AND body IS NOT NULL",
                              arguments: [articleID]) == true
        else {
            return AnnotationImportOutcome(
                status: .skipped, id: nil, articleID: nil,
                message: "no article for \(item.source) in the store; import the article first")
        }
        let article = try fetchArticle(articleID, db: db)
        let body = article.body
        let length = TextAnchor.length(body)
        var start = item.start
        var end = item.end
        if item.positionsInUTF16 {
            start = start.map { AnnotationImporter.codePointOffset(utf16: $0, in: body) }
            end = end.map { AnnotationImporter.codePointOffset(utf16: $0, in: body) }
        }
        var target: TextTarget
        var status = AnnotationImportOutcome.Status.created
        if let exact = item.exact {
            let given = TextTarget(
                exact: exact, prefix: item.prefix ?? "", suffix: item.suffix ?? "", start: start ?? -1, end: end ?? -1)
            switch Reanchor.locate(given, oldBody: nil, newBody: body) {
            case .anchored(let placement):
                target = try TextAnchor.target(in: body, start: placement.start, end: placement.end, revision: article.contentHash)
            case .orphan:
                // Kept as given: its anchor says orphan, and a later body may hold it again.
                target = TextTarget(
                    exact: exact, prefix: item.prefix ?? "", suffix: item.suffix ?? "",
                    start: max(0, start ?? 0), end: max(0, end ?? 0), revision: nil)
                status = .orphaned
            }
        } else {
            guard let s = start, let e = end, s < e, e <= length else {
                return AnnotationImportOutcome(
                    status: .skipped, id: nil, articleID: articleID,
                    message: "its position \(start ?? 0)..<\(end ?? 0) is outside the article (\(length) characters) and it has no quote")
            }
            target = try TextAnchor.target(in: body, start: s, end: e, revision: article.contentHash)
        }
        var dropped: [String] = []
        var tags: [String] = []
        for tag in item.tags {
            if let valid = try? Self.validatedTags([tag]) { tags += valid.filter { !tags.contains($0) } } else { dropped.append(tag) }
        }
        let note = item.note.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        let motivation = item.motivation ?? (note == nil ? .highlighting : .commenting)
        try context.write(.annotation, id, "article", .string(articleID))
        try context.write(.annotation, id, "motivation", .string(motivation.rawValue))
        try context.write(.annotation, id, "target", Self.json(target))
        try context.write(.annotation, id, "author", .string(item.author.flatMap { $0.isEmpty ? nil : $0 } ?? replicaName))
        if let note { try context.write(.annotation, id, "note", .string(note)) }
        for tag in tags { try context.write(.annotation, id, "tag/\(tag)", .bool(true)) }
        return AnnotationImportOutcome(
            status: status, id: id, articleID: articleID,
            message: dropped.isEmpty ? nil : "dropped tags that are not one line of 1–100 characters: \(dropped.joined(separator: ", "))")
    }
}
