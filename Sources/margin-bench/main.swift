// margin-bench: the standard workload, measured side by side with plain SQLite and a CRDT peer.
// Run it through Scripts/bench (release build). Prints a table and writes the figures as JSON.
//
// usage: margin-bench [--articles N] [--annotations N] [--edits N] [--corpus CSV] [--crdt-script PY]
//                     [--page-size N] [--json FILE] [--apply-only] [--smoke]
// internal roles (the bench runs them as child processes, so each has its own peak memory):
//        margin-bench serve --store PATH          serves a store on 127.0.0.1, prints "port N"
//        margin-bench pull --store PATH --url URL [--page-size N]
//                                                 first sync of a new, empty replica; prints JSON
import Foundation
import GRDB
import Hummingbird
import Logging
import MarginStore
import MarginSync

// MARK: - Options

struct Options {
    var articles = 10_000
    var annotations = 50_000
    var edits = 1_000
    var corpus: String?
    var crdtScript: String?
    var pageSize = SyncProtocol.defaultPageSize
    var applyBatch = SyncProtocol.maxBatch
    var json: String?
    /// Only build the change set and apply it in-process (for profiling).
    var applyOnly = false
    /// A smoke run (CI): figures are printed but targets are not judged.
    var smoke = false
    // roles
    var store: String?
    var url: String?

    init(_ arguments: [String]) {
        var i = 0
        func value(_ name: String) -> String {
            guard i + 1 < arguments.count else { fail("\(name) needs a value") }
            i += 1
            return arguments[i]
        }
        func number(_ name: String) -> Int {
            let text = value(name)
            guard let n = Int(text), n >= 0 else { fail("\(name) takes a whole number, not \(text)") }
            return n
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--articles": articles = number("--articles")
            case "--annotations": annotations = number("--annotations")
            case "--edits": edits = number("--edits")
            case "--corpus": corpus = value("--corpus")
            case "--crdt-script": crdtScript = value("--crdt-script")
            case "--page-size": pageSize = number("--page-size")
            case "--apply-batch": applyBatch = number("--apply-batch")
            case "--json": json = value("--json")
            case "--apply-only": applyOnly = true
            case "--smoke": smoke = true
            case "--store": store = value("--store")
            case "--url": url = value("--url")
            default: fail("unknown argument \(arguments[i]); see the usage at the top of Sources/margin-bench/main.swift")
            }
            i += 1
        }
        if articles < 1 { fail("--articles must be at least 1") }
        if pageSize < 1 || pageSize > SyncProtocol.maxBatch { fail("--page-size must be 1 to \(SyncProtocol.maxBatch)") }
        if applyBatch < 1 || applyBatch > SyncProtocol.maxBatch { fail("--apply-batch must be 1 to \(SyncProtocol.maxBatch)") }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("margin-bench: \(message)\n".utf8))
    exit(64)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("margin-bench: \(message)\n".utf8))
}

// MARK: - Measuring

