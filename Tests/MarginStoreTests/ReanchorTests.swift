import Foundation
import Testing

@testable import MarginStore

/// `Reanchor.locate` on hand-made corrections, and re-anchoring as stored state: after a local
/// import of a corrected body, after a synced one, and across replicas.
@Suite struct ReanchorTests {
    static let body = """
        A storm hit the coast on Monday, killing 12 people and leaving 40,000 homes without power.

        Officials said the storm was the worst in a decade. Rescue teams worked through the night.

        The mayor thanked volunteers and said schools would reopen on Thursday.
        """

    static func target(_ body: String, _ quote: String) throws -> TextTarget {
        try TextAnchor.target(in: body, exact: quote, revision: ArticleIdentity.sha256Hex(body))
    }

    static func text(_ body: String, _ p: Reanchor.Placement?) -> String? {
        guard let p else { return nil }
        let scalars = Array(body.unicodeScalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[p.start..<p.end])
        return String(view)
    }

    @Test("A corrected figure inside the quote: carried by the diff, scored below 1")
    func figure() throws {
        let new = Self.body.replacingOccurrences(of: "killing 12 people", with: "killing 14 people")
        let outcome = Reanchor.locate(try Self.target(Self.body, "killing 12 people"), oldBody: Self.body, newBody: new)
        let p = try #require(outcome.placement)
        #expect(Self.text(new, p) == "killing 14 people")
        #expect(p.method == .diff)
        #expect(p.score < 1 && p.score >= Reanchor.defaultMinScore)
    }

    @Test("A moved paragraph: found in its new place")
    func moved() throws {
        let paragraphs = Self.body.components(separatedBy: "\n\n")
        let new = [paragraphs[0], paragraphs[2], paragraphs[1]].joined(separator: "\n\n")
        let outcome = Reanchor.locate(
            try Self.target(Self.body, "Rescue teams worked through the night."), oldBody: Self.body, newBody: new)
        #expect(Self.text(new, outcome.placement) == "Rescue teams worked through the night.")
    }

    @Test("A deleted sentence: an orphan, never its look-alike elsewhere")
    func deletedSentenceIsOrphan() throws {
        // "the storm" occurs twice; the sentence holding the annotated one is cut.
        let quote = "Officials said the storm was the worst in a decade."
        let new = Self.body.replacingOccurrences(of: quote + " ", with: "")
        let outcome = Reanchor.locate(try Self.target(Self.body, quote), oldBody: Self.body, newBody: new)
        #expect(outcome.placement == nil)
        let short = try TextAnchor.target(in: Self.body, exact: "the storm", suffix: " was the worst", revision: nil)
        #expect(Reanchor.locate(short, oldBody: Self.body, newBody: new).placement == nil)
    }

    @Test("Without the old revision, a unique quote is found by search; an ambiguous one is an orphan")
    func withoutOldBody() throws {
        let new = "Breaking: " + Self.body
        let unique = Reanchor.locate(try Self.target(Self.body, "schools would reopen"), oldBody: nil, newBody: new)
        #expect(Self.text(new, unique.placement) == "schools would reopen")
        let lookAlike = TextTarget(exact: "the", prefix: "", suffix: "", start: -1, end: -1)
        #expect(Reanchor.locate(lookAlike, oldBody: nil, newBody: new).placement == nil)
    }

    @Test("Emoji, CJK and combining characters: offsets are code points and stay exact", arguments: [
        ("Flood 🌊🌊 hit Tōkyō; 東京の学校は休校。 Café au lait, nai\u{0308}ve 👩‍👩‍👧 family.", "東京の学校"),
        ("Flood 🌊🌊 hit Tōkyō; 東京の学校は休校。 Café au lait, nai\u{0308}ve 👩‍👩‍👧 family.", "nai\u{0308}ve"),
        ("Flood 🌊🌊 hit Tōkyō; 東京の学校は休校。 Café au lait, nai\u{0308}ve 👩‍👩‍👧 family.", "👩‍👩‍👧 family"),
    ])
    func unicodeOffsets(body: String, quote: String) throws {
        // By code-point position: the body keeps its decomposed "i + ◌̈" as written.
        let scalars = Array(body.unicodeScalars)
        let q = Array(quote.unicodeScalars)
        let at = try #require((0...(scalars.count - q.count)).first { Array(scalars[$0..<($0 + q.count)]) == q })
        let target = try TextAnchor.target(in: body, start: at, end: at + q.count, revision: nil)
        let new = "🌀🌀 Update: " + body.replacingOccurrences(of: "Café", with: "Cafe\u{0301}")
        let p = try #require(Reanchor.locate(target, oldBody: body, newBody: new).placement)
        #expect(Self.text(new, p) == quote)
        // Code points, not UTF-16 units or grapheme clusters.
        let expected = Array(new.unicodeScalars).count - Array(new.unicodeScalars).count + {
            let scalars = Array(new.unicodeScalars)
            let q = Array(quote.unicodeScalars)
            return (0...(scalars.count - q.count)).first { Array(scalars[$0..<($0 + q.count)]) == q }!
        }()
        #expect(p.start == expected)
        // UTF-16 offsets convert both ways.
        let utf16 = AnnotationImporter.utf16Offset(codePoint: p.start, in: new)
        #expect(AnnotationImporter.codePointOffset(utf16: utf16, in: new) == p.start)
        #expect(utf16 == new.unicodeScalars.prefix(p.start).reduce(0) { $0 + $1.utf16.count })
    }

