import ArgumentParser
import Foundation
import MarginStore

struct AnnotationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotations", abstract: "List annotations, of one article or all.",
        discussion: """
            Each line: the annotation's id, its article's id, the quote and its tags, then its note. \
            ORPHAN marks an annotation whose text is gone from its article's corrected body \
            (`margin orphans` shows the best candidate; `margin reattach` places it again).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id or unique prefix.") var article: String?

    func run() throws {
        let store = try global.openStore()
        let articleID = try article.map { try store.resolve($0, kinds: [.article]).id }
        let annotations = try store.annotations(articleID: articleID)
        if output.json { return try Output.json(annotations.map(AnnotationJSON.init)) }
        if annotations.isEmpty { return Output.note(article == nil ? "no annotations" : "no annotations on this article") }
        let ids = try ShortIDs(store, annotations.map(\.id))
        let articles = try ShortIDs(store, annotations.map(\.articleID))
        for a in annotations {
            var line = "\(ids(a.id))  \(articles(a.articleID))  "
            if a.anchor?.isOrphan == true { line += "ORPHAN " }
            line += "\"\(TerminalText.escaped(a.target.exact))\""
            if !a.tags.isEmpty { line += "  " + ListCommand.tags(a.tags) }
            Output.row(line, colour: { $0.replacingOccurrences(of: "  ORPHAN ", with: "  " + Colour.red("ORPHAN") + " ") })
            if let note = a.note {
                for noteLine in TerminalText.escaped(note, multiline: true).split(separator: "\n", omittingEmptySubsequences: false) {
                    Output.row("    " + noteLine)
                }
            }
        }
    }
}
