import Foundation
import MarginStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The CLI as a daily tool (issue 15): everyday input works, nothing is lost quietly, ids and
// listings read well. Each test runs the built binary.

/// A news story whose words carry the punctuation news has.
let punctuatedBody = """
    U.S. officials said on 2019-01-04 that Speaker Pelosi's office don't expect a vote. \
    Flags flew at half-mast as leaders condemned anti-semitism. “I can’t find the words,” she said \
    of the 1990–2000 decade, 10\u{00A0}km from the capitol.

    The Archbishop of Canterbury spoke first. Then the Archbishop of York. The Bishop of Canterbury \
    came last; the Archbishop of Canterbury left early.
    """

extension Sandbox {
    /// Imports one article from JSON and returns its id.
    func importArticle(
        title: String, body: String, url: String = "https://news.example/\(UUID().uuidString)",
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let name = "article-\(UUID().uuidString).json"
        let object: [String: Any] = ["title": title, "body": body, "url": url, "date": "2019-01-04"]
        try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent(name))
        let rows = try json([ImportRow].self, "import", name, sourceLocation: sourceLocation)
        return try #require(rows.first?.id, sourceLocation: sourceLocation)
    }

    /// The ids of `margin annotations` text output, first column.
    func shownAnnotationIDs(sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        margin("annotations", sourceLocation: sourceLocation).stdout.split(separator: "\n")
            .filter { !$0.hasPrefix(" ") }.map { String($0.prefix { $0 != " " }) }
    }
}

struct SearchQueryTests {
    @Test(arguments: ["U.S.", "don't", "don’t", "Pelosi's", "Pelosi’s", "anti-semitism", "half-mast", "2019-01-04",
                      "can't find"])
    func aPlainWordFindsWhatItSaysWhateverItsPunctuation(query: String) throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Pelosi's week", body: punctuatedBody)
        _ = try sandbox.importArticle(title: "Unrelated", body: "Nothing about the capital here at all.")

        let result = sandbox.margin(["search"] + query.split(separator: " ").map(String.init))

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.hasPrefix(id.prefix(8)), "\(result.stdout)")
        #expect(!result.stdout.contains("Unrelated"))
    }

    @Test func fieldsOperatorsPrefixesAndPhrasesWorkWhenAskedFor() throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Pelosi's week", body: punctuatedBody)
        let other = try sandbox.importArticle(title: "Zeppelins over Pelosi's city", body: "Airships and the capitol.")
        let note = try sandbox.highlight(id, "Archbishop of York", "--note", "follow up the archbishop")
        func found(_ query: String...) -> Set<String> {
            let result = sandbox.margin("search", query.joined(separator: " "), "--json")
            guard result.status == 0,
                  let hits = try? JSONDecoder().decode([SearchHitShape].self, from: Data(result.stdout.utf8))
            else { return [] }
            return Set(hits.map { $0.annotation_id ?? $0.article_id })
        }

        #expect(found("title:Zeppelins") == [other])
        #expect(found("body:half-mast") == [id])
        #expect(found("note:archbishop") == [note.id])
        #expect(found("note:\"follow up\"") == [note.id])
        #expect(found("title:(zeppelins OR week)") == [id, other])
        #expect(found("capitol AND airships") == [other])
        #expect(found("capitol NOT airships") == [id])
        #expect(found("half-mast OR airships") == [id, other])
        #expect(found("zeppel*") == [other])
        #expect(found("\"Archbishop of Canterbury spoke\"") == [id])
        #expect(found("\"Archbishop of Canterbury sang\"").isEmpty)
        #expect(found("AND").isEmpty)  // an operator alone is refused
        #expect(found("capitol and airships") == [other])  // lower case: a word like any other
    }

    @Test func nothingFoundIsExitOneWithNothingOnStdoutAsGrepDoes() throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importArticle(title: "A", body: punctuatedBody)

        let text = sandbox.margin("search", "zeppelin")
        let json = sandbox.margin("search", "zeppelin", "--json")

        #expect(text.status == 1 && text.stdout.isEmpty)
        #expect(text.stderr == "margin: no matches for zeppelin\n")
        #expect(json.status == 1 && json.stdout == "[\n\n]\n")
    }

    @Test func searchPagesWithLimitAndOffsetAndSaysWhenMoreFollow() throws {
        let sandbox = try Sandbox.initialized()
        for n in 1...5 { _ = try sandbox.importArticle(title: "Story \(n)", body: "The harbour froze in winter \(n).") }

        let first = sandbox.margin("search", "harbour", "--limit", "2")
        let last = sandbox.margin("search", "harbour", "--limit", "2", "--offset", "4")
        let all = try sandbox.json([SearchHitShape].self, "search", "harbour")
        let pages = try (0..<3).flatMap {
            try sandbox.json([SearchHitShape].self, "search", "harbour", "--limit", "2", "--offset", "\($0 * 2)")
        }

        #expect(first.status == 0)
        #expect(first.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.count == 2)
        #expect(first.stderr.contains("more matches follow: `margin search --offset 2`"))
        #expect(last.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.count == 1)
        #expect(last.stderr.isEmpty)
        #expect(all.count == 5 && pages.map(\.article_id) == all.map(\.article_id))
        let zero = sandbox.margin("search", "harbour", "--limit", "0")
        #expect(zero.status == 64 && zero.stdout.isEmpty && zero.stderr.hasPrefix("margin: --limit is at least 1"))
    }

    @Test func listAndLogPageWithLimitAndOffset() throws {
        let sandbox = try Sandbox.initialized()
        for n in 1...5 { _ = try sandbox.importArticle(title: "Story \(n)", body: "Body \(n).") }
        let all = try sandbox.json([ArticleShape].self, "list")

        let page = try sandbox.json([ArticleShape].self, "list", "--limit", "2", "--offset", "2")
        let text = sandbox.margin("list", "--limit", "2")
        let log = try sandbox.json([LogEntryShape].self, "log", "--limit", "3", "--offset", "1")
        let fullLog = try sandbox.json([LogEntryShape].self, "log", "--limit", "4")

        #expect(page.map(\.id) == Array(all.map(\.id)[2..<4]))
        #expect(text.stderr.contains("more articles follow: `margin list --offset 2`"))
        #expect(log.map(\.seq) == Array(fullLog.map(\.seq).dropFirst()))
    }
}

