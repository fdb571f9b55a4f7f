import Foundation

/// Reads RSS 2.0, RSS 1.0 (RDF), Atom and OPML with libxml2's XML parser (no network, no external
/// entities), and turns entries that carry their full text into articles.
public enum FeedParser {
    static let contentNamespace = "http://purl.org/rss/1.0/modules/content/"
    static let atomNamespace = "http://www.w3.org/2005/Atom"
    static let dcNamespace = "http://purl.org/dc/elements/1.1/"

    /// Whether `data` is a feed or an OPML file (by its root element), for format detection.
    public static func looksLikeFeed(_ data: Data) -> Bool {
        let head = String(decoding: data.prefix(4096), as: UTF8.self).lowercased()
        guard head.contains("<") else { return false }
        return head.contains("<rss") || head.contains("<feed") || head.contains("<opml") || head.contains("<rdf:rdf")
    }

    /// Parses a feed or an OPML file.
    /// - Parameters:
    ///   - data: The document's bytes (its XML declaration names its encoding).
    ///   - baseURL: Where it was fetched from, to resolve relative links.
    /// - Returns: The feed.
    /// - Throws: `ImportError` when the document is not XML or not a feed.
    public static func parse(_ data: Data, baseURL: URL? = nil) throws(ImportError) -> Feed {
        guard let document = DOMParser.parseXML(data),
            let root = document.children.first(where: \.isElement)
        else { throw ImportError("not a feed: the document is not XML (expected RSS, Atom or OPML)") }
        switch root.name.lowercased() {
        case "rss": return rss(root.children.first { $0.isElement && $0.name == "channel" } ?? root, items: nil, base: baseURL)
        case "rdf":
            let channel = root.children.first { $0.isElement && $0.name == "channel" } ?? root
            return rss(channel, items: root.children.filter { $0.isElement && $0.name == "item" }, base: baseURL)
        case "feed": return atom(root, base: baseURL)
        case "opml": return opml(root)
        default:
            throw ImportError("not a feed: the document's root is <\(root.name)> (expected RSS, Atom or OPML)")
        }
    }

    // MARK: - RSS

    private static func rss(_ channel: DOMNode, items explicitItems: [DOMNode]?, base: URL?) -> Feed {
        var feed = Feed(kind: .rss)
        feed.title = text(child(channel, "title"))
        feed.link = text(child(channel, "link"))
        feed.language = text(child(channel, "language"))
        let items = explicitItems ?? channel.children.filter { $0.isElement && $0.name == "item" }
        for item in items {
            let link = resolve(text(child(item, "link")) ?? guidLink(item), base)
            let guid = text(child(item, "guid"))
            let content = item.children.first { $0.isElement && $0.name == "encoded" && $0.namespace == contentNamespace }
            let author = text(item.children.first { $0.isElement && $0.name == "creator" && $0.namespace == dcNamespace })
                ?? text(child(item, "author"))
            feed.entries.append(FeedEntry(
                key: guid ?? link ?? text(child(item, "title")) ?? "",
                title: text(child(item, "title")),
                link: link,
                publishedAt: DateText.iso(from: text(child(item, "pubDate"))
                    ?? text(item.children.first { $0.isElement && $0.name == "date" && $0.namespace == dcNamespace })),
                author: author,
                contentHTML: content.map(\.rawText).flatMap(nonEmpty),
                summaryHTML: text(child(item, "description")),
                language: feed.language))
        }
        return feed
    }

    /// A permalink guid is the entry's page when the item has no link.
    private static func guidLink(_ item: DOMNode) -> String? {
        guard let guid = child(item, "guid"), guid.attribute("isPermaLink") != "false",
            let value = text(guid), value.hasPrefix("http")
        else { return nil }
        return value
    }

    // MARK: - Atom

    private static func atom(_ root: DOMNode, base: URL?) -> Feed {
        var feed = Feed(kind: .atom)
        feed.title = text(child(root, "title"))
        feed.link = alternateLink(root, base: base)
        feed.language = root.attribute("xml:lang")
        for entry in root.children where entry.isElement && entry.name == "entry" {
            let link = alternateLink(entry, base: base)
            var content: String? = nil
            if let node = child(entry, "content"), node.attribute("src") == nil {
                content = html(ofAtomText: node)
            }
            let author = child(entry, "author").flatMap { text(child($0, "name")) }
                ?? child(root, "author").flatMap { text(child($0, "name")) }
            feed.entries.append(FeedEntry(
                key: text(child(entry, "id")) ?? link ?? text(child(entry, "title")) ?? "",
                title: child(entry, "title").map(html(ofAtomText:)).map(plain),
                link: link,
                publishedAt: DateText.iso(from: text(child(entry, "published")) ?? text(child(entry, "updated"))),
                author: author,
                contentHTML: content.flatMap(nonEmpty),
                summaryHTML: child(entry, "summary").map(html(ofAtomText:)),
                language: entry.attribute("xml:lang") ?? feed.language))
        }
        return feed
    }

