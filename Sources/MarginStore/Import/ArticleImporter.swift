import Foundation

/// Reads articles from plain text, Markdown, HTML, JSON and CSV into `ImportedArticle`s.
///
/// Pure Foundation: no storage, no networking. Every importer hands back bodies in one shape —
/// `\n` line endings, paragraphs separated by exactly one blank line, NFC — so that two laptops
/// importing the same story anchor annotations on the same text.
public enum ArticleImporter {
    /// Guesses the format of a file: by its extension first, else by sniffing its content.
    /// - Parameters:
    ///   - filename: The file's name or path, if any (`nil` or `-` for standard input).
    ///   - data: The file's bytes.
    /// - Returns: The format, or `nil` when neither the name nor the content says (binary data, empty input).
    public static func detectFormat(filename: String?, data: Data) -> ImportFormat? {
        if let filename, let format = format(forExtension: (filename as NSString).pathExtension) {
            return format
        }
        return sniff(data)
    }

    /// Parses `data` as `format` into one article, or several for JSON arrays and CSV.
    /// - Parameters:
    ///   - data: The file's bytes, which must be UTF-8 (a byte-order mark is allowed).
    ///   - format: The format to read, usually from `detectFormat(filename:data:)`.
    ///   - filename: The file's name, used only in error messages.
    /// - Returns: The articles, in file order; never empty.
    /// - Throws: `ImportError` naming the problem and, for arrays and CSV, the offending index or row.
    public static func parse(
        _ data: Data, format: ImportFormat, filename: String?
    ) throws(ImportError) -> [ImportedArticle] {
        let articles: [ImportedArticle]
        switch format {
        case .text: articles = [try PlainTextImporter.parse(try decode(data, filename: filename))]
        case .markdown: articles = [try MarkdownImporter.parse(try decode(data, filename: filename))]
        // A page says its own encoding (BOM, <meta charset>); it need not be UTF-8.
        case .html: articles = [try HTMLImporter.parse(data)]
        case .json: articles = try JSONImporter.parse(try decode(data, filename: filename))
        case .csv: articles = try CSVImporter.parse(try decode(data, filename: filename))
        }
        if articles.isEmpty {
            throw ImportError("\(displayName(filename)) holds no articles")
        }
        return articles
    }

    // MARK: - Format detection

    static func format(forExtension ext: String) -> ImportFormat? {
        switch ext.lowercased() {
        case "txt", "text": .text
        case "md", "markdown", "mdown", "mkd": .markdown
        case "html", "htm", "xhtml": .html
        case "json": .json
        case "csv": .csv
        default: nil
        }
    }

    private static let sniffLimit = 8192

