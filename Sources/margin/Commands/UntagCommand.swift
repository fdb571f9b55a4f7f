import ArgumentParser
import Foundation
import MarginStore

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
