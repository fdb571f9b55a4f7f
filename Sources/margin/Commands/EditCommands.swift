import ArgumentParser
import Foundation
import MarginStore

struct HighlightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "highlight",
        abstract: "Highlight a passage, by quote (with --prefix/--suffix to single it out) or by position.",
        discussion: "Positions count Unicode code points from the start of the body; --end is exclusive.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article id or unique prefix.") var article: String
    @Option(help: "The exact text to highlight.") var quote: String?
    @Option(help: "Text right before the quote.") var prefix: String?
    @Option(help: "Text right after the quote.") var suffix: String?
    @Option(help: "Start position (code points).") var start: Int?
    @Option(help: "End position (code points, exclusive).") var end: Int?
    @Option(help: "A note on the highlight.") var note: String?
    @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []
    @Option(help: "A color, like yellow or #ffd400.") var color: String?

    func validate() throws {
        switch (quote, start, end) {
        case (.some, nil, nil): break
        case (nil, .some, .some):
            if prefix != nil || suffix != nil { throw ValidationError("--prefix and --suffix go with --quote") }
        case (.some, _, _): throw ValidationError("give --quote or --start/--end, not both")
        default: throw ValidationError("give --quote TEXT, or both --start N and --end M")
        }
    }

    func run() throws {
        let store = try global.openStore()
        let anchor: Anchor = quote.map { .quote(exact: $0, prefix: prefix, suffix: suffix) }
            ?? .position(start: start!, end: end!)
        let annotation = try store.highlight(articleRef: article, anchor: anchor, note: note, tags: tags, color: color)
        if output.json { return try Output.json(AnnotationJSON(annotation)) }
        print("\(annotation.id)  \(annotation.target.start)..<\(annotation.target.end)  \"\(annotation.target.exact)\"")
    }
}

struct NoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Set the note of an annotation (an empty TEXT removes it).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Annotation id or unique prefix.") var annotation: String
    @Argument(help: "The note text; - reads it from stdin.") var text: String

    func run() throws {
        let store = try global.openStore()
        let body = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
        let updated = try store.setNote(annotationRef: annotation, text: body)
        if output.json { return try Output.json(AnnotationJSON(updated)) }
        print("\(updated.id)  note \(updated.note == nil ? "removed" : "set")")
    }
}

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Tag an article or annotation.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article or annotation id (or unique prefix).") var id: String
    @Argument(help: "Tags to add.") var tags: [String]

    func run() throws {
        let store = try global.openStore()
        try TagCommand.report(try store.addTags(ref: id, tags: tags), store: store, json: output.json)
    }

    static func report(_ target: ResolvedID, store: Store, json: Bool) throws {
        let tags = target.kind == .article ? try store.article(target.id).tags : try store.annotation(target.id).tags
        if json {
            struct Tags: Encodable {
                var id, kind: String
                var tags: [String]
            }
            return try Output.json(Tags(id: target.id, kind: target.kind.rawValue, tags: tags))
        }
        print("\(target.kind.rawValue) \(Output.short(target.id)): \(tags.isEmpty ? "no tags" : tags.map { "#\($0)" }.joined(separator: " "))")
    }
}

struct UntagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "untag", abstract: "Remove tags from an article or annotation.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article or annotation id (or unique prefix).") var id: String
    @Argument(help: "Tags to remove.") var tags: [String]

    func run() throws {
        let store = try global.openStore()
        try TagCommand.report(try store.removeTags(ref: id, tags: tags), store: store, json: output.json)
    }
}

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete an article or annotation (a tombstone that syncs).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article or annotation id (or unique prefix).") var id: String

    func run() throws {
        let store = try global.openStore()
        let target = try store.remove(ref: id)
        if output.json { return try Output.json(["id": target.id, "kind": target.kind.rawValue, "deleted": "true"]) }
        print("deleted \(target.kind.rawValue) \(target.id)")
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export articles and annotations: json (canonical), markdown, w3c (Web Annotation JSON-LD) or hypothesis (its API JSON, UTF-16 offsets).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "json, markdown, w3c or hypothesis.") var format = "json"
    @Option(help: "Write to this file instead of stdout.") var output: String?
    @Argument(help: "Only these articles (ids or unique prefixes).") var articles: [String] = []

    func validate() throws {
        guard ["json", "markdown", "w3c", "hypothesis"].contains(format) else {
            throw ValidationError("unknown export format '\(format)'; use json, markdown, w3c or hypothesis")
        }
    }

    func run() throws {
        let store = try global.openStore()
        let ids = try articles.map { try store.resolve($0, kinds: [.article]).id }
        var selected = try store.articles()
        if !ids.isEmpty { selected = selected.filter { ids.contains($0.id) } }
        let chosen = Set(selected.map(\.id))
        let annotations = try store.annotations().filter { chosen.contains($0.articleID) }
        let data: Data
        switch format {
        case "markdown":
            data = Data(MarkdownExporter.export(articles: selected, annotations: annotations).utf8)
        case "w3c":
            data = try W3CExporter.export(articles: selected, annotations: annotations)
        case "hypothesis":
            data = try HypothesisExporter.export(articles: selected, annotations: annotations)
        default:
            data = try store.exportJSON(articleIDs: ids.isEmpty ? nil : ids)
        }
        if let output {
            let url = URL(fileURLWithPath: GlobalOptions.expand(output))
            do {
                try data.write(to: url, options: .atomic)
            } catch {
                throw CLIError(message: "margin: cannot write \(output): \(error.localizedDescription)",
                               code: ExitStatus.failure)
            }
            FileHandle.standardError.write(Data("wrote \(selected.count) articles, \(annotations.count) annotations to \(output)\n".utf8))
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}
