import ArgumentParser
import Foundation
import MarginStore

struct HighlightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "highlight",
        abstract: "Highlight a passage, by quote (with --prefix/--suffix to single it out) or by position.",
        discussion: """
            A quote typed with straight quotes, apostrophes, hyphens and plain spaces matches the \
            article's curly quotes, dashes and non-breaking spaces; the highlight keeps the body's own \
            text and offsets. --prefix and --suffix may be given with or without the space between \
            them and the quote. Positions count Unicode code points from the start of the body; --end \
            is exclusive.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id or unique prefix.") var article: String
    @Option(help: "The text to highlight.") var quote: String?
    @Option(help: "Text right before the quote.") var prefix: String?
    @Option(help: "Text right after the quote.") var suffix: String?
    @Option(help: "Start position (code points).") var start: Int?
    @Option(help: "End position (code points, exclusive).") var end: Int?
    @Option(help: "A note on the highlight.") var note: String?
    @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []
    @Option(help: "A color, like yellow or #ffd400.") var color: String?

    func validate() throws {
        try ListCommand.validateTyped(tags)
        try Self.validatePlacement(quote: quote, prefix: prefix, suffix: suffix, start: start, end: end)
    }

    /// --quote [--prefix] [--suffix], or --start and --end, with a span that is not empty.
    static func validatePlacement(quote: String?, prefix: String?, suffix: String?, start: Int?, end: Int?) throws {
        switch (quote, start, end) {
        case (.some(let quote), nil, nil):
            if quote.isEmpty { throw ValidationError("--quote is empty; give the text to highlight") }
        case (nil, .some(let start), .some(let end)):
            if prefix != nil || suffix != nil { throw ValidationError("--prefix and --suffix go with --quote") }
            if start < 0 { throw ValidationError("--start is 0 or more (code points from the start of the body)") }
            if end <= start { throw ValidationError("--end \(end) must be greater than --start \(start)") }
        case (.some, _, _): throw ValidationError("give --quote or --start/--end, not both")
        default: throw ValidationError("give --quote TEXT, or both --start N and --end M")
        }
    }

    func run() throws {
        let store = try global.openStore()
        let anchor: Anchor = quote.map { .quote(exact: $0, prefix: prefix, suffix: suffix) }
            ?? .position(start: start ?? 0, end: end ?? 0)
        let annotation = try store.highlight(articleRef: article, anchor: anchor, note: note, tags: tags, color: color)
        if output.json { return try Output.json(AnnotationJSON(annotation)) }
        Output.row("\(annotation.id)  \(annotation.target.start)..<\(annotation.target.end)  "
            + "\"\(TerminalText.escaped(annotation.target.exact))\"")
    }
}