func seconds(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The resident-set high-water mark of a process (VmHWM), in MB.
func peakMemoryMB(pid: String = "self") -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

/// CPU seconds this process has used (user + system): with other work on the machine, wall time
/// includes waiting for a core, CPU time does not.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// The 1-minute load average: how busy the machine was (other processes competing for cores).
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").first.map(String.init) ?? "?"
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// SplitMix64: the workload is the same on every run.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}

// MARK: - The workload

struct BenchArticle {
    var url: String
    var title: String
    var source: String
    var publishedAt: String
    var body: String
    var id: String
    var length: Int
}

struct BenchAnnotation {
    var article: Int
    var start: Int
    var end: Int
    var note: String
    var tags: [String]
}

struct BenchEdit {
    var annotation: Int
    /// A new note, or nil for a tag added.
    var note: String?
    var tag: String
}

struct Workload {
    var articles: [BenchArticle] = []
    var annotations: [BenchAnnotation] = []
    var edits: [BenchEdit] = []
    var corpusUsed = false

    static let tags = [
        "politics", "economy", "climate", "health", "sport", "science", "europe", "asia", "africa", "americas",
        "elections", "energy", "courts", "disaster", "technology", "follow-up", "quote", "fact-check", "to-read",
        "important",
    ]
    static let notes = [
        "Check these figures against last year's report.",
        "The ministry's own statement says otherwise; find the source.",
        "Good quote for the weekly summary.",
        "Compare with the coverage in the regional press.",
        "Who is the unnamed official? Ask the desk.",
        "This contradicts the second paragraph.",
        "Follow up in a month: did the vote happen?",
        "Background for the explainer on energy prices.",
    ]

    /// Articles made by recombining the corpus paragraphs (each article: the headline and opening
    /// paragraph of one story followed by paragraphs of others), or generated text without a corpus.
    init(options: Options) {
        var random = Random(state: 0x6d61_7267_696e)
        var sources: [ImportedArticle] = []
        if let corpus = options.corpus, let data = FileManager.default.contents(atPath: corpus) {
            sources = (try? ArticleImporter.parse(data, format: .csv, filename: corpus)) ?? []
        }
        corpusUsed = !sources.isEmpty
        if !corpusUsed {
            note("no corpus (\(options.corpus ?? "none given")): using generated text instead of wikinews articles")
            let words = "the minister said on tuesday that budget talks with regional leaders would continue after a storm closed roads across the north while prices of energy rose again and courts weighed an appeal".split(separator: " ")
            for n in 0..<20 {
                var paragraphs: [String] = []
                for _ in 0..<6 {
                    paragraphs.append((0..<60).map { _ in String(words[random.below(words.count)]) }.joined(separator: " ") + ".")
                }
                sources.append(ImportedArticle(
                    url: nil, title: "Generated story \(n)", publishedAt: "2019-01-01", body: paragraphs.joined(separator: "\n\n")))
            }
        }
        let paragraphs = sources.map { article in
            article.body.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }
        }
        for n in 0..<options.articles {
            let lead = random.below(sources.count)
            var body = Array(paragraphs[lead].prefix(2))
            for _ in 0..<(2 + random.below(4)) {
                let other = paragraphs[random.below(sources.count)]
                if !other.isEmpty { body.append(other[random.below(other.count)]) }
            }
            let text = body.joined(separator: "\n\n")
            let url = "https://news.bench.margin.invalid/story/\(n)"
            articles.append(BenchArticle(
                url: url, title: "\(sources[lead].title) (\(n))", source: "Wikinews",
                publishedAt: sources[lead].publishedAt ?? "2019-01-01", body: text,
                id: ArticleIdentity.id(url: ArticleIdentity.canonicalURL(url), title: "", body: ""),
                length: TextAnchor.length(text)))
        }
        for n in 0..<options.annotations {
            let article = (n * 7919) % articles.count
            let length = articles[article].length
            let span = min(length, 12 + random.below(60))
            let start = random.below(length - span + 1)
            let tags = (0..<(1 + random.below(3))).map { _ in Self.tags[random.below(Self.tags.count)] }
            annotations.append(BenchAnnotation(
                article: article, start: start, end: start + span,
                note: "\(Self.notes[random.below(Self.notes.count)]) (\(n))", tags: Array(Set(tags)).sorted()))
        }
        for n in 0..<(annotations.isEmpty ? 0 : options.edits) {
            let annotation = random.below(annotations.count)
            if n % 10 < 7 {
                edits.append(BenchEdit(annotation: annotation, note: "Edited: \(Self.notes[random.below(Self.notes.count)]) (\(n))", tag: ""))
            } else {
                edits.append(BenchEdit(annotation: annotation, note: nil, tag: "edit-\(n % 13)"))
            }
        }
    }
}

// MARK: - Part 1: local writes, Margin and plain SQLite

struct WriteTimes {
    var importSeconds = 0.0
    var annotateSeconds = 0.0
    var editSeconds = 0.0
    var total: Double { importSeconds + annotateSeconds + editSeconds }
}

let articleBatch = 100
let annotationBatch = 1_000

/// Margin's own path: `importArticles` in batches, `highlight` in batches, then each edit in its
/// own transaction (as the CLI makes them).
func marginWrites(_ store: Store, _ workload: Workload) throws -> (WriteTimes, [String]) {
    var times = WriteTimes()
    var start = ContinuousClock.now
    for first in stride(from: 0, to: workload.articles.count, by: articleBatch) {
        let batch = workload.articles[first..<min(workload.articles.count, first + articleBatch)].map {
            ImportedArticle(url: $0.url, title: $0.title, source: $0.source, publishedAt: $0.publishedAt, language: "en", body: $0.body)
        }
        _ = try store.importArticles(batch)
    }
    times.importSeconds = seconds(start)
    start = ContinuousClock.now
    var ids: [String] = []
    for first in stride(from: 0, to: workload.annotations.count, by: annotationBatch) {
        let batch = workload.annotations[first..<min(workload.annotations.count, first + annotationBatch)].map {
            Store.HighlightRequest(
                articleRef: workload.articles[$0.article].id, anchor: .position(start: $0.start, end: $0.end),
                note: $0.note, tags: $0.tags)
        }
        ids += try store.highlight(batch)
    }
    times.annotateSeconds = seconds(start)
    start = ContinuousClock.now
    for edit in workload.edits {
        if let text = edit.note {
            try store.setNote(annotationRef: ids[edit.annotation], text: text)
        } else {
            try store.addTags(ref: ids[edit.annotation], tags: [edit.tag])
        }
    }
    times.editSeconds = seconds(start)
    return (times, ids)
}

