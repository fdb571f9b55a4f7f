import Foundation

/// An RSS 2.0, RSS 1.0, Atom or OPML document, as `FeedParser` reads it.
public struct Feed: Sendable, Equatable {
    /// What the document is.
    public enum Kind: String, Sendable {
        case rss, atom, opml
    }

    public var kind: Kind
    /// The feed's (or the OPML file's) title.
    public var title: String?
    /// The site the feed belongs to.
    public var link: String?
    /// The feed's language (`<language>`, `xml:lang`).
    public var language: String?
    /// The entries, in document order (RSS and Atom).
    public var entries: [FeedEntry] = []
    /// The feeds an OPML file lists (`<outline xmlUrl=…>`), in document order.
    public var subscriptions: [FeedSubscription] = []
}

/// One entry of a feed.
public struct FeedEntry: Sendable, Equatable {
    /// `guid` or Atom `id`, else the link: what identifies the entry across fetches.
    public var key: String
    public var title: String?
    /// The entry's page, resolved against the feed's URL.
    public var link: String?
    /// ISO 8601.
    public var publishedAt: String?
    public var author: String?
    /// The full text as HTML (`content:encoded`, Atom `content`), when the feed carries it.
    public var contentHTML: String?
    /// The summary (`description`, Atom `summary`), as HTML.
    public var summaryHTML: String?
    public var language: String?
}

/// A feed listed in an OPML file.
public struct FeedSubscription: Sendable, Equatable {
    public var url: String
    public var title: String?
}
