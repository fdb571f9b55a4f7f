import Foundation

/// An article as an importer read it, before the store gives it an id and a content hash.
public struct ImportedArticle: Sendable, Equatable {
    /// The canonical URL, when the source names one.
    public var url: String?
    /// The headline.
    public var title: String
    /// Who wrote it: a person, or an agency for wire copy.
    public var byline: String?
    /// The publisher or news agency, when recognisable.
    public var source: String?
    /// ISO 8601, as precise as the source says: `2021-03-17T09:15` or `2019-01-04`.
    public var publishedAt: String?
    /// A BCP 47 language tag such as `en` or `ko-KR`, when the source declares one.
    public var language: String?
    /// Plain text; paragraphs separated by exactly one blank line; no leading or trailing whitespace.
    public var body: String
    /// A photo caption, kept out of the body so annotations anchor on the story alone.
    public var caption: String?

    /// Creates an imported article; only the title and the body are required.
    public init(
        url: String? = nil,
        title: String,
        byline: String? = nil,
        source: String? = nil,
        publishedAt: String? = nil,
        language: String? = nil,
        body: String,
        caption: String? = nil
    ) {
        self.url = url
        self.title = title
        self.byline = byline
        self.source = source
        self.publishedAt = publishedAt
        self.language = language
        self.body = body
        self.caption = caption
    }
}

/// The file formats `ArticleImporter` reads.
public enum ImportFormat: String, Sendable, CaseIterable {
    /// A plain-text wire story: headline, optional dateline and caption, then paragraphs.
    case text
    /// Markdown, with optional YAML-style front matter.
    case markdown
    /// An HTML page; the body comes from `<article>`, `<main>` or `<body>`.
    case html
    /// One JSON article object, or an array of them.
    case json
    /// RFC 4180 CSV with a header naming the columns `url,date,title,text`.
    case csv
}

/// Why an import failed, as one line a person can act on.
public struct ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problem and what to do about it.
    public var message: String

    /// Creates an error carrying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message itself.
    public var description: String { message }
}