struct TypographicQuoteTests {
    /// Typed, as it stands in the body.
    @Test(arguments: [
        ("I can't find the words", "I can’t find the words"), ("\"I can't", "“I can’t"), ("1990-2000", "1990–2000"),
        ("10 km", "10\u{00A0}km"), ("words,\" she", "words,” she"),
    ])
    func typedTextMatchesTypographicTextWithOffsetsExactInTheBody(typed: String, stored: String) throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Quotes", body: punctuatedBody)
        let body = try sandbox.json(ArticleShape.self, "show", id).body ?? ""

        let a = try sandbox.highlight(id, typed)

        let offsets = scalarOffsets(of: stored, in: body)
        try #require(offsets.count == 1)
        #expect(a.exact == stored)
        #expect(a.start == offsets[0] && a.end == offsets[0] + stored.unicodeScalars.count)
    }

    @Test(arguments: [
        ["--prefix", "Bishop of"], ["--prefix", "Bishop of "], ["--prefix", "Archbishop of", "--suffix", "spoke"],
        ["--prefix", "Archbishop of ", "--suffix", " spoke"], ["--prefix", "the Archbishop of", "--suffix", " left"],
    ])
    func contextMatchesWithOrWithoutItsBoundarySpace(context: [String]) throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Context", body: punctuatedBody)
        let body = try sandbox.json(ArticleShape.self, "show", id).body ?? ""
        let result = sandbox.margin(["highlight", id, "--quote", "Canterbury", "--json"] + context)

        try #require(result.status == 0, "\(result.stderr)")
        let a = try JSONDecoder().decode(AnnotationShape.self, from: Data(result.stdout.utf8))
        let places = scalarOffsets(of: "Canterbury", in: body)
        #expect(places.count == 3)
        let expected = context.contains(" left") ? places[2] : context[1].hasPrefix("Bishop") ? places[1] : places[0]
        #expect(a.start == expected && a.exact == "Canterbury")
    }

    @Test func aQuoteTypedExactlyAsOnePlaceHasItIsThatPlace() throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Both", body: "They said don’t. Later they wrote don't, plainly.")

        let curly = try sandbox.highlight(id, "don’t")
        let straight = try sandbox.highlight(id, "don't")

        #expect(curly.start == 10 && straight.start == 34)
        #expect(curly.exact == "don’t" && straight.exact == "don't")
    }
}