    // MARK: Stored state

    static let url = "https://news.example/storm"

    static func article(_ body: String) -> ImportedArticle {
        ImportedArticle(url: url, title: "Storm hits the coast", body: body)
    }

    @Test("Importing a corrected body re-anchors the article's annotations; a removed passage becomes an orphan")
    func storeReanchorsOnImport() throws {
        let store = try Store.inMemory(name: "a")
        let id = try store.importArticles([Self.article(Self.body)])[0].id
        let figure = try store.highlight(articleRef: id, anchor: .quote(exact: "killing 12 people", prefix: nil, suffix: nil))
        let rescue = try store.highlight(
            articleRef: id, anchor: .quote(exact: "Rescue teams worked through the night.", prefix: nil, suffix: nil),
            note: "kept note")
        let schools = try store.highlight(articleRef: id, anchor: .quote(exact: "schools would reopen", prefix: nil, suffix: nil))
        #expect(try store.annotation(schools.id).anchor?.placement?.method == .unchanged)

        let corrected = Self.body
            .replacingOccurrences(of: "12 people", with: "14 people")
            .replacingOccurrences(of: " Rescue teams worked through the night.", with: "")
        #expect(try store.importArticles([Self.article(corrected)])[0].status == .updated)
        #expect(Self.text(corrected, try store.annotation(figure.id).anchor?.placement) == "killing 14 people")
        #expect(Self.text(corrected, try store.annotation(schools.id).anchor?.placement) == "schools would reopen")
        let orphan = try store.annotation(rescue.id)
        #expect(orphan.anchor?.isOrphan == true)
        #expect(orphan.note == "kept note")  // kept, with its note and its original quote
        #expect(orphan.target.exact == "Rescue teams worked through the night.")
        #expect(try store.orphans().map(\.id) == [rescue.id])
        #expect(try store.revisions(of: id).count == 2)

        // A dry run reports without storing; a stricter threshold orphans the corrected figure.
        let strict = try store.reanchor(minScore: 0.95, dryRun: true)
        #expect(strict.first { $0.annotation.id == figure.id }?.kind == .orphaned)
        #expect(try store.annotation(figure.id).anchor?.isOrphan == false)
        _ = try store.reanchor(minScore: 0.95, dryRun: false)
        #expect(try store.annotation(figure.id).anchor?.isOrphan == true)
        #expect(throws: StoreError.self) { try store.reanchor(minScore: 2, dryRun: true) }

        // The text coming back re-attaches the orphan (derived state follows the body).
        _ = try store.reanchor(minScore: Reanchor.defaultMinScore, dryRun: false)
        _ = try store.importArticles([Self.article(Self.body)])
        #expect(try store.annotation(rescue.id).anchor?.placement != nil)
        #expect(try store.orphans().isEmpty)
    }

