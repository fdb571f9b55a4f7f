import Foundation
import Testing

@testable import MarginStore

/// The HTML importer on the real-shaped pages of `Fixtures/html` (see its README): every page's
/// headline, first paragraph, byline, date, language, URL and caption, and what must stay out.
@Suite struct HTMLExtractionTests {
    struct Expectation: Decodable {
        var file: String
        var article: Bool
        var titles: [String]?
        var byline: String?
        var first: String?
        var later: String?
        var absent: [String]?
        var caption: String?
        var language: String?
        var url: String?
        var published: String?
        var why: String?
    }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/html")

    static func expectations() throws -> [Expectation] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try JSONDecoder().decode([Expectation].self, from: data)
    }

    static func load(_ file: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(file))
    }

    /// Whitespace collapsed, so a paragraph compares whatever the page's line breaks were.
    static func flat(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Every expected name appears, and the byline does not start with "By".
    static func bylineMatches(_ actual: String?, _ expected: String) -> Bool {
        guard let actual else { return false }
        if actual.lowercased().hasPrefix("by ") { return false }
        let names = expected.replacingOccurrences(of: " and ", with: ",").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        return names.allSatisfy { actual.lowercased().contains($0) }
    }

    @Test func everyPageHasAnExpectation() throws {
        let listed = Set(try Self.expectations().map(\.file))
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".html") }
        #expect(Set(files) == listed)
        #expect(listed.count >= 35)
    }

    @Test func extractionMeetsTheTargetsOnRealShapedPages() throws {
        let expectations = try Self.expectations()
        var titles = 0, firsts = 0, laters = 0, bylines = 0, bylinePages = 0, refusedArticles: [String] = []
        var leaks: [String] = []
        var articles = 0
        var report: [String] = []
        for expectation in expectations where expectation.article {
            articles += 1
            let article: ImportedArticle
            do {
                article = try HTMLImporter.parse(try Self.load(expectation.file))
            } catch {
                refusedArticles.append("\(expectation.file): \(error)")
                report.append("REFUSED \(expectation.file): \(error)")
                continue
            }
            let body = Self.flat(article.body)
            var misses: [String] = []
            if expectation.titles?.contains(article.title) == true { titles += 1 } else { misses.append("title «\(article.title)»") }
            if let first = expectation.first {
                if body.contains(Self.flat(first)) { firsts += 1 } else { misses.append("first paragraph; body starts «\(body.prefix(120))»") }
            }
            if let later = expectation.later {
                if body.contains(Self.flat(later)) { laters += 1 } else { misses.append("later paragraph") }
            }
            if let byline = expectation.byline {
                bylinePages += 1
                if Self.bylineMatches(article.byline, byline) { bylines += 1 } else { misses.append("byline «\(article.byline ?? "nil")»") }
            }
            for text in expectation.absent ?? [] where body.contains(text) {
                leaks.append("\(expectation.file): «\(text)»")
                misses.append("leak «\(text)»")
            }
            if let caption = expectation.caption, article.caption?.contains(caption) != true {
                misses.append("caption «\(article.caption ?? "nil")»")
            }
            if let language = expectation.language, article.language != language {
                misses.append("language \(article.language ?? "nil")")
            }
            if let url = expectation.url, article.url != url { misses.append("url \(article.url ?? "nil")") }
            if let published = expectation.published, article.publishedAt?.hasPrefix(published) != true {
                misses.append("published \(article.publishedAt ?? "nil")")
            }
            if !misses.isEmpty { report.append("\(expectation.file): " + misses.joined(separator: "; ")) }
        }
        func percent(_ count: Int, _ total: Int) -> String {
            String(format: "%d/%d (%.1f%%)", count, total, total == 0 ? 100 : Double(count) * 100 / Double(total))
        }
        print("""
            HTML extraction on \(articles) article pages:
              titles          \(percent(titles, articles))
              first paragraph \(percent(firsts, articles))
              later paragraph \(percent(laters, articles))
              bylines         \(percent(bylines, bylinePages))
              refused         \(refusedArticles.count)
              chrome leaks    \(leaks.count)
            """)
        for line in report { print("  " + line) }

        #expect(refusedArticles.isEmpty, "real articles refused: \(refusedArticles)")
        #expect(Double(titles) >= Double(articles) * 0.97)
        #expect(Double(firsts) >= Double(articles) * 0.95)
        #expect(Double(bylines) >= Double(bylinePages) * 0.80)
        #expect(leaks.isEmpty, "chrome in bodies: \(leaks)")
    }

    @Test func pagesThatAreNotArticlesAreRefusedWithAReason() throws {
        for expectation in try Self.expectations() where !expectation.article {
            #expect(throws: ImportError.self, "\(expectation.file) (\(expectation.why ?? "")) was imported") {
                try HTMLImporter.parse(try Self.load(expectation.file))
            }
            do {
                _ = try HTMLImporter.parse(try Self.load(expectation.file))
            } catch {
                let message = (error as? ImportError)?.message ?? ""
                #expect(message.contains("not an article") || message.contains("error page"), "\(message)")
            }
        }
    }
}
