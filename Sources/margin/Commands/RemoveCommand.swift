import ArgumentParser
import Foundation
import MarginStore

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete an article or annotation (a tombstone that syncs).",
        discussion: """
            Deleting an article hides its annotations with it; they are named on stderr, and come \
            back if the article is imported again. Nothing asks for confirmation (scripts rely on it); \
            everything stays in `margin log`.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article or annotation id (or unique prefix).") var id: String

    func run() throws {
        let store = try global.openStore()
        // What the delete takes out of sight with the article, read before it.
        let resolved = try store.resolve(id, kinds: [.article, .annotation])
        let hidden = resolved.kind == .article ? try store.annotations(articleID: resolved.id) : []
        let target = try store.remove(ref: resolved.id)
        if output.json {
            struct Removed: Encodable {
                var id, kind, deleted: String
                var annotations: [String]
            }
            return try Output.json(Removed(id: target.id, kind: target.kind.rawValue, deleted: "true",
                                           annotations: hidden.map(\.id)))
        }
        Output.line("deleted \(target.kind.rawValue) \(target.id)")
        guard !hidden.isEmpty else { return }
        let ids = try ShortIDs(store, hidden.map(\.id))
        Output.note(
            "with it \(count(hidden.count, "annotation")) of this article \(hidden.count == 1 ? "is" : "are") "
                + "out of sight (importing the article again brings \(hidden.count == 1 ? "it" : "them") back):",
            more: hidden.map {
                "  \(ids($0.id))  \"\(TerminalText.escaped($0.target.exact))\""
                    + ($0.note.map { "  note: " + TerminalText.escaped($0) } ?? "")
            })
    }
}
