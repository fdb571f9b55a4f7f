import Foundation
import GRDB
import Testing
@testable import MarginStore

@Suite struct SchemaTests {
    /// The embedded migrations are byte-for-byte the files of Schema/, and migrating gives exactly
    /// the schema those files describe.
    @Test func migratedSchemaEqualsSchemaFolder() throws {
        let folder = TestSupport.packageRoot.appendingPathComponent("Schema")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.range(of: #"^\d{4}_.*\.sql$"#, options: .regularExpression) != nil }.sorted()
        #expect(files == Migrations.embedded.map(\.name), "run Scripts/embed-schema after editing Schema/")
        for (file, migration) in zip(files, Migrations.embedded) {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines),
                    "\(file) differs from the embedded copy: run Scripts/embed-schema")
        }
        let fromFiles = try DatabaseQueue()
        try fromFiles.write { db in
            for file in files {
                try db.execute(sql: String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
            }
        }
        let migrated = try DatabaseQueue()
        try Migrations.migrator.migrate(migrated)
        let schemaSQL = """
            SELECT type, name, tbl_name, sql FROM sqlite_master
            WHERE name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY type, name
            """
        let expected = try fromFiles.read { db in try Row.fetchAll(db, sql: schemaSQL) }
        let actual = try migrated.read { db in try Row.fetchAll(db, sql: schemaSQL) }
        #expect(!expected.isEmpty)
        #expect(actual == expected)
    }

    /// A store made before the engine kept live writes in the change log and its full-text entries
    /// itself: the migration marks exactly the changes the live table held, drops the table and the
    /// row triggers, and the full-text index still matches the rows.
    @Test func upgradeMarksLiveWritesAndKeepsTheFullTextIndex() throws {
        let queue = try DatabaseQueue()
        try Migrations.migrator.migrate(queue, upTo: "0003_anchor.sql")
        try queue.write { db in
            let changes: [(String, Int, String, String, String, String)] = [
                ("o1", 1, "a1", "title", #""Old title""#, "[]"),
                ("o1", 2, "a1", "body", #""Apples and pears.""#, "[]"),
                ("o1", 3, "n1", "note", #""first note""#, "[]"),
                ("o2", 1, "n1", "note", #""second note""#, #"[["o1",3]]"#),
                ("o2", 2, "a1", "title", #""New title""#, #"[["o1",1]]"#),
            ]
            for (origin, seq, entity, field, value, supersedes) in changes {
                let kind = entity.hasPrefix("a") ? "article" : "annotation"
                try db.execute(
                    sql: """
                        INSERT INTO change(origin, seq, hlc, entity, entity_id, field, value, supersedes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [origin, seq, seq, kind, entity, field, value, supersedes])
                if !(origin == "o1" && (seq == 1 || seq == 3)) {
                    try db.execute(
                        sql: """
                            INSERT INTO live(origin, seq, hlc, entity, entity_id, field, value, supersedes)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [origin, seq, seq, kind, entity, field, value, supersedes])
                }
            }
            // Rows as the old triggers indexed them: inserted bare, then updated.
            try db.execute(sql: "INSERT INTO article(id, created_hlc, updated_hlc) VALUES ('a1', 1, 2)")
            try db.execute(sql: "UPDATE article SET title = 'New title', body = 'Apples and pears.' WHERE id = 'a1'")
            try db.execute(sql: "INSERT INTO annotation(id, created_hlc, updated_hlc) VALUES ('n1', 3, 1)")
            try db.execute(sql: "UPDATE annotation SET note = 'second note', article_id = 'a1' WHERE id = 'n1'")
        }
        try Migrations.migrator.migrate(queue)
        try queue.write { db in
            let flags = try Row.fetchAll(db, sql: "SELECT origin, seq, live FROM change ORDER BY origin, seq")
                .map { "\($0[0] as String):\($0[1] as Int)=\($0[2] as Int)" }
            #expect(flags == ["o1:1=0", "o1:2=1", "o1:3=0", "o2:1=1", "o2:2=1"])
            #expect(try !db.tableExists("live"))
            #expect(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%insert'").isEmpty)
            #expect(try TestSupport.fullTextDifferences(db).isEmpty)
            let hits = try Int.fetchAll(db, sql: "SELECT rowid FROM article_fts WHERE article_fts MATCH 'pears'")
            #expect(hits == [1])
            #expect(try Int.fetchAll(db, sql: "SELECT rowid FROM note_fts WHERE note_fts MATCH 'second'") == [1])
        }
    }

    @Test func storeOnDiskUsesWALAndFullSync() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Store.create(at: dir.appendingPathComponent("store.sqlite").path, name: "disk")
        let (mode, sync) = try store.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(mode == "wal")
        #expect(sync == 2)  // FULL
        let reopened = try Store.open(at: dir.appendingPathComponent("store.sqlite").path)
        #expect(reopened.replicaID == store.replicaID)
        #expect(reopened.replicaName == "disk")
    }

    @Test func refusesFilesThatAreNotMarginStores() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: text)
        #expect(throws: StoreError.notAMarginStore(path: text.path)) { try Store.open(at: text.path) }
        #expect(try Data(contentsOf: text) == Data("hello".utf8))

        let other = dir.appendingPathComponent("other.sqlite")
        let queue = try DatabaseQueue(path: other.path)
        try queue.write { db in try db.execute(sql: "CREATE TABLE t(x)") }
        try queue.close()
        #expect(throws: StoreError.notAMarginStore(path: other.path)) { try Store.open(at: other.path) }

        let missing = dir.appendingPathComponent("missing.sqlite").path
        #expect(throws: StoreError.notInitialized(path: missing)) { try Store.open(at: missing) }
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test func refusesAStoreFromANewerMargin() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        _ = try Store.create(at: path, name: "old")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('0099_future.sql')") }
        try queue.close()
        #expect(throws: StoreError.newerSchema(path: path, found: 99, supported: Store.schemaVersion)) {
            try Store.open(at: path)
        }
    }
}

