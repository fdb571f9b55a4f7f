import Foundation
import GRDB
import MarginStore


struct WriteTimes {
    var importSeconds = 0.0
    var annotateSeconds = 0.0
    var editSeconds = 0.0
    var total: Double { importSeconds + annotateSeconds + editSeconds }
}

let articleBatch = 100
let annotationBatch = 1_000

/// Margin's own path: `importArticles` in batches, `highlight` in batches, then each edit in its
/// own transaction (as the CLI makes them).
func marginWrites(_ store: Store, _ workload: Workload) throws -> (WriteTimes, [String]) {
    var times = WriteTimes()
    var start = ContinuousClock.now
    for first in stride(from: 0, to: workload.articles.count, by: articleBatch) {
        let batch = workload.articles[first..<min(workload.articles.count, first + articleBatch)].map {
            ImportedArticle(url: $0.url, title: $0.title, source: $0.source, publishedAt: $0.publishedAt, language: "en", body: $0.body)
        }
        _ = try store.importArticles(batch)
    }
    times.importSeconds = seconds(start)
    start = ContinuousClock.now
    var ids: [String] = []
    for first in stride(from: 0, to: workload.annotations.count, by: annotationBatch) {
        let batch = workload.annotations[first..<min(workload.annotations.count, first + annotationBatch)].map {
            Store.HighlightRequest(
                articleRef: workload.articles[$0.article].id, anchor: .position(start: $0.start, end: $0.end),
                note: $0.note, tags: $0.tags)
        }
        ids += try store.highlight(batch)
    }
    times.annotateSeconds = seconds(start)
    start = ContinuousClock.now
    for edit in workload.edits {
        if let text = edit.note {
            try store.setNote(annotationRef: ids[edit.annotation], text: text)
        } else {
            try store.addTags(ref: ids[edit.annotation], tags: [edit.tag])
        }
    }
    times.editSeconds = seconds(start)
    return (times, ids)
}

/// The same rows in plain SQLite: Margin's article, annotation and tag tables with their indexes
/// and full-text indexes (copied from Schema/), no change log, no merge state. The full-text
/// entries are written as Margin writes them: after the rows, in the same transaction (one
/// statement per transaction here), not by a trigger per row (FTS5 flushes its pending terms at
/// every statement savepoint, and a trigger makes every row's statement one).
let plainSchema = """
    CREATE TABLE article (
        num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, url TEXT, title TEXT, byline TEXT, source TEXT,
        published_at TEXT, language TEXT, body TEXT, caption TEXT, content_hash TEXT,
        deleted INTEGER NOT NULL DEFAULT 0, created_hlc INTEGER NOT NULL, updated_hlc INTEGER NOT NULL);
    CREATE INDEX article_by_url ON article(url);
    CREATE INDEX article_by_source ON article(source);
    CREATE TABLE annotation (
        num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT, motivation TEXT, exact TEXT, prefix TEXT,
        suffix TEXT, start INTEGER, "end" INTEGER, revision TEXT, note TEXT, color TEXT, author TEXT,
        deleted INTEGER NOT NULL DEFAULT 0, created_hlc INTEGER NOT NULL, updated_hlc INTEGER NOT NULL);
    CREATE INDEX annotation_by_article ON annotation(article_id, start);
    CREATE TABLE tag (entity_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (entity_id, tag)) WITHOUT ROWID;
    CREATE INDEX tag_by_name ON tag(tag);
    CREATE VIRTUAL TABLE article_fts USING fts5(
        title, body, content='article', content_rowid='num', tokenize='unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE note_fts USING fts5(
        note, content='annotation', content_rowid='num', tokenize='unicode61 remove_diacritics 2');
    """

/// Plain SQLite with Margin's durability: WAL (a DatabasePool), synchronous FULL, the same
/// transactions (articles by 100, annotations by 1,000, one per edit).
func plainWrites(path: String, _ workload: Workload) throws -> WriteTimes {
    var config = Configuration()
    config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let pool = try DatabasePool(path: path, configuration: config)
    // GRDB sets NORMAL on the writer when it turns WAL on, after prepareDatabase: FULL again.
    try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    try pool.write { db in try db.execute(sql: plainSchema) }
    let targets = workload.annotations.map { a -> TextTarget in
        // What the editor hands over: the quote and its context, already found.
        (try? TextAnchor.target(in: workload.articles[a.article].body, start: a.start, end: a.end))
            ?? TextTarget(exact: "", prefix: "", suffix: "", start: a.start, end: a.end)
    }
    var times = WriteTimes()
    var clock: Int64 = 1
    var start = ContinuousClock.now
    for first in stride(from: 0, to: workload.articles.count, by: articleBatch) {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO article(id, url, title, source, published_at, language, body, content_hash, created_hlc, updated_hlc)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let before = try Int64.fetchOne(db, sql: "SELECT ifnull(max(num), 0) FROM article") ?? 0
            for a in workload.articles[first..<min(workload.articles.count, first + articleBatch)] {
                clock += 1
                try insert.execute(arguments: [
                    a.id, a.url, a.title, a.source, a.publishedAt, "en", a.body, ArticleIdentity.sha256Hex(a.body), clock, clock,
                ])
            }
            try db.execute(
                sql: "INSERT INTO article_fts(rowid, title, body) SELECT num, title, body FROM article WHERE num > ?",
                arguments: [before])
        }
    }
    times.importSeconds = seconds(start)
    start = ContinuousClock.now
    var ids: [String] = []
    for first in stride(from: 0, to: workload.annotations.count, by: annotationBatch) {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO annotation(id, article_id, motivation, exact, prefix, suffix, start, "end", revision, note,
                                       author, created_hlc, updated_hlc)
                VALUES (?, ?, 'commenting', ?, ?, ?, ?, ?, ?, ?, 'bench', ?, ?)
                """)
            let tag = try db.cachedStatement(sql: "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)")
            let before = try Int64.fetchOne(db, sql: "SELECT ifnull(max(num), 0) FROM annotation") ?? 0
            for n in first..<min(workload.annotations.count, first + annotationBatch) {
                let a = workload.annotations[n]
                let target = targets[n]
                let id = UUIDv7.make()
                ids.append(id)
                clock += 1
                try insert.execute(arguments: [
                    id, workload.articles[a.article].id, target.exact, target.prefix, target.suffix, a.start, a.end,
                    ArticleIdentity.sha256Hex(workload.articles[a.article].body), a.note, clock, clock,
                ])
                for t in a.tags { try tag.execute(arguments: [id, t]) }
            }
            try db.execute(
                sql: "INSERT INTO note_fts(rowid, note) SELECT num, note FROM annotation WHERE num > ?", arguments: [before])
        }
    }
    times.annotateSeconds = seconds(start)
    start = ContinuousClock.now
    for edit in workload.edits {
        clock += 1
        try pool.write { db in
            if let text = edit.note {
                let old = try Row.fetchOne(db, sql: "SELECT num, note FROM annotation WHERE id = ?", arguments: [ids[edit.annotation]])!
                try db.execute(
                    sql: "UPDATE annotation SET note = ?, updated_hlc = ? WHERE id = ?",
                    arguments: [text, clock, ids[edit.annotation]])
                try db.execute(
                    sql: "INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', ?, ?)", arguments: [old[0], old[1]])
                try db.execute(sql: "INSERT INTO note_fts(rowid, note) VALUES (?, ?)", arguments: [old[0], text])
            } else {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)", arguments: [ids[edit.annotation], edit.tag])
            }
        }
    }
    times.editSeconds = seconds(start)
    try pool.close()
    return times
}

