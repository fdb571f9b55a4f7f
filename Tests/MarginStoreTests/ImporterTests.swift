import Foundation
import Testing

@testable import MarginStore

// MARK: - Fixtures

/// The seed wire story, shipped with the test target.
private func seedStory() throws -> Data {
    let url = try #require(
        Bundle.module.url(forResource: "Fixtures/yonhap-blinken-seoul-2021-03-17", withExtension: "txt")
    )
    return try Data(contentsOf: url)
}

/// The Wikinews corpus lives in the folder `shared` next to the repository; symlinks are resolved so that a
/// checkout reached through a link still finds it.
private let wikinewsCSV: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent()  // MarginStoreTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // the repository
    .deletingLastPathComponent()  // its parent, which holds `shared`
    .appendingPathComponent("shared/corpora/wikinews/wikinews_2019.csv")

private let hasWikinews = FileManager.default.fileExists(atPath: wikinewsCSV.path)

private func parse(_ text: String, _ format: ImportFormat, filename: String? = nil) throws -> [ImportedArticle] {
    try ArticleImporter.parse(Data(text.utf8), format: format, filename: filename)
}

private func parseOne(_ text: String, _ format: ImportFormat) throws -> ImportedArticle {
    let articles = try parse(text, format)
    try #require(articles.count == 1)
    return articles[0]
}

/// The error `body` throws, for comparing messages.
private func importError(_ body: () throws -> Void) -> ImportError? {
    do {
        try body()
        return nil
    } catch let error as ImportError {
        return error
    } catch {
        Issue.record("expected an ImportError, got \(error)")
        return nil
    }
}

private func paragraphs(_ body: String) -> [Substring] {
    body.split(separator: "\n\n", omittingEmptySubsequences: false).map { $0 }
}

/// Every importer's promise about a body: \n only, one blank line between paragraphs, trimmed, NFC.
private func expectNormalizedBody(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!body.contains("\r"), sourceLocation: sourceLocation)
    #expect(!body.contains("\n\n\n"), sourceLocation: sourceLocation)
    #expect(body == body.trimmingCharacters(in: .whitespacesAndNewlines), sourceLocation: sourceLocation)
    #expect(body == body.precomposedStringWithCanonicalMapping, sourceLocation: sourceLocation)
    for line in body.split(separator: "\n") {
        #expect(
            line.last?.isWhitespace != true, "trailing whitespace in \(line.debugDescription)",
            sourceLocation: sourceLocation)
    }
}

// MARK: - Plain text: the seed story

@Suite("Plain-text wire stories")
struct PlainTextImporterTests {
    @Test func seedStoryReadsHeadlineDatelineAndSource() throws {
        let articles = try ArticleImporter.parse(try seedStory(), format: .text, filename: "seed.txt")
        try #require(articles.count == 1)
        let article = articles[0]
        #expect(article.title == "Blinken arrives in S. Korea for talks on N. Korea, alliance")
        #expect(article.publishedAt == "2021-03-17T09:15")
        #expect(article.source == "Yonhap")
        #expect(article.byline == "Yonhap")
        #expect(article.url == nil)
        #expect(article.language == nil)
    }

    @Test func seedStoryBodyStartsWithTheLeadAndDropsChrome() throws {
        let article = try ArticleImporter.parse(try seedStory(), format: .text, filename: nil)[0]
        #expect(article.body.hasPrefix("US Secretary of State Antony Blinken arrived in South Korea on Wednesday"))
        #expect(!article.body.contains("Send to"))
        #expect(!article.body.hasPrefix("From"))
        #expect(!article.body.contains("March 17, 2021 - 09:15"))
        #expect(article.body.hasSuffix("Japan, Australia and India. (Yonhap)"))
        expectNormalizedBody(article.body)
    }

    @Test func seedStoryKeepsThePhotoCaptionOutOfTheBody() throws {
        let article = try ArticleImporter.parse(try seedStory(), format: .text, filename: nil)[0]
        let caption = try #require(article.caption)
        #expect(caption.contains("(Reuters-Yonhap)"))
        #expect(caption.hasPrefix("US Secretary of State Antony Blinken attends a meeting"))
        #expect(!article.body.contains("(Reuters-Yonhap)"))
        #expect(!article.body.contains("Prime Minister Yoshihide Suga"))
    }

