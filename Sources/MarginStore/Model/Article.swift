import Foundation

/// A news article as the store shows it: the winning value of every field.
public struct Article: Codable, Sendable, Equatable, Identifiable {
    /// Deterministic id: from the canonical URL when known, else from the normalised title and body.
    public var id: String
    public var url: String?
    public var title: String
    public var byline: String?
    public var source: String?
    /// ISO 8601, as precise as the source says: `2021-03-17T09:15` or `2019-01-04`.
    public var publishedAt: String?
    public var language: String?
    /// Plain text, paragraphs separated by a blank line: the surface annotations anchor on.
    public var body: String
    /// A photo caption kept out of the body.
    public var caption: String?
    /// SHA-256 (hex) of the body: names the revision annotations were made on.
    public var contentHash: String
    /// Sorted, unique.
    public var tags: [String]
    public var createdAt: HLC
    public var updatedAt: HLC

    public init(
        id: String, url: String? = nil, title: String, byline: String? = nil, source: String? = nil,
        publishedAt: String? = nil, language: String? = nil, body: String, caption: String? = nil,
        contentHash: String, tags: [String] = [], createdAt: HLC, updatedAt: HLC
    ) {
        self.id = id
        self.url = url
        self.title = title
        self.byline = byline
        self.source = source
        self.publishedAt = publishedAt
        self.language = language
        self.body = body
        self.caption = caption
        self.contentHash = contentHash
        self.tags = tags
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
