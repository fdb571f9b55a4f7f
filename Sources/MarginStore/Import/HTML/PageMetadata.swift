import Foundation

/// What a page says about itself outside its text: JSON-LD, OpenGraph and other `<meta>` tags, `<title>`,
/// `rel=canonical`, `<html lang>`, `<time datetime>`, its `<h1>`s and byline elements.
struct PageMetadata {
    var structured = StructuredData()
    /// `<meta>` contents by lowercased `property`, `name`, `itemprop` or `http-equiv`; the first one wins.
    var meta: [String: String] = [:]
    /// Every `<meta name="author">`-like value, in page order (some pages list one tag per author).
    var metaAuthors: [String] = []
    var pageTitle: String?
    var canonical: String?
    var htmlLanguage: String?
    var headings: [DOMNode] = []
    var times: [DOMNode] = []
    var bylineNodes: [DOMNode] = []
    var body: DOMNode?
    var html: DOMNode?

    init(document: DOMNode) {
        html = document.children.first { $0.isElement && $0.name == "html" }
        htmlLanguage = html.flatMap { $0.attribute("lang") ?? $0.attribute("xml:lang") }.flatMap(Self.nonEmpty)
        var scripts: [String] = []
        var stack: [DOMNode] = document.children.reversed()
        while let node = stack.popLast() {
            guard node.isElement else { continue }
            switch node.name {
            case "body":
                if body == nil { body = node }
            case "meta":
                let content = node.attribute("content").flatMap(Self.nonEmpty)
                for key in ["property", "name", "itemprop", "http-equiv"] {
                    guard let raw = node.attribute(key), let content else { continue }
                    for name in raw.lowercased().split(separator: " ") {
                        let name = String(name)
                        if meta[name] == nil { meta[name] = content }
                        if ["author", "article:author", "dc.creator", "sailthru.author", "parsely-author", "byl",
                            "citation_author", "cxenseparse:author"]
                            .contains(name)
                        {
                            metaAuthors.append(content)
                        }
                    }
                }
            case "link":
                let rel = (node.attribute("rel") ?? "").lowercased().split(separator: " ")
                if rel.contains("canonical"), canonical == nil, let href = node.attribute("href").flatMap(Self.nonEmpty) {
                    canonical = href
                }
            case "title":
                if pageTitle == nil, node.closest({ $0.name == "svg" }) == nil {
                    pageTitle = Self.nonEmpty(node.normalizedText)
                }
            case "script":
                if (node.attribute("type") ?? "").lowercased().contains("ld+json") { scripts.append(node.rawText) }
            case "h1":
                headings.append(node)
            case "time":
                times.append(node)
            default:
                break
            }
            if Self.isBylineNode(node) { bylineNodes.append(node) }
            stack.append(contentsOf: node.children.reversed())
        }
        structured = StructuredData(scripts: scripts)
    }

    /// An element that names the author: `rel=author`, `itemprop=author`, or a class or id such as
    /// `byline`, `author`, `writtenby`, `contributor`.
    static func isBylineNode(_ node: DOMNode) -> Bool {
        guard !["script", "style", "meta", "link", "body", "html", "article", "main"].contains(node.name) else {
            return false
        }
        if let rel = node.attribute("rel")?.lowercased(), rel.split(separator: " ").contains("author") { return true }
        if let itemprop = node.attribute("itemprop")?.lowercased(), itemprop.split(separator: " ").contains("author") {
            return true
        }
        let hints = node.classAndID
        guard !hints.isEmpty else { return false }
        return ["byline", "by-line", "author", "writtenby", "written-by", "contributor", "autor", "auteur"]
            .contains(where: hints.contains)
            && !["author-bio", "authorbio", "author-info", "about-author", "author-image", "author-avatar",
                 "author-photo", "author-social", "author-follow"].contains(where: hints.contains)
    }

    static func nonEmpty(_ text: String) -> String? {
        let trimmed = TextTools.collapseWhitespace(text)
        return trimmed.isEmpty ? nil : trimmed
    }
}
