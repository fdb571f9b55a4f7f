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

    static func count(_ store: Store, _ table: String) throws -> Int {
        try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }
}
