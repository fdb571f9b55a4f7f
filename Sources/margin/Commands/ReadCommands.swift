import ArgumentParser
import Foundation
import MarginStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List articles.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only articles with this tag.") var tag: String?
    @Option(help: "Only articles from this source (case-insensitive).") var source: String?

    func run() throws {
        let store = try global.openStore()
        let articles = try store.articles(tag: tag, source: source)
        if output.json { return try Output.json(articles.map { ArticleJSON($0) }) }
        let counts = Dictionary(grouping: try store.annotations(), by: \.articleID).mapValues(\.count)
        for article in articles {
            let date = article.publishedAt.map { String($0.prefix(10)) } ?? "----------"
            let n = counts[article.id] ?? 0
            let tags = article.tags.isEmpty ? "" : "  " + article.tags.map { "#\($0)" }.joined(separator: " ")
            print("\(Output.short(article.id))  \(date)  \(article.title)\(n > 0 ? "  [\(n)]" : "")\(tags)")
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show an article with its highlights marked, then its annotations.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id (or a unique prefix); an annotation id shows its article.") var id: String

    func run() throws {
        let store = try global.openStore()
        let resolved = try store.resolve(id, kinds: [.article, .annotation])
        let articleID = resolved.kind == .annotation ? try store.annotation(resolved.id).articleID : resolved.id
        let article = try store.article(articleID)
        let annotations = try store.annotations(articleID: articleID)
        if output.json { return try Output.json(ArticleJSON(article, withBody: true, annotations: annotations)) }
        print(article.title)
        let source = article.source == article.byline ? nil : article.source
        let meta = [article.byline.map { "By \($0)" }, source, article.publishedAt, article.url]
            .compactMap { $0 }
        if !meta.isEmpty { print(meta.joined(separator: " · ")) }
        print("id \(article.id)" + (article.tags.isEmpty ? "" : "  " + article.tags.map { "#\($0)" }.joined(separator: " ")))
        if let caption = article.caption { print("[Photo] \(caption)") }
        print("")
        print(Self.marked(article.body, annotations))
        guard !annotations.isEmpty else { return }
        print("\nAnnotations")
        for (i, a) in annotations.enumerated() {
            var line: String
            switch a.anchor {
            case .orphan?:
                // The passage's text is gone from this body: kept, never attached elsewhere.
                line = "[\(i + 1)] \(Output.short(a.id))  ORPHAN  \"\(a.target.exact)\" (no longer in the article; see `margin orphans`)"
            case .anchored(let p)?:
                line = "[\(i + 1)] \(Output.short(a.id))  \(p.start)..<\(p.end)  \"\(excerpt(article.body, p.start, p.end, limit: Int.max))\""
                if p.start != a.target.start || p.end != a.target.end {
                    let now = excerpt(article.body, p.start, p.end, limit: Int.max)
                    line += now == a.target.exact
                        ? "  (moved from \(a.target.start)..<\(a.target.end))"
                        : "  (corrected, was \"\(a.target.exact)\")"
                }
            case nil:
                line = "[\(i + 1)] \(Output.short(a.id))  \(a.target.start)..<\(a.target.end)  \"\(a.target.exact)\""
            }
            if let color = a.color { line += "  (\(color))" }
            if !a.tags.isEmpty { line += "  " + a.tags.map { "#\($0)" }.joined(separator: " ") }
            print(line)
            if let note = a.note {
                for noteLine in note.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(noteLine)") }
            }
        }
    }

    /// The body with each highlight between [[ and ]] followed by its number.
    static func marked(_ body: String, _ annotations: [Annotation]) -> String {
        var opens: [Int: Int] = [:]
        var closes: [Int: [Int]] = [:]
        for (i, a) in annotations.enumerated() {
            // Orphans have no passage in this body: listed, not marked.
            if a.anchor?.isOrphan == true { continue }
            let span = a.anchor?.placement.map { ($0.start, $0.end) } ?? (a.target.start, a.target.end)
            opens[span.0, default: 0] += 1
            closes[span.1, default: []].append(i + 1)
        }
        var out = String.UnicodeScalarView()
        let scalars = Array(body.unicodeScalars)
        for index in 0...scalars.count {
            if let numbers = closes[index] {
                for n in numbers { out.append(contentsOf: "]]\(n)".unicodeScalars) }
            }
            if let count = opens[index] { out.append(contentsOf: String(repeating: "[[", count: count).unicodeScalars) }
            if index < scalars.count { out.append(scalars[index]) }
        }
        return String(out)
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Full-text search over titles, bodies and notes, best first.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "At most this many results.") var limit = 20
    @Argument(help: "Words to find; FTS5 syntax (\"a phrase\", OR, NOT, prefix*) works too.") var query: [String]

    func run() throws {
        let store = try global.openStore()
        let hits = try store.search(query.joined(separator: " "), limit: limit)
        if output.json {
            struct Hit: Encodable {
                var kind, article_id, title, snippet: String
                var annotation_id: String?
                var rank: Double
            }
            return try Output.json(hits.map {
                Hit(kind: $0.kind.rawValue, article_id: $0.articleID, title: $0.title, snippet: $0.snippet,
                    annotation_id: $0.annotationID, rank: $0.rank)
            })
        }
        if hits.isEmpty { print("no matches") }
        for hit in hits {
            let id = hit.annotationID.map { "note \(Output.short($0))" } ?? Output.short(hit.articleID)
            print("\(id)  \(hit.title)")
            print("    \(hit.snippet.replacingOccurrences(of: "\n", with: " "))")
        }
    }
}

struct AnnotationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotations", abstract: "List annotations, of one article or all.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id or unique prefix.") var article: String?

    func run() throws {
        let store = try global.openStore()
        let articleID = try article.map { try store.resolve($0, kinds: [.article]).id }
        let annotations = try store.annotations(articleID: articleID)
        if output.json { return try Output.json(annotations.map(AnnotationJSON.init)) }
        for a in annotations {
            var line = "\(Output.short(a.id))  \(Output.short(a.articleID))  \"\(a.target.exact)\""
            if !a.tags.isEmpty { line += "  " + a.tags.map { "#\($0)" }.joined(separator: " ") }
            print(line)
            if let note = a.note { print("    \(note.replacingOccurrences(of: "\n", with: "\n    "))") }
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The change log, newest first: who changed what and when.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "At most this many changes.") var limit = 50
    @Argument(help: "Only the changes of this article or annotation.") var id: String?

    func run() throws {
        let store = try global.openStore()
        let entityID = try id.map { try store.resolve($0, kinds: [.article, .annotation], includeDeleted: true).id }
        let entries = try store.log(entityID: entityID, limit: limit)
        if output.json {
            struct Entry: Encodable {
                var origin: String
                var origin_name: String?
                var seq: Int64
                var hlc: Int64
                var time, entity, entity_id, field: String
                var value: JSONValue
                var previous: JSONValue?
            }
            return try Output.json(entries.map {
                Entry(origin: $0.origin, origin_name: $0.originName, seq: $0.seq, hlc: $0.hlc.rawValue, time: $0.time,
                      entity: $0.entity.rawValue, entity_id: $0.entityID, field: $0.field, value: $0.value,
                      previous: $0.previous)
            })
        }
        for e in entries {
            let who = e.originName ?? Output.short(e.origin)
            var change = "\(Self.clip(e.value))"
            if let previous = e.previous { change = "\(Self.clip(previous)) → \(change)" }
            print("\(e.time)  \(who)#\(e.seq)  \(e.entity.rawValue) \(Output.short(e.entityID)) \(e.field): \(change)")
        }
    }

    static func clip(_ value: JSONValue) -> String {
        let text = value.canonical.replacingOccurrences(of: "\\n", with: " ")
        return text.count > 60 ? String(text.prefix(57)) + "…\"" : text
    }
}
