import ArgumentParser
import MarginStore

struct FeedRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Stop following feeds (their articles stay).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Feed URLs, as `margin feed list` shows them.")
    var urls: [String]

    func validate() throws {
        if urls.isEmpty { throw ValidationError("give the URL of a feed to stop following") }
    }

    func run() throws {
        let store = try global.openStore()
        for url in urls {
            try store.removeFeed(url: url)
            Output.line("stopped following \(url)")
        }
    }
}