    @Test func seedStoryKeepsItsFifteenParagraphs() throws {
        let article = try ArticleImporter.parse(try seedStory(), format: .text, filename: nil)[0]
        let parts = paragraphs(article.body)
        #expect(parts.count == 15)
        #expect(parts.allSatisfy { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
        #expect(parts[1].hasPrefix("Blinken came here after he and Defense Secretary Lloyd Austin visited Japan"))
    }

    @Test func seedStoryWithCRLFLineEndingsReadsTheSame() throws {
        let data = try seedStory()
        let crlf = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n")
        let lf = try ArticleImporter.parse(data, format: .text, filename: nil)
        #expect(try parse(crlf, .text) == lf)
    }

    @Test func textWithoutDatelineTakesFirstLineAsTitle() throws {
        let article = try parseOne("A quiet day\n\nNothing happened.\n\nStill nothing.\n", .text)
        #expect(article.title == "A quiet day")
        #expect(article.body == "Nothing happened.\n\nStill nothing.")
        #expect(article.publishedAt == nil)
        #expect(article.caption == nil)
        #expect(article.byline == nil)
    }

    @Test func personalBylineIsNotASource() throws {
        let text = "Storm hits coast\nBy Jane Smith\nMarch 3, 2022\n\nThe storm arrived at dawn.\n"
        let article = try parseOne(text, .text)
        #expect(article.byline == "Jane Smith")
        #expect(article.source == nil)
        #expect(article.publishedAt == "2022-03-03")
        #expect(article.body == "The storm arrived at dawn.")
    }

    @Test func bylineNamingAnAgencySetsTheSource() throws {
        let text =
            "Storm hits coast\n\nMarch 3, 2022 2:05 p.m. KST By Jane Smith, Reuters\n\nThe storm arrived at dawn.\n"
        let article = try parseOne(text, .text)
        #expect(article.byline == "Jane Smith")
        #expect(article.source == "Reuters")
        #expect(article.publishedAt == "2022-03-03T14:05")
    }

    @Test func captionNeedsBodyAfterIt() throws {
        // Given a story whose only paragraph ends with an agency credit
        let text =
            "Short item\nMay 2, 2020 - 10:00 By Yonhap\nThe ministry said it will announce the result later. (Yonhap)\n"
        // When it is imported, then that paragraph is the body, not a caption
        let article = try parseOne(text, .text)
        #expect(article.caption == nil)
        #expect(article.body == "The ministry said it will announce the result later. (Yonhap)")
    }

    @Test func apPhotoCreditMarksACaption() throws {
        let text = """
            Share
            Print
            Quake shakes city

            June 1, 2023 - 08:30 By AP
            Residents stand outside a damaged building in the city. (AP Photo/Jane Roe)

            A strong earthquake shook the city on Thursday.
            """
        let article = try parseOne(text, .text)
        #expect(article.title == "Quake shakes city")
        #expect(article.caption == "Residents stand outside a damaged building in the city. (AP Photo/Jane Roe)")
        #expect(article.body == "A strong earthquake shook the city on Thursday.")
        #expect(article.source == "AP")
    }

    @Test func lineAfterDatelineWithoutCreditIsBody() throws {
        let text =
            "Title here\nMarch 17, 2021 - 09:15 By Yonhap\nFirst paragraph (with an aside) continues.\n\nSecond.\n"
        let article = try parseOne(text, .text)
        #expect(article.caption == nil)
        #expect(article.body.hasPrefix("First paragraph (with an aside) continues."))
    }

    @Test func chromeWordsInsideTheStoryStay() throws {
        let text = "Headline\n\nShare\n\nThe word above is part of the story.\n"
        let article = try parseOne(text, .text)
        #expect(article.body == "Share\n\nThe word above is part of the story.")
    }

