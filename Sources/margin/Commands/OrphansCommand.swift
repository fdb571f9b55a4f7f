import ArgumentParser
import Foundation
import MarginStore

struct OrphansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphans",
        abstract: "List annotations whose text is gone from their article's current body, with the best candidate.",
        discussion: """
            A candidate is never attached by itself. `margin reattach ANNOTATION` accepts it; \
            `margin reattach ANNOTATION --quote TEXT` (or --start/--end) places the annotation yourself.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let orphans = try store.orphans()
        if output.json {
            struct Item: Encodable {
                var annotation: AnnotationJSON
                @Null var best_candidate: String?
            }
            return try Output.json(orphans.map { a -> Item in
                var best: String?
                if case .orphan(let p?)? = a.anchor, let body = try? store.article(a.articleID).body {
                    best = excerpt(body, p.start, p.end, limit: Int.max)
                }
                return Item(annotation: AnnotationJSON(a), best_candidate: best)
            })
        }
        if orphans.isEmpty { return Output.note("no orphans: every annotation's text is in its article") }
        let ids = try ShortIDs(store, orphans.flatMap { [$0.id, $0.articleID] })
        let (threshold, margin) = try store.minimumScore()
        var titles: [String: String] = [:]
        for a in orphans {
            let article = try store.article(a.articleID)
            titles[a.articleID] = article.title
            Output.row("\(ids(a.id))  on \(ids(a.articleID)) \(TerminalText.escaped(article.title))")
            Output.row("    was: \"\(TerminalText.escaped(excerpt(a.target.exact, 0, a.target.exact.unicodeScalars.count, limit: 120)))\"")
            if case .orphan(let p?)? = a.anchor {
                let why = p.method == .fuzzy
                    ? "approximate: it needs \(String(format: "%.2f", threshold + margin))"
                    : p.score >= threshold ? "another place matches as well"
                    : "below the threshold \(String(format: "%.2f", threshold))"
                Output.row("    best candidate (score \(String(format: "%.2f", p.score)), \(why); not attached): "
                    + "\"\(TerminalText.escaped(excerpt(article.body, p.start, p.end, limit: 120)))\"")
                Output.row("    accept it: margin reattach \(ids(a.id))")
            } else {
                Output.row("    no candidate in the current body; place it: margin reattach \(ids(a.id)) --quote TEXT")
            }
            if let note = a.note { Output.row("    note: \(TerminalText.escaped(note))") }
        }
        Output.note(count(orphans.count, "orphaned annotation"))
    }
}