struct OrphanTests {
    static let first = """
        The council met on Monday. It approved the new harbour budget after a long debate about the ferries.

        Residents asked about the bridge. The mayor promised an answer within a month.
        """
    static let corrected = """
        The council met on Monday.

        Residents asked about the bridge. The mayor promised an answer within a month.
        """

    /// An article with two highlights, then a correction that removes the first one's passage.
    static func orphaned() throws -> (Sandbox, article: String, orphan: AnnotationShape, kept: AnnotationShape, CLIResult) {
        let sandbox = try Sandbox.initialized()
        let url = "https://news.example/council"
        let id = try sandbox.importArticle(title: "Council", body: first, url: url)
        let orphan = try sandbox.highlight(id, "approved the new harbour budget", "--note", "check the figure")
        let kept = try sandbox.highlight(id, "promised an answer")
        try JSONSerialization.data(withJSONObject: ["title": "Council", "url": url, "body": corrected])
            .write(to: sandbox.folder.appendingPathComponent("v2.json"))
        let result = sandbox.margin("import", "v2.json")
        return (sandbox, id, orphan, kept, result)
    }

    @Test func aCorrectionThatOrphansHighlightsSaysHowManyAndWhereToLook() throws {
        let (sandbox, article, orphan, _, result) = try Self.orphaned()

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("updated"))
        #expect(result.stderr.contains("1 of 2 annotations lost its passage in this correction"), "\(result.stderr)")
        #expect(result.stderr.contains("see `margin orphans`"))
        let annotations = sandbox.margin("annotations").stdout
        let line = try #require(annotations.split(separator: "\n").first { $0.contains("harbour budget") })
        #expect(line.contains("ORPHAN"))
        #expect(!annotations.split(separator: "\n").first { $0.contains("promised") }!.contains("ORPHAN"))
        #expect(sandbox.margin("list").stdout.contains("[2, 1 orphaned]"))
        #expect(sandbox.margin("orphans").stdout.contains(Store.shortID(orphan.id, length: 8)))
        _ = article
    }

    @Test func anOrphanIsPlacedAgainByQuoteOrPositionAndTheOrphanListEmpties() throws {
        let (sandbox, _, orphan, _, _) = try Self.orphaned()
        let before = try sandbox.changeCount()

        let noCandidate = sandbox.margin("reattach", orphan.id)
        let placed = try sandbox.json(AnnotationShape.self, "reattach", orphan.id, "--quote", "The council met")
        let moved = try sandbox.json(AnnotationShape.self, "reattach", orphan.id, "--start", "0", "--end", "3")

        if noCandidate.status != 0 {
            #expect(noCandidate.stderr.contains("--quote TEXT"))
        }
        #expect(placed.exact == "The council met" && placed.note == "check the figure")
        #expect(moved.exact == "The" && moved.start == 0)
        #expect(try sandbox.changeCount() > before)
        #expect(sandbox.margin("orphans", "--json").stdout == "[\n\n]\n")
        #expect(!sandbox.margin("annotations").stdout.contains("ORPHAN"))
        let wrong = sandbox.margin("reattach", orphan.id, "--quote", "not in the text")
        #expect(wrong.status == 1 && wrong.stderr.contains("does not occur"))
    }

    @Test func minScoreIsCheckedAndAHigherOneOrphansMore() throws {
        let sandbox = try Sandbox.initialized()
        let url = "https://news.example/typo"
        let id = try sandbox.importArticle(title: "Typo", body: "The minister said the plan was sound and fair.", url: url)
        _ = try sandbox.highlight(id, "the plan was sound and fair")
        _ = try sandbox.importArticle(title: "Typo", body: "The minister said the plan was sound and just.", url: url)

        let strict = sandbox.margin("reanchor", "--dry-run", "--min-score", "0.99", "--json")
        let lenient = sandbox.margin("reanchor", "--dry-run", "--min-score", "0.1", "--json")
        let bad = sandbox.margin("reanchor", "--min-score", "1.5")

        struct Report: Decodable { var orphaned, moved, unchanged: Int }
        let s = try JSONDecoder().decode(Report.self, from: Data(strict.stdout.utf8))
        let l = try JSONDecoder().decode(Report.self, from: Data(lenient.stdout.utf8))
        #expect(s.orphaned == 1 && l.orphaned == 0)
        #expect(bad.status == 64 && bad.stderr.hasPrefix("margin: --min-score is between 0 and 1"))
    }
}