    private static func alternateLink(_ node: DOMNode, base: URL?) -> String? {
        let links = node.children.filter { $0.isElement && $0.name == "link" }
        let link = links.first { ($0.attribute("rel") ?? "alternate") == "alternate" } ?? links.first
        return resolve(link?.attribute("href"), base)
    }

    /// Atom text constructs: `type="html"` holds escaped HTML, `xhtml` a `<div>` of markup, `text` plain text.
    private static func html(ofAtomText node: DOMNode) -> String {
        switch node.attribute("type")?.lowercased() {
        case "xhtml":
            return serialize(node.children)
        case "html", "text/html":
            return node.rawText
        default:
            return escape(node.rawText).replacingOccurrences(of: "\n\n", with: "<p>")
        }
    }

    // MARK: - OPML

    private static func opml(_ root: DOMNode) -> Feed {
        var feed = Feed(kind: .opml)
        feed.title = child(root, "head").flatMap { text(child($0, "title")) }
        for outline in root.descendants(where: { $0.name == "outline" }) {
            guard let url = outline.attribute("xmlUrl").flatMap(nonEmpty) else { continue }
            feed.subscriptions.append(FeedSubscription(url: url, title: outline.attribute("title") ?? outline.attribute("text")))
        }
        return feed
    }

    // MARK: - Entries as articles

    /// The article an entry carries in full (`content:encoded`, Atom `content`), or `nil` when the feed has
    /// only a summary and the page must be fetched.
    /// - Throws: `ImportError` when the entry has no title or its content no text.
    public static func article(from entry: FeedEntry, in feed: Feed) throws(ImportError) -> ImportedArticle? {
        guard let html = entry.contentHTML else { return nil }
        let (paragraphs, captions) = HTMLImporter.fragment(html)
        guard !paragraphs.isEmpty else { return nil }
        var byline = entry.author
        var source = feed.title
        if let name = byline {
            // RSS <author> is an e-mail address with the name in parentheses.
            if let open = name.firstIndex(of: "("), name.hasSuffix(")"), name.contains("@") {
                byline = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
            }
            let split = Agencies.split(byline: byline ?? name)
            byline = split.byline
            source = source ?? split.source
        }
        return try ArticleImporter.finish(
            ImportedArticle(
                url: entry.link, title: entry.title.map(plain) ?? "", byline: byline, source: source,
                publishedAt: entry.publishedAt, language: entry.language, body: paragraphs.joined(separator: "\n\n"),
                caption: captions.isEmpty ? nil : captions.joined(separator: " ")),
            location: "the feed entry \(entry.link ?? entry.key)")
    }

    // MARK: - Helpers

    private static func child(_ node: DOMNode, _ name: String) -> DOMNode? {
        node.children.first { $0.isElement && $0.name == name }
    }

    private static func text(_ node: DOMNode?) -> String? {
        node.map(\.rawText).map { TextTools.collapseWhitespace($0) }.flatMap(nonEmpty)
    }

    private static func nonEmpty(_ text: String) -> String? {
        text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : text
    }

    /// Titles may carry HTML (`&lt;em&gt;`): their text.
    static func plain(_ html: String) -> String {
        guard html.contains("<") || html.contains("&") else { return html }
        return TextTools.collapseWhitespace(HTMLImporter.fragment(html).paragraphs.joined(separator: " "))
    }

    private static func resolve(_ link: String?, _ base: URL?) -> String? {
        guard let link = link?.trimmingCharacters(in: .whitespacesAndNewlines), !link.isEmpty else { return nil }
        if let base, let url = URL(string: link, relativeTo: base) { return url.absoluteString }
        return link
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// XHTML nodes back to markup, for the HTML reader.
    private static func serialize(_ nodes: [DOMNode]) -> String {
        var out = ""
        for node in nodes {
            if node.kind == .text {
                out += escape(node.text)
                continue
            }
            out += "<" + node.name
            for attribute in node.attributes {
                out += " \(attribute.name)=\"\(escape(attribute.value).replacingOccurrences(of: "\"", with: "&quot;"))\""
            }
            out += ">" + serialize(node.children) + "</\(node.name)>"
        }
        return out
    }
}