/// The same rows in plain SQLite: Margin's article, annotation and tag tables with their indexes
/// and full-text indexes (copied from Schema/), no change log, no merge state. The full-text
/// entries are written as Margin writes them: after the rows, in the same transaction (one
/// statement per transaction here), not by a trigger per row (FTS5 flushes its pending terms at
/// every statement savepoint, and a trigger makes every row's statement one).
let plainSchema = """
    CREATE TABLE article (
        num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, url TEXT, title TEXT, byline TEXT, source TEXT,
        published_at TEXT, language TEXT, body TEXT, caption TEXT, content_hash TEXT,
        deleted INTEGER NOT NULL DEFAULT 0, created_hlc INTEGER NOT NULL, updated_hlc INTEGER NOT NULL);
    CREATE INDEX article_by_url ON article(url);
    CREATE INDEX article_by_source ON article(source);
    CREATE TABLE annotation (
        num INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT, motivation TEXT, exact TEXT, prefix TEXT,
        suffix TEXT, start INTEGER, "end" INTEGER, revision TEXT, note TEXT, color TEXT, author TEXT,
        deleted INTEGER NOT NULL DEFAULT 0, created_hlc INTEGER NOT NULL, updated_hlc INTEGER NOT NULL);
    CREATE INDEX annotation_by_article ON annotation(article_id, start);
    CREATE TABLE tag (entity_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (entity_id, tag)) WITHOUT ROWID;
    CREATE INDEX tag_by_name ON tag(tag);
    CREATE VIRTUAL TABLE article_fts USING fts5(
        title, body, content='article', content_rowid='num', tokenize='unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE note_fts USING fts5(
        note, content='annotation', content_rowid='num', tokenize='unicode61 remove_diacritics 2');
    """

