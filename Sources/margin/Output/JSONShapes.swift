import Foundation
import MarginStore

/// The `--json` shapes. They are a contract with users' scripts (README, "JSON output"): add
/// fields, never rename or remove them.
struct ArticleJSON: Encodable {
    var id: String
    var url: String?
    var title: String
    var byline: String?
    var source: String?
    var published_at: String?
    var language: String?
    var content_hash: String
    var tags: [String]
    var created: String
    var updated: String
    var body: String?
    var caption: String?
    var annotations: [AnnotationJSON]?

    init(_ a: Article, withBody: Bool = false, annotations: [Annotation]? = nil) {
        id = a.id
        url = a.url
        title = a.title
        byline = a.byline
        source = a.source
        published_at = a.publishedAt
        language = a.language
        content_hash = a.contentHash
        tags = a.tags
        created = a.createdAt.iso8601
        updated = a.updatedAt.iso8601
        body = withBody ? a.body : nil
        caption = withBody ? a.caption : nil
        self.annotations = annotations.map { $0.map(AnnotationJSON.init) }
    }
}

struct AnnotationJSON: Encodable {
    var id: String
    var article_id: String
    var motivation: String
    var exact: String
    var prefix: String
    var suffix: String
    var start: Int
    var end: Int
    var note: String?
    var color: String?
    var tags: [String]
    var author: String
    var created: String
    var updated: String

    init(_ a: Annotation) {
        id = a.id
        article_id = a.articleID
        motivation = a.motivation.rawValue
        exact = a.target.exact
        prefix = a.target.prefix
        suffix = a.target.suffix
        start = a.target.start
        end = a.target.end
        note = a.note
        color = a.color
        tags = a.tags
        author = a.author
        created = a.createdAt.iso8601
        updated = a.updatedAt.iso8601
    }
}

enum Output {
    /// Prints a value as pretty, key-sorted JSON on stdout.
    static func json<T: Encodable>(_ value: T) throws {
        let data = try CanonicalJSON.encode(value, prettyPrinted: true)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// The store whose ids `short` abbreviates; set when a command opens it.
    nonisolated(unsafe) static var store: Store?
    nonisolated(unsafe) private static var abbreviations: [String: String]?

    /// A short id for text output: the shortest unique prefix (at least 8 characters), computed
    /// on first use, so after the command's writes.
    static func short(_ id: String) -> String {
        if abbreviations == nil { abbreviations = (try? store?.abbreviations()) ?? [:] }
        return abbreviations?[id] ?? String(id.prefix(8))
    }

    static var isTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    static func progress(_ text: String) {
        guard stderrIsTerminal else { return }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
