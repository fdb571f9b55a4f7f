import ArgumentParser
import Foundation
import MarginStore

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Tag an article or annotation.",
        discussion: "Tags are case-sensitive (#Poland and #poland are two tags) and hold no line breaks; a leading # is dropped.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Article or annotation id (or unique prefix).") var id: String
    @Argument(help: "Tags to add.") var tags: [String]

    func validate() throws { try ListCommand.validateTyped(tags) }

    func run() throws {
        let store = try global.openStore()
        try TagCommand.report(try store.addTags(ref: id, tags: tags), store: store, json: output.json)
    }

    /// The entity's tags after the change: one line, or JSON.
    static func report(_ target: ResolvedID, store: Store, json: Bool) throws {
        let tags = target.kind == .article ? try store.article(target.id).tags : try store.annotation(target.id).tags
        if json {
            struct Tags: Encodable {
                var id, kind: String
                var tags: [String]
            }
            return try Output.json(Tags(id: target.id, kind: target.kind.rawValue, tags: tags))
        }
        Output.row("\(target.kind.rawValue) \(Output.short(target.id)): "
            + (tags.isEmpty ? "no tags" : ListCommand.tags(tags)))
    }
}
