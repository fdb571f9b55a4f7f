import Foundation
import GRDB

/// How the shown value of a field becomes columns of its entity's row.
enum Projection {
    static let articleFields: Set<String> = ["url", "title", "byline", "source", "published_at", "language", "caption"]
    static let annotationFields: Set<String> = ["motivation", "note", "color", "author"]

    /// Every column a field sets in the article and annotation tables, in the order upserts list them.
    static let rowColumns = [
        "url", "title", "byline", "source", "published_at", "language", "body", "content_hash", "caption", "article_id",
        "motivation", "exact", "prefix", "suffix", "start", "end", "revision", "note", "color", "author", "deleted",
        "anchor_state", "anchor_start", "anchor_end", "anchor_score", "anchor_method", "state", "line_hash", "body_length",
    ]
    static let rowColumnIndex = Dictionary(uniqueKeysWithValues: rowColumns.enumerated().map { ($1, $0) })

    /// The columns of a row that its kind's digest covers (what sync replicates), in line order.
    static func digestColumns(_ entity: EntityKind) -> [String] {
        switch entity {
        case .article:
            return ["id", "url", "title", "byline", "source", "published_at", "language", "body", "caption",
                    "content_hash", "deleted", "created_hlc", "updated_hlc"]
        case .annotation:
            return ["id", "article_id", "motivation", "exact", "prefix", "suffix", "start", "end", "revision", "note",
                    "color", "author", "deleted", "created_hlc", "updated_hlc"]
        case .replica:
            return ["id", "name"]
        }
    }

    /// `digestColumns` as indexes into `rowColumns`; the id and the clock range, which the row
    /// gets apart from its assignments, as the constants below.
    static func digestIndexes(_ entity: EntityKind) -> [Int] {
        entity == .article ? articleDigestIndexes : annotationDigestIndexes
    }

    static let idColumn = -1
    static let createdColumn = -2
    static let updatedColumn = -3
    static let lineHashColumn = rowColumnIndex["line_hash"]!

    private static func indexes(_ entity: EntityKind) -> [Int] {
        digestColumns(entity).map { column in
            switch column {
            case "id": return idColumn
            case "created_hlc": return createdColumn
            case "updated_hlc": return updatedColumn
            default: return rowColumnIndex[column]!
            }
        }
    }

    private static let articleDigestIndexes = indexes(.article)
    private static let annotationDigestIndexes = indexes(.annotation)

    /// A new row's digest line before its assignments: NULL everywhere but `deleted` (0).
    static func digestDefaults(_ entity: EntityKind) -> [DatabaseValue] {
        digestColumns(entity).map { $0 == "deleted" ? 0.databaseValue : .null }
    }

    /// The digest kind of an entity's table.
    static func digestKind(_ entity: EntityKind) -> String {
        switch entity {
        case .article: return "articles"
        case .annotation: return "annotations"
        case .replica: return "replicas"
        }
    }

    /// The columns of each table the full-text index holds.
    static func fullTextColumns(_ entity: EntityKind) -> [String] {
        entity == .article ? ["title", "body"] : ["note"]
    }

    /// True for a field whose writes are tags (`tag/NAME`, true to add, false to remove): an
    /// observed-remove set, shown by the tag table, not a column.
    static func isTag(_ field: String) -> Bool { field.hasPrefix("tag/") }

    /// True for the fields this version shows in a column; other fields (from a newer peer) are
    /// logged, synced and merged, but not shown.
    static func isShown(_ entity: EntityKind, _ field: String) -> Bool {
        switch entity {
        case .replica: return field == "name"
        case .article: return field == "deleted" || field == "body" || articleFields.contains(field)
        case .annotation:
            return field == "deleted" || field == "article" || field == "target" || annotationFields.contains(field)
        }
    }

    /// The columns a field's shown value sets.
    static func columns(for entity: EntityKind, field: String, value: JSONValue) -> [(column: String, value: DatabaseValue)] {
        func text(_ value: JSONValue?) -> DatabaseValue { value?.stringValue?.databaseValue ?? .null }
        switch (entity, field) {
        case (.replica, "name"):
            return [("name", value.stringValue?.databaseValue ?? "".databaseValue)]
        case (_, "deleted"):
            return [("deleted", (value.boolValue == true ? 1 : 0).databaseValue)]
        case (.article, "body"):
            let body = value.stringValue
            return [("body", body.databaseValue), ("content_hash", body.map(ArticleIdentity.sha256Hex).databaseValue),
                    ("body_length", body.map { Int64(TextAnchor.length($0)) }.databaseValue)]
        case (.article, let field) where articleFields.contains(field):
            return [(field, text(value))]
        case (.annotation, "article"):
            return [("article_id", text(value))]
        case (.annotation, "target"):
            return [
                ("exact", text(value["exact"])), ("prefix", text(value["prefix"])), ("suffix", text(value["suffix"])),
                ("start", value["start"]?.intValue.databaseValue ?? .null),
                ("end", value["end"]?.intValue.databaseValue ?? .null), ("revision", text(value["revision"])),
            ]
        case (.annotation, let field) where annotationFields.contains(field):
            return [(field, text(value))]
        default:
            return []
        }
    }
}
