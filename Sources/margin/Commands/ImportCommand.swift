import ArgumentParser
import Foundation
import MarginStore
import MarginSync

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import articles (wire stories, Markdown, HTML, JSON, CSV, pages by URL, RSS/Atom/OPML feeds) or annotations (W3C JSON-LD, Hypothesis JSON).",
        discussion: """
            FILE may be a path, a glob ('news/*.html'), - for standard input, or an http(s) URL of an article \
            page or a feed. The format comes from the extension, else from the content; --format overrides. \
            Everything is read and checked first, then imported: a bad file or a page that cannot be fetched \
            writes nothing. CSV and JSON arrays are read one article at a time and written in batches; up to \
            64 MiB of their articles are kept from the check for the writing, and a file past that is read \
            again (memory follows the largest article, not the file). A feed (RSS 2.0, Atom, or an OPML list \
            of feeds) imports each entry, from its own full text when the feed carries it, else from its \
            page; an entry whose page fails is reported and skipped, and the exit code says so. Importing an \
            article again records nothing unless it changed; a changed body is a new revision, and the \
            article's annotations are re-anchored (see `margin reanchor`, `margin orphans`). Annotation files \
            are anchored by their selectors in articles already in the store, matched by URL.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The format of every FILE: \(Self.formatNames).")
    var format: String?
    @Option(help: "Seconds to wait for a page or feed to answer (URLs).")
    var timeout: Double = 30
    @Option(name: .customLong("max-size"), help: "The largest page or feed accepted, in MiB (URLs).")
    var maxSize: Int = 10
    @Argument(help: "Files, globs, - for stdin, or http(s) URLs.")
    var files: [String]

    static var formatNames: String {
        (ImportFormat.allCases.map(\.rawValue) + ["feed", "w3c", "hypothesis"]).joined(separator: ", ")
    }

    /// Articles written per transaction: at most this many (a transaction of 500 articles logs at most
    /// 4,500 changes, under the protocol's 5,000 per batch), and at most `batchBytes` of text, so that
    /// memory stays bounded whatever the articles' size.
    static let batchSize = 500
    static let batchBytes = 8 << 20
    /// Article text kept in memory from the check of CSV files and JSON arrays, all files together, so
    /// that they are parsed once; the articles of a file that does not fit what is left are read again
    /// from it when writing, so memory stays bounded whatever the files' size. `MARGIN_IMPORT_KEEP_MIB`
    /// sets it (0: every such file is read twice).
    static var keptBytes: Int {
        if let text = ProcessInfo.processInfo.environment["MARGIN_IMPORT_KEEP_MIB"], let mib = Int(text), mib >= 0,
            mib <= 1 << 20
        {
            return mib << 20
        }
        return 64 << 20
    }

    /// The bytes of text an article holds (what `keptBytes` counts).
    static func textBytes(_ article: ImportedArticle) -> Int {
        article.body.utf8.count + article.title.utf8.count + (article.url?.utf8.count ?? 0)
            + (article.byline?.utf8.count ?? 0) + (article.source?.utf8.count ?? 0)
            + (article.caption?.utf8.count ?? 0)
    }

    func validate() throws {
        if let format, ImportFormat(rawValue: format) == nil, AnnotationImporter.Format(rawValue: format) == nil,
            format != "feed"
        {
            throw ValidationError("unknown format '\(format)'; use one of \(Self.formatNames)")
        }
        if files.isEmpty { throw ValidationError("give at least one file, glob, URL or - for stdin") }
        if !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        if maxSize < 1 { throw ValidationError("--max-size must be at least 1 (MiB)") }
    }

    /// Where the articles come from, in the order given.
    enum Source {
        /// Read already (a small file, a page, a feed's entries).
        case articles(file: String, [ImportedArticle])
        /// A CSV file or JSON array, read again in batches when writing; checked and counted already.
        case stream(file: String, path: String, format: ImportFormat, count: Int)
    }

    func run() async throws {
        let store = try global.openStore()
        let forced = format.flatMap(ImportFormat.init(rawValue:))
        let forcedAnnotations = format.flatMap(AnnotationImporter.Format.init(rawValue:))
        let progress = ProgressLine(enabled: !output.json)
        defer { progress.clear() }
        var options = PageFetcher.Options()
        options.timeout = timeout
        options.maxBytes = maxSize << 20
        let web = WebImporter(fetcher: PageFetcher(options: options))

        var sources: [Source] = []
        var annotations: [(file: String, annotation: ImportedAnnotation)] = []
        var worst = ExitStatus.success
        var temporaryFiles: [String] = []
        // Article text still allowed in memory between the check and the writing.
        var keptBudget = Self.keptBytes
        defer { for path in temporaryFiles { try? FileManager.default.removeItem(atPath: path) } }

        for argument in try Self.expand(files) {
            if PageFetcher.looksLikeURL(argument) {
                let url: URL
                do { url = try PageFetcher.url(argument) } catch { throw CLIError(message: "margin: \(error)", code: ExitStatus.usage) }
                progress.update("fetching \(argument)…", force: true)
                let resource: WebResource?
                do {
                    (_, resource) = try await web.resource(url, accept: format == "feed" ? .feed : .pageOrFeed)
                } catch {
                    throw CLIError(message: "margin: \(error)", code: Self.exitCode(error))
                }
                switch resource {
                case .article(let article)?:
                    sources.append(.articles(file: argument, [article]))
                case .feed(let feed)?:
                    let (articles, code) = try await feedArticles(feed, from: argument, web: web, progress: progress)
                    worst = ExitStatus.worst(worst, code)
                    sources.append(.articles(file: argument, articles))
                case nil:
                    break
                }
                continue
            }

            var path = argument
            if argument == "-" {
                path = try Self.spoolStandardInput()
                temporaryFiles.append(path)
            }
            let name = argument == "-" ? nil : argument
            let size = try Self.checkReadable(path, shown: argument)
            let head = try Self.head(path, bytes: 64 << 10)

            // Annotation files (read whole).
            if forced == nil, format != "feed" {
                let maybeAnnotations = forcedAnnotations != nil || size <= 8 << 20
                    || head.range(of: Data("w3.org/ns/anno".utf8)) != nil || head.range(of: Data("\"rows\"".utf8)) != nil
                if maybeAnnotations, !Self.hasExtension(argument, ["csv", "html", "htm", "md", "txt", "rss", "atom", "opml"]) {
                    let data = try Self.read(path, shown: argument)
                    if let annotationFormat = forcedAnnotations ?? AnnotationImporter.detect(data) {
                        do {
                            for item in try AnnotationImporter.parse(data, format: annotationFormat) {
                                annotations.append((argument, item))
                            }
                        } catch {
                            throw CLIError(message: "margin: \(argument): \((error as? ImportError)?.message ?? "\(error)")",
                                           code: ExitStatus.dataError)
                        }
                        continue
                    }
                }
            }

            // Feeds and OPML lists.
            if format == "feed" || forced == nil
                && (Self.hasExtension(argument, ["rss", "atom", "opml"]) || FeedParser.looksLikeFeed(head))
            {
                guard size <= ArticleStream.wholeFileLimit else {
                    throw CLIError(message: "margin: \(argument): a feed over \(ArticleStream.wholeFileLimit >> 20) MiB is not read",
                                   code: ExitStatus.dataError)
                }
                let feed: Feed
                do {
                    feed = try FeedParser.parse(try Self.read(path, shown: argument))
                } catch let error as ImportError {
                    throw CLIError(message: "margin: \(argument): \(error.message)", code: ExitStatus.dataError)
                }
                let (articles, code) = try await feedArticles(feed, from: argument, web: web, progress: progress)
                worst = ExitStatus.worst(worst, code)
                sources.append(.articles(file: argument, articles))
                continue
            }

            guard let kind = forced ?? ArticleImporter.detectFormat(filename: name, data: head) else {
                throw CLIError(
                    message: "margin: \(argument): unknown format; use --format "
                        + ImportFormat.allCases.map(\.rawValue).joined(separator: "|"),
                    code: ExitStatus.dataError)
            }
            if ArticleStream.streams(kind) {
                // Checked now, one article at a time; written later in batches. The articles are kept
                // for the writing while they fit what is left of `keptBytes`, else read again then.
                var kept: [ImportedArticle]? = []
                var bytes = 0
                let count = try Self.eachArticle(path, format: kind, shown: argument, progress: progress) { article in
                    guard kept != nil else { return }
                    bytes += Self.textBytes(article)
                    if bytes > keptBudget {
                        kept = nil
                    } else {
                        kept!.append(article)
                    }
                }
                if let kept {
                    keptBudget -= bytes
                    sources.append(.articles(file: argument, kept))
                } else {
                    sources.append(.stream(file: argument, path: path, format: kind, count: count))
                }
            } else {
                do {
                    sources.append(.articles(
                        file: argument, try ArticleImporter.parse(try Self.read(path, shown: argument), format: kind, filename: name)))
                } catch let error as ImportError {
                    throw CLIError(message: "margin: \(argument): \(error.message)", code: ExitStatus.dataError)
                }
            }
        }

        if !annotations.isEmpty {
            guard sources.isEmpty else {
                throw CLIError(
                    message: "margin: import articles and annotation files in two commands (articles first)",
                    code: ExitStatus.usage)
            }
            progress.clear()
            try importAnnotations(annotations, into: store)
            return
        }
        try store.deferringCheckpoints { try write(sources, into: store, progress: progress) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }

    // MARK: - Writing

    private func write(_ sources: [Source], into store: Store, progress: ProgressLine) throws {
        let total = sources.reduce(0) { total, source in
            switch source {
            case .articles(_, let articles): return total + articles.count
            case .stream(_, _, _, let count): return total + count
            }
        }
        var rows = RowPrinter(json: output.json)
        var counts = (created: 0, updated: 0, restored: 0, unchanged: 0)
        var done = 0
        var batch: [(file: String, article: ImportedArticle)] = []
        var batchBytes = 0

        func flush() throws {
            guard !batch.isEmpty else { return }
            let outcomes: [ImportOutcome]
            do {
                outcomes = try store.importArticles(batch.map(\.article))
            } catch {
                guard done > 0, let failure = CLIError.wrap(error) else { throw error }
                throw CLIError(
                    message: failure.message + "; \(done) of \(total) articles were imported before it. Run the same "
                        + "import again to finish: articles already imported are unchanged",
                    code: failure.code)
            }
            // Each id shortened as `Output.short` would, looked up for the whole batch in one read.
            let lengths = output.json ? [:] : (try? store.uniquePrefixLengths(outcomes.map(\.id))) ?? [:]
            for (item, outcome) in zip(batch, outcomes) {
                switch outcome.status {
                case .created: counts.created += 1
                case .updated: counts.updated += 1
                case .restored: counts.restored += 1
                case .unchanged: counts.unchanged += 1
                }
                progress.clear()
                try rows.print(item.file, outcome, idLength: lengths[outcome.id] ?? 8)
            }
            // A correction that leaves highlights without their text says so, and where to look.
            _ = try OrphanReport.afterCorrection(store, articleIDs: outcomes.filter { $0.status == .updated }.map(\.id))
            done += batch.count
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            if total > 200 { progress.update("importing \(done.formatted())/\(total.formatted()) articles…") }
        }

        for source in sources {
            switch source {
            case .articles(let file, let articles):
                for article in articles {
                    batch.append((file, article))
                    batchBytes += article.body.utf8.count + article.title.utf8.count
                    if batch.count >= Self.batchSize || batchBytes >= Self.batchBytes { try flush() }
                }
            case .stream(let file, let path, let format, _):
                _ = try Self.eachArticle(path, format: format, shown: file, progress: nil) { article in
                    batch.append((file, article))
                    batchBytes += article.body.utf8.count + article.title.utf8.count
                    if batch.count >= Self.batchSize || batchBytes >= Self.batchBytes { try flush() }
                }
            }
        }
        try flush()
        progress.clear()
        try rows.finish()
        if !output.json, total > 1 {
            Output.row("\(total) articles: \(counts.created) new, \(counts.updated) updated, \(counts.restored) restored, "
                + "\(counts.unchanged) unchanged")
        }
    }

    /// Prints import outcomes as they are written: text lines, or one JSON array streamed row by row.
    struct RowPrinter {
        let json: Bool
        private var started = false

        init(json: Bool) {
            self.json = json
        }

        struct Row: Encodable {
            var id, title, status, file: String
            var changes: Int
        }

        /// - Parameter idLength: The hex digits of the id that text output shows.
        mutating func print(_ file: String, _ outcome: ImportOutcome, idLength: Int) throws {
            guard json else {
                Output.row("\(outcome.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                    + "\(Store.shortID(outcome.id, length: idLength))  \(TerminalText.escaped(outcome.title))")
                return
            }
            let row = Row(id: outcome.id, title: outcome.title, status: outcome.status.rawValue, file: file,
                          changes: outcome.changes)
            let encoded = String(decoding: try CanonicalJSON.encode(row, prettyPrinted: true), as: UTF8.self)
            let indented = encoded.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
                .joined(separator: "\n")
            Output.bytes(Data(((started ? ",\n" : "[\n") + indented).utf8))
            started = true
        }

        func finish() throws {
            guard json else { return }
            Output.bytes(Data((started ? "\n]\n" : "[\n\n]\n").utf8))
        }
    }

    // MARK: - Feeds

    /// The articles of a feed's entries (or, for an OPML file, of every feed it lists). Entries that fail
    /// are reported on stderr and left out; the exit code they call for is returned.
    private func feedArticles(_ feed: Feed, from name: String, web: WebImporter, progress: ProgressLine)
        async throws -> ([ImportedArticle], Int32)
    {
        var feeds: [(String, Feed)] = [(name, feed)]
        var worst = ExitStatus.success
        if feed.kind == .opml {
            feeds = []
            for subscription in feed.subscriptions {
                guard let url = try? PageFetcher.url(subscription.url) else {
                    Self.warn("\(name): \(subscription.url) is not an http(s) URL; skipped")
                    worst = ExitStatus.worst(worst, ExitStatus.dataError)
                    continue
                }
                progress.update("fetching \(subscription.url)…", force: true)
                do {
                    let (_, resource) = try await web.resource(url, accept: .feed)
                    if case .feed(let listed)? = resource { feeds.append((subscription.url, listed)) }
                } catch {
                    progress.clear()
                    Self.warn("\(error)")
                    worst = ExitStatus.worst(worst, Self.exitCode(error))
                }
            }
        }
        var articles: [ImportedArticle] = []
        for (source, listed) in feeds {
            let outcomes = await web.articles(of: listed) { done, total in
                if total > 0 { progress.update("\(source): \(done)/\(total) entries…") }
            }
            for outcome in outcomes {
                switch outcome.result {
                case .article(let article): articles.append(article)
                case .duplicate: break
                case .failed(let error):
                    progress.clear()
                    Self.warn("\(source): entry \(outcome.entry.link ?? outcome.entry.key): \(error)")
                    worst = ExitStatus.worst(worst, Self.exitCode(error))
                }
            }
        }
        progress.clear()
        return (articles, worst)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("margin: " + message + "\n").utf8))
    }

    /// The documented exit code for a page that could not be imported.
    static func exitCode(_ error: WebImportError) -> Int32 {
        switch error {
        case .fetch(let fetch):
            switch fetch {
            case .badURL: return ExitStatus.usage
            case .unsupportedType, .tooLarge: return ExitStatus.dataError
            default: return fetch.isTemporary ? ExitStatus.temporary : ExitStatus.failure
            }
        case .content: return ExitStatus.dataError
        }
    }

    // MARK: - Files

    /// Calls `body` with each article of a CSV or JSON file, read one at a time.
    /// - Returns: How many there were.
    @discardableResult
    static func eachArticle(_ path: String, format: ImportFormat, shown: String, progress: ProgressLine?,
                            _ body: (ImportedArticle) throws -> Void) throws -> Int
    {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIError(message: "margin: \(shown): cannot read the file (permission denied?)", code: ExitStatus.failure)
        }
        defer { try? handle.close() }
        let stream = ArticleStream(handle: handle, format: format, name: shown == "-" ? "the input" : shown)
        do {
            while let article = try stream.next() {
                try body(article)
                if stream.count % 1000 == 0 { progress?.update("reading \(shown): \(stream.count.formatted()) articles…") }
            }
        } catch let error as ImportError {
            throw CLIError(message: "margin: \(shown): \(error.message)", code: ExitStatus.dataError)
        }
        return stream.count
    }

    /// Copies standard input to a temporary file, so that it can be read twice (checked, then written).
    static func spoolStandardInput() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("margin-stdin-\(getpid())-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let out = FileHandle(forWritingAtPath: path)
        else { throw CLIError(message: "margin: cannot write a temporary file in \(NSTemporaryDirectory())", code: ExitStatus.failure) }
        defer { try? out.close() }
        while true {
            let chunk = FileHandle.standardInput.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            out.write(chunk)
        }
        return path
    }

    /// The file's size; a clear error for a missing file, a directory, an unreadable file.
    static func checkReadable(_ path: String, shown: String) throws -> Int {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError(message: "margin: \(shown): no such file", code: ExitStatus.failure)
        }
        guard !isDirectory.boolValue else {
            throw CLIError(message: "margin: \(shown) is a directory; give files or a glob like '\(shown)/*'",
                           code: ExitStatus.failure)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw CLIError(message: "margin: \(shown): cannot read the file (permission denied?)", code: ExitStatus.failure)
        }
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    static func head(_ path: String, bytes: Int) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else { return Data() }
        defer { try? handle.close() }
        return handle.readData(ofLength: bytes)
    }

    static func read(_ path: String, shown: String) throws -> Data {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw CLIError(message: "margin: \(shown): cannot read the file (permission denied?)", code: ExitStatus.failure)
        }
        return contents
    }

    static func hasExtension(_ path: String, _ extensions: [String]) -> Bool {
        extensions.contains((path as NSString).pathExtension.lowercased())
    }

    func importAnnotations(_ items: [(file: String, annotation: ImportedAnnotation)], into store: Store) throws {
        let outcomes = try store.importAnnotations(items.map(\.annotation))
        if output.json {
            struct Row: Encodable {
                var status, file, source: String
                var id, article_id, message: String?
            }
            return try Output.json(zip(items, outcomes).map {
                Row(status: $1.status.rawValue, file: $0.file, source: $0.annotation.source, id: $1.id,
                    article_id: $1.articleID, message: $1.message)
            })
        }
        for (item, outcome) in zip(items, outcomes) {
            var line = "\(outcome.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                + (outcome.id.map(Output.short) ?? "-") + "  \"\(item.annotation.exact ?? "")\""
            if let message = outcome.message { line += "  (\(message))" }
            Output.row(line)
        }
        var counts: [AnnotationImportOutcome.Status: Int] = [:]
        for outcome in outcomes { counts[outcome.status, default: 0] += 1 }
        Output.row("\(outcomes.count) annotations: \(counts[.created] ?? 0) anchored, \(counts[.orphaned] ?? 0) orphaned, "
            + "\(counts[.unchanged] ?? 0) unchanged, \(counts[.skipped] ?? 0) skipped")
    }

    /// Expands globs the shell left alone; a pattern that matches nothing is an error.
    static func expand(_ patterns: [String]) throws -> [String] {
        var out: [String] = []
        for pattern in patterns {
            guard pattern != "-", !PageFetcher.looksLikeURL(pattern), pattern.contains(where: { "*?[".contains($0) }),
                  !FileManager.default.fileExists(atPath: pattern)
            else {
                out.append(pattern)
                continue
            }
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(pattern, 0, nil, &result) == 0, result.gl_pathc > 0 else {
                throw CLIError(message: "margin: no file matches \(pattern)", code: ExitStatus.failure)
            }
            for i in 0..<Int(result.gl_pathc) {
                if let p = result.gl_pathv[i] { out.append(String(cString: p)) }
            }
        }
        return out
    }
}
