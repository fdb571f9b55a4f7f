import ArgumentParser
import Foundation
import MarginStore

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show an article with its highlights marked, then its annotations.",
        discussion: """
            Highlights are marked [[like this]]N in the body (and coloured on a terminal); N is the \
            annotation's number in the list that follows. An orphan (its text is gone from the \
            corrected body) is listed as ORPHAN and not marked.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id (or a unique prefix); an annotation id shows its article.") var id: String

    func run() throws {
        let store = try global.openStore()
        let resolved = try store.resolve(id, kinds: [.article, .annotation])
        let articleID = resolved.kind == .annotation ? try store.annotation(resolved.id).articleID : resolved.id
        let article = try store.article(articleID)
        let annotations = try store.annotations(articleID: articleID)
        if output.json { return try Output.json(ArticleJSON(article, withBody: true, annotations: annotations)) }
        let width = Terminal.stdoutWidth
        Self.wrapped(Colour.bold(TerminalText.escaped(article.title)), width)
        let source = article.source == article.byline ? nil : article.source
        let meta = [article.byline.map { "By \($0)" }, source, article.publishedAt, article.url].compactMap { $0 }
        if !meta.isEmpty { Self.wrapped(TerminalText.escaped(meta.joined(separator: " · ")), width) }
        Self.wrapped("id \(article.id)" + (article.tags.isEmpty ? "" : "  " + ListCommand.tags(article.tags)), width)
        if let caption = article.caption { Self.wrapped("[Photo] " + TerminalText.escaped(caption), width) }
        Output.line()
        for paragraph in Self.marked(article.body, annotations, colour: Terminal.stdoutColour)
            .split(separator: "\n", omittingEmptySubsequences: false)
        {
            Self.wrapped(String(paragraph), width)
        }
        guard !annotations.isEmpty else { return }
        let ids = try ShortIDs(store, annotations.map(\.id))
        Output.line()
        Output.line("Annotations")
        for (i, a) in annotations.enumerated() {
            var line: String
            let exact = TerminalText.escaped(a.target.exact)
            switch a.anchor {
            case .orphan?:
                // The passage's text is gone from this body: kept, never attached elsewhere.
                line = "[\(i + 1)] \(ids(a.id))  \(Colour.red("ORPHAN"))  \"\(exact)\" (no longer in the article; "
                    + "see `margin orphans`)"
            case .anchored(let p)?:
                let now = excerpt(article.body, p.start, p.end, limit: Int.max)
                line = "[\(i + 1)] \(ids(a.id))  \(p.start)..<\(p.end)  \"\(TerminalText.escaped(now))\""
                if p.start != a.target.start || p.end != a.target.end {
                    line += now == a.target.exact
                        ? "  (moved from \(a.target.start)..<\(a.target.end))" : "  (corrected, was \"\(exact)\")"
                }
            case nil:
                line = "[\(i + 1)] \(ids(a.id))  \(a.target.start)..<\(a.target.end)  \"\(exact)\""
            }
            if let color = a.color { line += "  (\(TerminalText.escaped(color)))" }
            if !a.tags.isEmpty { line += "  " + ListCommand.tags(a.tags) }
            Self.wrapped(line, width)
            if let note = a.note {
                for noteLine in TerminalText.escaped(note, multiline: true).split(separator: "\n", omittingEmptySubsequences: false) {
                    Self.wrapped("    " + noteLine, width, indent: "    ")
                }
            }
        }
    }

    /// A paragraph on stdout, wrapped at spaces to `width` on a terminal (whole when piped).
    static func wrapped(_ text: String, _ width: Int?, indent: String = "") {
        guard let width else { return Output.line(text) }
        for line in Output.wrap(text, to: width, indent: indent) { Output.line(line) }
    }

    /// The body with each highlight between [[ and ]] followed by its number, its control
    /// characters escaped, and (with `colour`) the highlighted text coloured.
    static func marked(_ body: String, _ annotations: [Annotation], colour: Bool = false) -> String {
        var opens: [Int: Int] = [:]
        var closes: [Int: [Int]] = [:]
        for (i, a) in annotations.enumerated() {
            // Orphans have no passage in this body: listed, not marked.
            if a.anchor?.isOrphan == true { continue }
            let span = a.anchor?.placement.map { ($0.start, $0.end) } ?? (a.target.start, a.target.end)
            opens[span.0, default: 0] += 1
            closes[span.1, default: []].append(i + 1)
        }
        let on = colour ? "\u{1B}[\(Colour.highlight.rawValue)m" : "", off = colour ? "\u{1B}[0m" : ""
        var out = String.UnicodeScalarView()
        var depth = 0
        let scalars = Array(body.unicodeScalars)
        for index in 0...scalars.count {
            if let numbers = closes[index] {
                depth -= numbers.count
                if depth == 0 { out.append(contentsOf: off.unicodeScalars) }
                for n in numbers { out.append(contentsOf: "]]\(n)".unicodeScalars) }
            }
            if let count = opens[index] {
                out.append(contentsOf: String(repeating: "[[", count: count).unicodeScalars)
                if depth == 0 { out.append(contentsOf: on.unicodeScalars) }
                depth += count
            }
            if index < scalars.count {
                let scalar = scalars[index]
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" || (0x7F..<0xA0).contains(scalar.value)
                    || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
                {
                    out.append(contentsOf: TerminalText.escaped(String(scalar), multiline: true).unicodeScalars)
                } else {
                    out.append(scalar)
                }
            }
        }
        return String(out)
    }
}