    @Test func blankLineRunsCollapseAndTrailingSpacesGo() throws {
        let article = try parseOne("Title\n\n\n\nOne.   \n\n\n\n\nTwo.\t\n\n\n", .text)
        #expect(article.body == "One.\n\nTwo.")
    }

    @Test func titleAndBodyAreNFC() throws {
        // "é" as e + combining acute accent
        let article = try parseOne("Caf\u{65}\u{301} opens\n\nThe caf\u{65}\u{301} opened.", .text)
        #expect(article.title == "Caf\u{E9} opens")
        #expect(article.body == "The caf\u{E9} opened.")
    }

    @Test func titleOnlyIsAnEmptyArticle() {
        let error = importError { _ = try parse("Just a headline\n\n", .text) }
        #expect(error?.message == "empty article: no body text")
    }

    @Test func chromeOnlyIsAnEmptyArticle() {
        let error = importError { _ = try parse("From\nSend to\n\n", .text) }
        #expect(error?.message.hasPrefix("empty article") == true)
    }

    @Test(
        arguments: [
            ("March 17, 2021 - 09:15 By Yonhap", "2021-03-17T09:15", "Yonhap"),
            ("Friday, January 4, 2019", "2019-01-04", nil),
            ("Saturday, January 5, 2019\u{A0} ", "2019-01-05", nil),
            ("17 March 2021 14:05 KST", "2021-03-17T14:05", nil),
            ("Published: Sept. 3, 2020 at 9:07 a.m.", "2020-09-03T09:07", nil),
            ("2021-03-17 09:15", "2021-03-17T09:15", nil),
            ("Mar. 17, 2021 12:30 p.m. By Kim Tong-hyung", "2021-03-17T12:30", "Kim Tong-hyung"),
        ] as [(String, String, String?)])
    func datelinesParse(line: String, iso: String, byline: String?) throws {
        let dateline = try #require(Dateline(line))
        #expect(dateline.iso == iso)
        #expect(dateline.byline == byline)
    }

    @Test(arguments: [
        "February 30, 2021",
        "March 17, 2021 was a Wednesday",
        "The talks began on March 17, 2021.",
        "Blinken arrives in S. Korea",
        "13:45",
    ])
    func nonDatelinesDoNotParse(line: String) {
        #expect(Dateline(line) == nil)
    }
}

// MARK: - Markdown

@Suite("Markdown")
struct MarkdownImporterTests {
    @Test func frontMatterGivesMetadata() throws {
        let text = """
            ---
            title: "Blinken arrives in S. Korea"
            url: https://example.com/blinken
            date: 2021-03-17 09:15
            author: Jane Smith
            source: Yonhap
            language: en
            ---

            US Secretary of State Antony Blinken arrived on **Wednesday**.

            Talks follow.
            """
        let article = try parseOne(text, .markdown)
        #expect(article.title == "Blinken arrives in S. Korea")
        #expect(article.url == "https://example.com/blinken")
        #expect(article.publishedAt == "2021-03-17T09:15")
        #expect(article.byline == "Jane Smith")
        #expect(article.source == "Yonhap")
        #expect(article.language == "en")
        #expect(article.body == "US Secretary of State Antony Blinken arrived on Wednesday.\n\nTalks follow.")
    }

    @Test func firstHeadingIsTheTitleWithoutFrontMatter() throws {
        let article = try parseOne("# The headline\n\nBody text.\n\n## A section\n\nMore text.\n", .markdown)
        #expect(article.title == "The headline")
        #expect(article.body == "Body text.\n\nA section\n\nMore text.")
    }

    @Test func headingRepeatingTheFrontMatterTitleIsDroppedOnce() throws {
        let article = try parseOne("---\ntitle: Same\n---\n# Same\n\nText.\n", .markdown)
        #expect(article.title == "Same")
        #expect(article.body == "Text.")
    }

