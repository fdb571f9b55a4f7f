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

    /// A protocol-1 store (schema 5) with history from three origins: the upgrade gives it a key and a
    /// key-derived id, signs its own history, keeps the others' unsigned, and rebuilds the same rows.
    @Test func upgradeFromSchema5SignsOwnHistoryAndKeepsOthersUnsigned() throws {
        let queue = try DatabaseQueue()
        try Migrations.migrator.migrate(queue, upTo: "0005_live_flag.sql")
        let own = "11111111-1111-4111-8111-111111111111"
        let other = "22222222-2222-4222-8222-222222222222"
        let third = "33333333-3333-4333-8333-333333333333"
        try queue.write { db in
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('replica_id', ?), ('replica_name', 'laptop-a'), ('hlc', '9')",
                           arguments: [own])
            let changes: [(String, Int, String, String, String, String, String?)] = [
                (own, 1, "replica", own, "name", #""laptop-a""#, nil),
                (own, 2, "article", "a1", "title", #""Old title""#, nil),
                (own, 3, "article", "a1", "body", #""Apples and pears.""#, nil),
                (own, 4, "annotation", "n1", "article", #""a1""#, nil),
                (own, 5, "annotation", "n1", "note", #""first note""#, nil),
                (other, 1, "replica", other, "name", #""laptop-b""#, nil),
                (other, 2, "annotation", "n1", "note", #""second note""#, "[[\"\(own)\",5]]"),
                (other, 3, "article", "a1", "title", #""New title""#, "[[\"\(own)\",2]]"),
                (third, 1, "replica", third, "name", #""hub""#, nil),
                (third, 2, "article", "a1", "tag/fruit", "true", nil),
                // Concurrent with laptop-b's note: a conflict that must survive the upgrade.
                (third, 3, "annotation", "n1", "note", #""third note""#, "[[\"\(own)\",5]]"),
            ]
            for (i, (origin, seq, entity, id, field, value, supersedes)) in changes.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO change(origin, seq, hlc, entity, entity_id, field, value, supersedes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [origin, seq, HLC(milliseconds: 1_700_000_000_000 + Int64(i)).rawValue, entity, id, field,
                                value, supersedes ?? "[]"])
            }
            for (origin, seq) in [(own, 5), (other, 3), (third, 3)] {
                try db.execute(sql: "INSERT INTO version(origin, seq) VALUES (?, ?)", arguments: [origin, seq])
            }
        }
        try Migrations.migrator.migrate(queue)
        try queue.write { db in
            #expect(try !db.tableExists("change"))
            let meta = try Dictionary(Row.fetchAll(db, sql: "SELECT key, value FROM meta").map { ($0[0] as String, $0[1] as String) },
                                      uniquingKeysWith: { a, _ in a })
            #expect(meta["legacy_replica_id"] == own)
            let newID = try #require(meta["replica_id"])
            #expect(ReplicaIdentity.isKeyDerived(newID))
            let runs = try Row.fetchAll(db, sql: """
                SELECT origin.id, run.first, run.last, run.signature IS NOT NULL AS signed, origin.key
                FROM run JOIN origin ON origin.num = run.origin ORDER BY origin.id, run.first
                """)
            let byOrigin = Dictionary(grouping: runs, by: { $0[0] as String })
            // Its own history is signed, by the key its new id is derived from; the others' are not.
            #expect(byOrigin[own]?.allSatisfy { $0["signed"] as Bool } == true)
            let key = try #require(byOrigin[own]?.first?["key"] as Data?)
            #expect(ReplicaIdentity.id(publicKey: Array(key)) == newID)
            #expect(byOrigin[other]?.allSatisfy { !($0["signed"] as Bool) } == true)
            #expect(byOrigin[third]?.allSatisfy { !($0["signed"] as Bool) } == true)
            // The rows are rebuilt: the newer title wins, the tag is there, the notes conflict.
            #expect(try String.fetchOne(db, sql: "SELECT title FROM article WHERE id = 'a1'") == "New title")
            #expect(try String.fetchAll(db, sql: "SELECT tag FROM tag WHERE entity_id = 'a1'") == ["fruit"])
            #expect(try String.fetchOne(db, sql: "SELECT note FROM annotation WHERE id = 'n1'") == "third note")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM conflict WHERE field = 'note'") == 1)
            #expect(try TestSupport.fullTextDifferences(db).isEmpty)
            #expect(try Int.fetchAll(db, sql: "SELECT rowid FROM article_fts WHERE article_fts MATCH 'pears'").count == 1)
        }
        // And the upgraded store opens, writes as its new id, and marks the unsigned history in its log.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        try queue.backup(to: DatabaseQueue(path: path))
        let store = try Store.open(at: path)
        #expect(store.legacyReplicaID == own)
        try store.addTags(ref: "a1", tags: ["after"])
        let log = try store.log(limit: 100)
        #expect(log.first?.origin == store.replicaID && log.first?.signed == true)
        #expect(log.filter { $0.origin == other }.allSatisfy { !$0.signed })
        #expect(log.filter { $0.origin == own }.allSatisfy { $0.signed })
        // A peer takes all of it: the signed runs verify, the unsigned ones are accepted as history.
        let peer = try Store.inMemory(name: "peer")
        _ = try peer.apply(try store.runs(after: VersionVector(), limit: 10_000).runs)
        #expect(try peer.exportJSON() == store.exportJSON())
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
        // The connection that commits too (GRDB sets NORMAL on it when it turns WAL on).
        #expect(try store.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
        let reopened = try Store.open(at: dir.appendingPathComponent("store.sqlite").path)
        #expect(try reopened.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
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
        let before = try TestSupport.changeCount(store)
        let again = try store.importArticles([seed])
        #expect(again[0].status == .unchanged && again[0].changes == 0)
        #expect(try TestSupport.changeCount(store) == before)
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
        let changes = try TestSupport.changeCount(store)
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
        #expect(try TestSupport.changeCount(store) == changes)
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
        // Short forms from the neighbours in the index are unique, and so are those of a whole scan.
        let lengths = try store.uniquePrefixLengths(ids)
        #expect(Set(ids.map { Store.shortID($0, length: lengths[$0]!) }).count == ids.count)
        for id in ids { #expect(try store.resolve(Store.shortID(id, length: lengths[id]!), kinds: [.article]).id == id) }
    }
}

@Suite struct NoteTests {
    @Test func aNoteMakesAHighlightACommentAndBack() throws {
        let store = try Store.inMemory()
        let article = try store.importArticles([TestSupport.article(1)])[0]
        let a = try store.highlight(articleRef: article.id, anchor: .quote(exact: "apples", prefix: nil, suffix: nil))
        #expect(a.motivation == .highlighting)
        #expect(try store.setNote(annotationRef: a.id, text: "a thought").motivation == .commenting)
        let before = try TestSupport.changeCount(store)
        try store.setNote(annotationRef: a.id, text: "a thought")  // unchanged: records nothing
        #expect(try TestSupport.changeCount(store) == before)
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
        let before = try TestSupport.changeCount(store)
        try store.addTags(ref: article.id, tags: ["a"])
        #expect(try TestSupport.changeCount(store) == before)
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

@Suite struct RunPageTests {
    /// Pages stop at their byte budget (never below one run) and, read one after another, hold
    /// every run once, in order; a transaction larger than a run's limit is signed as several runs.
    @Test func pagesStopAtTheirByteBudgetAndCoverEveryRun() throws {
        let store = try Store.inMemory(name: "pages")
        let bodies = (0..<6).map { n in String(repeating: "Paragraph \(n) of a long report. ", count: 3_000) }
        for (n, body) in bodies.enumerated() {
            _ = try store.importArticles([ImportedArticle(url: "https://news.example.com/report/\(n)", title: "Report \(n)", body: body)])
        }
        let all = try store.runs(after: VersionVector(), limit: 5_000, maxBytes: .max)
        #expect(!all.more)
        var vector = VersionVector()
        var seen: [String] = []
        var pages = 0
        while true {
            let page = try store.runs(after: vector, limit: 5_000, maxBytes: 150_000)
            if page.runs.isEmpty { break }
            pages += 1
            let bytes = page.runs.reduce(0) { $0 + $1.body.count }
            #expect(bytes <= 150_000 || page.runs.count == 1, "a page of \(page.runs.count) runs holds \(bytes) bytes")
            for run in page.runs { vector[run.origin] = run.last }
            seen += page.runs.map { "\($0.origin):\($0.first)" }
            if !page.more { break }
        }
        #expect(seen == all.runs.map { "\($0.origin):\($0.first)" })
        #expect(pages >= 6)  // one ~100 KB body per page at most
        // A budget smaller than one run still moves: one run per page.
        let tiny = try store.runs(after: VersionVector(), limit: 5_000, maxBytes: 1)
        #expect(tiny.runs.count == 1 && tiny.more)
    }

    @Test func aTransactionLargerThanARunIsSignedAsSeveralRuns() throws {
        let store = try Store.inMemory(name: "big")
        // 5 bodies of 2 MiB: 10 MiB in one transaction, more than one run may hold.
        let bodies = (0..<5).map { n in String(repeating: "Word\(n) ", count: 2 * 1024 * 1024 / 6) }
        _ = try store.importArticles(bodies.enumerated().map {
            ImportedArticle(url: "https://news.example.com/big/\($0)", title: "Big \($0)", body: $1)
        })
        let runs = try store.runs(after: VersionVector(), limit: 5_000, maxBytes: .max).runs
        #expect(runs.count >= 3)
        #expect(runs.allSatisfy { $0.body.count <= ChangeLimits.maxRunBytes })
        let copy = try Store.inMemory(name: "copy")
        _ = try copy.apply(runs)
        #expect(try copy.exportJSON() == store.exportJSON())
    }
}

/// Real protocol-1 stores, made by the margin of schema 5 (laptop A and the hub it synced with, with
/// history from three origins, a note conflict and a delete conflict), upgraded by this one.
@Suite struct Schema5UpgradeTests {
    static func copy(_ name: String) throws -> (path: String, cleanup: () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("store.sqlite").path
        try FileManager.default.copyItem(
            atPath: TestSupport.packageRoot.appendingPathComponent("Tests/MarginStoreTests/Fixtures/\(name)").path,
            toPath: path)
        return (path, { try? FileManager.default.removeItem(at: dir) })
    }

    @Test func anUpgradedStoreShowsExactlyWhatItShowedBefore() throws {
        let (path, cleanup) = try Self.copy("schema5-laptop-a.sqlite")
        defer { cleanup() }
        let store = try Store.open(at: path)
        let before = try Data(contentsOf: TestSupport.packageRoot.appendingPathComponent(
            "Tests/MarginStoreTests/Fixtures/schema5-laptop-a-export.json"))
        // The export the schema-5 margin wrote, value for value (the export now lists a missing
        // field as null where schema 5 left it out; nothing else differs).
        func withoutNulls(_ value: Any) -> Any {
            if let object = value as? [String: Any] {
                return object.filter { !($0.value is NSNull) }.mapValues(withoutNulls)
            }
            if let array = value as? [Any] { return array.map(withoutNulls) }
            return value
        }
        let now = withoutNulls(try JSONSerialization.jsonObject(with: try store.exportJSON()))
        let then = try JSONSerialization.jsonObject(with: before)
        #expect(NSDictionary(dictionary: now as! [String: Any]).isEqual(to: then as! [String: Any]))
        #expect(try store.conflicts().map(\.kind.rawValue).sorted() == ["delete", "value"])
        #expect(store.legacyReplicaID == "9f110b35-9691-4c87-b5fc-c9d1d31e51f2")
        #expect(ReplicaIdentity.isKeyDerived(store.replicaID))
        let log = try store.log(limit: 1_000)
        #expect(log.filter { $0.origin == store.legacyReplicaID }.allSatisfy { $0.signed })
        #expect(log.filter { $0.origin != store.legacyReplicaID && $0.origin != store.replicaID }.allSatisfy { !$0.signed })
        #expect(log.count == 38)
    }

    @Test func twoUpgradedStoresHoldTheSameRunsAndSyncOn() throws {
        let (aPath, cleanA) = try Self.copy("schema5-laptop-a.sqlite")
        let (hubPath, cleanHub) = try Self.copy("schema5-hub.sqlite")
        defer { cleanA(); cleanHub() }
        let a = try Store.open(at: aPath)
        let hub = try Store.open(at: hubPath)
        // Both cut the same history into the same runs: the change sets' digests agree except for
        // each store's own new id (its name).
        _ = try hub.apply(try a.runs(after: hub.versionVector(), limit: 5_000).runs)
        _ = try a.apply(try hub.runs(after: a.versionVector(), limit: 5_000).runs)
        #expect(try a.digest() == hub.digest())
        // And they go on: an edit on A reaches the hub, signed by A's new id.
        let article = try a.articles().first!.id
        try a.addTags(ref: article, tags: ["after-upgrade"])
        let report = try hub.apply(try a.runs(after: hub.versionVector(), limit: 5_000).runs)
        #expect(report.applied == 1)
        #expect(try hub.exportJSON() == a.exportJSON())
        // A fresh protocol-2 replica takes the whole history from the hub: A's old runs verify
        // with A's key, the others are unsigned history.
        let fresh = try Store.inMemory(name: "fresh")
        _ = try fresh.apply(try hub.runs(after: VersionVector(), limit: 5_000).runs)
        #expect(try fresh.exportJSON() == hub.exportJSON())
        #expect(try fresh.versionVector()["617b0d09-92bf-4630-8d8f-b3d0c83f6152"] == 9)
    }
}

/// The store's cross-process write lock (`<store>.lock`): a write waits for another holder in the
/// kernel, goes through the moment the holder lets go, and gives up at the timeout without keeping
/// the lock afterwards.
@Suite struct ProcessLockTests {
    static func store(timeout: Double) throws -> (Store, String, () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var options = Store.Options()
        options.lockTimeout = timeout
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try Store.create(at: path, name: "laptop-a", options: options)
        _ = try store.importArticles([TestSupport.article(1)])
        return (store, path + ".lock", { try? FileManager.default.removeItem(at: dir) })
    }

    static func hold(_ lockPath: String) throws -> Int32 {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd
    }

    @Test func aWriteWaitingForTheLockGoesThroughWhenTheHolderLetsGo() throws {
        let (store, lockPath, cleanup) = try Self.store(timeout: 60)
        defer { cleanup() }
        let fd = try Self.hold(lockPath)
        defer { close(fd) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { _ = flock(fd, LOCK_UN) }
        // Blocks until the release above (a timeout would throw `locked`), then writes.
        let before = try store.versionVector()[store.replicaID]
        _ = try store.addTags(ref: try store.articles()[0].id, tags: ["after-the-wait"])
        #expect(try store.versionVector()[store.replicaID] == before + 1)
    }

    @Test func aWriteGivesUpAtTheTimeoutAndTheAbandonedWaitKeepsNothing() throws {
        let (store, lockPath, cleanup) = try Self.store(timeout: 0.2)
        defer { cleanup() }
        let article = try store.articles()[0].id
        let before = try store.versionVector()[store.replicaID]
        let fd = try Self.hold(lockPath)
        #expect {
            _ = try store.addTags(ref: article, tags: ["x"])
        } throws: { error in
            guard case StoreError.locked = error else { return false }
            return true
        }
        #expect(try store.versionVector()[store.replicaID] == before)
        // When the holder lets go, the abandoned wait gets the lock and lets go of it at once: an
        // outside process can take it again.
        _ = flock(fd, LOCK_UN)
        close(fd)
        var free = false
        for _ in 0..<500 where !free {
            let other = open(lockPath, O_RDWR | O_CLOEXEC)
            free = flock(other, LOCK_EX | LOCK_NB) == 0
            close(other)
            if !free { usleep(10_000) }
        }
        #expect(free)
        _ = try store.addTags(ref: article, tags: ["x"])
        #expect(try store.versionVector()[store.replicaID] == before + 1)
    }
}
