import Foundation
import Testing

@testable import MarginStore

// MARK: - Test data

/// Two articles (one without a URL) and annotations covering notes, tags, no note, emoji and bookmarks.
private enum ExportFixture {
    static let seoulBody = """
        Blinken and Austin arrived in Seoul on Wednesday for talks with their South Korean counterparts.

        The ministers said the alliance was "the linchpin" of peace and prosperity in the region.
        """

    static let festivalBody = """
        Crowds cheered 🎉 as the lanterns rose over the river. Vendors sold hotteok 🥞 until midnight.

        Organisers said next year's festival would run for a week.
        """

    static let seoul = Article(
        id: "article-seoul", url: "https://en.yna.co.kr/view/AEN20210317000451315", title: "Blinken, Austin in Seoul",
        byline: "Kim Soo-yeon", source: "Yonhap", publishedAt: "2021-03-17T09:15", language: "en", body: seoulBody,
        contentHash: "hash-seoul", tags: ["diplomacy"], createdAt: HLC(milliseconds: 1_615_972_500_000),
        updatedAt: HLC(milliseconds: 1_615_972_500_000)
    )

    static let festival = Article(
        id: "article-festival", title: "Lantern festival draws crowds", source: "Local Desk", body: festivalBody,
        contentHash: "hash-festival", createdAt: HLC(milliseconds: 1_700_000_000_000),
        updatedAt: HLC(milliseconds: 1_700_000_000_000)
    )

    static let articles = [seoul, festival]

    /// The selectors for the first occurrence of `exact` in `body`, positions in Unicode scalars.
    static func target(_ exact: String, in body: String, context: Int = 12) -> TextTarget {
        let scalars = Array(body.unicodeScalars)
        let needle = Array(exact.unicodeScalars)
        let start = (0...(scalars.count - needle.count)).first { Array(scalars[$0..<$0 + needle.count]) == needle }!
        let end = start + needle.count
        func text(_ slice: ArraySlice<Unicode.Scalar>) -> String {
            var string = ""
            string.unicodeScalars.append(contentsOf: slice)
            return string
        }
        return TextTarget(
            exact: exact,
            prefix: text(scalars[max(0, start - context)..<start]),
            suffix: text(scalars[end..<min(scalars.count, end + context)]),
            start: start, end: end, revision: body == seoulBody ? "hash-seoul" : "hash-festival"
        )
    }

    static func annotation(
        _ id: String, _ article: Article, _ exact: String, motivation: Motivation = .highlighting, note: String? = nil,
        tags: [String] = [], at milliseconds: Int64 = 1_710_000_000_000
    ) -> Annotation {
        Annotation(
            id: id, articleID: article.id, motivation: motivation, target: target(exact, in: article.body), note: note,
            color: "yellow", tags: tags, author: "laptop-a", createdAt: HLC(milliseconds: milliseconds),
            updatedAt: HLC(milliseconds: milliseconds + 60_000, counter: 2)
        )
    }

    static let linchpin = annotation(
        "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", seoul, "the linchpin", note: "The usual phrase; compare 2019.",
        tags: ["alliance", "quotes"]
    )
    static let arrived = annotation("0190a1b2-c3d4-7e5f-8a6b-000000000001", seoul, "Blinken and Austin arrived")
    static let cheered = annotation(
        "0190a1b2-c3d4-7e5f-8a6b-000000000002", festival, "Crowds cheered 🎉", note: "Lovely 😊 scene", tags: ["joy"]
    )
    static let hotteok = annotation(
        "0190a1b2-c3d4-7e5f-8a6b-000000000003", festival, "hotteok 🥞 until midnight", motivation: .tagging,
        tags: ["food", "street food"]
    )
    static let week = annotation(
        "0190a1b2-c3d4-7e5f-8a6b-000000000004", festival, "run for a week", motivation: .commenting,
        note: "Line one.\nLine two with a / slash."
    )
    static let bookmark = Annotation(
        id: "0190a1b2-c3d4-7e5f-8a6b-000000000005", articleID: festival.id, motivation: .bookmarking,
        target: TextTarget(exact: "", prefix: "", suffix: "Organisers", start: 94, end: 94), author: "laptop-b",
        createdAt: HLC(milliseconds: 1_710_000_000_000), updatedAt: HLC(milliseconds: 1_710_000_000_000)
    )