    @Test func inlineMarkupIsStripped() throws {
        let text = """
            # Title

            Some *emphasis*, __strong__, ~~struck~~ and `code *kept*` with a [link](https://example.com "t").
            An image ![alt text](pic.png) goes; a [ref link][1] stays; snake_case_words stay; 2 * 3 * 4 = 24.
            Escaped \\*stars\\* and AT&amp;T.

            [1]: https://example.com/ref
            """
        let article = try parseOne(text, .markdown)
        #expect(
            article.body == """
                Some emphasis, strong, struck and code *kept* with a link. \
                An image  goes; a ref link stays; snake_case_words stay; 2 * 3 * 4 = 24. \
                Escaped *stars* and AT&T.
                """
        )
    }

    @Test func listItemsStayOneALine() throws {
        let text = "# T\n\nIntro:\n\n- first **item**\n- second\n  continued\n* third\n\n1. one\n2. two\n\nAfter.\n"
        let article = try parseOne(text, .markdown)
        #expect(article.body == "Intro:\n\n• first item\n• second continued\n• third\n\n1. one\n2. two\n\nAfter.")
    }

    @Test func quotesCodeAndRulesBecomePlainText() throws {
        let text = "# T\n\n> A quoted\n> line.\n\n---\n\n```swift\nlet x = *y*\n```\n\nSetext\n------\n\nEnd.\n"
        let article = try parseOne(text, .markdown)
        #expect(article.body == "A quoted line.\n\nlet x = *y*\n\nSetext\n\nEnd.")
    }

    @Test func hardLineBreaksAreKept() throws {
        let article = try parseOne("# T\n\nLine one  \nline two\\\nline three\n", .markdown)
        #expect(article.body == "Line one\nline two\nline three")
    }

    @Test func markdownWithoutHeadingReadsLikePlainText() throws {
        let article = try parseOne("A title line\n\nThe body.\n", .markdown)
        #expect(article.title == "A title line")
        #expect(article.body == "The body.")
    }

    @Test func frontMatterAuthorList() throws {
        let article = try parseOne("---\ntitle: T\nauthors:\n  - Ann Lee\n  - Bo Kim\n---\nText.\n", .markdown)
        #expect(article.byline == "Ann Lee, Bo Kim")
    }

    @Test func headingOnlyIsAnEmptyArticle() {
        let error = importError { _ = try parse("# Only a title\n", .markdown) }
        #expect(error?.message == "empty article: no body text")
    }
}

// MARK: - HTML

@Suite("HTML")
struct HTMLImporterTests {
    static let page = """
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
          <meta charset="utf-8">
          <title>Blinken arrives in S. Korea | Example News</title>
          <meta property="og:title" content="Blinken arrives in S. Korea &amp; talks">
          <meta name="author" content="Jane Smith">
          <meta property="article:published_time" content="2021-03-17T09:15:00+09:00">
          <link rel="canonical" href="https://example.com/a?x=1&amp;y=2">
          <style>p { color: red; }</style>
          <script>var x = "<p>not text</p>";</script>
        </head>
        <body>
          <nav><a href="/">Home</a> <a href="/world">World</a></nav>
          <header><p>Site banner</p></header>
          <article>
            <h1>Blinken arrives in S. Korea &amp; talks</h1>
            <p class="byline">By Jane Smith</p>
            <figure><img src="a.jpg" alt="photo"><figcaption>Blinken in Tokyo. (Reuters-Yonhap)</figcaption></figure>
            <p>US Secretary of State &ldquo;Antony&rdquo; Blinken
               arrived   on <b>Wednesday</b>.</p>
            <!-- an ad slot -->
            <p>Caf&eacute; &#8212; caf&#xE9; &#146;quoted&#146; &nbsp;end.<br>Second line.</p>
            <aside><p>Related: something else</p></aside>
            <div>Closing words<form><input name="q"></form></div>
            <noscript><p>Enable JavaScript</p></noscript>
          </article>
          <footer><p>Copyright</p></footer>
        </body>
        </html>
        """

    @Test func pageMetadataIsRead() throws {
        let article = try parseOne(Self.page, .html)
        #expect(article.title == "Blinken arrives in S. Korea & talks")
        #expect(article.url == "https://example.com/a?x=1&y=2")
        #expect(article.byline == "Jane Smith")
        #expect(article.publishedAt == "2021-03-17T09:15:00+09:00")
        #expect(article.language == "en-GB")
    }

