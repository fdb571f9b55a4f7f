import ArgumentParser
import Foundation
import MarginStore

struct ReattachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reattach",
        abstract: "Place an annotation again: on its best candidate, or by quote or position.",
        discussion: """
            Without --quote or --start/--end, an orphan is placed on the best candidate `margin \
            orphans` shows. With them, the annotation (an orphan or not) is placed where they say, \
            as `margin highlight` finds a passage. Its note and tags stay; the new place syncs like \
            any edit, and the old one stays in `margin log`.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Annotation id or unique prefix.") var annotation: String
    @Option(help: "The text to place it on.") var quote: String?
    @Option(help: "Text right before the quote.") var prefix: String?
    @Option(help: "Text right after the quote.") var suffix: String?
    @Option(help: "Start position (code points).") var start: Int?
    @Option(help: "End position (code points, exclusive).") var end: Int?

    func validate() throws {
        if quote == nil && start == nil && end == nil {
            if prefix != nil || suffix != nil { throw ValidationError("--prefix and --suffix go with --quote") }
            return
        }
        try HighlightCommand.validatePlacement(quote: quote, prefix: prefix, suffix: suffix, start: start, end: end)
    }

    func run() throws {
        let store = try global.openStore()
        var anchor: Anchor?
        if let quote {
            anchor = .quote(exact: quote, prefix: prefix, suffix: suffix)
        } else if let start, let end {
            anchor = .position(start: start, end: end)
        }
        let placed = try store.reattach(annotationRef: annotation, to: anchor)
        if output.json { return try Output.json(AnnotationJSON(placed)) }
        Output.row("\(placed.id)  \(placed.target.start)..<\(placed.target.end)  "
            + "\"\(TerminalText.escaped(placed.target.exact))\"")
    }
}