    static let annotations = [linchpin, arrived, cheered, hotteok, week, bookmark]
}

/// The exported collection parsed back into plain JSON values.
private func exportedJSON(
    articles: [Article] = ExportFixture.articles, annotations: [Annotation] = ExportFixture.annotations
) throws -> [String: Any] {
    let data = try W3CExporter.export(articles: articles, annotations: annotations)
    return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func items(_ collection: [String: Any]) throws -> [[String: Any]] {
    let first = try #require(collection["first"] as? [String: Any])
    return try #require(first["items"] as? [[String: Any]])
}

private func item(_ id: String, in collection: [String: Any]) throws -> [String: Any] {
    try #require(try items(collection).first { $0["id"] as? String == "urn:uuid:" + id })
}

private func selectors(_ item: [String: Any]) throws -> [[String: Any]] {
    let target = try #require(item["target"] as? [String: Any])
    return try #require(target["selector"] as? [[String: Any]])
}

private func bodies(_ item: [String: Any]) throws -> [[String: Any]] {
    try #require(item["body"] as? [[String: Any]])
}

// MARK: - W3C JSON-LD

@Suite struct W3CExporterTests {
    @Test func collectionHasOnePageWithEveryAnnotation() throws {
        let json = try exportedJSON()

        #expect(json["@context"] as? String == "http://www.w3.org/ns/anno.jsonld")
        #expect(json["type"] as? String == "AnnotationCollection")
        #expect(json["label"] as? String == "Margin export")
        #expect(json["total"] as? Int == ExportFixture.annotations.count)
        let first = try #require(json["first"] as? [String: Any])
        #expect(first["type"] as? String == "AnnotationPage")
        #expect(first["startIndex"] as? Int == 0)
        let pageID = try #require(first["id"] as? String)
        #expect(pageID.hasPrefix("urn:uuid:") && pageID != json["id"] as? String)
        #expect(try items(json).count == ExportFixture.annotations.count)
    }

    @Test func idsAreURNUUIDs() throws {
        let json = try exportedJSON()

        let collectionID = try #require(json["id"] as? String)
        #expect(collectionID.hasPrefix("urn:uuid:"))
        #expect(UUID(uuidString: String(collectionID.dropFirst("urn:uuid:".count))) != nil)
        for item in try items(json) {
            let id = try #require(item["id"] as? String)
            #expect(id.hasPrefix("urn:uuid:"))
            #expect(UUID(uuidString: String(id.dropFirst("urn:uuid:".count))) != nil)
            #expect(id == id.lowercased())
            #expect(item["@context"] as? String == "http://www.w3.org/ns/anno.jsonld")
            #expect(item["type"] as? String == "Annotation")
        }
    }

    @Test func collectionIDFollowsContent() throws {
        let all = try #require(try exportedJSON()["id"] as? String)
        let fewer = try #require(
            try exportedJSON(annotations: Array(ExportFixture.annotations.dropLast()))["id"] as? String
        )

        #expect(all != fewer)
        // Version 8 (custom, hash-based) and the RFC 9562 variant.
        let uuid = all.dropFirst("urn:uuid:".count)
        #expect(uuid[uuid.index(uuid.startIndex, offsetBy: 14)] == "8")
        #expect("89ab".contains(uuid[uuid.index(uuid.startIndex, offsetBy: 19)]))
    }

    @Test func selectorsCarryQuoteAndPosition() throws {
        let json = try exportedJSON()
        let linchpin = ExportFixture.linchpin

        let selectors = try selectors(try item(linchpin.id, in: json))

        #expect(selectors.count == 2)
        #expect(selectors[0]["type"] as? String == "TextQuoteSelector")
        #expect(selectors[0]["exact"] as? String == "the linchpin")
        #expect(selectors[0]["prefix"] as? String == linchpin.target.prefix)
        #expect(selectors[0]["suffix"] as? String == linchpin.target.suffix)
        #expect(selectors[1]["type"] as? String == "TextPositionSelector")
        #expect(selectors[1]["start"] as? Int == linchpin.target.start)
        #expect(selectors[1]["end"] as? Int == linchpin.target.end)
    }

    @Test func emptyPrefixIsOmitted() throws {
        // "Blinken and Austin arrived" opens the body: nothing comes before it.
        let quote = try #require(try selectors(try item(ExportFixture.arrived.id, in: try exportedJSON())).first)

        #expect(ExportFixture.arrived.target.prefix.isEmpty)
        #expect(quote["prefix"] == nil)
        #expect(quote["suffix"] as? String == ExportFixture.arrived.target.suffix)
    }

    @Test func emojiPositionsCountCodePoints() throws {
        let cheered = ExportFixture.cheered

        let selectors = try selectors(try item(cheered.id, in: try exportedJSON()))

        #expect(selectors[0]["exact"] as? String == "Crowds cheered 🎉")
        #expect(selectors[1]["start"] as? Int == 0)
        #expect(selectors[1]["end"] as? Int == "Crowds cheered 🎉".unicodeScalars.count)
        let note = try #require(try bodies(try item(cheered.id, in: try exportedJSON())).first)
        #expect(note["value"] as? String == "Lovely 😊 scene")
    }

    @Test func noteIsACommentingBodyOnAHighlight() throws {
        let item = try item(ExportFixture.linchpin.id, in: try exportedJSON())

        #expect(item["motivation"] as? String == "highlighting")
        let note = try #require(try bodies(item).first)
        #expect(note["type"] as? String == "TextualBody")
        #expect(note["value"] as? String == "The usual phrase; compare 2019.")
        #expect(note["format"] as? String == "text/plain")
        #expect(note["purpose"] as? String == "commenting")
    }

    @Test func tagsAreTaggingBodies() throws {
        let item = try item(ExportFixture.hotteok.id, in: try exportedJSON())

        #expect(item["motivation"] as? String == "tagging")
        let bodies = try bodies(item)
        #expect(bodies.map { $0["value"] as? String } == ["food", "street food"])
        #expect(bodies.allSatisfy { $0["purpose"] as? String == "tagging" && $0["type"] as? String == "TextualBody" })
        #expect(bodies.allSatisfy { $0["format"] == nil })
    }

    @Test func annotationWithoutNoteOrTagsHasNoBody() throws {
        let json = try exportedJSON()

        #expect(try item(ExportFixture.arrived.id, in: json)["body"] == nil)
        #expect(try item(ExportFixture.bookmark.id, in: json)["body"] == nil)
        #expect(try item(ExportFixture.bookmark.id, in: json)["motivation"] as? String == "bookmarking")
    }

    @Test func bookmarkWithoutQuoteKeepsOnlyItsPosition() throws {
        let selectors = try selectors(try item(ExportFixture.bookmark.id, in: try exportedJSON()))

        #expect(selectors.count == 1)
        #expect(selectors[0]["type"] as? String == "TextPositionSelector")
        #expect(selectors[0]["start"] as? Int == 94)
    }

    @Test func sourceIsTheArticleURLOrAMarginURN() throws {
        let json = try exportedJSON()

        let seoul = try #require(try item(ExportFixture.arrived.id, in: json)["target"] as? [String: Any])
        let festival = try #require(try item(ExportFixture.cheered.id, in: json)["target"] as? [String: Any])
        #expect(seoul["source"] as? String == "https://en.yna.co.kr/view/AEN20210317000451315")
        #expect(festival["source"] as? String == "urn:margin:article:article-festival")
    }

    @Test func agentsAndDates() throws {
        let item = try item(ExportFixture.linchpin.id, in: try exportedJSON())

        let creator = try #require(item["creator"] as? [String: Any])
        #expect(creator["type"] as? String == "Person")
        #expect(creator["name"] as? String == "laptop-a")
        let generator = try #require(item["generator"] as? [String: Any])
        #expect(generator["type"] as? String == "Software")
        #expect(generator["name"] as? String == "margin")
        #expect(generator["id"] as? String == "urn:margin:software:margin")
        // 1_710_000_000_000 ms is 2024-03-09T16:00:00Z.
        #expect(item["created"] as? String == "2024-03-09T16:00:00.000Z")
        #expect(item["modified"] as? String == "2024-03-09T16:01:00.000Z")
    }

    @Test func sameInputGivesSameBytes() throws {
        let first = try W3CExporter.export(articles: ExportFixture.articles, annotations: ExportFixture.annotations)
        let second = try W3CExporter.export(articles: ExportFixture.articles, annotations: ExportFixture.annotations)

        #expect(first == second)
    }

    @Test(arguments: [1, 2, 3, 42, 1234])
    func inputOrderDoesNotMatter(seed: UInt64) throws {
        // Given the same articles and annotations in a seeded random order
        var generator = SeededRandom(seed: seed)
        let articles = ExportFixture.articles.shuffled(using: &generator)
        let annotations = ExportFixture.annotations.shuffled(using: &generator)

        // When both are exported
        let shuffled = try W3CExporter.export(articles: articles, annotations: annotations)
        let ordered = try W3CExporter.export(articles: ExportFixture.articles, annotations: ExportFixture.annotations)

        // Then the bytes are the same (seed \(seed))
        #expect(shuffled == ordered, "seed \(seed)")
    }

    @Test func itemsAreOrderedByArticleThenPosition() throws {
        let ids = try items(try exportedJSON()).compactMap { $0["id"] as? String }

        let expected = [
            ExportFixture.cheered, ExportFixture.hotteok, ExportFixture.bookmark, ExportFixture.week,
            ExportFixture.arrived, ExportFixture.linchpin,
        ].map { "urn:uuid:" + $0.id }
        #expect(ids == expected)
    }

    @Test func outputIsPrettyPrintedWithSortedKeysAndPlainSlashes() throws {
        let data = try W3CExporter.export(articles: ExportFixture.articles, annotations: ExportFixture.annotations)
        let text = try #require(String(data: data, encoding: .utf8))

        #expect(text.contains("\n  "))
        #expect(text.contains("https://en.yna.co.kr/view/"))
        #expect(!text.contains("\\/"))
        #expect(text.contains("🎉"))
        let context = try #require(text.range(of: "\"@context\""))
        let first = try #require(text.range(of: "\"first\""))
        #expect(context.lowerBound < first.lowerBound)
    }

    @Test func emptyExportHasNoPage() throws {
        let json = try exportedJSON(articles: [], annotations: [])

        #expect(json["total"] as? Int == 0)
        #expect(json["first"] == nil)
    }

    @Test func annotationWhoseArticleIsMissingStillExports() throws {
        let json = try exportedJSON(articles: [ExportFixture.seoul])

        #expect(json["total"] as? Int == ExportFixture.annotations.count)
        let target = try #require(try item(ExportFixture.cheered.id, in: json)["target"] as? [String: Any])
        #expect(target["source"] as? String == "urn:margin:article:article-festival")
    }

    @Test func annotationObjectMatchesTheCollectionItem() throws {
        let object = W3CExporter.annotationObject(ExportFixture.linchpin, article: ExportFixture.seoul)
        let single = try #require(
            try JSONSerialization.jsonObject(with: CanonicalJSON.encode(object)) as? NSDictionary
        )

        let inCollection = try item(ExportFixture.linchpin.id, in: try exportedJSON()) as NSDictionary
        #expect(single == inCollection)
    }

    @Test(arguments: [
        ("https://example.com/a/b?q=1#top", "https://example.com/a/b?q=1#top"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/séoul", "https://example.com/s%C3%A9oul"),
        ("https://example.com/100%/x%2F", "https://example.com/100%25/x%2F"),
        ("https://example.com/a#b#c", "https://example.com/a#b%23c"),
        ("  https://example.com/{x}  ", "https://example.com/%7Bx%7D"),
    ])
    func articleURLsBecomeValidURIs(url: String, expected: String) {
        #expect(W3CExporter.uriString(url) == expected)
    }

    @Test(arguments: ["example.com/story", "", "://nothing", "1http://x"])
    func textWithoutASchemeIsNotAURI(url: String) {
        #expect(W3CExporter.uriString(url) == nil)
    }

    @Test func sha256MatchesKnownVectors() {
        func hex(_ text: String) -> String {
            Hashing.sha256(Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }

        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            hex(String(repeating: "a", count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        )
    }
}

// MARK: - Canonical JSON

@Suite struct CanonicalJSONTests {
    @Test func sortsKeysWithoutWhitespaceOrEscapedSlashes() throws {
        let data = try CanonicalJSON.encode(["b": "x/y", "a": "é 🎉", "c": "1"])

        #expect(String(decoding: data, as: UTF8.self) == #"{"a":"é 🎉","b":"x/y","c":"1"}"#)
    }

    @Test func prettyPrintingIsDeterministicToo() throws {
        let value = ["z": [3, 1, 2], "a": [0]]

        let first = try CanonicalJSON.encode(value, prettyPrinted: true)
        let second = try CanonicalJSON.encode(value, prettyPrinted: true)

        #expect(first == second)
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("{\n  \"a\""))
    }
}

// MARK: - Markdown

@Suite struct MarkdownExporterTests {
    let markdown = MarkdownExporter.export(articles: ExportFixture.articles, annotations: ExportFixture.annotations)

    @Test func everyArticleHasAHeadingAndMetadataLine() {
        #expect(markdown.contains("# Blinken, Austin in Seoul\n\n"))
        #expect(
            markdown.contains(
                "Kim Soo-yeon · Yonhap · 2021-03-17T09:15 · <https://en.yna.co.kr/view/AEN20210317000451315>"
            )
        )
        #expect(markdown.contains("# Lantern festival draws crowds\n\nLocal Desk\n\n"))
        #expect(markdown.contains("Tags: #diplomacy"))
    }

    @Test func highlightIsAQuoteFollowedByItsNoteAndTags() {
        #expect(
            markdown.contains(
                """
                > the linchpin

                The usual phrase; compare 2019.

                Tags: #alliance #quotes
                """
            )
        )
        #expect(markdown.contains("> Crowds cheered 🎉\n\nLovely 😊 scene\n\nTags: #joy"))
        #expect(markdown.contains("> run for a week\n\nLine one.\nLine two with a / slash."))
    }

    @Test func highlightsFollowBodyOrder() throws {
        let arrived = try #require(markdown.range(of: "> Blinken and Austin arrived"))
        let linchpin = try #require(markdown.range(of: "> the linchpin"))
        let cheered = try #require(markdown.range(of: "> Crowds cheered"))
        let hotteok = try #require(markdown.range(of: "> hotteok"))
        let bookmark = try #require(markdown.range(of: "*Bookmark at character 94*"))
        let week = try #require(markdown.range(of: "> run for a week"))

        #expect(arrived.lowerBound < linchpin.lowerBound)
        #expect(cheered.lowerBound < hotteok.lowerBound)
        #expect(hotteok.lowerBound < bookmark.lowerBound)
        #expect(bookmark.lowerBound < week.lowerBound)
    }

    @Test func articlesAreOrderedByTitle() throws {
        let seoul = try #require(markdown.range(of: "# Blinken"))
        let festival = try #require(markdown.range(of: "# Lantern"))

        #expect(seoul.lowerBound < festival.lowerBound)
        #expect(markdown.hasPrefix("# Blinken"))
        #expect(markdown.hasSuffix("\n") && !markdown.hasSuffix("\n\n"))
    }

    @Test func multiLineQuotesStayOneBlock() {
        var annotation = ExportFixture.arrived
        annotation.target.exact = "first line\n\nsecond line"

        let markdown = MarkdownExporter.export(articles: [ExportFixture.seoul], annotations: [annotation])

        #expect(markdown.contains("> first line\n>\n> second line"))
    }

    @Test func urlWithSpacesIsEncodedSoItStillLinks() {
        var article = ExportFixture.seoul
        article.url = "https://example.com/séoul story"

        let markdown = MarkdownExporter.export(articles: [article], annotations: [])

        #expect(markdown.contains("· <https://example.com/s%C3%A9oul%20story>\n"))
    }

    @Test func articleWithoutURLHasNoLink() throws {
        let festival = try #require(markdown.range(of: "# Lantern"))

        #expect(!markdown[festival.lowerBound...].contains("<"))
    }

    @Test func inputOrderDoesNotMatter() {
        let reversed = MarkdownExporter.export(
            articles: ExportFixture.articles.reversed(), annotations: ExportFixture.annotations.reversed()
        )

        #expect(reversed == markdown)
    }

    @Test func annotationsOfMissingArticlesAreKept() {
        let markdown = MarkdownExporter.export(articles: [], annotations: [ExportFixture.cheered])

        #expect(markdown.hasPrefix("# Article article-festival\n\n"))
        #expect(markdown.contains("> Crowds cheered 🎉"))
    }

    @Test func nothingToExportIsEmpty() {
        #expect(MarkdownExporter.export(articles: [], annotations: []).isEmpty)
    }
}

