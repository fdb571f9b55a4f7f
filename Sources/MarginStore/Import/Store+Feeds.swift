import Foundation
import GRDB

/// A feed this replica follows (`margin feed add`).
public struct FeedInfo: Codable, Sendable, Equatable {
    public var url: String
    public var title: String?
    public var addedAt: String
    public var etag: String?
    public var lastModified: String?
    public var lastFetchAt: String?
    /// `ok`, `not_modified` or `failed`, for the last fetch.
    public var lastStatus: String?
    public var lastError: String?
    /// How many of its entries have been imported (or refused for good).
    public var entries: Int
}

/// What one fetch of a feed found, to record in one write.
public struct FeedFetchRecord: Sendable {
    public var url: String
    public var title: String?
    public var etag: String?
    public var lastModified: String?
    /// `ok`, `not_modified` or `failed`.
    public var status: String
    public var error: String?
    /// Entries now done: imported (with their article's id) or refused for good (no id).
    public var seen: [(key: String, articleID: String?)]
    /// Whether to store the validators: only when every new entry was dealt with, so that a temporary
    /// failure is retried at the next fetch instead of hidden behind a 304.
    public var keepValidators: Bool

    public init(url: String, title: String?, etag: String?, lastModified: String?, status: String, error: String?,
                seen: [(key: String, articleID: String?)], keepValidators: Bool)
    {
        self.url = url
        self.title = title
        self.etag = etag
        self.lastModified = lastModified
        self.status = status
        self.error = error
        self.seen = seen
        self.keepValidators = keepValidators
    }
}

extension Store {
    /// Follows a feed.
    /// - Throws: `StoreError.invalidArgument` when it is followed already.
    public func addFeed(url: String, title: String?) throws {
        try writeLocal { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM feed WHERE url = ?", arguments: [url]) == true {
                throw StoreError.invalidArgument("the feed \(url) is followed already; see `margin feed list`")
            }
            try db.execute(sql: "INSERT INTO feed(url, title, added_at) VALUES (?, ?, ?)",
                           arguments: [url, title, Self.now()])
        }
    }

    /// Stops following a feed (its articles stay).
    /// - Throws: `StoreError.invalidArgument` when no such feed is followed.
    public func removeFeed(url: String) throws {
        try writeLocal { db in
            try db.execute(sql: "DELETE FROM feed_entry WHERE feed_url = ?", arguments: [url])
            try db.execute(sql: "DELETE FROM feed WHERE url = ?", arguments: [url])
            if db.changesCount == 0 {
                throw StoreError.invalidArgument("no feed \(url) is followed; see `margin feed list`")
            }
        }
    }

    /// The feeds followed, by URL.
    public func feeds() throws -> [FeedInfo] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT feed.*, (SELECT count(*) FROM feed_entry WHERE feed_url = feed.url) AS entries
                FROM feed ORDER BY url
                """).map { row in
                FeedInfo(url: row["url"], title: row["title"], addedAt: row["added_at"], etag: row["etag"],
                         lastModified: row["last_modified"], lastFetchAt: row["last_fetch_at"],
                         lastStatus: row["last_status"], lastError: row["last_error"], entries: row["entries"])
            }
        }
    }

    /// The keys of the entries of `url` already done.
    public func seenFeedEntries(url: String) throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT entry_key FROM feed_entry WHERE feed_url = ?", arguments: [url]))
        }
    }

    /// Records a fetch of a feed: its state, its validators and the entries now done, in one write.
    public func recordFeedFetch(_ record: FeedFetchRecord) throws {
        try writeLocal { db in
            let now = Self.now()
            if record.keepValidators {
                try db.execute(sql: """
                    UPDATE feed SET title = coalesce(?, title), etag = ?, last_modified = ?, last_fetch_at = ?,
                        last_status = ?, last_error = ? WHERE url = ?
                    """, arguments: [record.title, record.etag, record.lastModified, now, record.status, record.error,
                                     record.url])
            } else {
                try db.execute(sql: """
                    UPDATE feed SET title = coalesce(?, title), last_fetch_at = ?, last_status = ?, last_error = ?
                    WHERE url = ?
                    """, arguments: [record.title, now, record.status, record.error, record.url])
            }
            for entry in record.seen {
                try db.execute(sql: """
                    INSERT INTO feed_entry(feed_url, entry_key, article_id, seen_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(feed_url, entry_key) DO UPDATE SET article_id = excluded.article_id
                    """, arguments: [record.url, entry.key, entry.articleID, now])
            }
        }
    }

    private static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
