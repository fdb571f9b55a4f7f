import ArgumentParser
import Foundation
import MarginStore

struct FeedListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The feeds followed.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let feeds = try global.openStore().feeds()
        if output.json {
            struct Row: Encodable {
                var url: String
                var title: String?
                var added: String
                var last_fetch: String?
                var last_status: String?
                var last_error: String?
                var entries: Int
            }
            return try Output.json(feeds.map {
                Row(url: $0.url, title: $0.title, added: $0.addedAt, last_fetch: $0.lastFetchAt,
                    last_status: $0.lastStatus, last_error: $0.lastError, entries: $0.entries)
            })
        }
        if feeds.isEmpty {
            FileHandle.standardError.write(Data("margin: no feeds followed; add one with margin feed add URL\n".utf8))
            return
        }
        for feed in feeds {
            var line = feed.url
            if let title = feed.title { line += "  \(Output.terminalSafe(title))" }
            line += "  (\(feed.entries) entr\(feed.entries == 1 ? "y" : "ies")"
            if let last = feed.lastFetchAt { line += ", fetched \(last.prefix(16)) \(feed.lastStatus ?? "")" } else { line += ", never fetched" }
            line += ")"
            if let error = feed.lastError { line += "  \(Output.terminalSafe(error))" }
            Output.line(line)
        }
    }
}