    private static func sniff(_ data: Data) -> ImportFormat? {
        guard let head = sniffHead(data), head.contains("\u{0}") == false else { return nil }
        let text = normalizeLineEndings(head.hasPrefix("\u{FEFF}") ? String(head.dropFirst()) : head)
        let trimmed = text.trimmed()
        guard trimmed.isEmpty == false else { return nil }

        if trimmed.hasPrefix("{") { return .json }
        if trimmed.hasPrefix("[") {
            // "[a link](url)" opens Markdown too: an array counts when it parses, or when too big to
            // parse here, when it opens with an object.
            if data.count > sniffLimit {
                if trimmed.dropFirst().trimmed().hasPrefix("{") { return .json }
            } else if (try? JSONSerialization.jsonObject(with: data)) != nil {
                return .json
            }
        }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("<!doctype html") || lower.hasPrefix("<html")
            || (lower.hasPrefix("<")
                && ["<body", "<article", "<p>", "<p ", "<div", "<head"].contains(where: lower.contains))
        {
            return .html
        }
        let lines = trimmed.split(separator: "\n", omittingEmptySubsequences: false)
        if let header = lines.first {
            let columns = Set(
                header.split(separator: ",").map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased()
                })
            if columns.contains("title") && columns.contains("text") { return .csv }
        }
        if trimmed.hasPrefix("---\n") || lines.contains(where: { $0.hasPrefix("# ") || $0.hasPrefix("## ") })
            || trimmed.contains("](")
        {
            return .markdown
        }
        return .text
    }

    /// The first few kilobytes as text, or `nil` when they are not UTF-8. A cut prefix may end inside a
    /// multi-byte character, so up to three bytes are dropped before giving up.
    private static func sniffHead(_ data: Data) -> String? {
        if data.count <= sniffLimit { return String(data: data, encoding: .utf8) }
        for cut in 0..<4 {
            if let head = String(data: data.prefix(sniffLimit - cut), encoding: .utf8) { return head }
        }
        return nil
    }

    // MARK: - Helpers shared by the importers

    static func displayName(_ filename: String?) -> String {
        guard let filename, filename.isEmpty == false, filename != "-" else { return "the input" }
        return filename
    }

    /// Decodes UTF-8, dropping a byte-order mark and normalising line endings to `\n`.
    static func decode(_ data: Data, filename: String?) throws(ImportError) -> String {
        guard let text = String(bytes: data, encoding: .utf8) else {
            throw ImportError("\(displayName(filename)) is not valid UTF-8; convert it to UTF-8 and import it again")
        }
        return normalizeLineEndings(text.utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? String(text.dropFirst()) : text)
    }

    static func normalizeLineEndings(_ text: String) -> String {
        TextTools.normalizeLineEndings(text)
    }

    /// The body shape every importer returns (see `TextTools.normalizeBody`).
    static func normalizeBody(_ text: String) -> String {
        TextTools.normalizeBody(text)
    }

    /// A one-line field (title, byline, caption): whitespace runs collapsed, NFC.
    static func normalizeLine(_ text: String) -> String {
        TextTools.normalizeLine(text)
    }

    /// `nil` for absent or blank optional fields, so they never reach the store as "".
    static func nonEmpty(_ text: String?) -> String? {
        guard let text else { return nil }
        let line = normalizeLine(text)
        return line.isEmpty ? nil : line
    }

    /// Normalises every field and refuses an article without a title or a body.
    /// - Parameter location: Where the article sits, for messages: "JSON article at index 3", "CSV row 5".
    static func finish(_ article: ImportedArticle, location: String?) throws(ImportError) -> ImportedArticle {
        var article = article
        article.title = normalizeLine(article.title)
        article.body = normalizeBody(article.body)
        article.url = nonEmpty(article.url)
        article.byline = nonEmpty(article.byline)
        article.source = nonEmpty(article.source)
        article.language = nonEmpty(article.language)
        article.caption = nonEmpty(article.caption)
        article.publishedAt = nonEmpty(article.publishedAt)
        if article.title.isEmpty {
            throw ImportError(location.map { "\($0) has an empty title" } ?? "empty article: no title")
        }
        if article.body.isEmpty {
            throw ImportError(location.map { "\($0) has an empty body" } ?? "empty article: no body text")
        }
        return article
    }
}

extension StringProtocol {
    /// The text without trailing whitespace (spaces, tabs, no-break spaces).
    func trimmingTrailingWhitespace() -> SubSequence {
        var end = endIndex
        while end > startIndex {
            let before = index(before: end)
            guard self[before].isWhitespace else { break }
            end = before
        }
        return self[startIndex..<end]
    }

    /// The text without leading or trailing whitespace.
    func trimmed() -> String {
        // Unicode White_Space at either end (what CharacterSet.whitespacesAndNewlines holds), found by
        // scalars: no pass through Foundation.
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !TextTools.isWhitespace($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !TextTools.isWhitespace($0) })!
        if start == scalars.startIndex, scalars.index(after: end) == scalars.endIndex { return String(self) }
        return String(String.UnicodeScalarView(scalars[start...end]))
    }
}