/// Plain SQLite with Margin's durability: WAL (a DatabasePool), synchronous FULL, the same
/// transactions (articles by 100, annotations by 1,000, one per edit).
func plainWrites(path: String, _ workload: Workload) throws -> WriteTimes {
    var config = Configuration()
    config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let pool = try DatabasePool(path: path, configuration: config)
    try pool.write { db in try db.execute(sql: plainSchema) }
    let targets = workload.annotations.map { a -> TextTarget in
        // What the editor hands over: the quote and its context, already found.
        (try? TextAnchor.target(in: workload.articles[a.article].body, start: a.start, end: a.end))
            ?? TextTarget(exact: "", prefix: "", suffix: "", start: a.start, end: a.end)
    }
    var times = WriteTimes()
    var clock: Int64 = 1
    var start = ContinuousClock.now
    for first in stride(from: 0, to: workload.articles.count, by: articleBatch) {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO article(id, url, title, source, published_at, language, body, content_hash, created_hlc, updated_hlc)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let before = try Int64.fetchOne(db, sql: "SELECT ifnull(max(num), 0) FROM article") ?? 0
            for a in workload.articles[first..<min(workload.articles.count, first + articleBatch)] {
                clock += 1
                try insert.execute(arguments: [
                    a.id, a.url, a.title, a.source, a.publishedAt, "en", a.body, ArticleIdentity.sha256Hex(a.body), clock, clock,
                ])
            }
            try db.execute(
                sql: "INSERT INTO article_fts(rowid, title, body) SELECT num, title, body FROM article WHERE num > ?",
                arguments: [before])
        }
    }
    times.importSeconds = seconds(start)
    start = ContinuousClock.now
    var ids: [String] = []
    for first in stride(from: 0, to: workload.annotations.count, by: annotationBatch) {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO annotation(id, article_id, motivation, exact, prefix, suffix, start, "end", revision, note,
                                       author, created_hlc, updated_hlc)
                VALUES (?, ?, 'commenting', ?, ?, ?, ?, ?, ?, ?, 'bench', ?, ?)
                """)
            let tag = try db.cachedStatement(sql: "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)")
            let before = try Int64.fetchOne(db, sql: "SELECT ifnull(max(num), 0) FROM annotation") ?? 0
            for n in first..<min(workload.annotations.count, first + annotationBatch) {
                let a = workload.annotations[n]
                let target = targets[n]
                let id = UUIDv7.make()
                ids.append(id)
                clock += 1
                try insert.execute(arguments: [
                    id, workload.articles[a.article].id, target.exact, target.prefix, target.suffix, a.start, a.end,
                    ArticleIdentity.sha256Hex(workload.articles[a.article].body), a.note, clock, clock,
                ])
                for t in a.tags { try tag.execute(arguments: [id, t]) }
            }
            try db.execute(
                sql: "INSERT INTO note_fts(rowid, note) SELECT num, note FROM annotation WHERE num > ?", arguments: [before])
        }
    }
    times.annotateSeconds = seconds(start)
    start = ContinuousClock.now
    for edit in workload.edits {
        clock += 1
        try pool.write { db in
            if let text = edit.note {
                let old = try Row.fetchOne(db, sql: "SELECT num, note FROM annotation WHERE id = ?", arguments: [ids[edit.annotation]])!
                try db.execute(
                    sql: "UPDATE annotation SET note = ?, updated_hlc = ? WHERE id = ?",
                    arguments: [text, clock, ids[edit.annotation]])
                try db.execute(
                    sql: "INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', ?, ?)", arguments: [old[0], old[1]])
                try db.execute(sql: "INSERT INTO note_fts(rowid, note) VALUES (?, ?)", arguments: [old[0], text])
            } else {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)", arguments: [ids[edit.annotation], edit.tag])
            }
        }
    }
    times.editSeconds = seconds(start)
    try pool.close()
    return times
}

// MARK: - Child processes

func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct Child {
    let process: Process
    let output: Pipe

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath())
        process.arguments = arguments
        output = Pipe()
        process.standardOutput = output
        try process.run()
    }

    /// The first line the child prints.
    func readLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let data = output.fileHandleForReading.readData(ofLength: 1)
            if data.isEmpty || data.first == UInt8(ascii: "\n") { break }
            bytes += data
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func finish() -> Data {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}

/// A `margin-bench serve` child: the hub, in its own process.
struct ServerChild {
    let child: Child
    let url: URL

    init(store: String) throws {
        child = try Child(["serve", "--store", store])
        let line = child.readLine()
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5)) else {
            fail("the serving child did not start (said \(line.debugDescription))")
        }
        url = URL(string: "http://127.0.0.1:\(port)")!
    }

    var peakMB: Double { peakMemoryMB(pid: String(child.process.processIdentifier)) }

    func stop() {
        child.process.terminate()
        _ = child.finish()
    }
}

struct PullResult: Codable {
    var seconds: Double
    var received: Int
    var requests: Int
    var bytesSent: Int
    var bytesReceived: Int
    var peakMemoryMB: Double
}

/// First sync of a new, empty replica from `url`, in a `margin-bench pull` child.
func firstSync(store: String, url: URL, pageSize: Int) throws -> PullResult {
    let child = try Child(["pull", "--store", store, "--url", url.absoluteString, "--page-size", String(pageSize)])
    let data = child.finish()
    guard child.process.terminationStatus == 0, let result = try? JSONDecoder().decode(PullResult.self, from: data) else {
        fail("the pulling child failed (exit \(child.process.terminationStatus))")
    }
    return result
}

func serveRole(_ options: Options) async throws {
    guard let path = options.store else { fail("serve needs --store PATH") }
    let store = try Store.open(at: path)
    let app = SyncServer.buildApplication(store: store, host: "127.0.0.1", port: 0) { port in
        FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
    }
    try await app.runService()
}

func pullRole(_ options: Options) async throws {
    guard let path = options.store, let url = options.url.flatMap(URL.init(string:)) else {
        fail("pull needs --store PATH and --url URL")
    }
    let store = try Store.create(at: path, name: "laptop")
    let reconciler = Reconciler(store: store, client: SyncClient(baseURL: url, timeout: 300), pageSize: options.pageSize)
    let start = ContinuousClock.now
    let report = try await reconciler.run(remote: "hub")
    let result = PullResult(
        seconds: seconds(start), received: report.received, requests: report.requests, bytesSent: report.bytesSent,
        bytesReceived: report.bytesReceived, peakMemoryMB: peakMemoryMB())
    FileHandle.standardOutput.write(try JSONEncoder().encode(result))
}

// MARK: - Sync measurements

struct SmallSync {
    var requests = 0
    var bytes = 0
    var ms = 0.0
}

/// No-op syncs (median of `runs`), then one new annotation pushed each time (median of `runs`).
func smallSyncs(laptop: Store, url: URL, runs: Int) async throws -> (noop: SmallSync, one: SmallSync) {
    let client = SyncClient(baseURL: url)
    let reconciler = Reconciler(store: laptop, client: client)
    _ = try await reconciler.run(remote: "hub")  // settle
    var noop = SmallSync()
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        let report = try await reconciler.run(remote: "hub")
        times.append(seconds(start) * 1000)
        noop = SmallSync(requests: report.requests, bytes: report.bytesSent + report.bytesReceived, ms: 0)
    }
    noop.ms = median(times)
    let url = "https://news.bench.margin.invalid/one-more"
    _ = try laptop.importArticles([ImportedArticle(url: url, title: "One more", body: "One small story about the weather.")])
    _ = try await reconciler.run(remote: "hub")
    let article = ArticleIdentity.id(url: ArticleIdentity.canonicalURL(url), title: "", body: "")
    var one = SmallSync()
    times = []
    for n in 0..<runs {
        _ = try laptop.highlight(articleRef: article, anchor: .position(start: 4 + n % 5, end: 9 + n % 5), note: "n\(n)")
        let start = ContinuousClock.now
        let report = try await reconciler.run(remote: "hub")
        times.append(seconds(start) * 1000)
        one = SmallSync(requests: report.requests, bytes: report.bytesSent + report.bytesReceived, ms: 0)
    }
    one.ms = median(times)
    return (noop, one)
}

/// All of a store's changes, as a peer would pull them.
func allChanges(_ store: Store) throws -> [Change] {
    var out: [Change] = []
    var vector = VersionVector()
    while true {
        let page = try store.changes(after: vector, limit: SyncProtocol.maxBatch)
        for change in page.changes { vector[change.origin] = max(vector[change.origin], change.seq) }
        out += page.changes
        if !page.more { break }
    }
    return out
}

func applyInProcess(_ store: Store, _ changes: ArraySlice<Change>, batch: Int) throws -> Double {
    let start = ContinuousClock.now
    for first in stride(from: changes.startIndex, to: changes.endIndex, by: batch) {
        _ = try store.apply(Array(changes[first..<min(changes.endIndex, first + batch)]))
    }
    return seconds(start)
}

// MARK: - The CRDT peer

struct CRDTResult: Codable {
    var writeSeconds: Double
    var syncSeconds: Double
    var syncBytes: Int
    var noopBytes: Int
    var noopMs: Double
    var oneBytes: Int
    var oneMs: Double
    var peakMemoryMB: Double
    var pycrdtVersion: String

    enum CodingKeys: String, CodingKey {
        case writeSeconds = "write_seconds", syncSeconds = "sync_seconds", syncBytes = "sync_bytes",
             noopBytes = "noop_bytes", noopMs = "noop_ms", oneBytes = "one_bytes", oneMs = "one_ms",
             peakMemoryMB = "peak_memory_mb", pycrdtVersion = "pycrdt_version"
    }
}

func runCRDT(script: String, workload: Workload, ids: [String], dir: URL) throws -> CRDTResult? {
    var articles: [[String: Any]] = []
    for a in workload.articles {
        articles.append(["id": a.id, "url": a.url, "title": a.title, "source": a.source, "published_at": a.publishedAt,
                         "language": "en", "body": a.body, "content_hash": ArticleIdentity.sha256Hex(a.body)])
    }
    var annotations: [[String: Any]] = []
    for (n, a) in workload.annotations.enumerated() {
        let target = try TextAnchor.target(in: workload.articles[a.article].body, start: a.start, end: a.end)
        annotations.append(["id": ids[n], "article_id": workload.articles[a.article].id, "motivation": "commenting",
                            "exact": target.exact, "prefix": target.prefix, "suffix": target.suffix, "start": a.start,
                            "end": a.end, "note": a.note, "tags": a.tags, "author": "bench"])
    }
    let edits: [[String: Any]] = workload.edits.map { e in
        e.note.map { ["annotation": ids[e.annotation], "note": $0] } ?? ["annotation": ids[e.annotation], "tag": e.tag]
    }
    let input = dir.appendingPathComponent("crdt-workload.json")
    try JSONSerialization.data(withJSONObject: ["articles": articles, "annotations": annotations, "edits": edits,
                                                "article_batch": articleBatch, "annotation_batch": annotationBatch])
        .write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, input.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        note("the pycrdt peer did not run (exit \(process.terminationStatus)); its row is left out")
        return nil
    }
    return try JSONDecoder().decode(CRDTResult.self, from: data)
}

// MARK: - The run

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

func grouped(_ n: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: n.rounded())) ?? String(Int(n))
}

func benchmark(_ options: Options) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    var figures: [String: Double] = [:]
    var rows: [(String, String, String, String, String)] = []  // measure, Margin, baseline, ratio, target
    var targets: [String: Bool] = [:]

    let loadAtStart = loadAverage()
    let workload = Workload(options: options)
    figures["articles"] = Double(workload.articles.count)
    figures["annotations"] = Double(workload.annotations.count)
    figures["edits"] = Double(workload.edits.count)
    note("workload: \(workload.articles.count) articles (\(workload.corpusUsed ? "recombined wikinews" : "generated text")), "
         + "\(workload.annotations.count) annotations, \(workload.edits.count) edits")

    // 1. Local writes.
    let source = try Store.create(at: path("source.sqlite"), name: "source")
    var changes: [Change] = []
    var ids: [String] = []
    if options.applyOnly {
        (_, ids) = try marginWrites(source, workload)
    } else {
        note("1/5 local writes: plain SQLite, then Margin")
        let plain = try plainWrites(path: path("plain.sqlite"), workload)
        let margin: WriteTimes
        (margin, ids) = try marginWrites(source, workload)
        for (name, m, p) in [("import articles", margin.importSeconds, plain.importSeconds),
                             ("annotate", margin.annotateSeconds, plain.annotateSeconds),
                             ("edits (1 transaction each)", margin.editSeconds, plain.editSeconds)] {
            rows.append(("local write: \(name), s", format(m), format(p), format(m / p) + "×", ""))
        }
        let ratio = margin.total / plain.total
        targets["local_write_ratio"] = ratio <= 1.5
        rows.append(("**local write: total, s**", format(margin.total), format(plain.total), format(ratio) + "×", "≤ 1.5×"))
        figures["write_margin_import_s"] = margin.importSeconds
        figures["write_margin_annotate_s"] = margin.annotateSeconds
        figures["write_margin_edits_s"] = margin.editSeconds
        figures["write_margin_total_s"] = margin.total
        figures["write_plain_import_s"] = plain.importSeconds
        figures["write_plain_annotate_s"] = plain.annotateSeconds
        figures["write_plain_edits_s"] = plain.editSeconds
        figures["write_plain_total_s"] = plain.total
        figures["write_ratio"] = ratio
    }
    changes = try allChanges(source)
    figures["changes"] = Double(changes.count)

    // 2. Apply rate, in-process.
    note("2/5 applying \(changes.count) changes in-process")
    let hubPath = path("hub.sqlite")
    let hub = try Store.create(at: hubPath, name: "hub")
    let cpuBefore = cpuSeconds()
    let applySeconds = try applyInProcess(hub, changes[...], batch: options.applyBatch)
    let applyCPU = cpuSeconds() - cpuBefore
    let applyRate = Double(changes.count) / applySeconds
    figures["apply_cpu_seconds"] = applyCPU
    figures["apply_changes_per_cpu_s"] = Double(changes.count) / applyCPU
    figures["apply_changes"] = Double(changes.count)
    figures["apply_seconds"] = applySeconds
    figures["apply_changes_per_s"] = applyRate
    targets["apply_rate"] = applyRate >= 100_000
    if options.applyOnly {
        print("applied \(changes.count) changes in \(format(applySeconds)) s: \(grouped(applyRate)) changes/s "
              + "(\(format(applyCPU)) CPU s: \(grouped(Double(changes.count) / applyCPU)) changes per CPU second)")
        return
    }
    rows.append(("**apply in-process (\(grouped(Double(changes.count))) changes, batches of \(options.applyBatch)), changes/s**",
                 grouped(applyRate), "", "", "≥ 100,000"))
    rows.append(("… per CPU second (\(format(applyCPU)) CPU s)", grouped(Double(changes.count) / applyCPU), "", "", ""))

    // 2b. Apply over HTTP: the same batches pushed to a live server in this process.
    note("2/5 pushing \(changes.count) changes over HTTP")
    let relay = try Store.create(at: path("relay.sqlite"), name: "relay")
    let ready = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "margin-bench.serve")
    quiet.logLevel = .critical  // cancelling the server at the end is not an error
    let app = SyncServer.buildApplication(store: relay, host: "127.0.0.1", port: 0, logger: quiet) { port in
        ready.continuation.yield(port)
    }
    let server = Task { try await app.runService() }
    var port = 0
    for await p in ready.stream { port = p; break }
    let pusher = SyncClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!, timeout: 300)
    let start = ContinuousClock.now
    for first in stride(from: 0, to: changes.count, by: options.applyBatch) {
        _ = try await pusher.push(Array(changes[first..<min(changes.count, first + options.applyBatch)]))
    }
    let httpSeconds = seconds(start)
    server.cancel()
    _ = await server.result
    figures["apply_http_seconds"] = httpSeconds
    figures["apply_http_changes_per_s"] = Double(changes.count) / httpSeconds
    figures["apply_http_bytes"] = Double(pusher.stats.bytesSent + pusher.stats.bytesReceived)
    rows.append(("apply over HTTP (POST /v1/changes, loopback), changes/s", grouped(Double(changes.count) / httpSeconds), "", "", ""))

    // 3. First sync of an empty laptop, hub and laptop in their own processes; a hub a tenth the
    // size shows whether the laptop's memory follows the store's size or the page size.
    note("3/5 first sync from a hub holding everything (separate processes)")
    let small = try Store.create(at: path("hub-small.sqlite"), name: "hub-small")
    let smallCount = max(1, changes.count / 10)
    _ = try applyInProcess(small, changes[..<smallCount], batch: options.applyBatch)
    let hubServer = try ServerChild(store: hubPath)
    let full = try firstSync(store: path("laptop.sqlite"), url: hubServer.url, pageSize: options.pageSize)
    let hubPeak = hubServer.peakMB
    let smallServer = try ServerChild(store: path("hub-small.sqlite"))
    let tenth = try firstSync(store: path("laptop-small.sqlite"), url: smallServer.url, pageSize: options.pageSize)
    let smallHubPeak = smallServer.peakMB
    let plainTotal = figures["write_plain_total_s"]!
    let firstRatio = full.seconds / plainTotal
    targets["first_sync_within_3x_plain"] = firstRatio <= 3
    // Bounded: the laptop's peak at full size stays within 1.5× its peak at a tenth of the size.
    targets["client_memory_bounded"] = full.peakMemoryMB <= tenth.peakMemoryMB * 1.5
    figures["first_sync_seconds"] = full.seconds
    figures["first_sync_changes"] = Double(full.received)
    figures["first_sync_changes_per_s"] = Double(full.received) / full.seconds
    figures["first_sync_requests"] = Double(full.requests)
    figures["first_sync_bytes"] = Double(full.bytesSent + full.bytesReceived)
    figures["first_sync_client_peak_mb"] = full.peakMemoryMB
    figures["first_sync_server_peak_mb"] = hubPeak
    figures["first_sync_ratio_to_plain_insert"] = firstRatio
    figures["first_sync_tenth_changes"] = Double(tenth.received)
    figures["first_sync_tenth_seconds"] = tenth.seconds
    figures["first_sync_tenth_client_peak_mb"] = tenth.peakMemoryMB
    figures["first_sync_tenth_server_peak_mb"] = smallHubPeak
    rows.append(("**first sync, s** (vs plain SQLite inserting the same rows)", format(full.seconds), format(plainTotal),
                 format(firstRatio) + "×", "≤ 3×"))
    rows.append(("first sync: changes/s, requests (page \(options.pageSize))",
                 "\(grouped(Double(full.received) / full.seconds)), \(full.requests)", "", "", ""))
    rows.append(("first sync: bytes on the wire", grouped(Double(full.bytesSent + full.bytesReceived)), "", "", ""))
    rows.append(("**first sync: peak memory, client / server, MB**",
                 "\(format(full.peakMemoryMB, 0)) / \(format(hubPeak, 0))", "", "", "client bounded"))
    rows.append(("… at a tenth of the size (\(grouped(Double(tenth.received))) changes), client / server, MB",
                 "\(format(tenth.peakMemoryMB, 0)) / \(format(smallHubPeak, 0))", "", "", ""))

    // 4. No-op and one-annotation syncs, at both sizes.
    note("4/5 no-op and one-annotation syncs")
    let runs = options.smoke ? 5 : 21
    let laptop = try Store.open(at: path("laptop.sqlite"))
    let (noop, one) = try await smallSyncs(laptop: laptop, url: hubServer.url, runs: runs)
    let laptopSmall = try Store.open(at: path("laptop-small.sqlite"))
    let (noopSmall, oneSmall) = try await smallSyncs(laptop: laptopSmall, url: smallServer.url, runs: runs)
    hubServer.stop()
    smallServer.stop()
    for (key, s) in [("noop", noop), ("one_annotation", one), ("noop_tenth", noopSmall), ("one_annotation_tenth", oneSmall)] {
        figures["\(key)_requests"] = Double(s.requests)
        figures["\(key)_bytes"] = Double(s.bytes)
        figures["\(key)_ms_median"] = s.ms
    }
    targets["noop_one_round_trip_under_1kb"] = noop.requests == 1 && noop.bytes < 1024
    // Independent of size: the full store's median within 2 ms or 1.5× of the tenth's.
    targets["noop_time_independent_of_size"] = noop.ms <= max(noopSmall.ms * 1.5, noopSmall.ms + 2)
    rows.append(("**no-op sync: requests, bytes, ms (median of \(runs))**",
                 "\(noop.requests), \(noop.bytes), \(format(noop.ms))", "", "", "1 round trip, < 1 KB"))
    rows.append(("… at a tenth of the size", "\(noopSmall.requests), \(noopSmall.bytes), \(format(noopSmall.ms))", "", "",
                 "same time"))
    rows.append(("one-annotation sync: requests, bytes, ms (median of \(runs))",
                 "\(one.requests), \(one.bytes), \(format(one.ms))", "", "", ""))
    rows.append(("… at a tenth of the size", "\(oneSmall.requests), \(oneSmall.bytes), \(format(oneSmall.ms))", "", "", ""))

    let equal = try hub.exportJSON() == laptop.exportJSON()
    figures["stores_equal"] = equal ? 1 : 0

    // 5. The CRDT peer.
    if let script = options.crdtScript {
        note("5/5 the same records between two pycrdt documents")
        if let crdt = try runCRDT(script: script, workload: workload, ids: ids, dir: dir) {
            let marginWrite = figures["write_margin_total_s"]!
            figures["crdt_write_seconds"] = crdt.writeSeconds
            figures["crdt_sync_seconds"] = crdt.syncSeconds
            figures["crdt_sync_bytes"] = Double(crdt.syncBytes)
            figures["crdt_noop_bytes"] = Double(crdt.noopBytes)
            figures["crdt_noop_ms"] = crdt.noopMs
            figures["crdt_one_annotation_bytes"] = Double(crdt.oneBytes)
            figures["crdt_one_annotation_ms"] = crdt.oneMs
            figures["crdt_peak_mb"] = crdt.peakMemoryMB
            rows.append(("pycrdt \(crdt.pycrdtVersion): local write (in memory), s", format(marginWrite),
                         format(crdt.writeSeconds), format(marginWrite / crdt.writeSeconds) + "×", ""))
            rows.append(("pycrdt: first sync (one update, in memory, no disk), s", format(full.seconds),
                         format(crdt.syncSeconds), format(full.seconds / crdt.syncSeconds) + "×", ""))
            rows.append(("pycrdt: first sync bytes", grouped(Double(full.bytesSent + full.bytesReceived)),
                         grouped(Double(crdt.syncBytes)),
                         format(Double(full.bytesSent + full.bytesReceived) / Double(max(crdt.syncBytes, 1))) + "×", ""))
            rows.append(("pycrdt: no-op sync bytes, ms", "\(noop.bytes), \(format(noop.ms))",
                         "\(crdt.noopBytes), \(format(crdt.noopMs, 3))", "", ""))
            rows.append(("pycrdt: one-annotation sync bytes, ms", "\(one.bytes), \(format(one.ms))",
                         "\(crdt.oneBytes), \(format(crdt.oneMs, 3))", "", ""))
        }
    } else {
        note("5/5 skipped: no --crdt-script")
    }

    print("workload: \(workload.articles.count) articles, \(workload.annotations.count) annotations, "
          + "\(workload.edits.count) edits = \(grouped(Double(changes.count))) changes; "
          + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAtStart) at the start, \(loadAverage()) at the end")
    print("")
    print("| measure | Margin | baseline | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows { print("| \(row.0) | \(row.1) | \(row.2) | \(row.3) | \(row.4) |") }
    print("")
    if options.smoke {
        print("smoke run: targets are judged at the default size only")
    } else {
        for key in targets.keys.sorted() { print("target \(key): \(targets[key]! ? "met" : "NOT met")") }
    }
    print("stores equal after sync: \(equal)")
    if let json = options.json {
        let object: [String: Any] = ["figures": figures, "targets": targets, "smoke": options.smoke,
                                     "corpus": workload.corpusUsed ? "wikinews (recombined)" : "generated"]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: URL(fileURLWithPath: json))
        print("figures written to \(json)")
    }
    if !equal { exit(1) }
}

// MARK: - Main

var arguments = Array(CommandLine.arguments.dropFirst())
let role = arguments.first.flatMap { ["serve", "pull"].contains($0) ? $0 : nil }
if role != nil { arguments.removeFirst() }
let options = Options(arguments)
do {
    switch role {
    case "serve": try await serveRole(options)
    case "pull": try await pullRole(options)
    default: try await benchmark(options)
    }
} catch {
    FileHandle.standardError.write(Data("margin-bench: \(error)\n".utf8))
    exit(1)
}
