import Foundation
import Testing

/// `margin import` of a corrected article, `show`, `orphans`, `reanchor`, and annotation import and
/// export (W3C, Hypothesis), run through the built binary.
@Suite("re-anchoring and annotation import")
struct ReanchorCLITests {
    static let original = """
        ---
        title: Storm hits the coast
        url: https://news.example/storm
        ---
        A storm 🌀 hit the coast on Monday, killing 12 people and leaving 40,000 homes without power.

        Officials said the storm was the worst in a decade. Rescue teams worked through the night.

        The mayor thanked volunteers and said schools would reopen on Thursday. 東京の学校も再開する。
        """
    static let corrected = """
        ---
        title: Storm hits the coast
        url: https://news.example/storm
        ---
        A storm 🌀 hit the coast on Monday, killing 14 people and leaving 40,000 homes without power.

        The mayor thanked volunteers and said schools would reopen on Thursday. 東京の学校も再開する。

        Officials said the storm was the worst in a decade.
        """

    struct AnchorShape: Decodable {
        var state: String
        var start, end: Int?
    }

    struct Annotated: Decodable {
        var id, exact: String
        var note: String?
        var anchor: AnchorShape?
    }

    struct ReanchorReport: Decodable {
        var dry_run: Bool
        var annotations, unchanged, moved, orphaned, reattached: Int
    }

    struct ImportedRow: Decodable {
        var status: String
        var id: String?
    }

    func setUp() throws -> (Sandbox, String, [String: String]) {
        let sandbox = try Sandbox.initialized()
        try Self.original.write(toFile: sandbox.path("storm.md"), atomically: true, encoding: .utf8)
        try Self.corrected.write(toFile: sandbox.path("storm-corrected.md"), atomically: true, encoding: .utf8)
        let id = try #require(try sandbox.json([ImportRow].self, "import", "storm.md").first?.id)
        var ids: [String: String] = [:]
        for (quote, note) in [("killing 12 people", "check"), ("Rescue teams worked through the night.", "kept"), ("東京の学校", "")] {
            var args = ["highlight", id, "--quote", quote, "--json"]
            if !note.isEmpty { args += ["--note", note] }
            let result = sandbox.margin(args)
            try #require(result.status == 0, "\(result.stderr)")
            ids[quote] = try JSONDecoder().decode(AnnotationShape.self, from: Data(result.stdout.utf8)).id
        }
        return (sandbox, id, ids)
    }

    @Test("A corrected article: highlights follow their text, a removed sentence's highlight is an orphan")
    func correctedArticle() throws {
        let (sandbox, id, ids) = try setUp()
        let update = sandbox.margin("import", "storm-corrected.md")
        #expect(update.status == 0 && update.stdout.contains("updated"))

        let annotations = try sandbox.json([Annotated].self, "annotations", id)
        let byID = Dictionary(uniqueKeysWithValues: annotations.map { ($0.id, $0) })
        let figure = try #require(byID[ids["killing 12 people"]!]?.anchor)
        #expect(figure.state == "anchored")
        let body = Array(Self.corrected.components(separatedBy: "---\n").last!.unicodeScalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: body[figure.start!..<figure.end!])
        #expect(String(view) == "killing 14 people")
        #expect(byID[ids["東京の学校"]!]?.anchor?.state == "anchored")
        #expect(byID[ids["Rescue teams worked through the night."]!]?.anchor?.state == "orphan")

        let show = sandbox.margin("show", id)
        #expect(show.status == 0)
        #expect(show.stdout.contains("ORPHAN  \"Rescue teams worked through the night.\""))
        #expect(show.stdout.contains("[[killing 14 people]]"))
        #expect(!show.stdout.contains("[[Rescue"))

        let orphans = sandbox.margin("orphans")
        #expect(orphans.status == 0 && orphans.stdout.contains("Rescue teams") && orphans.stdout.contains("note: kept"))
        struct OrphanRow: Decodable { var annotation: Annotated }
        #expect(try sandbox.json([OrphanRow].self, "orphans").map(\.annotation.id) == [ids["Rescue teams worked through the night."]!])

        // A dry run with a stricter threshold says the corrected figure would be orphaned, and stores nothing.
        let strict = try sandbox.json(ReanchorReport.self, "reanchor", "--dry-run", "--min-score", "0.95")
        #expect(strict.dry_run && strict.orphaned == 1 && strict.annotations == 3)
        #expect(try sandbox.json([OrphanRow].self, "orphans").count == 1)
        let bad = sandbox.margin("reanchor", "--min-score", "1.5")
        #expect(bad.status != 0 && bad.stderr.contains("between 0 and 1"))
        let unknown = sandbox.margin("reanchor", "ffffffff")
        #expect(unknown.status != 0)
    }

    @Test("W3C and Hypothesis exports import back into another store without loss or duplicates")
    func annotationRoundTrip() throws {
        let (sandbox, id, _) = try setUp()
        for format in ["w3c", "hypothesis"] {
            let exported = sandbox.margin("export", "--format", format, "--output", "out.\(format).json")
            try #require(exported.status == 0, "\(exported.stderr)")
            let other = try Sandbox.initialized()
            try Self.original.write(toFile: other.path("storm.md"), atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: sandbox.path("out.\(format).json"), toPath: other.path("in.json"))
            _ = try other.json([ImportRow].self, "import", "storm.md")
            let first = try other.json([ImportedRow].self, "import", "in.json")
            #expect(first.map(\.status) == ["created", "created", "created"], "\(format)")
            let again = try other.json([ImportedRow].self, "import", "in.json")
            #expect(again.map(\.status) == ["unchanged", "unchanged", "unchanged"], "\(format)")
            let mine = try sandbox.json([AnnotationShape].self, "annotations", id)
            let theirs = try other.json([AnnotationShape].self, "annotations", id)
            #expect(mine.map(\.id) == theirs.map(\.id), "\(format)")
            #expect(mine.map(\.exact) == theirs.map(\.exact) && mine.map(\.start) == theirs.map(\.start)
                    && mine.map(\.end) == theirs.map(\.end), "\(format)")
            #expect(mine.map(\.note) == theirs.map(\.note) && mine.map(\.tags) == theirs.map(\.tags), "\(format)")
        }
        // Annotations and articles in one command are refused before anything is written.
        let mixed = sandbox.margin("import", "storm.md", "out.w3c.json")
        #expect(mixed.status == 64)
        // A malformed annotation file names its problem and writes nothing.
        try #"{"type": "Annotation", "target": {"source": "https://news.example/storm", "selector": {"type": "TextPositionSelector", "start": 5, "end": 2}}}"#
            .write(toFile: sandbox.path("bad.json"), atomically: true, encoding: .utf8)
        let bad = sandbox.margin("import", "bad.json")
        #expect(bad.status == 65 && bad.stderr.contains("TextPositionSelector"))
        #expect(try sandbox.json([AnnotationShape].self, "annotations").count == 3)
    }
}