    @Test("A synced correction re-anchors on the receiving replica exactly as on the sender")
    func syncedCorrection() throws {
        let a = try Store.inMemory(name: "a")
        let b = try Store.inMemory(name: "b")
        func exchange(_ from: Store, _ to: Store) throws {
            let page = try from.runs(after: to.versionVector(), limit: 10_000)
            _ = try to.apply(page.runs)
        }
        let id = try a.importArticles([Self.article(Self.body)])[0].id
        let note = try a.highlight(articleRef: id, anchor: .quote(exact: "worst in a decade", prefix: nil, suffix: nil))
        let gone = try a.highlight(articleRef: id, anchor: .quote(exact: "leaving 40,000 homes", prefix: nil, suffix: nil))
        try exchange(a, b)
        let corrected = "Officials said the storm was the worst in a decade.\n\nThe mayor thanked volunteers."
        _ = try b.importArticles([Self.article(corrected)])
        try exchange(b, a)
        for store in [a, b] {
            #expect(Self.text(corrected, try store.annotation(note.id).anchor?.placement) == "worst in a decade")
            #expect(try store.annotation(gone.id).anchor?.isOrphan == true)
        }
        #expect(try a.exportJSON() == b.exportJSON())
    }

    @Test("W3C export → import into another replica's store round-trips the annotations")
    func w3cRoundTrip() throws {
        let a = try Store.inMemory(name: "a")
        let id = try a.importArticles([Self.article(Self.body)])[0].id
        _ = try a.highlight(articleRef: id, anchor: .quote(exact: "killing 12 people", prefix: nil, suffix: nil),
                            note: "check the figure", tags: ["toll"])
        _ = try a.highlight(articleRef: id, anchor: .position(start: 0, end: 7))
        let exported = try W3CExporter.export(articles: a.articles(), annotations: a.annotations())
        let items = try AnnotationImporter.parse(exported, format: try #require(AnnotationImporter.detect(exported)))
        #expect(items.count == 2)

        let b = try Store.inMemory(name: "b")
        _ = try b.importArticles([Self.article(Self.body)])
        #expect(try b.importAnnotations(items).map(\.status) == [.created, .created])
        #expect(try b.importAnnotations(items).map(\.status) == [.unchanged, .unchanged])
        let before = try a.annotations().map { ($0.id, $0.target.exact, $0.target.start, $0.target.end, $0.note, $0.tags, $0.motivation) }
        let after = try b.annotations().map { ($0.id, $0.target.exact, $0.target.start, $0.target.end, $0.note, $0.tags, $0.motivation) }
        #expect(before.map(\.0) == after.map(\.0))
        #expect(before.map(\.1) == after.map(\.1))
        #expect(before.map(\.2) == after.map(\.2) && before.map(\.3) == after.map(\.3))
        #expect(before.map(\.4) == after.map(\.4) && before.map(\.5) == after.map(\.5) && before.map(\.6) == after.map(\.6))
    }

    @Test("Hypothesis JSON: UTF-16 offsets converted, matched by URL, missing articles skipped, bad files refused")
    func hypothesis() throws {
        let body = "A storm 🌀 hit the coast on Monday, killing 12 people."
        let store = try Store.inMemory(name: "a")
        _ = try store.importArticles([Self.article(body)])
        // "killing" starts at code point 35, UTF-16 unit 36 (the emoji is a surrogate pair).
        let json = """
            {"total": 2, "rows": [
             {"id": "h1", "uri": "\(Self.url)", "text": "who?", "tags": ["storm", "bad\\ntag"], "user": "acct:ana@hypothes.is",
              "target": [{"source": "\(Self.url)", "selector": [
                {"type": "RangeSelector", "startContainer": "/p[1]", "startOffset": 0, "endContainer": "/p[1]", "endOffset": 7},
                {"type": "TextPositionSelector", "start": 36, "end": 43}]}]},
             {"id": "h2", "uri": "https://elsewhere.example/x", "target": [{"source": "https://elsewhere.example/x",
              "selector": [{"type": "TextQuoteSelector", "exact": "x"}]}]}
            ]}
            """
        let data = Data(json.utf8)
        #expect(AnnotationImporter.detect(data) == .hypothesis)
        let outcomes = try store.importAnnotations(AnnotationImporter.parse(data, format: .hypothesis))
        #expect(outcomes.map(\.status) == [.created, .skipped])
        let a = try #require(try store.annotations().first)
        #expect(a.target.exact == "killing" && a.target.start == 35 && a.target.end == 42)
        #expect(a.author == "ana" && a.note == "who?" && a.tags == ["storm"])
        #expect(outcomes[0].message?.contains("dropped tags") == true)

        #expect(throws: ImportError.self) {
            try AnnotationImporter.parse(Data(#"{"rows": [{"uri": "https://x.example", "target": [{"source": "https://x.example", "selector": []}]}]}"#.utf8), format: .hypothesis)
        }
        #expect(throws: ImportError.self) { try AnnotationImporter.parse(Data("{not json".utf8), format: .w3c) }
    }
}
