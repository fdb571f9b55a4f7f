import Foundation
import GRDB

extension Store {
    /// Writes the canonical JSON export (as `exportJSON(articleIDs:)` returns it, byte for byte)
    /// to `sink` piece by piece: one annotation or one article at a time, read from a cursor in
    /// one read transaction, so memory follows the largest article, not the store.
    /// - Parameters:
    ///   - articleIDs: only these articles and their annotations; nil for all.
    ///   - sink: takes each piece of the output in order.
    /// - Returns: how many articles and annotations were written.
    @discardableResult
    public func exportJSON(articleIDs: [String]?, to sink: (Data) throws -> Void) throws
        -> (articles: Int, annotations: Int)
    {
        try read { db in
            var written = (articles: 0, annotations: 0)
            let chosen = articleIDs.map(Set.init)
            try sink(Data("{\n  \"annotations\" : [\n".utf8))
            var first = true
            let annotations = try Row.fetchCursor(db, sql: """
                SELECT annotation.* FROM annotation JOIN article ON article.id = annotation.article_id
                WHERE annotation.deleted = 0 AND article.deleted = 0 AND annotation.start IS NOT NULL
                  AND article.title IS NOT NULL AND article.body IS NOT NULL
                ORDER BY annotation.id
                """)
            while let row = try annotations.next() {
                let annotation = Self.annotation(row, tags: try tags(row["id"], db: db))
                if let chosen, !chosen.contains(annotation.articleID) { continue }
                try sink(Self.element(AnnotationJSON(annotation), first: first))
                first = false
                written.annotations += 1
            }
            try sink(Data("\n  ],\n  \"articles\" : [\n".utf8))
            first = true
            let articles = try Row.fetchCursor(db, sql: """
                SELECT * FROM article WHERE deleted = 0 AND title IS NOT NULL AND body IS NOT NULL ORDER BY id
                """)
            while let row = try articles.next() {
                let id: String = row["id"]
                if let chosen, !chosen.contains(id) { continue }
                try sink(Self.element(ArticleJSON(try Self.article(row, tags: try tags(id, db: db)), withBody: true),
                                      first: first))
                first = false
                written.articles += 1
            }
            try sink(Data("\n  ]\n}\n".utf8))
            return written
        }
    }

    /// One element of a top-level array of the export, indented as the whole document's
    /// pretty-printing indents it.
    private static func element<T: Encodable>(_ value: T, first: Bool) throws -> Data {
        let text = String(decoding: try CanonicalJSON.encode(value, prettyPrinted: true), as: UTF8.self)
        let indented = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "    " + $0 }
            .joined(separator: "\n")
        return Data(((first ? "" : ",\n") + indented).utf8)
    }

    /// Writes the Markdown export (as `MarkdownExporter.export` renders it) article by article,
    /// in its order (title, then id), so memory follows the largest article.
    /// - Returns: how many articles and annotations were written.
    @discardableResult
    public func exportMarkdown(articleIDs: [String]?, to sink: (Data) throws -> Void) throws
        -> (articles: Int, annotations: Int)
    {
        try read { db in
            var written = (articles: 0, annotations: 0)
            let chosen = articleIDs.map(Set.init)
            var first = true
            let articles = try Row.fetchCursor(db, sql: """
                SELECT * FROM article WHERE deleted = 0 AND title IS NOT NULL AND body IS NOT NULL ORDER BY title, id
                """)
            while let row = try articles.next() {
                let id: String = row["id"]
                if let chosen, !chosen.contains(id) { continue }
                let article = try Self.article(row, tags: try tags(id, db: db))
                let annotations = try Row.fetchAll(
                    db.cachedStatement(sql: """
                        SELECT * FROM annotation WHERE article_id = ? AND deleted = 0 AND start IS NOT NULL
                        """), arguments: [id]
                ).map { row in Self.annotation(row, tags: try tags(row["id"], db: db)) }
                let section = MarkdownExporter.section(heading: article, annotations: annotations)
                try sink(Data(((first ? "" : "\n\n\n") + section).utf8))
                first = false
                written.articles += 1
                written.annotations += annotations.count
            }
            if !first { try sink(Data("\n".utf8)) }
            return written
        }
    }
}
