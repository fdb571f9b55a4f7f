import Foundation

/// What a page's JSON-LD (`<script type="application/ld+json">`) says about its article.
///
/// Reads objects, arrays and `@graph`s, and `mainEntity`/`mainEntityOfPage` of a `WebPage`; takes the
/// first node whose `@type` is an article type (`NewsArticle`, `Article`, `BlogPosting`, `LiveBlogPosting`,
/// `ReportageNewsArticle`, …). Invalid JSON is skipped, as browsers skip it.
struct StructuredData {
    var headline: String?
    var authors: [String] = []
    var datePublished: String?
    var language: String?
    var url: String?
    var publisher: String?
    var articleBody: String?
    var description: String?
    var isAccessibleForFree: Bool?
    /// The `@type` of the article node (the first one when it lists several).
    var type: String?
    /// Types of every node read: `CollectionPage`, `WebPage`, `ItemList`… tell a section front.
    var allTypes: Set<String> = []
    /// For a live blog: the updates' bodies, when the JSON-LD carries them.
    var liveUpdates: [String] = []

    static let articleTypes: Set<String> = [
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
        "backgroundnewsarticle", "reviewnewsarticle", "askpublicnewsarticle", "blogposting", "liveblogposting",
        "socialmediaposting", "report", "scholarlyarticle", "techarticle", "satiricalarticle", "advertisertcontentarticle",
        "medicalscholarlyarticle", "posting",
    ]

    var isArticle: Bool { type != nil }

    init() {}

    /// Reads every JSON-LD script of the page.
    init(scripts: [String]) {
        var candidates: [[String: Any]] = []
        for script in scripts {
            guard let root = Self.parse(script) else { continue }
            Self.collect(root, into: &candidates, types: &allTypes, depth: 0)
        }
        guard let node = candidates.first else { return }
        read(node)
    }

    private static func parse(_ script: String) -> Any? {
        var text = script.trimmingCharacters(in: .whitespacesAndNewlines)
        for (open, close) in [("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")] {
            if text.hasPrefix(open) { text.removeFirst(open.count) }
            if text.hasSuffix(close) { text.removeLast(close.count) }
        }
        // Raw line breaks and tabs inside strings are invalid JSON that sites publish anyway.
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 ? " " : $0 }))
        if let value = try? JSONSerialization.jsonObject(with: Data(cleaned.utf8), options: [.fragmentsAllowed]) {
            return value
        }
        return nil
    }

    private static func types(of node: [String: Any]) -> [String] {
        let raw = node["@type"]
        let names = (raw as? [Any] ?? [raw as Any]).compactMap { $0 as? String }
        // "http://schema.org/NewsArticle" and "schema:NewsArticle" name the type too.
        return names.map { name in
            let last = name.split(whereSeparator: { $0 == "/" || $0 == ":" || $0 == "#" }).last.map(String.init) ?? name
            return last.lowercased()
        }
    }

    private static func collect(_ value: Any, into candidates: inout [[String: Any]], types allTypes: inout Set<String>,
                                depth: Int)
    {
        guard depth < 8 else { return }
        if let array = value as? [Any] {
            for item in array { collect(item, into: &candidates, types: &allTypes, depth: depth + 1) }
            return
        }
        guard let node = value as? [String: Any] else { return }
        let nodeTypes = types(of: node)
        allTypes.formUnion(nodeTypes)
        if nodeTypes.contains(where: articleTypes.contains) { candidates.append(node) }
        if let graph = node["@graph"] { collect(graph, into: &candidates, types: &allTypes, depth: depth + 1) }
        for key in ["mainEntity", "mainEntityOfPage"] {
            if let entity = node[key], entity is [String: Any] || entity is [Any] {
                collect(entity, into: &candidates, types: &allTypes, depth: depth + 1)
            }
        }
    }

    private mutating func read(_ node: [String: Any]) {
        type = Self.types(of: node).first(where: Self.articleTypes.contains)
        headline = Self.string(node["headline"]) ?? Self.string(node["name"])
        authors = Self.names(node["author"])
        if authors.isEmpty { authors = Self.names(node["creator"]) }
        datePublished = Self.string(node["datePublished"]) ?? Self.string(node["dateCreated"])
        language = Self.string(node["inLanguage"]) ?? Self.names(node["inLanguage"]).first
        url = Self.string(node["url"]) ?? Self.id(node["mainEntityOfPage"])
        publisher = Self.names(node["publisher"]).first
        articleBody = Self.string(node["articleBody"]) ?? Self.string(node["text"])
        description = Self.string(node["description"])
        if let free = node["isAccessibleForFree"] {
            if let flag = free as? Bool {
                isAccessibleForFree = flag
            } else if let text = free as? String {
                isAccessibleForFree = text.lowercased() == "true"
            }
        }
        if let updates = node["liveBlogUpdate"] as? [Any] {
            liveUpdates = updates.compactMap { ($0 as? [String: Any]).flatMap { Self.string($0["articleBody"]) } }
        }
    }

    static func string(_ value: Any?) -> String? {
        if let text = value as? String {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        if let object = value as? [String: Any] { return string(object["@value"]) }
        return nil
    }

    private static func id(_ value: Any?) -> String? {
        if let text = value as? String, text.hasPrefix("http") { return text }
        if let object = value as? [String: Any] { return string(object["@id"]) ?? string(object["url"]) }
        return nil
    }

    /// Names from "Jane Doe", {"name": …}, [{"@type": "Person", "name": …}, …].
    static func names(_ value: Any?) -> [String] {
        switch value {
        case let text as String:
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty || trimmed.hasPrefix("http") ? [] : [trimmed]
        case let object as [String: Any]:
            return names(object["name"])
        case let array as [Any]:
            return array.flatMap { names($0) }
        default:
            return []
        }
    }
}
