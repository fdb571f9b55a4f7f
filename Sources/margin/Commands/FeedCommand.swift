import ArgumentParser

struct FeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Follow RSS and Atom feeds: add, list, rm, fetch.",
        discussion: """
            Followed feeds are local to this replica (not synced); the articles they bring in are imported like \
            any other and sync as such. `margin feed fetch` (for cron: `Scripts/nightly-merge --fetch`) imports \
            new entries only, with a conditional GET (ETag / Last-Modified), so an unchanged feed costs one \
            small request.
            """,
        subcommands: [FeedAddCommand.self, FeedListCommand.self, FeedRemoveCommand.self, FeedFetchCommand.self])
}