    @Test func articleParagraphsWithoutChrome() throws {
        let article = try parseOne(Self.page, .html)
        #expect(
            article.body == """
                US Secretary of State “Antony” Blinken arrived on Wednesday.

                Café — café ’quoted’ end.
                Second line.

                Closing words
                """
        )
        for chrome in [
            "Home", "Site banner", "Related", "Copyright", "Enable JavaScript", "not text", "By Jane", "color",
        ] {
            #expect(!article.body.contains(chrome), "\(chrome) leaked into the body")
        }
        expectNormalizedBody(article.body)
    }

    @Test func figcaptionBecomesTheCaption() throws {
        let article = try parseOne(Self.page, .html)
        #expect(article.caption == "Blinken in Tokyo. (Reuters-Yonhap)")
    }

    @Test func titleFallsBackToTitleTagThenH1() throws {
        let titled = try parseOne(
            "<html><head><title>Page &quot;title&quot;</title></head><body><p>Text</p></body></html>", .html)
        #expect(titled.title == "Page \"title\"")
        let headed = try parseOne("<body><main><h1>Main headline</h1><p>Text</p></main></body>", .html)
        #expect(headed.title == "Main headline")
        #expect(headed.body == "Text")
    }

    @Test func titleTagSiteSuffixGivesWayToTheH1() throws {
        let html = "<title>Quake hits | Daily News</title><body><h1>Quake hits</h1><p>Text.</p></body>"
        let article = try parseOne(html, .html)
        #expect(article.title == "Quake hits")
        #expect(article.body == "Text.")
    }

    @Test func bodyFallsBackToMainThenBody() throws {
        let main = try parseOne("<title>T</title><body><p>Outside</p><main><p>Inside</p></main></body>", .html)
        #expect(main.body == "Inside")
        let body = try parseOne("<title>T</title><body><p>One</p><div>Two</div></body>", .html)
        #expect(body.body == "One\n\nTwo")
    }

    @Test func relAuthorAndTimeElementAndOgURL() throws {
        let html = """
            <html><head><meta property="og:url" content="https://example.com/og"><title>T</title></head>
            <body><article><a rel="author" href="/jane">Jane Roe</a>
            <time datetime="2019-01-04">Jan 4</time><p>Text.</p></article></body></html>
            """
        let article = try parseOne(html, .html)
        #expect(article.byline == "Jane Roe")
        #expect(article.publishedAt == "2019-01-04")
        #expect(article.url == "https://example.com/og")
    }

    @Test func tolerantOfBrokenMarkup() throws {
        let html = "<title>T</title><body><p>One <b>bold<p>Two & three < four</i><p>Five <unclosed"
        let article = try parseOne(html, .html)
        #expect(article.body == "One bold\n\nTwo & three < four\n\nFive")
    }

    @Test func preformattedTextKeepsLines() throws {
        let article = try parseOne("<title>T</title><article><pre>a  b\nc</pre></article>", .html)
        #expect(article.body == "a  b\nc")
    }

    @Test(arguments: [
        ("&amp;&lt;&gt;&quot;&apos;", "&<>\"'"),
        ("&#65;&#x42;&#X43;&#68", "ABCD"),
        ("&unknown; & &amp", "&unknown; & &amp"),
        ("&#0;&#x110000;", "\u{FFFD}\u{FFFD}"),
        ("&hellip;&mdash;&euro;", "…—€"),
    ])
    func entitiesDecode(encoded: String, decoded: String) {
        #expect(HTMLEntities.decodeEntities(encoded) == decoded)
    }

    @Test func pageWithoutTextIsAnEmptyArticle() {
        let error = importError {
            _ = try parse("<html><head><title>T</title></head><body><nav>x</nav></body></html>", .html)
        }
        #expect(error?.message.hasPrefix("empty article: no body text") == true)
        let untitled = importError { _ = try parse("<p>Text but no title anywhere</p>", .html) }
        #expect(untitled?.message.hasPrefix("empty article: no title") == true)
    }
}

