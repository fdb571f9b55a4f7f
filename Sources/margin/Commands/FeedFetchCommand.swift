import ArgumentParser
import Foundation
import MarginStore
import MarginSync

struct FeedFetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Import the new entries of followed feeds.",
        discussion: """
            Each feed is fetched with a conditional GET (If-None-Match / If-Modified-Since): an unchanged feed \
            answers 304 and costs nothing more. New entries (by guid or link) are imported from their full text \
            when the feed carries it, else from their page. An entry whose page is gone or is not an article is \
            noted and not tried again; one that failed for a temporary reason is tried at the next fetch. Exit \
            code: the worst over the feeds (75 when a feed or page was unreachable).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Seconds to wait for a feed or page to answer.")
    var timeout: Double = 30
    @Argument(help: "Feeds to fetch (default: every feed followed).")
    var urls: [String] = []

    func validate() throws {
        if !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    struct Row: Encodable {
        var feed: String
        var outcome: String
        var exit_code: Int32
        var new: Int
        var created: Int
        var updated: Int
        var unchanged: Int
        var failed: [Failure]
        var error: String?

        struct Failure: Encodable {
            var entry: String
            var error: String
            var temporary: Bool
        }
    }

    func run() async throws {
        let store = try global.openStore()
        var feeds = try store.feeds()
        if !urls.isEmpty {
            let held = Set(feeds.map(\.url))
            for url in urls where !held.contains(url) {
                throw CLIError(message: "margin: no feed \(url) is followed; add it with margin feed add \(url)",
                               code: ExitStatus.failure)
            }
            feeds = feeds.filter { urls.contains($0.url) }
        }
        if feeds.isEmpty {
            if output.json { try Output.json([Row]()) } else {
                FileHandle.standardError.write(Data("margin: no feeds followed; add one with margin feed add URL\n".utf8))
            }
            return
        }
        var options = PageFetcher.Options()
        options.timeout = timeout
        let web = WebImporter(fetcher: PageFetcher(options: options))
        let progress = ProgressLine(enabled: !output.json)
        defer { progress.clear() }
        var rows: [Row] = []
        var worst = ExitStatus.success
        for feed in feeds {
            let row = await fetch(feed, store: store, web: web, progress: progress)
            progress.clear()
            worst = ExitStatus.worst(worst, row.exit_code)
            rows.append(row)
            if !output.json { printRow(row) }
        }
        if output.json { try Output.json(rows) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }

    private func fetch(_ feed: FeedInfo, store: Store, web: WebImporter, progress: ProgressLine) async -> Row {
        var row = Row(feed: feed.url, outcome: "fetched", exit_code: ExitStatus.success, new: 0, created: 0, updated: 0,
                      unchanged: 0, failed: [])
        func fail(_ message: String, code: Int32) -> Row {
            row.outcome = code == ExitStatus.temporary ? "unreachable" : "failed"
            row.exit_code = code
            row.error = message
            try? store.recordFeedFetch(FeedFetchRecord(
                url: feed.url, title: nil, etag: nil, lastModified: nil, status: "failed", error: message, seen: [],
                keepValidators: false))
            return row
        }
        guard let url = try? PageFetcher.url(feed.url) else { return fail("not an http(s) URL", code: ExitStatus.failure) }
        progress.update("fetching \(feed.url)…", force: true)
        let page: FetchedPage
        let resource: WebResource?
        do {
            (page, resource) = try await web.resource(url, accept: .feed, etag: feed.etag, lastModified: feed.lastModified)
        } catch {
            return fail(error.description, code: ImportCommand.exitCode(error))
        }
        guard case .feed(let parsed)? = resource else {
            row.outcome = "not_modified"
            try? store.recordFeedFetch(FeedFetchRecord(
                url: feed.url, title: nil, etag: feed.etag, lastModified: feed.lastModified, status: "not_modified",
                error: nil, seen: [], keepValidators: true))
            return row
        }
        let seen: Set<String>
        do { seen = try store.seenFeedEntries(url: feed.url) } catch { return fail("\(error)", code: ExitStatus.failure) }
        let outcomes = await web.articles(of: parsed, skipping: seen) { done, total in
            if total > 0 { progress.update("\(feed.url): \(done)/\(total) new entries…") }
        }
        row.new = outcomes.count
        var articles: [(key: String, article: ImportedArticle)] = []
        var done: [(key: String, articleID: String?)] = []
        var temporary = false
        for outcome in outcomes {
            switch outcome.result {
            case .article(let article): articles.append((outcome.entry.key, article))
            case .duplicate: done.append((outcome.entry.key, nil))
            case .failed(let error):
                row.failed.append(Row.Failure(entry: outcome.entry.link ?? outcome.entry.key, error: error.description,
                                              temporary: error.isTemporary))
                row.exit_code = ExitStatus.worst(row.exit_code, ImportCommand.exitCode(error))
                if error.isTemporary { temporary = true } else { done.append((outcome.entry.key, nil)) }
            }
        }
        do {
            let results = try store.importArticles(articles.map(\.article))
            for (item, result) in zip(articles, results) {
                done.append((item.key, result.id))
                switch result.status {
                case .created: row.created += 1
                case .updated, .restored: row.updated += 1
                case .unchanged: row.unchanged += 1
                }
            }
        } catch {
            let failure = CLIError.wrap(error)
            return fail(failure?.message.replacingOccurrences(of: "margin: ", with: "") ?? "\(error)",
                        code: failure?.code ?? ExitStatus.failure)
        }
        do {
            try store.recordFeedFetch(FeedFetchRecord(
                url: feed.url, title: parsed.title, etag: page.etag, lastModified: page.lastModified,
                status: row.failed.isEmpty ? "ok" : "failed",
                error: row.failed.first.map { "\(row.failed.count) entr\(row.failed.count == 1 ? "y" : "ies") failed: \($0.error)" },
                seen: done, keepValidators: !temporary))
        } catch {
            return fail("\(error)", code: ExitStatus.failure)
        }
        if !row.failed.isEmpty { row.outcome = temporary ? "partly_unreachable" : "partly_failed" }
        return row
    }

    private func printRow(_ row: Row) {
        switch row.outcome {
        case "not_modified":
            Output.line("\(row.feed): not modified")
        case "failed", "unreachable":
            FileHandle.standardError.write(Data("margin: \(row.feed): \(Output.terminalSafe(row.error ?? ""))\n".utf8))
        default:
            Output.line("\(row.feed): \(row.new) new entr\(row.new == 1 ? "y" : "ies"): \(row.created) imported, "
                + "\(row.updated) updated, \(row.unchanged) unchanged, \(row.failed.count) failed")
            for failure in row.failed {
                FileHandle.standardError.write(Data("margin: \(row.feed): entry \(failure.entry): \(Output.terminalSafe(failure.error))\n".utf8))
            }
        }
    }
}