struct ShortIDTests {
    @Test func annotationIDsAreShownAlignedUniqueAndWithoutDashes() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        // Made within milliseconds: their ids share the time prefix.
        for quote in ["Antony Blinken", "cause a stink", "South Korea", "Blinken said that", "Tokyo strained"] {
            _ = try sandbox.highlight(article, quote)
        }

        let shown = sandbox.shownAnnotationIDs()
        let full = try sandbox.json([AnnotationShape].self, "annotations").map(\.id)

        #expect(shown.count == 5)
        #expect(Set(shown.map(\.count)).count == 1, "\(shown)")
        #expect(shown.allSatisfy { $0.count >= 8 && !$0.contains("-") })
        #expect(Set(shown).count == 5)
        for (short, id) in zip(shown, full) {
            #expect(id.filter { $0 != "-" }.hasPrefix(short))
            let resolved = try sandbox.json(ArticleShape.self, "show", short)
            #expect(resolved.id == article)
        }
    }

    @Test func aPrefixTypedWithoutTheDashNamesTheAnnotation() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink")
        let digits = a.id.filter { $0 != "-" }

        let result = sandbox.margin("note", String(digits.prefix(9)), "typed without the dash")
        let dashed = sandbox.margin("note", String(a.id.prefix(10)), "and with it")

        #expect(result.status == 0, "\(result.stderr)")
        #expect(dashed.status == 0, "\(dashed.stderr)")
        #expect(try sandbox.json([AnnotationShape].self, "annotations").first?.note == "and with it")
    }
}

struct TypoAndMessageTests {
    @Test(arguments: [
        (["serach", "stink"], "margin: 'serach' is not a margin command; did you mean `margin search`?"),
        (["highlight", "964c", "--qoute", "x"], "margin: `margin highlight` has no option --qoute; did you mean --quote?"),
        (["token", "crate", "x"], "margin: 'crate' is not a `margin token` command; did you mean `margin token create`?"),
        (["list", "--limt", "2"], "margin: `margin list` has no option --limt; did you mean --limit?"),
    ])
    func aTypoGetsASuggestionInOneLine(args: [String], message: String) throws {
        let sandbox = try Sandbox.initialized()
        let result = sandbox.margin(args)
        #expect(result.status == 64)
        #expect(result.stderr == message + "\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func usageErrorsUseTheOneErrorStyle() throws {
        let sandbox = try Sandbox.initialized()
        for args in [["highlight"], ["search"], ["export", "--format", "pdf"], ["sync", "--page-size", "0"]] {
            let result = sandbox.margin(args)
            #expect(result.status == 64, "\(args)")
            #expect(result.stderr.hasPrefix("margin: "), "\(args): \(result.stderr)")
            #expect(!result.stderr.contains("Error:") && !result.stderr.contains("USAGE"), "\(args)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(args): \(result.stderr)")
        }
    }

    @Test func removingAnArticleNamesTheAnnotationsItTakesOutOfSightAndAsksNothing() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink", "--note", "Kim's warning")
        let b = try sandbox.highlight(article, "South Korea")

        let result = sandbox.margin("rm", String(article.prefix(8)))

