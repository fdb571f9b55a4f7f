import Foundation

/// The `--json` shapes. They are a contract with users' scripts (README, "JSON output"): add
/// fields, never rename or remove them.
public struct ArticleJSON: Codable, Sendable, Equatable {
    public var id: String
    public var url: String?
    public var title: String
    public var byline: String?
    public var source: String?
    public var published_at: String?
    public var language: String?
    public var content_hash: String
    public var tags: [String]
    public var created: String
    public var updated: String
    public var body: String?
    public var caption: String?
    public var annotations: [AnnotationJSON]?

    public init(_ a: Article, withBody: Bool = false, annotations: [Annotation]? = nil) {
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

    /// Every documented field is present, null when it has no value; `body` and `caption` come
    /// with the body (`show`, exports) and `annotations` with `show`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(url, forKey: .url)
        try c.encode(title, forKey: .title)
        try c.encode(byline, forKey: .byline)
        try c.encode(source, forKey: .source)
        try c.encode(published_at, forKey: .published_at)
        try c.encode(language, forKey: .language)
        try c.encode(content_hash, forKey: .content_hash)
        try c.encode(tags, forKey: .tags)
        try c.encode(created, forKey: .created)
        try c.encode(updated, forKey: .updated)
        if let body {
            try c.encode(body, forKey: .body)
            try c.encode(caption, forKey: .caption)
        }
        try c.encodeIfPresent(annotations, forKey: .annotations)
    }
}

public struct AnnotationJSON: Codable, Sendable, Equatable {
    public var id: String
    public var article_id: String
    public var motivation: String
    public var exact: String
    public var prefix: String
    public var suffix: String
    public var start: Int
    public var end: Int
    public var note: String?
    public var color: String?
    public var tags: [String]
    public var author: String
    public var created: String
    public var updated: String
    /// Where the passage is in the current body (derived; absent until the body is known).
    public var anchor: AnchorJSON?

    /// An annotation's current placement.
    public struct AnchorJSON: Codable, Sendable, Equatable {
        /// "anchored", or "orphan" when the passage's text is gone from the current body.
        public var state: String
        /// The passage (anchored) or the best candidate (orphan), in code points of the current body.
        public var start: Int?
        public var end: Int?
        /// Confidence in 0...1.
        public var score: Double?
        /// unchanged, diff, exact or fuzzy.
        public var method: String?

        public init(_ anchor: AnchorState) {
            state = anchor.isOrphan ? "orphan" : "anchored"
            let placement: Reanchor.Placement?
            switch anchor {
            case .anchored(let p): placement = p
            case .orphan(let best): placement = best
            }
            start = placement?.start
            end = placement?.end
            score = placement.map { ($0.score * 1000).rounded() / 1000 }
            method = placement?.method.rawValue
        }

        /// Every field present: an orphan without a candidate has null start, end, score, method.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(start, forKey: .start)
            try c.encode(end, forKey: .end)
            try c.encode(score, forKey: .score)
            try c.encode(method, forKey: .method)
        }
    }

    public init(_ a: Annotation) {
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
        anchor = a.anchor.map(AnchorJSON.init)
    }

    /// Every documented field is present, null when it has no value (`anchor` too, until the
    /// article's body is known).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(article_id, forKey: .article_id)
        try c.encode(motivation, forKey: .motivation)
        try c.encode(exact, forKey: .exact)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(suffix, forKey: .suffix)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
        try c.encode(note, forKey: .note)
        try c.encode(color, forKey: .color)
        try c.encode(tags, forKey: .tags)
        try c.encode(author, forKey: .author)
        try c.encode(created, forKey: .created)
        try c.encode(updated, forKey: .updated)
        try c.encode(anchor, forKey: .anchor)
    }
}

/// The canonical JSON export: the same state gives the same bytes on every replica.
public struct CanonicalExport: Codable, Sendable, Equatable {
    public var articles: [ArticleJSON]
    public var annotations: [AnnotationJSON]
}

extension Store {
    /// The canonical export of live articles (all, or those with the given ids) and their annotations.
    public func exportJSON(articleIDs: [String]? = nil) throws -> Data {
        var articles = try self.articles().sorted { $0.id < $1.id }
        if let articleIDs { articles = articles.filter { articleIDs.contains($0.id) } }
        let chosen = Set(articles.map(\.id))
        let annotations = try self.annotations().filter { chosen.contains($0.articleID) }.sorted { $0.id < $1.id }
        let export = CanonicalExport(
            articles: articles.map { ArticleJSON($0, withBody: true) }, annotations: annotations.map(AnnotationJSON.init))
        return try CanonicalJSON.encode(export, prettyPrinted: true) + Data("\n".utf8)
    }
}
