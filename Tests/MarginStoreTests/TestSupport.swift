import Foundation
import GRDB
@testable import MarginStore

/// Test helpers: stores in memory, sample articles, raw counts.
enum TestSupport {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var seedStory: URL {
        packageRoot.appendingPathComponent("Tests/MarginStoreTests/Fixtures/yonhap-blinken-seoul-2021-03-17.txt")
    }

    static var wikinewsCSV: URL {
        packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpora/wikinews/wikinews_2019.csv")
    }

    static var hasWikinews: Bool { FileManager.default.fileExists(atPath: wikinewsCSV.path) }

    static func seedArticle() throws -> ImportedArticle {
        try ArticleImporter.parse(Data(contentsOf: seedStory), format: .text, filename: seedStory.path)[0]
    }

    static func article(_ n: Int, body: String? = nil) -> ImportedArticle {
        ImportedArticle(
            url: "https://news.example.com/story/\(n)", title: "Story \(n)",
            body: body ?? "First paragraph of story \(n) about apples.\n\nSecond paragraph of story \(n) about pears.")
    }

    /// How the full-text indexes differ from indexes rebuilt from the rows they cover: every
    /// (term, row, column, offset) held by one and not the other, as text. Empty when they agree.
    static func fullTextDifferences(_ store: Store) throws -> [String] {
        try store.writer.write { db in try fullTextDifferences(db) }
    }

    static func fullTextDifferences(_ db: Database) throws -> [String] {
            var out: [String] = []
            for (index, columns, table) in [("article_fts", "title, body", "article"), ("note_fts", "note", "annotation")] {
                try db.execute(sql: """
                    CREATE VIRTUAL TABLE check_fts USING fts5(\(columns), content='\(table)', content_rowid='num',
                        tokenize='unicode61 remove_diacritics 2');
                    INSERT INTO check_fts(check_fts) VALUES ('rebuild');
                    CREATE VIRTUAL TABLE check_held USING fts5vocab(\(index), 'instance');
                    CREATE VIRTUAL TABLE check_rebuilt USING fts5vocab(check_fts, 'instance');
                    """)
                for (name, sql) in [("only in \(index)", "SELECT * FROM check_held EXCEPT SELECT * FROM check_rebuilt"),
                                    ("missing from \(index)", "SELECT * FROM check_rebuilt EXCEPT SELECT * FROM check_held")] {
                    for row in try Row.fetchAll(db, sql: sql + " LIMIT 5") { out.append("\(name): \(row)") }
                }
                try db.execute(sql: "DROP TABLE check_held; DROP TABLE check_rebuilt; DROP TABLE check_fts")
            }
            return out
    }

    /// Changes held (every origin's seqs).
    static func changeCount(_ store: Store) throws -> Int {
        Int(try store.versionVector().total)
    }

    static func count(_ store: Store, _ table: String) throws -> Int {
        try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