        #expect(result.status == 0)
        #expect(result.stdout == "deleted article \(article)\n")
        #expect(result.stderr.contains("with it 2 annotations of this article are out of sight"))
        #expect(result.stderr.contains(Store.shortID(a.id, length: 8)) && result.stderr.contains("\"cause a stink\""))
        #expect(result.stderr.contains(Store.shortID(b.id, length: 8)))
        #expect(result.stderr.contains("note: Kim's warning"))
        let quiet = try Sandbox.initialized()
        let other = try quiet.importSeed()
        _ = try quiet.highlight(other, "Tokyo strained")
        #expect(quiet.margin("rm", other, "--quiet").stderr.isEmpty)
    }

    @Test func aRestoredArticleIsCountedAsRestoredAndItsAnnotationsComeBack() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        _ = try sandbox.highlight(article, "cause a stink")
        let other = try sandbox.importArticle(title: "Other", body: "Another story.", url: "https://news.example/o")
        try JSONSerialization.data(withJSONObject: ["title": "Other", "body": "Another story.", "url": "https://news.example/o", "date": "2019-01-04"])
            .write(to: sandbox.folder.appendingPathComponent("other.json"))
        _ = sandbox.margin("rm", article)

        let result = sandbox.margin("import", seedStory.path, "other.json")

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("restored  \(article.prefix(8))"))
        #expect(result.stdout.contains("2 articles: 0 new, 0 updated, 1 restored, 1 unchanged"), "\(result.stdout)")
        #expect(try sandbox.json([AnnotationShape].self, "annotations").count == 1)
        _ = other
    }

    @Test func countsAreSingularForOne() throws {
        let (sandbox, _) = try ExportTests.annotatedStore()
        let texts = [
            sandbox.margin("status").stdout, sandbox.margin("export", "--output", "x.json").stderr,
            sandbox.margin("reanchor", "--dry-run").stdout,
        ]
        for text in texts {
            #expect(text.range(of: #"\b1 [a-z]+s\b"#, options: .regularExpression) == nil, "\(text)")
        }
        #expect(texts[0].contains("1 article,"))
    }

    @Test func aTagWithASpaceIsRefusedAndAFilterOfAnotherCaseSaysWhichTagsExist() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        _ = sandbox.margin("tag", article, "Poland")

        let spaced = sandbox.margin("tag", article, "two words")
        let other = sandbox.margin("list", "--tag", "poland")
        let same = sandbox.margin("list", "--tag", "Poland")

        #expect(spaced.status == 64 && spaced.stderr.contains("write it as 'two-words'"))
        #expect(other.status == 0 && other.stdout.isEmpty)
        #expect(other.stderr.contains("tags are case-sensitive; there is #Poland"))
        #expect(same.stdout.contains("#Poland"))
    }

    @Test func jsonFieldsTheReadmeListsArePresentAsNull() throws {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(title: "Bare", body: "Just a body.")
        _ = try sandbox.highlight(id, "Just")

        let list = try #require(
            try JSONSerialization.jsonObject(with: Data(sandbox.margin("list", "--json").stdout.utf8)) as? [[String: Any]])
        let annotations = try #require(
            try JSONSerialization.jsonObject(with: Data(sandbox.margin("annotations", "--json").stdout.utf8))
                as? [[String: Any]])

        #expect(list[0]["byline"] is NSNull && list[0]["source"] is NSNull && list[0]["language"] is NSNull)
        #expect(annotations[0]["note"] is NSNull && annotations[0]["color"] is NSNull)
    }
}

struct CompletionTests {
    @Test(arguments: [("bash", "-F _margin margin"), ("zsh", "#compdef margin"), ("fish", "complete -c 'margin'")])
    func completionScriptsComeFromTheParser(shell: String, marker: String) throws {
        let result = try Sandbox().margin(["completion", shell])
        #expect(result.status == 0)
        #expect(result.stdout.contains(marker))
        for command in ["search", "highlight", "reattach", "sync"] { #expect(result.stdout.contains(command)) }
        #expect(result.stdout.contains("quote"))
    }

    @Test func anUnknownShellIsAUsageError() throws {
        let result = try Sandbox().margin(["completion", "tcsh"])
        #expect(result.status == 64 && result.stderr.hasPrefix("margin: unknown shell 'tcsh'"))
    }
}

struct StoreSizeTests {
    /// A large import leaves no large write-ahead log behind: every later command would read it
    /// whole when it opens the store (what made `show` take a second at 50,000 articles).
    @Test func aLargeImportLeavesNoLargeWriteAheadLog() throws {
        let sandbox = try Sandbox.initialized()
        let paragraph = String(repeating: "The harbour authority published its figures for the year. ", count: 40)
        let rows = (1...200).map { n -> [String: String] in
            ["title": "Report \(n)", "url": "https://news.example/report-\(n)",
             "body": (1...8).map { "\(paragraph) (\(n).\($0))" }.joined(separator: "\n\n")]
        }
        try JSONSerialization.data(withJSONObject: rows).write(to: sandbox.folder.appendingPathComponent("big.json"))

        let result = sandbox.margin("import", "big.json")

        #expect(result.status == 0, "\(result.stderr)")
        let wal = (try? FileManager.default.attributesOfItem(atPath: sandbox.store + "-wal"))?[.size] as? NSNumber
        #expect((wal?.intValue ?? 0) < 1 << 20, "the log is \(wal?.intValue ?? 0) bytes")
        #expect(try sandbox.json([ArticleShape].self, "list").count == 200)
    }
}
