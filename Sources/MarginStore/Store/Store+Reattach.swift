import Foundation
import GRDB

extension Store {
    /// Places an annotation again in its article's current body: on its best candidate (an
    /// orphan's, as `margin orphans` shows it) when `anchor` is nil, else by quote or position as
    /// `highlight` finds a passage. The new target is a write like any other edit: it syncs, and
    /// the old one stays in the log.
    /// - Returns: the annotation as now placed.
    /// - Throws: an unknown or ambiguous id, an orphan with no candidate, a quote that does not
    ///   occur or occurs more than once, positions outside the body. Nothing is written then.
    @discardableResult
    public func reattach(annotationRef: String, to anchor: Anchor?) throws -> Annotation {
        let id = try write { context -> String in
            let id = try resolveID(annotationRef, kinds: [.annotation], db: context.db).id
            let current = try fetchAnnotation(id, db: context.db)
            guard let row = try Row.fetchOne(
                context.db.cachedStatement(sql: "SELECT body, content_hash FROM article WHERE id = ? AND deleted = 0"),
                arguments: [current.articleID]), let body: String = row[0]
            else { throw StoreError.notFound(kind: "article", id: current.articleID) }
            let hash: String = row[1] ?? ArticleIdentity.sha256Hex(body)
            let target: TextTarget
            switch anchor {
            case .quote(let exact, let prefix, let suffix)?:
                target = try TextAnchor.target(
                    in: body, exact: exact, prefix: prefix, suffix: suffix, revision: hash, articleID: current.articleID)
            case .position(let start, let end)?:
                target = try TextAnchor.target(in: body, start: start, end: end, revision: hash)
            case nil:
                guard case .orphan(let best?)? = current.anchor else {
                    throw StoreError.invalidArgument(
                        current.anchor?.isOrphan == true
                            ? "annotation \(Store.shortID(id, length: 8)) has no candidate in the current body; "
                                + "place it with --quote TEXT or --start N --end M"
                            : "annotation \(Store.shortID(id, length: 8)) is not an orphan: it is in place; "
                                + "move it with --quote TEXT or --start N --end M")
                }
                target = try TextAnchor.target(in: body, start: best.start, end: best.end, revision: hash)
            }
            if target == current.target { return id }
            try context.write(.annotation, id, "target", Self.json(target))
            return id
        }
        return try annotation(id)
    }
}