@Suite struct ChangeLogTests {
    @Test func initAnnouncesTheReplicaName() throws {
        let store = try Store.inMemory(name: "laptop-a")
        let log = try store.log()
        #expect(log.count == 1)
        #expect(log[0].entity == .replica && log[0].field == "name" && log[0].value == .string("laptop-a"))
        #expect(try store.versionVector() == VersionVector([store.replicaID: 1]))
    }

    @Test func importRecordsOneChangePerField() throws {
        let store = try Store.inMemory()
        let seed = try TestSupport.seedArticle()
        let outcome = try store.importArticles([seed])[0]
        #expect(outcome.status == .created)
        let fields = try store.log(entityID: outcome.id).map(\.field).sorted()
        #expect(fields == ["body", "byline", "caption", "published_at", "source", "title"])
        #expect(outcome.changes == fields.count)
        let article = try store.article(outcome.id)
        #expect(article.title == "Blinken arrives in S. Korea for talks on N. Korea, alliance")
        #expect(article.publishedAt == "2021-03-17T09:15")
        #expect(article.source == "Yonhap")
        #expect(article.body.hasPrefix("US Secretary of State Antony Blinken arrived in South Korea on Wednesday"))
        #expect(article.contentHash == ArticleIdentity.sha256Hex(article.body))
    }

    @Test func reimportingTheSameArticleRecordsNothing() throws {
        let store = try Store.inMemory()
        let seed = try TestSupport.seedArticle()
        _ = try store.importArticles([seed])
        let before = try TestSupport.count(store, "change")
        let again = try store.importArticles([seed])
        #expect(again[0].status == .unchanged && again[0].changes == 0)
        #expect(try TestSupport.count(store, "change") == before)
        #expect(try store.articles().count == 1)
    }

    @Test func changedBodyIsANewRevisionOfTheSameArticle() throws {
        let store = try Store.inMemory()
        let first = try store.importArticles([TestSupport.article(1)])[0]
        let corrected = TestSupport.article(1, body: "First paragraph of story 1 about apples, corrected.")
        let second = try store.importArticles([corrected])[0]
        #expect(second.id == first.id)
        #expect(second.status == .updated)
        #expect(second.changes == 1)
        #expect(try store.article(first.id).body == corrected.body)
        let bodies = try store.log(entityID: first.id).filter { $0.field == "body" }
        #expect(bodies.count == 2)
        #expect(bodies[0].previous == .string(TestSupport.article(1).body))  // the old revision stays reachable
    }

    @Test func urlVariantsAreOneArticle() throws {
        let store = try Store.inMemory()
        var a = TestSupport.article(7)
        a.url = "http://www.news.example.com/story/7/?utm_source=x#top"
        _ = try store.importArticles([TestSupport.article(7), a])
        #expect(try store.articles().count == 1)
    }

