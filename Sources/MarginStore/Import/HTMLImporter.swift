import Foundation

/// Reads an article from an HTML page: libxml2's HTML parser builds the tree, `ArticleExtractor` reads
/// the metadata (JSON-LD, OpenGraph, `<meta>`, `rel=canonical`, `<time>`, `<html lang>`) and
/// `ContentScorer` finds the story text as Readability does. Figure captions are kept apart from the body.
public enum HTMLImporter {
    /// Reads the article of an HTML page.
    /// - Parameters:
    ///   - data: The page's bytes, in any encoding a browser would read (BOM, `charset`, `<meta charset>`).
    ///   - httpCharset: The `charset` of the HTTP `Content-Type`, when the page was fetched.
    ///   - pageURL: Where the page was fetched from: resolves a relative canonical link, and is the
    ///     article's URL when the page names none.
    /// - Returns: The article.
    /// - Throws: `ImportError` for a page that is not an article (a section front, an error page) or has
    ///   no text.
    public static func parse(_ data: Data, httpCharset: String? = nil, pageURL: URL? = nil) throws(ImportError)
        -> ImportedArticle
    {
        let (text, _) = HTMLCharset.decode(data, httpCharset: httpCharset)
        return try parse(text, pageURL: pageURL)
    }

    /// Reads the article of an HTML page already decoded to text.
    static func parse(_ html: String, pageURL: URL? = nil) throws(ImportError) -> ImportedArticle {
        let document = DOMParser.parseHTML(Array(html.utf8))
        return try ArticleExtractor(document: document, pageURL: pageURL).extract()
    }

    /// Converts an HTML fragment (a feed's `content:encoded`, a JSON article's `content`) to plain-text
    /// paragraphs: every block, no scoring (the fragment is the article), scripts and forms dropped,
    /// figures' captions left out.
    static func plainText(fromFragment html: String) -> String {
        fragment(html).paragraphs.joined(separator: "\n\n")
    }

    /// The paragraphs and figure captions of an HTML fragment.
    static func fragment(_ html: String) -> (paragraphs: [String], captions: [String]) {
        let document = DOMParser.parseHTML(Array(("<html><body>" + html + "</body></html>").utf8))
        let body = document.first("body") ?? document
        let scorer = ContentScorer(body: body, headline: nil, title: "", byline: nil)
        var excluded = Set<ObjectIdentifier>()
        for node in body.descendants(where: { ContentScorer.neverContent.contains($0.name) }) {
            excluded.insert(ObjectIdentifier(node))
        }
        let paragraphs = scorer.collect(body, skipping: excluded, skipFigures: true).map(\.text)
        let captions = body.descendants(where: { $0.name == "figcaption" }).map(\.normalizedText).filter { !$0.isEmpty }
        return (paragraphs, captions)
    }
}
