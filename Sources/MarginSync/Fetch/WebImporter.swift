import Foundation
import MarginStore

/// Why a page or a feed entry could not be imported.
public enum WebImportError: Error, Sendable, CustomStringConvertible {
    /// The fetch failed (not found, timeout, wrong type, …).
    case fetch(FetchError)
    /// The page arrived but is not an article, or the feed is not a feed.
    case content(url: String, ImportError)

    public var description: String {
        switch self {
        case .fetch(let error): return error.description
        case .content(let url, let error): return "\(url): \(error.message)"
        }
    }

    /// Worth trying again later.
    public var isTemporary: Bool {
        if case .fetch(let error) = self { return error.isTemporary }
        return false
    }
}

/// What a URL turned out to be.
public enum WebResource: Sendable {
    case article(ImportedArticle)
    case feed(Feed)
}

/// One entry of a feed, imported or not.
public struct FeedEntryOutcome: Sendable {
    public enum Result: Sendable {
        case article(ImportedArticle)
        /// The same canonical URL as an earlier entry.
        case duplicate
        case failed(WebImportError)
    }

    public var entry: FeedEntry
    public var result: Result
}

/// Fetches pages and feeds and reads them into articles: an HTML page through `HTMLImporter` (charset
/// from the HTTP header, the final URL when the page names no canonical one), a feed through
/// `FeedParser`, each entry from its own full text when the feed carries it, else from its page.
public struct WebImporter: Sendable {
    public let fetcher: PageFetcher

    public init(fetcher: PageFetcher = PageFetcher()) {
        self.fetcher = fetcher
    }

    /// Fetches `url` and reads it as an article page or a feed.
    /// - Parameters:
    ///   - etag: For a conditional GET of a feed held.
    ///   - lastModified: For a conditional GET of a feed held.
    /// - Returns: The answer and what it holds; `nil` for a 304.
    public func resource(_ url: URL, accept: PageFetcher.Accept = .pageOrFeed, etag: String? = nil,
                         lastModified: String? = nil) async throws(WebImportError) -> (FetchedPage, WebResource?)
    {
        let page: FetchedPage
        do {
            page = try await fetcher.fetch(url, accept: accept, etag: etag, lastModified: lastModified)
        } catch {
            throw .fetch(error)
        }
        if page.notModified { return (page, nil) }
        let where_ = page.url.absoluteString
        let kind = PageFetcher.kind(ofType: page.contentType) ?? Self.sniff(page.data)
        switch kind {
        case "feed" where FeedParser.looksLikeFeed(page.data) || accept == .feed:
            do {
                return (page, .feed(try FeedParser.parse(page.data, baseURL: page.url)))
            } catch {
                throw .content(url: where_, error)
            }
        case "html", "feed":
            if accept == .feed {
                throw .content(url: where_, ImportError("not a feed: the page is HTML (give the feed's own URL)"))
            }
            do {
                return (page, .article(try HTMLImporter.parse(page.data, httpCharset: page.charset, pageURL: page.url)))
            } catch {
                throw .content(url: where_, error)
            }
        default:
            throw .fetch(.unsupportedType(url: where_, type: page.contentType ?? "content of an unknown type"))
        }
    }

    /// Fetches the article page at `url`.
    /// - Throws: `WebImportError`, also when the URL is a feed.
    public func article(at url: URL) async throws(WebImportError) -> ImportedArticle {
        let (page, resource) = try await self.resource(url)
        guard case .article(let article)? = resource else {
            throw .content(url: page.url.absoluteString,
                           ImportError("a feed, not an article page; import it with `margin import` or follow it with `margin feed add`"))
        }
        return article
    }

    /// The articles of a feed's entries: each from its own content when the feed carries it in full, else
    /// from its page (fetched one after another); entries whose canonical URL came earlier are duplicates.
    /// - Parameters:
    ///   - skipping: Keys of entries already done (`FeedEntry.key`), left out.
    ///   - progress: Called before each entry with (done, total).
    public func articles(of feed: Feed, skipping: Set<String> = [], progress: @Sendable (Int, Int) -> Void = { _, _ in })
        async -> [FeedEntryOutcome]
    {
        let entries = feed.entries.filter { !skipping.contains($0.key) }
        var outcomes: [FeedEntryOutcome] = []
        var seenURLs = Set<String>()
        for (index, entry) in entries.enumerated() {
            progress(index, entries.count)
            if let link = entry.link, let canonical = ArticleIdentity.canonicalURL(link), !seenURLs.insert(canonical).inserted {
                outcomes.append(FeedEntryOutcome(entry: entry, result: .duplicate))
                continue
            }
            do {
                if let article = try FeedParser.article(from: entry, in: feed) {
                    outcomes.append(FeedEntryOutcome(entry: entry, result: .article(article)))
                    continue
                }
            } catch {
                outcomes.append(FeedEntryOutcome(entry: entry, result: .failed(.content(url: entry.link ?? entry.key, error))))
                continue
            }
            guard let link = entry.link, let url = try? PageFetcher.url(link) else {
                outcomes.append(FeedEntryOutcome(
                    entry: entry,
                    result: .failed(.content(url: entry.key, ImportError("the entry has neither its text nor a link to it")))))
                continue
            }
            do {
                var article = try await self.article(at: url)
                if article.language == nil { article.language = entry.language }
                if article.publishedAt == nil { article.publishedAt = entry.publishedAt }
                // The page's canonical URL may differ from the feed's link (tracking redirects).
                if let canonical = article.url.flatMap(ArticleIdentity.canonicalURL), canonical != ArticleIdentity.canonicalURL(link),
                    !seenURLs.insert(canonical).inserted
                {
                    outcomes.append(FeedEntryOutcome(entry: entry, result: .duplicate))
                    continue
                }
                outcomes.append(FeedEntryOutcome(entry: entry, result: .article(article)))
            } catch {
                outcomes.append(FeedEntryOutcome(entry: entry, result: .failed(error)))
            }
        }
        progress(entries.count, entries.count)
        return outcomes
    }

    /// "html", "feed" or "other", from the first bytes of a body served without a usable type.
    static func sniff(_ data: Data) -> String {
        if FeedParser.looksLikeFeed(data) { return "feed" }
        let head = String(decoding: data.prefix(1024), as: UTF8.self).lowercased()
        let trimmed = head.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" })
        if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") || head.contains("<body")
            || head.contains("<head")
        {
            return "html"
        }
        return "other"
    }
}