    @Test func highlightRecordsItsFieldsInOneTransaction() throws {
        let store = try Store.inMemory(name: "me")
        let article = try store.importArticles([TestSupport.article(1)])[0]
        let annotation = try store.highlight(
            articleRef: String(article.id.prefix(6)), anchor: .quote(exact: "apples", prefix: nil, suffix: nil),
            note: "crunchy", tags: ["fruit", "#food"], color: "yellow")
        #expect(annotation.target.exact == "apples")
        #expect(annotation.target.start == TextAnchor.length("First paragraph of story 1 about "))
        #expect(annotation.tags == ["food", "fruit"])
        #expect(annotation.author == "me")
        #expect(annotation.motivation == .commenting)
        let fields = try store.log(entityID: annotation.id).map(\.field).sorted()
        #expect(fields == ["article", "author", "color", "motivation", "note", "tag/food", "tag/fruit", "target"])
    }

    @Test func failedWritesLeaveNeitherRowNorChange() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        let changes = try TestSupport.count(store, "change")
        let annotations = try TestSupport.count(store, "annotation")
        #expect(throws: StoreError.self) {
            try store.highlight(articleRef: article.id, anchor: .quote(exact: "story", prefix: nil, suffix: nil))
        }
        #expect(throws: StoreError.self) {
            try store.highlight(articleRef: article.id, anchor: .quote(exact: "bananas", prefix: nil, suffix: nil))
        }
        #expect(throws: StoreError.self) {
            try store.highlight(articleRef: article.id, anchor: .position(start: 5, end: 10_000))
        }
        #expect(throws: StoreError.self) {
            try store.highlight(articleRef: article.id, anchor: .quote(exact: "apples", prefix: nil, suffix: nil),
                                tags: ["ok", "bad\ntag"])
        }
        #expect(throws: (any Error).self) {
            try store.importArticles([TestSupport.article(2), ImportedArticle(title: "Empty", body: "  ")])
        }
        #expect(try TestSupport.count(store, "change") == changes)
        #expect(try TestSupport.count(store, "annotation") == annotations)
        #expect(try store.articles().count == 1)
    }

    @Test func ambiguousQuoteListsEveryOccurrence() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        do {
            _ = try store.highlight(articleRef: article.id, anchor: .quote(exact: "paragraph", prefix: nil, suffix: nil))
            Issue.record("expected an ambiguous quote")
        } catch let StoreError.ambiguousQuote(_, occurrences) {
            #expect(occurrences.count == 2)
            #expect(occurrences[0].contains("at 6..<15"))
        }
        let second = try store.highlight(
            articleRef: article.id, anchor: .quote(exact: "paragraph", prefix: "Second ", suffix: nil))
        #expect(second.target.prefix.hasSuffix("Second "))
    }

    @Test func positionsCountCodePoints() throws {
        let store = try Store.inMemory()
        let body = "Café 👩‍👩‍👧 and 日本語 text."
        let article = try store.importArticles([ImportedArticle(title: "Unicode", body: body)])[0]
        let a = try store.highlight(articleRef: article.id, anchor: .quote(exact: "日本語", prefix: nil, suffix: nil))
        // "Café " = 5, the family emoji = 5 scalars, " and " = 5.
        #expect(a.target.start == 15 && a.target.end == 18)
        let b = try store.highlight(articleRef: article.id, anchor: .position(start: 5, end: 10))
        #expect(b.target.exact == "👩‍👩‍👧")
    }

    @Test func idPrefixesResolveOrListCandidates() throws {
        let store = try Store.inMemory()
        let ids = try store.importArticles((1...40).map { TestSupport.article($0) }).map(\.id)
        #expect(try store.resolve(ids[0], kinds: [.article]).id == ids[0])
        let byFirstChar = Dictionary(grouping: ids, by: { $0.prefix(1) })
        let shared = byFirstChar.first { $0.value.count > 1 }!
        #expect(throws: StoreError.self) { try store.resolve(String(shared.key), kinds: [.article]) }
        #expect(throws: StoreError.invalidID("xyz!")) { try store.resolve("xyz!", kinds: [.article]) }
        let abbreviations = try store.abbreviations()
        #expect(Set(abbreviations.values).count == ids.count)
    }
}

@Suite struct NoteTests {
    @Test func aNoteMakesAHighlightACommentAndBack() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        let a = try store.highlight(articleRef: article.id, anchor: .quote(exact: "apples", prefix: nil, suffix: nil))
        #expect(a.motivation == .highlighting)
        #expect(try store.setNote(annotationRef: a.id, text: "a thought").motivation == .commenting)
        let before = try TestSupport.count(store, "change")
        try store.setNote(annotationRef: a.id, text: "a thought")  // unchanged: records nothing
        #expect(try TestSupport.count(store, "change") == before)
        let cleared = try store.setNote(annotationRef: a.id, text: "  ")
        #expect(cleared.note == nil)
        #expect(cleared.motivation == .highlighting)
    }
}

