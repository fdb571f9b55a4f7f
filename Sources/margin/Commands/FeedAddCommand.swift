import ArgumentParser
import Foundation
import MarginStore
import MarginSync

struct FeedAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Follow feeds: RSS or Atom URLs, or an OPML file or URL listing them.",
        discussion: """
            Each URL is fetched once to check that it is a feed (its title is kept); nothing is imported until \
            `margin feed fetch`. An OPML file adds every feed it lists.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Seconds to wait for a feed to answer.")
    var timeout: Double = 30
    @Argument(help: "Feed URLs, or OPML files or URLs.")
    var sources: [String]

    func validate() throws {
        if sources.isEmpty { throw ValidationError("give a feed URL or an OPML file") }
        if !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let store = try global.openStore()
        var options = PageFetcher.Options()
        options.timeout = timeout
        let web = WebImporter(fetcher: PageFetcher(options: options))
        var toAdd: [(url: String, title: String?)] = []
        for source in sources {
            if !PageFetcher.looksLikeURL(source) {
                guard let data = FileManager.default.contents(atPath: source) else {
                    throw CLIError(message: "margin: \(source): no such file (give a feed's http(s) URL or an OPML file)",
                                   code: ExitStatus.failure)
                }
                let feed: Feed
                do { feed = try FeedParser.parse(data) } catch {
                    throw CLIError(message: "margin: \(source): \(error.message)", code: ExitStatus.dataError)
                }
                guard feed.kind == .opml else {
                    throw CLIError(message: "margin: \(source) is a feed file; follow the feed by its URL",
                                   code: ExitStatus.usage)
                }
                toAdd += feed.subscriptions.map { ($0.url, $0.title) }
                continue
            }
            let url: URL
            do { url = try PageFetcher.url(source) } catch { throw CLIError(message: "margin: \(error)", code: ExitStatus.usage) }
            do {
                let (page, resource) = try await web.resource(url, accept: .feed)
                guard case .feed(let feed)? = resource else { continue }
                if feed.kind == .opml {
                    toAdd += feed.subscriptions.map { ($0.url, $0.title) }
                } else {
                    // Follow the URL given (a redirect may point at a temporary address).
                    _ = page
                    toAdd.append((source, feed.title))
                }
            } catch {
                throw CLIError(message: "margin: \(error)", code: ImportCommand.exitCode(error))
            }
        }
        let held = Set(try store.feeds().map(\.url))
        for (url, title) in toAdd {
            guard (try? PageFetcher.url(url)) != nil else {
                ImportCommand.warn("\(url) is not an http(s) URL; skipped")
                continue
            }
            if held.contains(url) {
                Output.line("following \(url) already")
                continue
            }
            try store.addFeed(url: url, title: title)
            Output.line("following \(url)" + (title.map { "  \(Output.terminalSafe($0))" } ?? ""))
        }
        if !toAdd.isEmpty { Output.line("run `margin feed fetch` to import their entries") }
    }
}
