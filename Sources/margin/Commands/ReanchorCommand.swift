import ArgumentParser
import Foundation
import MarginStore

struct ReanchorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reanchor",
        abstract: "Re-anchor annotations against the current article bodies; report what moves or is orphaned.",
        discussion: """
            Margin re-anchors by itself whenever a body changes (an import of a corrected article or a \
            synced change). This command shows the result, or recomputes it with another threshold: \
            a passage found with a confidence below --min-score becomes an orphan (kept, listed by \
            `margin orphans`, never attached to another passage). An approximate match (a passage \
            partly rewritten) needs 0.1 more than the threshold, and two equally good places are never \
            chosen between: `margin reattach ANNOTATION` places such an orphan by hand.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Report what would move, change nothing.") var dryRun = false
    @Option(help: "Confidence in 0...1 a placement needs (default 0.7; without --dry-run it becomes this store's threshold).")
    var minScore: Double?
    @Argument(help: "Article id (or a unique prefix); all articles when omitted.") var article: String?

    func validate() throws {
        if let minScore, !(0...1).contains(minScore) {
            throw ValidationError("--min-score is between 0 and 1 (got \(minScore))")
        }
    }

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
        let shown = changes.filter { $0.kind != .unchanged }
        let ids = try ShortIDs(store, shown.map(\.annotation.id))
        for change in shown {
            let a = change.annotation
            var line = "\(change.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(ids(a.id))  "
                + "\"\(TerminalText.escaped(excerpt(a.target.exact, 0, a.target.exact.unicodeScalars.count)))\""
            switch change.after {
            case .anchored(let p):
                line += "  → \(p.start)..<\(p.end) (\(p.method.rawValue), score \(String(format: "%.2f", p.score)))"
            case .orphan(let best):
                if let best {
                    line += "  → orphan; best candidate \(String(format: "%.2f", best.score)): "
                        + "\"\(TerminalText.escaped(excerpt(body(a.articleID), best.start, best.end)))\""
                } else {
                    line += "  → orphan; no candidate"
                }
            }
            Output.row(line)
        }
        let summary = "\(count(changes.count, "annotation")): \(counts[.moved] ?? 0) moved, "
            + "\(counts[.orphaned] ?? 0) orphaned, \(counts[.reattached] ?? 0) reattached, "
            + "\(counts[.unchanged] ?? 0) unchanged" + (dryRun ? " (dry run: nothing stored)" : "")
        Output.row(summary)
    }
}
