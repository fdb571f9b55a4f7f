import Foundation

/// Exports annotations in the Hypothesis API's JSON (`{"total", "rows"}`), the shape
/// `margin import --format hypothesis` reads back.
///
/// Hypothesis (like browsers' DOM ranges) counts UTF-16 code units, Margin counts Unicode code
/// points: a TextPositionSelector is converted against the article's current body. An orphan's
/// positions name an old revision, so it exports its quote only.
public enum HypothesisExporter {
    public static func export(articles: [Article], annotations: [Annotation]) throws -> Data {
        var byID: [String: Article] = [:]
        for article in articles { byID[article.id] = article }
        var rows: [JSONValue] = []
        for annotation in annotations.sorted(by: W3CExporter.exportOrder) {
            let article = byID[annotation.articleID]
            let target = W3CExporter.currentTarget(annotation, article: article)
            var quote: [String: JSONValue] = ["type": .string("TextQuoteSelector"), "exact": .string(target.exact)]
            if !target.prefix.isEmpty { quote["prefix"] = .string(target.prefix) }
            if !target.suffix.isEmpty { quote["suffix"] = .string(target.suffix) }
            var selectors: [JSONValue] = [.object(quote)]
            if let body = article?.body, annotation.anchor?.isOrphan != true {
                selectors.append(.object([
                    "type": .string("TextPositionSelector"),
                    "start": .int(Int64(AnnotationImporter.utf16Offset(codePoint: target.start, in: body))),
                    "end": .int(Int64(AnnotationImporter.utf16Offset(codePoint: target.end, in: body))),
                ]))
            }
            let source = article?.url ?? "urn:margin:article:" + W3CExporter.urnSegment(annotation.articleID)
            var row: [String: JSONValue] = [
                "id": .string(annotation.id),
                "uri": .string(source),
                "text": .string(annotation.note ?? ""),
                "tags": .array(annotation.tags.map(JSONValue.string)),
                "user": .string(annotation.author),
                "created": .string(annotation.createdAt.iso8601),
                "updated": .string(annotation.updatedAt.iso8601),
                "target": .array([.object(["source": .string(source), "selector": .array(selectors)])]),
            ]
            if let title = article?.title { row["document"] = .object(["title": .array([.string(title)])]) }
            rows.append(.object(row))
        }
        let document = JSONValue.object(["total": .int(Int64(rows.count)), "rows": .array(rows)])
        return Data((document.canonical + "\n").utf8)
    }
}