// MARK: - JSON

@Suite("JSON")
struct JSONImporterTests {
    @Test func singleObject() throws {
        let json = """
            {"title": "T", "url": "https://e.com/1", "body": "P1\\r\\n\\r\\n\\r\\nP2  ", "author": "Ann Lee",
             "source": "Yonhap", "published_at": "2021-03-17T09:15", "lang": "ko", "caption": "Cap (Yonhap)"}
            """
        let article = try parseOne(json, .json)
        #expect(
            article
                == ImportedArticle(
                    url: "https://e.com/1", title: "T", byline: "Ann Lee", source: "Yonhap",
                    publishedAt: "2021-03-17T09:15", language: "ko", body: "P1\n\nP2", caption: "Cap (Yonhap)"
                )
        )
    }

    @Test func arrayWithKeyAlternatives() throws {
        let json = """
            [{"title": "A", "text": "a", "byline": "X", "publishedAt": "2019-01-04", "language": "en"},
             {"title": "B", "content": "b", "authors": [{"name": "Ann"}, "Bo"], "date": "January 5, 2019"},
             {"title": "C", "body": "c", "author": "Reuters", "url": null}]
            """
        let articles = try parse(json, .json)
        #expect(articles.map(\.title) == ["A", "B", "C"])
        #expect(articles.map(\.body) == ["a", "b", "c"])
        #expect(articles[0].byline == "X")
        #expect(articles[0].publishedAt == "2019-01-04")
        #expect(articles[0].language == "en")
        #expect(articles[1].byline == "Ann, Bo")
        #expect(articles[1].publishedAt == "2019-01-05")
        #expect(articles[2].source == "Reuters")
        #expect(articles[2].url == nil)
    }

    @Test func htmlContentIsReadAsHTML() throws {
        let article = try parseOne(#"{"title": "T", "content": "<p>One &amp; two</p><p>Three</p>"}"#, .json)
        #expect(article.body == "One & two\n\nThree")
    }

    @Test func articlesWrapper() throws {
        let articles = try parse(#"{"articles": [{"title": "A", "body": "a"}]}"#, .json)
        #expect(articles.count == 1)
    }

    @Test(arguments: [
        (
            #"[{"title": "A", "body": "a"}, {"title": "B", "body": "b"}, {"title": "C", "body": "c"}, {"title": "D"}]"#,
            "JSON article at index 3 has no 'body' or 'text'"
        ),
        (#"[{"title": "A", "body": "  \n "}]"#, "JSON article at index 0 has an empty body"),
        (#"[{"title": "", "body": "a"}]"#, "JSON article at index 0 has an empty title"),
        (#"[{"body": "a"}]"#, "JSON article at index 0 has no 'title'"),
        (#"[{"title": "A", "body": "a"}, 7]"#, "JSON article at index 1 is a number, not an object"),
        (#"{"title": 5, "body": "a"}"#, "JSON article: 'title' must be a string, not a number"),
        (#"{"title": "A"}"#, "JSON article has no 'body' or 'text'"),
        (#"{"title": "A", "body": ""}"#, "empty article: no body text"),
        ("[]", "JSON array holds no articles"),
        (#""just a string""#, "JSON holds a string, not an article object or an array of them"),
    ])
    func errorsNameTheArticle(json: String, message: String) {
        let error = importError { _ = try parse(json, .json) }
        #expect(error?.message == message)
    }

    @Test func invalidJSONSaysSo() {
        let error = importError { _ = try parse(#"{"title": "A", "body": }"#, .json) }
        #expect(error?.message.hasPrefix("invalid JSON") == true)
        #expect(error?.message.hasSuffix("expected an article object or an array of them") == true)
    }
}

// MARK: - CSV

@Suite("CSV")
struct CSVImporterTests {
    @Test func quotedFieldsDoubledQuotesNewlinesAndCRLF() throws {
        let csv =
            "title,extra,text,url,date\r\n"
            + "\"Comma, title\",x,\"He said \"\"hi\"\".\r\n\r\nSecond para.\",https://e.com/1,2019-01-04\r\n"
            + "Plain,y,Body only,,\r\n"
        let articles = try parse(csv, .csv)
        try #require(articles.count == 2)
        #expect(articles[0].title == "Comma, title")
        #expect(articles[0].body == "He said \"hi\".\n\nSecond para.")
        #expect(articles[0].url == "https://e.com/1")
        #expect(articles[0].publishedAt == "2019-01-04")
        #expect(articles[1] == ImportedArticle(title: "Plain", body: "Body only"))
    }

    @Test func leadingDatelineIsDroppedAndBlankLinesCollapse() throws {
        let csv = "url,date,title,text\nu,,T,\"\n\nFriday, January 4, 2019\u{A0} \n\n\nFirst.  \n\n\n\nSecond.\n\"\n"
        let article = try parseOne(csv, .csv)
        #expect(article.body == "First.\n\nSecond.")
        #expect(article.publishedAt == "2019-01-04")  // from the dateline, as the column is empty
    }

    @Test func bodyStartingWithADateSentenceIsKept() throws {
        let csv = "url,date,title,text\nu,2019-01-04,T,\"January 4, 2019 was cold.\nYes.\"\n"
        #expect(try parseOne(csv, .csv).body == "January 4, 2019 was cold.\nYes.")
    }

    @Test func missingColumnIsNamed() {
        let error = importError { _ = try parse("url,date,title,body\nu,d,t,b\n", .csv) }
        #expect(error?.message == "CSV is missing the column 'text' (expected url,date,title,text)")
    }

    @Test func emptyFieldsNameTheRow() {
        let csv = "url,date,title,text\nu1,,A,a\nu2,,B,\"  \"\n"
        #expect(importError { _ = try parse(csv, .csv) }?.message == "CSV row 2 (line 3) has an empty body")
        let untitled = "url,date,title,text\nu1,,,\"multi\nline\"\nu2,,,b\n"
        #expect(importError { _ = try parse(untitled, .csv) }?.message == "CSV row 1 (line 2) has an empty title")
    }

    @Test func rowNumbersCountRecordsNotLines() {
        let csv = "url,date,title,text\nu1,,A,\"line\nline\nline\"\nu2,,,b\n"
        #expect(importError { _ = try parse(csv, .csv) }?.message == "CSV row 2 (line 5) has an empty title")
    }

    @Test func unterminatedQuoteIsReported() {
        let error = importError { _ = try parse("url,date,title,text\nu,d,t,\"never closed\n", .csv) }
        #expect(error?.message.hasPrefix("CSV has an unterminated quoted field starting on line 2") == true)
    }

    @Test func headerOnlyAndEmptyInputs() {
        #expect(
            importError { _ = try parse("url,date,title,text\n", .csv) }?.message
                == "CSV has a header but no article rows")
        #expect(importError { _ = try parse("", .csv) }?.message.hasPrefix("CSV is empty") == true)
    }

    @Test(.enabled(if: hasWikinews, "the Wikinews corpus is not at ../shared/corpora/wikinews/wikinews_2019.csv"))
    func wikinewsCorpusImportsEveryArticle() throws {
        let articles = try ArticleImporter.parse(
            try Data(contentsOf: wikinewsCSV), format: .csv, filename: "wikinews_2019.csv"
        )
        #expect(articles.count == 171)
        // Some stories open with "Friday was when…": only a whole weekday-and-date line is a dateline.
        let dateline = #/^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, [A-Z][a-z]+ \d{1,2}, \d{4}/#
        for (index, article) in articles.enumerated() {
            #expect(!article.title.isEmpty, "article \(index)")
            #expect(!article.body.isEmpty, "article \(index)")
            #expect(article.url?.hasPrefix("https://en.wikinews.org/") == true, "article \(index)")
            #expect(article.publishedAt?.hasPrefix("2019-") == true, "article \(index)")
            #expect(article.body.prefixMatch(of: dateline) == nil, "article \(index) starts with a dateline")
            expectNormalizedBody(article.body)
        }
        #expect(articles[0].title == "Magnitogorsk apartment building collapses after explosion, dozens dead")
        #expect(articles[0].body.hasPrefix("An apartment building collapsed on Monday in Magnitogorsk"))
    }
}

// MARK: - Detection and decoding

@Suite("Format detection and decoding")
struct ArticleImporterTests {
    @Test(arguments: [
        ("story.txt", ImportFormat.text), ("a.TXT", .text), ("notes.md", .markdown), ("x.markdown", .markdown),
        ("page.html", .html), ("page.HTM", .html), ("feed.json", .json), ("dir/wikinews.csv", .csv),
    ])
    func formatFromExtension(filename: String, format: ImportFormat) {
        // The extension wins over content that looks like something else.
        #expect(ArticleImporter.detectFormat(filename: filename, data: Data("{}".utf8)) == format)
    }

    @Test(arguments: [
        (#"{"title": "T", "body": "b"}"#, ImportFormat.json),
        (#"  [{"title": "T"}]"#, .json),
        ("<!DOCTYPE html><html><body><p>x</p></body></html>", .html),
        ("<html lang=en><p>x</p>", .html),
        ("<article><p>x</p></article>", .html),
        ("url,date,title,text\nu,d,t,x\n", .csv),
        ("\"title\",\"text\"\nA,b\n", .csv),
        ("---\ntitle: T\n---\nBody", .markdown),
        ("# Heading\n\nBody", .markdown),
        ("[A link](https://e.com) opens this note.", .markdown),
        ("Headline\n\nMarch 17, 2021 - 09:15 By Yonhap\nBody.", .text),
        ("\u{FEFF}Headline with a BOM\n\nBody.", .text),
    ])
    func formatFromContent(content: String, format: ImportFormat) {
        #expect(ArticleImporter.detectFormat(filename: nil, data: Data(content.utf8)) == format)
        #expect(ArticleImporter.detectFormat(filename: "stdin-without-extension", data: Data(content.utf8)) == format)
    }

    @Test func seedStorySniffsAsText() throws {
        #expect(ArticleImporter.detectFormat(filename: "-", data: try seedStory()) == .text)
    }

    @Test func unknownContentIsNil() {
        #expect(ArticleImporter.detectFormat(filename: nil, data: Data()) == nil)
        #expect(ArticleImporter.detectFormat(filename: nil, data: Data("  \n ".utf8)) == nil)
        #expect(ArticleImporter.detectFormat(filename: "x.pdf", data: Data([0x25, 0x50, 0xFF, 0xFE, 0x00])) == nil)
        #expect(ArticleImporter.detectFormat(filename: nil, data: Data("a\u{0}b".utf8)) == nil)
    }

    @Test func largeInputIsSniffedFromItsPrefix() {
        // 3-byte characters straddle the 8 KiB cut.
        let text = "Headline\n\n" + String(repeating: "가나다라 ", count: 3000)
        #expect(ArticleImporter.detectFormat(filename: nil, data: Data(text.utf8)) == .text)
    }

    /// HTML says its own encoding (and is read as Windows-1252 when it says none and is not UTF-8, as
    /// browsers do); the other formats must be UTF-8.
    @Test(arguments: ImportFormat.allCases.filter { $0 != .html })
    func invalidUTF8IsRefused(format: ImportFormat) {
        let error = importError {
            _ = try ArticleImporter.parse(Data([0x54, 0x69, 0xC3, 0x28, 0x0A]), format: format, filename: "bad.bin")
        }
        #expect(error?.message == "bad.bin is not valid UTF-8; convert it to UTF-8 and import it again")
    }

    @Test func byteOrderMarkIsIgnored() throws {
        let article = try parseOne("\u{FEFF}Title\n\nBody.", .text)
        #expect(article.title == "Title")
    }

    @Test func errorDescriptionIsItsMessage() {
        let error = ImportError("empty article: no body text")
        #expect(error.description == error.message)
        #expect("\(error)" == "empty article: no body text")
    }

    @Test(arguments: ImportFormat.allCases)
    func everyFormatHasARawValue(format: ImportFormat) {
        #expect(ImportFormat(rawValue: format.rawValue) == format)
    }
}