@Suite struct TagAndDeleteTests {
    @Test func tagsAreASet() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        try store.addTags(ref: article.id, tags: ["a", "b"])
        let before = try TestSupport.count(store, "change")
        try store.addTags(ref: article.id, tags: ["a"])
        #expect(try TestSupport.count(store, "change") == before)
        try store.removeTags(ref: article.id, tags: ["a"])
        #expect(try store.article(article.id).tags == ["b"])
        #expect(throws: StoreError.self) { try store.removeTags(ref: article.id, tags: ["zzz"]) }
        #expect(try store.articles(tag: "b").map(\.id) == [article.id])
    }

    @Test func deleteLeavesATombstone() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        let a = try store.highlight(articleRef: article.id, anchor: .quote(exact: "apples", prefix: nil, suffix: nil))
        try store.remove(ref: a.id)
        #expect(try store.annotations().isEmpty)
        #expect(throws: StoreError.self) { try store.annotation(a.id) }
        #expect(try store.log(entityID: a.id).first?.field == "deleted")
        try store.remove(ref: article.id)
        #expect(try store.articles().isEmpty)
        let restored = try store.importArticles([TestSupport.article(1)])[0]
        #expect(restored.status == .restored)
        #expect(try store.articles().count == 1)
    }
}

@Suite struct SearchTests {
    @Test func searchRanksBodiesAndNotesWithSnippets() throws {
        let store = try Store.inMemory()
        let one = try store.importArticles([TestSupport.article(1)])[0]
        _ = try store.importArticles([
            ImportedArticle(title: "Pears everywhere", body: "Pears, pears and more pears in this orchard.")
        ])
        let a = try store.highlight(
            articleRef: one.id, anchor: .quote(exact: "apples", prefix: nil, suffix: nil), note: "ask about quinces")
        let hits = try store.search("pears")
        #expect(hits.count == 2)
        #expect(hits[0].title == "Pears everywhere")  // bm25: the title match and more occurrences rank first
        #expect(hits[0].snippet.contains("«Pears»") || hits[0].snippet.contains("«pears»"))
        let notes = try store.search("quinces")
        #expect(notes.map(\.kind) == [.note])
        #expect(notes[0].annotationID == a.id)
        try store.setNote(annotationRef: a.id, text: "nothing here")
        #expect(try store.search("quinces").isEmpty)
        #expect(throws: StoreError.self) { try store.search("\"unbalanced") }
    }
}

@Suite struct ChangePageTests {
    /// Pages stop at the byte budget (never below one change) and, read one after another, hold
    /// every change once, in order.
    @Test func pagesStopAtTheirByteBudgetAndCoverEveryChange() throws {
        let store = try Store.inMemory(name: "pages")
        let bodies = (0..<6).map { n in String(repeating: "Paragraph \(n) of a long report. ", count: 3_000) }
        _ = try store.importArticles(bodies.enumerated().map {
            ImportedArticle(url: "https://news.example.com/report/\($0)", title: "Report \($0)", body: $1)
        })
        let all = try store.storedChanges(after: VersionVector(), limit: 5_000, maxBytes: .max)
        #expect(!all.more)
        var vector = VersionVector()
        var seen: [Dot] = []
        var pages = 0
        while true {
            let page = try store.storedChanges(after: vector, limit: 5_000, maxBytes: 150_000)
            if page.changes.isEmpty { break }
            pages += 1
            let bytes = page.changes.reduce(0) { $0 + $1.storedBytes }
            #expect(bytes <= 150_000 || page.changes.count == 1, "a page of \(page.changes.count) changes holds \(bytes) bytes")
            for change in page.changes { vector[change.origin] = change.seq }
            seen += page.changes.map(\.dot)
            if !page.more { break }
        }
        #expect(seen == all.changes.map(\.dot))
        #expect(pages >= 6)  // one ~100 KB body per page at most, with its article's other fields
        // A budget smaller than one change still moves: one change per page.
        let tiny = try store.storedChanges(after: VersionVector(), limit: 5_000, maxBytes: 1)
        #expect(tiny.changes.count == 1 && tiny.more)
        // The parsed form pages alike.
        let parsed = try store.changes(after: VersionVector(), limit: 5_000, maxBytes: 150_000)
        #expect(parsed.more)
        #expect(parsed.changes.map(\.dot) == Array(all.changes.map(\.dot).prefix(parsed.changes.count)))
    }
}