// MARK: - W3C conformance validator

/// The conformance checker in the `shared` folder next to the repository, and whether it can run here.
private enum ConformanceValidator {
    static let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent()
        .appendingPathComponent("../../../shared/conformance/validate-w3c-annotations")
        .standardizedFileURL

    static var scriptExists: Bool { FileManager.default.fileExists(atPath: script.path) }

    static var pythonHasModules: Bool {
        (try? run(["python3", "-c", "import jsonschema, rfc3987"]).status) == 0
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

@Suite struct W3CConformanceTests {
    @Test(
        .enabled(if: ConformanceValidator.scriptExists, "shared/conformance/validate-w3c-annotations not found"),
        .enabled(
            if: ConformanceValidator.pythonHasModules,
            "python3 lacks jsonschema or rfc3987 (pip install jsonschema rfc3987)"
        )
    )
    func everyAnnotationPassesTheW3CValidator() throws {
        // Given the export written to a temporary file
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("margin-w3c-\(UUID().uuidString).jsonld")
        defer { try? FileManager.default.removeItem(at: file) }
        var odd = ExportFixture.seoul
        odd.id = "article-odd"
        odd.url = "https://example.com/news/séoul story?id=1#a#b"
        var annotations = ExportFixture.annotations
        var onOdd = ExportFixture.linchpin
        onOdd.id = "0190a1b2-c3d4-7e5f-8a6b-000000000099"
        onOdd.articleID = odd.id
        annotations.append(onOdd)
        try W3CExporter.export(articles: ExportFixture.articles + [odd], annotations: annotations).write(to: file)

        // When the validator checks it
        let result = try ConformanceValidator.run(["python3", ConformanceValidator.script.path, file.path])

        // Then every annotation meets every MUST
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("w3c-annotations: \(annotations.count) passed, 0 failed"), "\(result.output)")
    }
}


@Suite struct StreamedExportTests {
    /// A store with tags, notes, an orphan-free highlight, an article without annotations and
    /// one without tags: every shape the export writes, empty arrays included.
    static func store() throws -> Store {
        let store = try Store.inMemory()
        let ids = try store.importArticles((1...4).map { TestSupport.article($0) }).map(\.id)
        let a = try store.highlight(articleRef: ids[0], anchor: .quote(exact: "apples", prefix: nil, suffix: nil),
                                    note: "a note\nwith two lines", tags: ["fruit", "b"])
        _ = try store.highlight(articleRef: ids[1], anchor: .position(start: 0, end: 4))
        try store.addTags(ref: ids[2], tags: ["x"])
        try store.remove(ref: ids[3])
        _ = a
        return store
    }

    @Test func theStreamedJSONExportIsTheCanonicalExportByteForByte() throws {
        let store = try Self.store()
        var streamed = Data()
        try store.exportJSON(articleIDs: nil, to: { streamed.append($0) })
        #expect(String(decoding: streamed, as: UTF8.self) == String(decoding: try store.exportJSON(), as: UTF8.self))
        let one = try store.articles()[0].id
        var some = Data()
        try store.exportJSON(articleIDs: [one], to: { some.append($0) })
        #expect(some == (try store.exportJSON(articleIDs: [one])))
        var none = Data()
        try Store.inMemory().exportJSON(articleIDs: nil, to: { none.append($0) })
        #expect(none == (try Store.inMemory().exportJSON()))
    }

    @Test func theStreamedMarkdownExportIsTheMarkdownExport() throws {
        let store = try Self.store()
        var streamed = Data()
        try store.exportMarkdown(articleIDs: nil, to: { streamed.append($0) })
        let expected = MarkdownExporter.export(articles: try store.articles(), annotations: try store.annotations())
        #expect(String(decoding: streamed, as: UTF8.self) == expected)
    }
}
