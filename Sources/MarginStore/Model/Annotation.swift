import Foundation

/// The W3C Web Annotation motivations Margin records.
public enum Motivation: String, Codable, Sendable, CaseIterable {
    case highlighting, commenting, tagging, bookmarking
}

/// Where an annotation points in an article body: a TextQuoteSelector and a TextPositionSelector.
///
/// `start` and `end` count Unicode code points (Unicode scalars) from the start of the body, as the
/// W3C model requires; `end` is exclusive.
public struct TextTarget: Codable, Sendable, Equatable, Hashable {
    public var exact: String
    public var prefix: String
    public var suffix: String
    public var start: Int
    public var end: Int
    /// The content hash of the body revision the selectors were computed on.
    public var revision: String?

    public init(exact: String, prefix: String, suffix: String, start: Int, end: Int, revision: String? = nil) {
        self.exact = exact
        self.prefix = prefix
        self.suffix = suffix
        self.start = start
        self.end = end
        self.revision = revision
    }
}

/// A highlight, comment or bookmark on an article.
public struct Annotation: Sendable, Equatable, Identifiable {
    /// A time-ordered UUID (v7), lowercase, made where the annotation is created.
    public var id: String
    public var articleID: String
    public var motivation: Motivation
    public var target: TextTarget
    public var note: String?
    public var color: String?
    /// Sorted, unique.
    public var tags: [String]
    /// The name of the replica that created the annotation.
    public var author: String
    public var createdAt: HLC
    public var updatedAt: HLC
    /// Where the passage is in the article's current body (nil until the body is known). The
    /// target keeps the selectors as made; this says where they point now.
    public var anchor: AnchorState?

    public init(
        id: String, articleID: String, motivation: Motivation, target: TextTarget, note: String? = nil,
        color: String? = nil, tags: [String] = [], author: String, createdAt: HLC, updatedAt: HLC,
        anchor: AnchorState? = nil
    ) {
        self.id = id
        self.articleID = articleID
        self.motivation = motivation
        self.target = target
        self.note = note
        self.color = color
        self.tags = tags
        self.author = author
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.anchor = anchor
    }
}
