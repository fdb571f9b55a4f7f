import Foundation
import Testing

@testable import MarginStore

@Suite struct ArticleStreamTests {
    func file(_ contents: String) throws -> FileHandle {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try Data(contents.utf8).write(to: url)
        return try FileHandle(forReadingFrom: url)
    }

    func all(_ contents: String, _ format: ImportFormat) throws -> [ImportedArticle] {
        let stream = ArticleStream(handle: try file(contents), format: format, name: "test")
        var out: [ImportedArticle] = []
        while let article = try stream.next() { out.append(article) }
        return out
    }

    @Test func csvStreamReadsWhatTheWholeFileReaderReads() throws {
        // Fields with quotes, commas and line breaks, CRLF ends, a blank line, rows longer than a chunk.
        let long = String(repeating: "A long paragraph, with commas and \"quotes\". ", count: 30_000)
        let csv = "url,date,title,text\r\n"
            + "https://a.example/1,2019-01-04,\"One, two\",\"Friday, January 4, 2019\n\nFirst \"\"quoted\"\" body.\"\r\n"
            + "\n"
            + "https://a.example/2,,Long,\"\(long.replacingOccurrences(of: "\"", with: "\"\""))\"\n"
            + ",,Last,Body without newline at the end"
        let streamed = try all(csv, .csv)
        let whole = try CSVImporter.parse(csv)
        #expect(streamed == whole)
        #expect(streamed.count == 3)
        #expect(streamed[0].publishedAt == "2019-01-04")
        #expect(streamed[0].body == "First \"quoted\" body.")
        #expect(streamed[1].body.count > 1_000_000)
    }

    @Test func aBadRowIsNamedWithItsLine() throws {
        let csv = "title,text\nGood,Body\nNo body,\n"
        #expect(throws: ImportError("CSV row 2 (line 3) has an empty body")) { try all(csv, .csv) }
        #expect(throws: ImportError.self) { try all("title,text\n\"unterminated,x\n", .csv) }
        #expect(throws: ImportError("CSV is missing the column 'text' (expected url,date,title,text)")) {
            try all("title,body\na,b\n", .csv)
        }
    }

    /// Rows are read ahead in chunks and made into articles on several cores: the articles come in
    /// file order, and the error is the first a row-by-row read meets, wherever the chunks end.
    @Test func rowsReadAheadComeInOrderAndTheFirstErrorWins() throws {
        let rows = (1...1_000).map { "https://a.example/\($0),,Title \($0),\"Body \($0).\n\nMore.\"\n" }
        let csv = "url,date,title,text\n" + rows.joined()
        let articles = try all(csv, .csv)
        #expect(articles.map(\.title) == (1...1_000).map { "Title \($0)" })
        #expect(articles == (try CSVImporter.parse(csv)))

        func read(_ contents: String) -> (titles: [String], error: ImportError?) {
            let stream = ArticleStream(handle: try! file(contents), format: .csv, name: "test")
            var titles: [String] = []
            do {
                while let article = try stream.next() { titles.append(article.title) }
                return (titles, nil)
            } catch {
                return (titles, error)
            }
        }
        for bad in [1, 255, 256, 257, 600, 1_000] {
            var broken = rows
            broken[bad - 1] = "https://a.example/\(bad),,,\"No title.\"\n"
            // A bad row: the rows before it, then its error.
            let one = read("url,date,title,text\n" + broken.joined())
            #expect(one.titles == (1..<bad).map { "Title \($0)" })
            #expect(one.error == ImportError("CSV row \(bad) (line \(bad * 3 - 1)) has an empty title"))
            // A bad row and, later, a quote never closed: the bad row's error.
            let two = read("url,date,title,text\n" + broken.joined() + ",,Late,\"never closed\n")
            #expect(two.error == ImportError("CSV row \(bad) (line \(bad * 3 - 1)) has an empty title"))
            // Only the quote never closed: every row before it, then its error.
            let three = read("url,date,title,text\n" + rows.prefix(bad).joined() + ",,Late,\"never closed\n")
            #expect(three.titles.count == bad)
            #expect(three.error == ImportError(
                "CSV has an unterminated quoted field starting on line \(bad * 3 + 2); close the quote with \""))
        }
    }

    @Test func jsonArraysStreamElementByElement() throws {
        let json = #"[ {"title": "A, [b]", "body": "Text with } and ] inside \"quotes\"."}, {"title":"B","text":"<p>Para one.</p><p>Two.</p>"} ]"#
        let articles = try all(json, .json)
        #expect(articles.map(\.title) == ["A, [b]", "B"])
        #expect(articles[0].body == "Text with } and ] inside \"quotes\".")
        #expect(articles[1].body == "Para one.\n\nTwo.")
        #expect(throws: ImportError("JSON article at index 1 has no 'title'")) {
            try all(#"[{"title":"A","body":"b"}, {"body":"no title"}]"#, .json)
        }
        #expect(throws: ImportError.self) { try all(#"[{"title":"A","body":"b"}"#, .json) }
        #expect(throws: ImportError.self) { try all("[]", .json) }
    }

    @Test func jsonObjectsAreReadWhole() throws {
        let articles = try all(#"{"articles": [{"title": "A", "body": "b"}, {"title": "B", "body": "c"}]}"#, .json)
        #expect(articles.map(\.title) == ["A", "B"])
    }
}
