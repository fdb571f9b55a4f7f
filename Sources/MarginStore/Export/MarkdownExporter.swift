import Foundation

/// Exports articles and their highlights as Markdown that reads well as plain text.
///
/// Per article: a `# Title` heading, a metadata line (byline, source, published, URL), the article's
/// tags, then each annotation in body order as a `> quote` block followed by its note and tags. The
/// output is deterministic and does not depend on the input order.
public enum MarkdownExporter {
    /// Renders every article and its annotations.
    ///
    /// Articles are ordered by title, then id. Annotations whose article is not among `articles`
    /// are still rendered, under a heading naming the missing article's id, so nothing is dropped.
    /// - Parameters:
    ///   - articles: The articles to render, with or without annotations.
    ///   - annotations: The annotations to render, in any order.
    /// - Returns: Markdown text ending in one newline; empty when there is nothing to render.
    public static func export(articles: [Article], annotations: [Annotation]) -> String {
        var articlesByID: [String: Article] = [:]
        for article in articles {
            if let known = articlesByID[article.id],
                (known.updatedAt, known.contentHash) >= (article.updatedAt, article.contentHash)
            {
                continue
            }
            articlesByID[article.id] = article
        }
        let annotationsByArticle = Dictionary(grouping: annotations, by: \.articleID)

        var sections: [String] = []
        let ordered = articlesByID.values.sorted { ($0.title, $0.id) < ($1.title, $1.id) }
        for article in ordered {
            sections.append(section(heading: article, annotations: annotationsByArticle[article.id] ?? []))
        }
        let missing = annotationsByArticle.keys.filter { articlesByID[$0] == nil }.sorted()
        for articleID in missing {
            let lines = [
                "# Article \(articleID)",
                "*The article is not part of this export.*",
            ] + annotationBlocks(annotationsByArticle[articleID] ?? [])
            sections.append(lines.joined(separator: "\n\n"))
        }
        return sections.isEmpty ? "" : sections.joined(separator: "\n\n\n") + "\n"
    }

    static func section(heading article: Article, annotations: [Annotation]) -> String {
        var blocks = ["# " + oneLine(article.title, placeholder: "Untitled")]
        var metadata: [String] = []
        if let byline = article.byline, !byline.isEmpty { metadata.append("By " + oneLine(byline)) }
        if let source = article.source, !source.isEmpty, source != article.byline { metadata.append(oneLine(source)) }
        if let published = article.publishedAt, !published.isEmpty { metadata.append(oneLine(published)) }
        if let url = article.url, !url.isEmpty { metadata.append(link(url)) }
        if !metadata.isEmpty { blocks.append(metadata.joined(separator: " · ")) }
        if !article.tags.isEmpty { blocks.append(tagLine(article.tags)) }
        blocks += annotationBlocks(annotations)
        return blocks.joined(separator: "\n\n")
    }

    private static func annotationBlocks(_ annotations: [Annotation]) -> [String] {
        let ordered = annotations.sorted {
            ($0.target.start, $0.target.end, $0.id, $0.updatedAt.rawValue)
                < ($1.target.start, $1.target.end, $1.id, $1.updatedAt.rawValue)
        }
        var blocks: [String] = []
        for annotation in ordered {
            if annotation.target.exact.isEmpty {
                blocks.append("*Bookmark at character \(annotation.target.start)*")
            } else {
                blocks.append(quote(annotation.target.exact))
            }
            if let note = annotation.note, !note.isEmpty { blocks.append(note) }
            if !annotation.tags.isEmpty { blocks.append(tagLine(annotation.tags)) }
        }
        return blocks
    }

    /// Every line of the text behind `> `, blank lines as a bare `>` so the quote stays one block.
    private static func quote(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in
                let line = line.hasSuffix("\r") ? line.dropLast() : line
                return line.isEmpty ? ">" : "> " + line
            }
            .joined(separator: "\n")
    }

    /// An autolink; a URL with spaces or angle brackets is percent-encoded first, or it would not link.
    private static func link(_ url: String) -> String {
        let url = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard url.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" }) else { return "<\(url)>" }
        return W3CExporter.uriString(url).map { "<\($0)>" } ?? oneLine(url)
    }

    private static func tagLine(_ tags: [String]) -> String {
        "Tags: " + tags.map { "#" + $0 }.joined(separator: " ")
    }

    /// Collapses runs of whitespace (newlines included) so a heading or metadata line stays one line.
    private static func oneLine(_ text: String, placeholder: String = "") -> String {
        let words = text.split(whereSeparator: { $0.isWhitespace })
        return words.isEmpty ? placeholder : words.joined(separator: " ")
    }
}
