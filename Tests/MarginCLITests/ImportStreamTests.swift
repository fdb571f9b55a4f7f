import Foundation
import MarginStore
import Testing

// CSV files and JSON arrays are checked to the end before anything is written, then written in
// batches of 500. Their articles are kept from the check for the writing up to a budget
// (MARGIN_IMPORT_KEEP_MIB, 64 MiB by default); a file past it is read again. Both ways must import
// the same articles, and a bad row must write nothing either way.

/// A CSV of `count` wikinews-like rows, each with its own URL and a dateline.
private func csv(_ count: Int, prefix: String = "story", paragraph: Int = 2) -> String {
    // A quoted word is a doubled quote inside the quoted field.
    let words = String(repeating: "The council said the harbour would reopen, \"\"soon\"\". ", count: paragraph)
    var out = "url,date,title,text\n"
    for n in 1...count {
        out += "https://news.example/\(prefix)/\(n)?utm_source=feed,,\"Story \(n), \(prefix)\","
            + "\"Friday, January 4, 2019\n\n\(words)\n\nSecond paragraph of \(n).\"\n"
    }
    return out
}

/// The same articles as a JSON array.
private func jsonArray(_ count: Int) throws -> Data {
    try JSONSerialization.data(withJSONObject: (1...count).map { n in
        ["title": "Report \(n)", "url": "https://news.example/report/\(n)", "date": "2019-01-04",
         "body": "The figures for \(n).\n\nThey were published on Friday."]
    })
}

@Suite("margin import of CSV files and JSON arrays")
struct ImportStreamTests {
    /// What an import leaves: the rows it printed and the articles listed, by id.
    private func imported(_ arguments: [String], keep: String?, files: [String: String] = [:], stdin: String? = nil)
        throws -> (rows: [ImportRow], articles: [String: String], changes: Int)
    {
        let sandbox = try Sandbox.initialized()
        for (name, text) in files { try sandbox.write(name, text) }
        let result = run(["import"] + arguments + ["--json"], stdin: stdin,
                         env: ["MARGIN_STORE": sandbox.store].merging(keep.map { ["MARGIN_IMPORT_KEEP_MIB": $0] } ?? [:]) { $1 },
                         directory: sandbox.folder)
        try #require(result.status == 0, "\(result.stderr)")
        let rows = try JSONDecoder().decode([ImportRow].self, from: Data(result.stdout.utf8))
        let list = try sandbox.json([ArticleShape].self, "list")
        return (rows, Dictionary(uniqueKeysWithValues: list.map { ($0.id, "\($0.title)|\($0.url ?? "")|\($0.published_at ?? "")") }),
                try sandbox.changeCount())
    }

    @Test func aCSVOverSeveralBatchesImportsTheSameKeptOrReadAgain() throws {
        let files = ["news.csv": csv(1_100)]
        let kept = try imported(["news.csv"], keep: nil, files: files)
        let readAgain = try imported(["news.csv"], keep: "0", files: files)

        #expect(kept.rows.count == 1_100)
        #expect(kept.rows.allSatisfy { $0.status == "created" && $0.file == "news.csv" })
        #expect(kept.rows.map(\.title) == (1...1_100).map { "Story \($0), story" })
        #expect(kept.rows.map(\.id) == readAgain.rows.map(\.id))
        #expect(kept.articles == readAgain.articles)
        #expect(kept.articles.count == 1_100 && kept.changes == readAgain.changes)
        // The dateline gave the date, the tracking parameter left the URL.
        #expect(kept.articles.values.contains("Story 7, story|https://news.example/story/7|2019-01-04"))
    }

    @Test func standardInputAndJSONArraysImportTheSameKeptOrReadAgain() throws {
        let text = csv(30)
        let fromFile = try imported(["news.csv"], keep: nil, files: ["news.csv": text])
        for keep in [nil, "0"] {
            let fromInput = try imported(["--format", "csv", "-"], keep: keep, stdin: text)
            #expect(fromInput.rows.map(\.id) == fromFile.rows.map(\.id))
            #expect(fromInput.rows.allSatisfy { $0.file == "-" })
            #expect(fromInput.articles == fromFile.articles)
        }
        let array = String(decoding: try jsonArray(620), as: UTF8.self)
        let kept = try imported(["reports.json"], keep: nil, files: ["reports.json": array])
        let readAgain = try imported(["reports.json"], keep: "0", files: ["reports.json": array])
        #expect(kept.rows.count == 620)
        #expect(kept.rows.map(\.id) == readAgain.rows.map(\.id))
        #expect(kept.articles == readAgain.articles)
    }

    @Test func filesPastTheBudgetAreReadAgainInTheirPlace() throws {
        // Each CSV holds about 0.6 MiB of text: with a budget of 1 MiB the first is kept, the second
        // read again, the third (small) kept.
        let files = ["a.csv": csv(200, prefix: "a", paragraph: 60), "b.csv": csv(200, prefix: "b", paragraph: 60),
                     "c.csv": csv(3, prefix: "c")]
        let budget = try imported(["a.csv", "b.csv", "c.csv"], keep: "1", files: files)
        let kept = try imported(["a.csv", "b.csv", "c.csv"], keep: nil, files: files)

        #expect(budget.rows.map(\.file) == Array(repeating: "a.csv", count: 200) + Array(repeating: "b.csv", count: 200)
            + Array(repeating: "c.csv", count: 3))
        #expect(budget.rows.map(\.id) == kept.rows.map(\.id))
        #expect(budget.articles == kept.articles)
    }

    @Test(arguments: [nil, "0"] as [String?])
    func aBadRowAfterManyGoodOnesWritesNothing(keep: String?) throws {
        let sandbox = try Sandbox.initialized()
        try sandbox.write("news.csv", csv(700) + "https://news.example/empty,2019-01-04,\"\",\"A body without a title.\"\n")
        let before = try sandbox.changeCount()

        let result = sandbox.margin(
            "import", seedStory.path, "news.csv", env: keep.map { ["MARGIN_IMPORT_KEEP_MIB": $0] } ?? [:])

        #expect(result.status == 65)
        #expect(result.stderr.contains("news.csv: CSV row 701 (line 3502) has an empty title"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json([ArticleShape].self, "list").isEmpty)
    }

    @Test func importingTheSameCSVAgainRecordsNothing() throws {
        let sandbox = try Sandbox.initialized()
        try sandbox.write("news.csv", csv(520))
        let first = sandbox.margin("import", "news.csv")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasSuffix("520 articles: 520 new, 0 updated, 0 restored, 0 unchanged\n"))
        let logged = try sandbox.changeCount()

        let again = sandbox.margin("import", "news.csv")

        #expect(again.stdout.hasSuffix("520 articles: 0 new, 0 updated, 0 restored, 520 unchanged\n"))
        #expect(try sandbox.changeCount() == logged)
        // Text lines show ids as every listing does: unique prefixes of at least 8 hex digits.
        let ids = try sandbox.json([ImportRow].self, "import", "news.csv").map(\.id)
        let shown = again.stdout.split(separator: "\n").dropLast().map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] }
        #expect(shown.count == 520)
        #expect(zip(shown, ids).allSatisfy { short, id in short.count >= 8 && id.filter { $0 != "-" }.hasPrefix(short) })
    }
}
