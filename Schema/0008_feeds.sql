-- Feed subscriptions (`margin feed add|list|rm|fetch`): local bookkeeping, not replicated. The
-- articles a feed brings in are imported like any other, and sync as such.

-- A subscribed feed. etag and last_modified are the validators of its last answer, sent back as
-- If-None-Match / If-Modified-Since so an unchanged feed costs a 304. last_status is what the last
-- fetch found (ok, not_modified, failed), last_error its message when it failed.
CREATE TABLE feed (
    url TEXT PRIMARY KEY NOT NULL,
    title TEXT,
    added_at TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_fetch_at TEXT,
    last_status TEXT,
    last_error TEXT
) WITHOUT ROWID;

-- Entries of a feed already imported (or refused for good: a 404 page, not an article), by the
-- entry's guid / Atom id, else its link: `feed fetch` imports new entries only.
CREATE TABLE feed_entry (
    feed_url TEXT NOT NULL REFERENCES feed(url) ON DELETE CASCADE,
    entry_key TEXT NOT NULL,
    article_id TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, entry_key)
) WITHOUT ROWID;
