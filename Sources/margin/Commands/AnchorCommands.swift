import ArgumentParser
import Foundation
import MarginStore

/// A passage of the current body, quoted on one line for reports.
func excerpt(_ body: String, _ start: Int, _ end: Int, limit: Int = 60) -> String {
    let scalars = Array(body.unicodeScalars)
    guard start >= 0, end <= scalars.count, start < end else { return "" }
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars[start..<(start + min(end - start, limit))])
    let text = String(view).replacingOccurrences(of: "\n", with: " ")
    return end - start > limit ? text + "…" : text
}

struct ReanchorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reanchor",
        abstract: "Re-anchor annotations against the current article bodies; report what moves or is orphaned.",
        discussion: """
            Margin re-anchors by itself whenever a body changes (an import of a corrected article or a \
            synced change). This command shows the result, or recomputes it with another threshold: \
            a passage found with a confidence below --min-score becomes an orphan (kept, listed by \
            `margin orphans`, never attached to another passage).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Report what would move, change nothing.") var dryRun = false
    @Option(help: "Confidence in 0...1 a placement needs (default 0.7; without --dry-run it becomes this store's threshold).")
    var minScore: Double?
    @Argument(help: "Article id (or a unique prefix); all articles when omitted.") var article: String?

    func run() throws {
        let store = try global.openStore()
        let changes = try store.reanchor(articleRef: article, minScore: minScore, dryRun: dryRun)
        var counts: [ReanchorChange.Kind: Int] = [:]
        for change in changes { counts[change.kind, default: 0] += 1 }
        if output.json {
            struct Item: Encodable {
                var annotation_id, article_id, exact, change: String
                var before: AnnotationJSON.AnchorJSON?
                var after: AnnotationJSON.AnchorJSON
            }
            struct Report: Encodable {
                var dry_run: Bool
                var min_score: Double?
                var annotations, unchanged, moved, orphaned, reattached: Int
                var changes: [Item]
            }
            return try Output.json(Report(
                dry_run: dryRun, min_score: minScore, annotations: changes.count,
                unchanged: counts[.unchanged] ?? 0, moved: counts[.moved] ?? 0, orphaned: counts[.orphaned] ?? 0,
                reattached: counts[.reattached] ?? 0,
                changes: changes.filter { $0.kind != .unchanged }.map {
                    Item(annotation_id: $0.annotation.id, article_id: $0.annotation.articleID,
                         exact: $0.annotation.target.exact, change: $0.kind.rawValue,
                         before: $0.before.map(AnnotationJSON.AnchorJSON.init), after: .init($0.after))
                }))
        }
        var bodies: [String: String] = [:]
        func body(_ id: String) -> String {
            if let known = bodies[id] { return known }
            let text = (try? store.article(id).body) ?? ""
            bodies[id] = text
            return text
        }
        for change in changes where change.kind != .unchanged {
            let a = change.annotation
            var line = "\(change.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(Output.short(a.id))  \"\(excerpt(a.target.exact, 0, a.target.exact.unicodeScalars.count))\""
            switch change.after {
            case .anchored(let p):
                line += "  → \(p.start)..<\(p.end) (\(p.method.rawValue), score \(String(format: "%.2f", p.score)))"
            case .orphan(let best):
                if let best {
                    line += "  → orphan; best candidate \(String(format: "%.2f", best.score)): \"\(excerpt(body(a.articleID), best.start, best.end))\""
                } else {
                    line += "  → orphan; no candidate"
                }
            }
            print(line)
        }
        let verb = dryRun ? "would be" : "are"
        print("\(changes.count) annotations: \(counts[.moved] ?? 0) moved, \(counts[.orphaned] ?? 0) orphaned, "
            + "\(counts[.reattached] ?? 0) reattached, \(counts[.unchanged] ?? 0) unchanged" + (dryRun ? " (dry run: nothing \(verb) stored)" : ""))
    }
}

struct OrphansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphans",
        abstract: "List annotations whose text is gone from their article's current body, with the best candidate.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let orphans = try store.orphans()
        if output.json {
            struct Item: Encodable {
                var annotation: AnnotationJSON
                var best_candidate: String?
            }
            return try Output.json(orphans.map { a -> Item in
                var best: String?
                if case .orphan(let p?)? = a.anchor, let body = try? store.article(a.articleID).body {
                    best = excerpt(body, p.start, p.end, limit: Int.max)
                }
                return Item(annotation: AnnotationJSON(a), best_candidate: best)
            })
        }
        if orphans.isEmpty { return print("no orphans: every annotation's text is in its article") }
        for a in orphans {
            let article = try store.article(a.articleID)
            print("\(Output.short(a.id))  on \(Output.short(a.articleID)) \(article.title)")
            print("    was: \"\(excerpt(a.target.exact, 0, a.target.exact.unicodeScalars.count, limit: 120))\"")
            if case .orphan(let p?)? = a.anchor {
                print("    best candidate (score \(String(format: "%.2f", p.score)), not attached): \"\(excerpt(article.body, p.start, p.end, limit: 120))\"")
            } else {
                print("    no candidate in the current body")
            }
            if let note = a.note { print("    note: \(note.replacingOccurrences(of: "\n", with: " "))") }
        }
        print("\(orphans.count) orphaned annotation\(orphans.count == 1 ? "" : "s")")
    }
}
