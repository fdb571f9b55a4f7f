import Foundation
import MarginStore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// End-to-end tests: each one runs the built `margin` binary against its own store in a fresh
// temporary folder, and checks what a user or a script sees: stdout, stderr, exit codes, and
// the change log (so an error is also checked to have written nothing).

// MARK: - Running margin

/// What a finished process left behind.
typealias CLIResult = (status: Int32, stdout: String, stderr: String)

/// The package's root folder (this file is Tests/MarginCLITests/CLITests.swift).
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `shared` folder that sits next to the repository.
let sharedFolder = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

let seedStory = packageRoot.appendingPathComponent(
    "Tests/MarginStoreTests/Fixtures/yonhap-blinken-seoul-2021-03-17.txt")
let wikinewsCSV = sharedFolder.appendingPathComponent("corpora/wikinews/wikinews_2019.csv")
let w3cValidator = sharedFolder.appendingPathComponent("conformance/validate-w3c-annotations")

/// The built `margin`: the first executable of that name in a folder above the test bundle
/// (SwiftPM puts both in .build/<triple>/<config>/), else <package>/.build/debug/margin.
let marginBinary: URL = {
    var starts = [URL(fileURLWithPath: CommandLine.arguments[0])]
    if let executable = Bundle.main.executableURL { starts.append(executable) }
    for start in starts {
        var folder = start.standardizedFileURL.deletingLastPathComponent()
        while folder.path != "/" && !folder.path.isEmpty {
            let candidate = folder.appendingPathComponent("margin")
            if isExecutableFile(candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
    }
    return packageRoot.appendingPathComponent(".build/debug/margin")
}()

func isExecutableFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        && FileManager.default.isExecutableFile(atPath: path)
}

/// An executable found on $PATH.
func findOnPath(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
        .first { isExecutableFile($0.path) }
}

/// Runs an executable to the end. Output goes to files, not pipes, so a chatty child never
/// blocks on a full pipe while we wait for it.
func runProcess(
    _ executable: URL, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil,
    directory: URL? = nil, sourceLocation: SourceLocation = #_sourceLocation
) -> CLIResult {
    let fileManager = FileManager.default
    let scratch = fileManager.temporaryDirectory.appendingPathComponent("margin-run-\(UUID().uuidString)")
    do {
        try fileManager.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        let inURL = scratch.appendingPathComponent("stdin")
        _ = fileManager.createFile(atPath: outURL.path, contents: nil)
        _ = fileManager.createFile(atPath: errURL.path, contents: nil)
        _ = fileManager.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let input = try FileHandle(forReadingFrom: inURL)
        defer {
            try? out.close()
            try? err.close()
            try? input.close()
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        process.waitUntilExit()
        let result = (
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
        if process.terminationReason == .uncaughtSignal {
            Issue.record(
                "\(executable.lastPathComponent) \(arguments) crashed with signal \(result.status)\n\(result.stderr)",
                sourceLocation: sourceLocation)
        }
        return result
    } catch {
        Issue.record("cannot run \(executable.path): \(error)", sourceLocation: sourceLocation)
        return (status: -1, stdout: "", stderr: "")
    }
}

/// Runs `margin` with these arguments. `env` is added to an environment without MARGIN_STORE and
/// with XDG_DATA_HOME in a folder that cannot exist, so a test never meets the user's own store.
@discardableResult
func run(
    _ args: [String], stdin: String? = nil, env: [String: String] = [:], directory: URL? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) -> CLIResult {
    var environment = ProcessInfo.processInfo.environment
    environment["MARGIN_STORE"] = nil
    environment["XDG_DATA_HOME"] = "/dev/null/margin-tests-have-no-default-store"
    environment.merge(env) { $1 }
    return runProcess(
        marginBinary, args, stdin: stdin, environment: environment, directory: directory,
        sourceLocation: sourceLocation)
}

/// A temporary folder with a store path in it, removed when the test is done with it.
final class Sandbox {
    let folder: URL
    let store: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = folder.appendingPathComponent("store.sqlite").path
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// A sandbox with an initialized store, replica name `laptop-a`.
    static func initialized(sourceLocation: SourceLocation = #_sourceLocation) throws -> Sandbox {
        let sandbox = try Sandbox()
        let result = sandbox.margin("init", "--name", "laptop-a", sourceLocation: sourceLocation)
        try #require(result.status == 0, "init failed: \(result.stderr)", sourceLocation: sourceLocation)
        return sandbox
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Runs `margin` in the sandbox folder with MARGIN_STORE pointing at the sandbox store.
    @discardableResult
    func margin(
        _ args: String..., stdin: String? = nil, env: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> CLIResult {
        run(args, stdin: stdin, env: ["MARGIN_STORE": store].merging(env) { $1 }, directory: folder,
            sourceLocation: sourceLocation)
    }

    /// Runs `margin` with arguments given as an array.
    @discardableResult
    func margin(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) -> CLIResult {
        run(args, stdin: nil, env: ["MARGIN_STORE": store], directory: folder, sourceLocation: sourceLocation)
    }

    /// Runs `margin … --json` expecting success, and decodes its output.
    func json<T: Decodable>(
        _ type: T.Type, _ args: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> T {
        let result = run(args + ["--json"], stdin: stdin, env: ["MARGIN_STORE": store], directory: folder,
                         sourceLocation: sourceLocation)
        try #require(result.status == 0, "margin \(args) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    /// Imports the seed story and returns its article id.
    func importSeed(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let rows = try json([ImportRow].self, "import", seedStory.path, sourceLocation: sourceLocation)
        return try #require(rows.first?.id, sourceLocation: sourceLocation)
    }

    /// Highlights a quote and returns the new annotation.
    func highlight(
        _ article: String, _ quote: String, _ more: String..., sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> AnnotationShape {
        let result = run(["highlight", article, "--quote", quote, "--json"] + more, env: ["MARGIN_STORE": store],
                         directory: folder, sourceLocation: sourceLocation)
        try #require(result.status == 0, "highlight failed: \(result.stderr)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode(AnnotationShape.self, from: Data(result.stdout.utf8))
    }

    /// How many changes the log holds: the log only grows, so an unchanged count means nothing was written.
    func changeCount(sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        try logEntries(sourceLocation: sourceLocation).count
    }

    func logEntries(_ id: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> [LogEntryShape] {
        let args = ["log", "--limit", "1000000"] + (id.map { [$0] } ?? [])
        let result = run(args + ["--json"], env: ["MARGIN_STORE": store], directory: folder,
                         sourceLocation: sourceLocation)
        try #require(result.status == 0, "log failed: \(result.stderr)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode([LogEntryShape].self, from: Data(result.stdout.utf8))
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }
}

// MARK: - The --json shapes, as a script reads them

struct ImportRow: Decodable {
    var id, title, status, file: String
    var changes: Int
}

struct ArticleShape: Decodable {
    var id: String
    var url: String?
    var title: String
    var byline: String?
    var source: String?
    var published_at: String?
    var content_hash: String
    var tags: [String]
    var created, updated: String
    var body: String?
    var caption: String?
    var annotations: [AnnotationShape]?
}

struct AnnotationShape: Decodable {
    var id, article_id, motivation, exact, prefix, suffix: String
    var start, end: Int
    var note: String?
    var color: String?
    var tags: [String]
    var author, created, updated: String
}

struct LogEntryShape: Decodable {
    var origin: String
    var origin_name: String?
    var seq: Int64
    var hlc: Int64
    var time, entity, entity_id, field: String
    var value: JSONValue
    var previous: JSONValue?
}

struct SearchHitShape: Decodable {
    var kind, article_id, title, snippet: String
    var annotation_id: String?
    var rank: Double
}

struct TagsShape: Decodable {
    var id, kind: String
    var tags: [String]
}

struct InitShape: Decodable {
    var store, replica_id, replica_name: String
}

struct ExportShape: Decodable {
    var articles: [ArticleShape]
    var annotations: [AnnotationShape]
}

/// Code-point offsets of every occurrence of `needle` in `text` (positions as margin counts them).
func scalarOffsets(of needle: String, in text: String) -> [Int] {
    let haystack = Array(text.unicodeScalars)
    let pattern = Array(needle.unicodeScalars)
    guard pattern.count <= haystack.count else { return [] }
    return (0...(haystack.count - pattern.count)).filter { Array(haystack[$0..<$0 + pattern.count]) == pattern }
}

enum Tools {
    static let sqlite3 = findOnPath("sqlite3")
    static let python3 = findOnPath("python3")

    /// The W3C checker runs: it is there, and python3 has jsonschema and rfc3987.
    static let w3cValidatorRuns: Bool = {
        guard FileManager.default.fileExists(atPath: w3cValidator.path), let python3 else { return false }
        return runProcess(python3, ["-c", "import jsonschema, rfc3987"]).status == 0
    }()
}

// MARK: - import

@Suite("margin import")
struct ImportTests {
    @Test func importingTheSeedStoryExtractsItsFields() throws {
        // Given a new store
        let sandbox = try Sandbox.initialized()

        // When the Yonhap wire story is imported
        let result = sandbox.margin("import", seedStory.path)

        // Then it is created, with its title, date, source and body, without the page furniture
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("created "))
        #expect(result.stdout.contains("Blinken arrives in S. Korea for talks on N. Korea, alliance"))
        let list = try sandbox.json([ArticleShape].self, "list")
        try #require(list.count == 1)
        let article = try sandbox.json(ArticleShape.self, "show", list[0].id)
        #expect(article.title == "Blinken arrives in S. Korea for talks on N. Korea, alliance")
        #expect(article.published_at == "2021-03-17T09:15")
        #expect(article.source == "Yonhap")
        let body = try #require(article.body)
        #expect(body.hasPrefix("US Secretary of State Antony Blinken arrived"))
        #expect(body.hasSuffix("involving Japan, Australia and India. (Yonhap)"))
        #expect(!body.contains("Send to"))
        #expect(article.caption?.hasSuffix("Japan, Tuesday. (Reuters-Yonhap)") == true)
        #expect(!body.contains("Reuters-Yonhap"))
        #expect(article.annotations?.isEmpty == true)
    }

    @Test func reimportingTheSameStoryChangesNothing() throws {
        // Given a store holding the seed story
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importSeed()
        let before = try sandbox.changeCount()

        // When it is imported again
        let rows = try sandbox.json([ImportRow].self, "import", seedStory.path)

        // Then it is reported unchanged and no change is logged
        #expect(rows.count == 1)
        #expect(rows.first?.id == id)
        #expect(rows.first?.status == "unchanged")
        #expect(rows.first?.changes == 0)
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json([ArticleShape].self, "list").map(\.id) == [id])
    }

    @Test func importJSONPrintsTheIdsThatListShows() throws {
        let sandbox = try Sandbox.initialized()
        let rows = try sandbox.json([ImportRow].self, "import", seedStory.path)
        try #require(rows.count == 1)
        let row = rows[0]
        #expect(row.status == "created")
        #expect(row.file == seedStory.path)
        #expect(row.changes > 0)
        #expect(row.id.count == 32 && row.id.allSatisfy(\.isHexDigit))
        #expect(try sandbox.json([ArticleShape].self, "list").map(\.id) == [row.id])
    }

    @Test func aDashReadsTheArticleFromStandardInput() throws {
        // Given a store
        let sandbox = try Sandbox.initialized()

        // When a plain-text story is piped in
        let rows = try sandbox.json(
            [ImportRow].self, "import", "--format", "text", "-",
            stdin: "Harbour reopens after storm\n\nThe harbour reopened on Monday after a week of repairs.\n")

        // Then it is imported from "-"
        try #require(rows.count == 1)
        #expect(rows[0].file == "-")
        #expect(rows[0].status == "created")
        #expect(rows[0].title == "Harbour reopens after storm")
        let article = try sandbox.json(ArticleShape.self, "show", rows[0].id)
        #expect(article.body == "The harbour reopened on Monday after a week of repairs.")
    }

    @Test func aQuotedGlobImportsEveryMatchingFile() throws {
        // Given three text files and one that the glob does not match
        let sandbox = try Sandbox.initialized()
        try FileManager.default.createDirectory(atPath: sandbox.path("news"), withIntermediateDirectories: true)
        for n in 1...3 { try sandbox.write("news/\(n).txt", "Story number \(n)\n\nBody of story \(n).\n") }
        try sandbox.write("news/skip.md", "# Not this one\n\nIt is Markdown.\n")

        // When the glob reaches margin unexpanded (no shell in between, as with quotes)
        let result = sandbox.margin("import", "news/*.txt")

        // Then the three text files are imported, and only they
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("3 articles: 3 new, 0 updated, 0 restored, 0 unchanged"))
        let titles = try sandbox.json([ArticleShape].self, "list").map(\.title).sorted()
        #expect(titles == ["Story number 1", "Story number 2", "Story number 3"])
    }

    @Test func aGlobThatMatchesNothingIsAnError() throws {
        let sandbox = try Sandbox.initialized()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("import", "nowhere/*.txt")
        #expect(result.status == 1)
        #expect(result.stderr.contains("no file matches nowhere/*.txt"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func manyFilesOfDifferentFormatsImportInOneCommand() throws {
        let sandbox = try Sandbox.initialized()
        try sandbox.write("a.txt", "Plain story\n\nPlain body.\n")
        try sandbox.write("b.md", "# Markdown story\n\nMarkdown body.\n")
        try sandbox.write(
            "c.json", #"{"title": "JSON story", "body": "JSON body.", "url": "https://example.com/json-story"}"#)

        let rows = try sandbox.json([ImportRow].self, "import", seedStory.path, "a.txt", "b.md", "c.json")

        #expect(rows.map(\.status) == ["created", "created", "created", "created"])
        #expect(rows.map(\.file) == [seedStory.path, "a.txt", "b.md", "c.json"])
        #expect(Set(rows.map(\.id)).count == 4)
        let titles = Set(try sandbox.json([ArticleShape].self, "list").map(\.title))
        #expect(titles == [
            "Blinken arrives in S. Korea for talks on N. Korea, alliance", "Plain story", "Markdown story",
            "JSON story",
        ])
    }

    @Test func aChangedBodyIsAnUpdateAndADeletedArticleIsRestored() throws {
        // Given an article known by its URL
        let sandbox = try Sandbox.initialized()
        try sandbox.write(
            "v1.json", #"{"title": "Flood warning", "url": "https://example.com/flood", "body": "Rain."}"#)
        try sandbox.write(
            "v2.json", #"{"title": "Flood warning", "url": "https://example.com/flood", "body": "Heavy rain."}"#)
        let created = try #require(try sandbox.json([ImportRow].self, "import", "v1.json").first)

        // When a corrected version is imported
        let updated = try #require(try sandbox.json([ImportRow].self, "import", "v2.json").first)

        // Then it is the same article, updated, with the new body
        #expect(updated.id == created.id)
        #expect(updated.status == "updated")
        #expect(updated.changes == 1)
        #expect(try sandbox.json(ArticleShape.self, "show", created.id).body == "Heavy rain.")

        // When it is deleted and imported again
        #expect(sandbox.margin("rm", created.id).status == 0)
        let restored = try #require(try sandbox.json([ImportRow].self, "import", "v2.json").first)

        // Then it is restored and listed again
        #expect(restored.id == created.id)
        #expect(restored.status == "restored")
        #expect(try sandbox.json([ArticleShape].self, "list").map(\.id) == [created.id])
    }

    @Test func anEmptyArticleIsBadDataAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        try sandbox.write("empty.txt", "\n\n")
        let before = try sandbox.changeCount()
        let result = sandbox.margin("import", seedStory.path, "empty.txt")
        #expect(result.status == 65)
        #expect(result.stderr.contains("empty.txt: empty article"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func anUnknownFormatOptionIsAUsageErrorAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("import", "--format", "docx", seedStory.path)
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown format 'docx'"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func contentOfNoKnownFormatIsBadDataAndWritesNothing() throws {
        // Given a binary file with no telling extension, next to a good story
        let sandbox = try Sandbox.initialized()
        try Data([0x00, 0x01, 0x02, 0xFF, 0xFE, 0x00, 0x7F]).write(to: URL(fileURLWithPath: sandbox.path("blob.dat")))
        let before = try sandbox.changeCount()

        // When both are imported
        let result = sandbox.margin("import", seedStory.path, "blob.dat")

        // Then the command fails with exit 65, names the file, and imports nothing
        #expect(result.status == 65)
        #expect(result.stderr.contains("blob.dat: unknown format"))
        #expect(result.stderr.contains("--format"))
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json([ArticleShape].self, "list").isEmpty)
    }

    @Test func aMissingFileFailsClearlyAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("import", seedStory.path, "missing.txt")
        #expect(result.status != 0)
        #expect(result.stderr.contains("missing.txt: no such file"))
        #expect(result.stdout.isEmpty)
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json([ArticleShape].self, "list").isEmpty)
    }

    @Test func oneBadFileInABatchWritesNothingFromTheGoodOnes() throws {
        // Given two good files and a broken JSON file
        let sandbox = try Sandbox.initialized()
        try sandbox.write("good.txt", "Good story\n\nA good body.\n")
        try sandbox.write("bad.json", "{\"title\": \"unterminated")
        let before = try sandbox.changeCount()

        // When they are imported together
        let result = sandbox.margin("import", seedStory.path, "good.txt", "bad.json")

        // Then the batch is refused as bad data and neither good file was imported
        #expect(result.status == 65)
        #expect(result.stderr.contains("bad.json"))
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json([ArticleShape].self, "list").isEmpty)
    }

    @Test(.enabled(
        if: FileManager.default.fileExists(atPath: wikinewsCSV.path),
        "the shared Wikinews corpus is not present: skipped"))
    func theWikinewsCorpusImportsOnceAndThenIsUnchanged() throws {
        // Given a new store
        let sandbox = try Sandbox.initialized()

        // When the 2019 Wikinews CSV is imported
        let first = try sandbox.json([ImportRow].self, "import", wikinewsCSV.path)

        // Then all 171 articles are new
        #expect(first.count == 171)
        #expect(first.filter { $0.status == "created" }.count == 171)
        #expect(Set(first.map(\.id)).count == 171)
        #expect(try sandbox.json([ArticleShape].self, "list").count == 171)
        let logged = try sandbox.changeCount()

        // When it is imported again
        let again = sandbox.margin("import", wikinewsCSV.path)

        // Then nothing is new, nothing changed, and nothing is logged
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.hasSuffix("171 articles: 0 new, 0 updated, 0 restored, 171 unchanged\n"))
        #expect(try sandbox.changeCount() == logged)
    }
}

// MARK: - highlight

@Suite("margin highlight")
struct HighlightTests {
    @Test func highlightingAQuoteRecordsItsPosition() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let body = try #require(try sandbox.json(ArticleShape.self, "show", article).body)
        let start = try #require(scalarOffsets(of: "cause a stink", in: body).first)

        let result = sandbox.margin("highlight", article, "--quote", "cause a stink")

        #expect(result.status == 0, "\(result.stderr)")
        let annotations = try sandbox.json([AnnotationShape].self, "annotations", article)
        try #require(annotations.count == 1)
        let a = annotations[0]
        #expect(result.stdout == "\(a.id)  \(start)..<\(start + 13)  \"cause a stink\"\n")
        #expect(a.exact == "cause a stink")
        #expect(a.start == start && a.end == start + 13)
        #expect(a.prefix.hasSuffix("warning the US not to \""))
        #expect(a.suffix.hasPrefix("\" if it wants to sleep"))
        #expect(a.motivation == "highlighting")
        #expect(a.note == nil && a.color == nil && a.tags.isEmpty)
        #expect(a.author == "laptop-a")
        #expect(a.article_id == article)
    }

    @Test func highlightingByPositionTakesCodePointsEndExclusive() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()

        // The body starts "US Secretary of State Antony Blinken arrived"
        let result = sandbox.margin("highlight", article, "--start", "22", "--end", "36", "--json")

        #expect(result.status == 0, "\(result.stderr)")
        let a = try JSONDecoder().decode(AnnotationShape.self, from: Data(result.stdout.utf8))
        #expect(a.exact == "Antony Blinken")
        #expect(a.start == 22 && a.end == 36)
        #expect(a.prefix == "US Secretary of State ")
        #expect(try sandbox.json([AnnotationShape].self, "annotations").map(\.id) == [a.id])
    }

    @Test func aHighlightCarriesItsNoteTagsAndColor() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()

        let a = try sandbox.highlight(
            article, "cause a stink", "--note", "Kim's warning", "--tag", "nk", "--tag", "#threat", "--color", "yellow")

        #expect(a.note == "Kim's warning")
        #expect(a.tags == ["nk", "threat"])
        #expect(a.color == "yellow")
        #expect(a.motivation == "commenting")
        let stored = try sandbox.json([AnnotationShape].self, "annotations", article)
        #expect(stored.map(\.id) == [a.id])
        #expect(stored.first?.note == "Kim's warning")
        #expect(stored.first?.tags == ["nk", "threat"])
        #expect(stored.first?.color == "yellow")
    }

    @Test func anAmbiguousQuoteListsEveryOccurrenceAndWritesNothing() throws {
        // Given the seed story, where "Blinken said" occurs twice
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let body = try #require(try sandbox.json(ArticleShape.self, "show", article).body)
        let starts = scalarOffsets(of: "Blinken said", in: body)
        try #require(starts.count == 2)
        let before = try sandbox.changeCount()

        // When it is highlighted by quote alone
        let result = sandbox.margin("highlight", article, "--quote", "Blinken said")

        // Then margin refuses, showing both places, and writes nothing
        #expect(result.status == 1)
        #expect(result.stderr.contains("occurs 2 times"))
        for start in starts { #expect(result.stderr.contains("at \(start)..<\(start + 12)")) }
        #expect(result.stderr.contains("--prefix/--suffix"))
        #expect(try sandbox.changeCount() == before)

        // And a suffix singles out the first occurrence
        let a = try sandbox.highlight(article, "Blinken said", "--suffix", " that")
        #expect(a.start == starts[0])
    }

    @Test func aQuoteThatDoesNotOccurIsReportedAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("highlight", article, "--quote", "Pyongyang responded")
        #expect(result.status == 1)
        #expect(result.stderr.contains("the quote \"Pyongyang responded\" does not occur in article \(article)"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func positionsOutsideTheBodyAreRefusedAndWriteNothing() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("highlight", article, "--start=5000", "--end=6000")
        #expect(result.status == 1)
        #expect(result.stderr.contains("positions 5000..<6000 are outside the article body"))
        #expect(try sandbox.changeCount() == before)
    }

    /// A span that is empty, backwards or before the body is a usage error that says which.
    @Test(arguments: [
        ("10", "10", "--end 10 must be greater than --start 10"), ("-1", "5", "--start is 0 or more"),
        ("20", "10", "--end 10 must be greater than --start 20"),
    ])
    func aSpanThatIsEmptyOrBackwardsIsAUsageErrorThatSaysSo(start: String, end: String, message: String) throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("highlight", article, "--start=\(start)", "--end=\(end)")
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("margin: \(message)"), "\(result.stderr)")
        #expect(!result.stderr.contains("outside the article body"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func aQuoteWithPositionsIsAUsageError() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let both = sandbox.margin("highlight", article, "--quote", "cause a stink", "--start", "0")
        #expect(both.status == 64)
        #expect(both.stderr.contains("give --quote or --start/--end, not both"))
        let neither = sandbox.margin("highlight", article)
        #expect(neither.status == 64)
        #expect(neither.stderr.contains("give --quote TEXT, or both --start N and --end M"))
        #expect(try sandbox.changeCount() == before)
    }
}

// MARK: - show, annotations, note, tag, list, rm

@Suite("reading and editing")
struct EditTests {
    @Test func showMarksHighlightsAndListsTheirNotes() throws {
        // Given two highlights, one with a note, color and tags
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let first = try sandbox.highlight(article, "Antony Blinken arrived")
        let second = try sandbox.highlight(
            article, "cause a stink", "--note", "Kim's warning\nsecond line", "--tag", "nk", "--color", "yellow")

        // When the article is shown
        let result = sandbox.margin("show", article)

        // Then the passages are marked in body order and the annotations listed with their notes
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.components(separatedBy: "\n")
        #expect(lines.first == "Blinken arrives in S. Korea for talks on N. Korea, alliance")
        #expect(lines.contains("id \(article)"))
        #expect(result.stdout.contains("US Secretary of State [[Antony Blinken arrived]]1 in South Korea"))
        #expect(result.stdout.contains("warning the US not to \"[[cause a stink]]2\" if it wants"))
        #expect(result.stdout.contains("\nAnnotations\n"))
        let one = try #require(lines.first { $0.hasPrefix("[1] ") })
        #expect(one.contains("\(first.start)..<\(first.end)  \"Antony Blinken arrived\""))
        #expect(String(one.dropFirst(4).prefix(while: { $0 != " " })).count >= 8)
        #expect(first.id.filter { $0 != "-" }.hasPrefix(String(one.dropFirst(4).prefix(while: { $0 != " " }))))
        let two = try #require(lines.firstIndex { $0.hasPrefix("[2] ") })
        #expect(lines[two].hasSuffix("\"cause a stink\"  (yellow)  #nk"))
        #expect(lines[two + 1] == "    Kim's warning")
        #expect(lines[two + 2] == "    second line")

        // And an annotation id shows its article
        let viaAnnotation = sandbox.margin("show", second.id)
        #expect(viaAnnotation.stdout == result.stdout)
    }

    @Test func annotationsJSONListsTheArticlesAnnotationsInBodyOrder() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        try sandbox.write("other.txt", "Other story\n\nAnother body.\n")
        let other = try #require(try sandbox.json([ImportRow].self, "import", "other.txt").first?.id)
        let late = try sandbox.highlight(article, "cause a stink")
        let early = try sandbox.highlight(article, "Antony Blinken")
        let elsewhere = try sandbox.highlight(other, "Another")

        let listed = try sandbox.json([AnnotationShape].self, "annotations", article)
        #expect(listed.map(\.id) == [early.id, late.id])
        #expect(listed.allSatisfy { $0.article_id == article })
        #expect(Set(try sandbox.json([AnnotationShape].self, "annotations").map(\.id))
            == [early.id, late.id, elsewhere.id])
    }

    @Test func noteSetsChangesAndAnEmptyTextRemovesIt() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink")

        // Set
        let set = sandbox.margin("note", a.id, "A threat, politely put")
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout == "\(a.id)  note set\n")
        #expect(try sandbox.json([AnnotationShape].self, "annotations").first?.note == "A threat, politely put")

        // Change
        let changed = try sandbox.json(AnnotationShape.self, "note", a.id, "Not politely put at all")
        #expect(changed.note == "Not politely put at all")
        let last = try #require(try sandbox.logEntries(a.id).first)
        #expect(last.field == "note")
        #expect(last.value == .string("Not politely put at all"))
        #expect(last.previous == .string("A threat, politely put"))

        // Remove
        let removed = sandbox.margin("note", a.id, "")
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout == "\(a.id)  note removed\n")
        #expect(try sandbox.json([AnnotationShape].self, "annotations").first?.note == nil)
        #expect(!sandbox.margin("show", article).stdout.contains("politely"))
    }

    @Test func noteReadsItsTextFromStandardInput() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink")
        let updated = try sandbox.json(AnnotationShape.self, "note", a.id, "-", stdin: "line one\nline two\n")
        #expect(updated.note == "line one\nline two")
    }

    @Test func taggingAndUntaggingAnArticle() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()

        let tagged = sandbox.margin("tag", article, "korea", "#diplomacy")
        #expect(tagged.status == 0, "\(tagged.stderr)")
        #expect(tagged.stdout == "article \(article.prefix(8)): #diplomacy #korea\n")

        let untagged = try sandbox.json(TagsShape.self, "untag", article, "diplomacy")
        #expect(untagged.id == article)
        #expect(untagged.kind == "article")
        #expect(untagged.tags == ["korea"])
        #expect(try sandbox.json(ArticleShape.self, "show", article).tags == ["korea"])
    }

    @Test func untaggingATagThatIsNotThereFailsAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        sandbox.margin("tag", article, "korea", "asia")
        let before = try sandbox.changeCount()

        let result = sandbox.margin("untag", article, "asia", "europe")

        #expect(result.status == 1)
        #expect(result.stderr.contains("has no tag 'europe' (its tags: asia, korea)"))
        #expect(try sandbox.changeCount() == before)
        #expect(try sandbox.json(ArticleShape.self, "show", article).tags == ["asia", "korea"])
    }

    @Test func taggingAndUntaggingAnAnnotation() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink", "--tag", "nk")

        let tagged = try sandbox.json(TagsShape.self, "tag", a.id, "rhetoric", "nk")
        #expect(tagged.kind == "annotation")
        #expect(tagged.id == a.id)
        #expect(tagged.tags == ["nk", "rhetoric"])

        let before = try sandbox.changeCount()
        let missing = sandbox.margin("untag", a.id, "economy")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("annotation \(a.id.prefix(8)) has no tag 'economy' (its tags: nk, rhetoric)"))
        #expect(try sandbox.changeCount() == before)

        let untagged = try sandbox.json(TagsShape.self, "untag", a.id, "nk")
        #expect(untagged.tags == ["rhetoric"])
        #expect(try sandbox.json([AnnotationShape].self, "annotations").first?.tags == ["rhetoric"])
        // The article itself was never tagged
        #expect(try sandbox.json(ArticleShape.self, "show", article).tags.isEmpty)
    }

    @Test func listFiltersByTagAndBySource() throws {
        // Given the Yonhap story and a story with another source
        let sandbox = try Sandbox.initialized()
        let seed = try sandbox.importSeed()
        try sandbox.write(
            "other.json",
            #"{"title": "Markets rally", "body": "Stocks rose.", "source": "Reuters", "published_at": "2021-03-18"}"#)
        let other = try #require(try sandbox.json([ImportRow].self, "import", "other.json").first?.id)
        sandbox.margin("tag", seed, "korea")

        // Then --tag and --source (any case) select one each
        #expect(try sandbox.json([ArticleShape].self, "list", "--tag", "korea").map(\.id) == [seed])
        #expect(try sandbox.json([ArticleShape].self, "list", "--source", "yonhap").map(\.id) == [seed])
        #expect(try sandbox.json([ArticleShape].self, "list", "--source", "REUTERS").map(\.id) == [other])
        #expect(try sandbox.json([ArticleShape].self, "list", "--tag", "nothing").isEmpty)
        // Newest first
        #expect(try sandbox.json([ArticleShape].self, "list").map(\.id) == [other, seed])

        let text = sandbox.margin("list", "--tag", "korea")
        #expect(text.stdout
            == "\(seed.prefix(8))  2021-03-17  Blinken arrives in S. Korea for talks on N. Korea, alliance  #korea\n")
    }

    @Test func removingAnAnnotationTakesItOutOfAnnotationsAndShow() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let kept = try sandbox.highlight(article, "Antony Blinken")
        let gone = try sandbox.highlight(article, "cause a stink", "--note", "to delete")

        let result = sandbox.margin("rm", gone.id)

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "deleted annotation \(gone.id)\n")
        #expect(try sandbox.json([AnnotationShape].self, "annotations", article).map(\.id) == [kept.id])
        let shown = sandbox.margin("show", article).stdout
        #expect(shown.contains("[[Antony Blinken]]1"))
        #expect(!shown.contains("[[cause a stink]]"))
        #expect(!shown.contains("to delete"))
        let entry = try #require(try sandbox.logEntries(gone.id).first)
        #expect(entry.field == "deleted" && entry.value == .bool(true))
    }

    @Test func removingAnArticleTakesItOutOfTheList() throws {
        let sandbox = try Sandbox.initialized()
        let seed = try sandbox.importSeed()
        try sandbox.write("other.txt", "Other story\n\nAnother body.\n")
        let other = try #require(try sandbox.json([ImportRow].self, "import", "other.txt").first?.id)

        let result = sandbox.margin("rm", String(seed.prefix(8)))

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "deleted article \(seed)\n")
        #expect(try sandbox.json([ArticleShape].self, "list").map(\.id) == [other])
        let shown = sandbox.margin("show", seed)
        #expect(shown.status == 1)
        #expect(shown.stderr.contains(seed))
        #expect(sandbox.margin("rm", seed).status == 1)

        // The audit log still finds the deleted article
        let entry = try #require(try sandbox.logEntries(seed).first)
        #expect(entry.field == "deleted" && entry.value == .bool(true))
    }

    @Test func taggingADeletedArticleFailsAndWritesNothing() throws {
        // Given a deleted article
        let sandbox = try Sandbox.initialized()
        let seed = try sandbox.importSeed()
        sandbox.margin("rm", seed)
        let before = try sandbox.changeCount()

        // When it is tagged
        let result = sandbox.margin("tag", seed, "late")

        // Then the command fails, and nothing is recorded (nor by untag)
        #expect(result.status == 1)
        #expect(result.stderr.contains(seed))
        #expect(try sandbox.changeCount() == before)
        let untagged = sandbox.margin("untag", seed, "late")
        #expect(untagged.status == 1)
        #expect(try sandbox.changeCount() == before)
    }
}

// MARK: - search

@Suite("margin search")
struct SearchTests {
    @Test func searchFindsAWordOfTheBodyWithASnippet() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()

        let result = sandbox.margin("search", "stink")

        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.components(separatedBy: "\n")
        #expect(lines.first == "\(article.prefix(8))  Blinken arrives in S. Korea for talks on N. Korea, alliance")
        #expect(lines.dropFirst().first?.contains("\"cause a «stink»\"") == true)
        let none = sandbox.margin("search", "zeppelin")
        #expect(none.status == 1 && none.stdout.isEmpty)
    }

    @Test func searchFindsAWordOfANote() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink", "--note", "Pyongyang's usual bluster")

        let hits = try sandbox.json([SearchHitShape].self, "search", "bluster")

        try #require(hits.count == 1)
        #expect(hits[0].kind == "note")
        #expect(hits[0].annotation_id == a.id)
        #expect(hits[0].article_id == article)
        #expect(hits[0].snippet == "Pyongyang's usual «bluster»")
        let text = sandbox.margin("search", "bluster").stdout
        #expect(text.hasPrefix("note \(a.id.filter { $0 != "-" }.prefix(8))"))
    }

    @Test func searchJSONHasTheDocumentedShape() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        _ = try sandbox.highlight(article, "cause a stink", "--note", "a warning from Kim")

        let result = sandbox.margin("search", "warning", "--json")

        #expect(result.status == 0, "\(result.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        try #require(objects.count == 2)
        let article_hit = try #require(objects.first { $0["kind"] as? String == "article" })
        #expect(Set(article_hit.keys) == ["kind", "article_id", "annotation_id", "title", "snippet", "rank"])
        #expect(article_hit["annotation_id"] is NSNull)
        #expect(article_hit["article_id"] as? String == article)
        #expect((article_hit["snippet"] as? String)?.contains("«warning»") == true)
        let note_hit = try #require(objects.first { $0["kind"] as? String == "note" })
        #expect(Set(note_hit.keys) == ["kind", "article_id", "annotation_id", "title", "snippet", "rank"])
        #expect(note_hit["rank"] is Double || note_hit["rank"] is NSNumber)
    }

    @Test(arguments: [
        ("\"unterminated", "opens a phrase with \" and does not close it"), ("AND", "has no word to find"),
        ("stink AND", "ends with AND and no word after it"), ("NOT stink", "has NOT without a word before it"),
        ("(stink", "opens a ( it does not close"), ("stink)", "closes a ) it did not open"),
        ("stink title:", "has title: without a word after it"), ("title:stink OR note:stink", "use one of them per query"),
    ])
    func aMalformedQueryGetsAMessageAboutTheQuery(query: String, message: String) throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        let result = sandbox.margin("search", query)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("margin: the search query '\(query)' ") || result.stderr.hasPrefix("margin: title:"),
                "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("fts5") && !result.stderr.contains("no such column"))
        #expect(result.stdout.isEmpty)
    }
}

// MARK: - ids

@Suite("ids and prefixes")
struct IDTests {
    @Test func aUniquePrefixNamesTheRecord() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink")
        #expect(try sandbox.json(ArticleShape.self, "show", String(article.prefix(6))).id == article)
        #expect(try sandbox.json(ArticleShape.self, "show", article.uppercased()).id == article)
        let tagged = try sandbox.json(TagsShape.self, "tag", String(a.id.prefix(23)), "x")
        #expect(tagged.id == a.id)
    }

    @Test func anAmbiguousPrefixListsTheCandidatesAndWritesNothing() throws {
        // Given two highlights made within the same second (time-ordered ids share a long prefix)
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let one = try sandbox.highlight(article, "cause a stink")
        let two = try sandbox.highlight(article, "Antony Blinken")
        let shared = String(zip(one.id, two.id).prefix { $0 == $1 }.map(\.0))
        try #require(!shared.isEmpty)
        let before = try sandbox.changeCount()

        // When their common prefix is used
        let shown = sandbox.margin("show", shared)
        let tagged = sandbox.margin("tag", shared, "x")

        // Then margin says it is ambiguous, naming both, and writes nothing
        for result in [shown, tagged] {
            #expect(result.status == 1)
            #expect(result.stderr.contains("the id prefix '\(shared)' is ambiguous"))
            #expect(result.stderr.contains("annotation \(one.id)"))
            #expect(result.stderr.contains("annotation \(two.id)"))
        }
        #expect(try sandbox.changeCount() == before)
    }

    @Test func anUnknownIdIsAnError() throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        let before = try sandbox.changeCount()

        let shown = sandbox.margin("show", "ffff0000")
        #expect(shown.status == 1)
        #expect(shown.stderr.contains("no article, annotation or conflict has an id starting with 'ffff0000'"))

        let highlighted = sandbox.margin("highlight", "ffff0000", "--quote", "stink")
        #expect(highlighted.status == 1)
        #expect(highlighted.stderr.contains("no article has an id starting with 'ffff0000'"))

        let noted = sandbox.margin("note", "ffff0000", "text")
        #expect(noted.status == 1)
        #expect(noted.stderr.contains("no annotation has an id starting with 'ffff0000'"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test(arguments: ["blinken", "12g4", "../etc"])
    func aNonHexadecimalIdIsAnError(id: String) throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let result = sandbox.margin("rm", id)
        #expect(result.status == 1)
        #expect(result.stderr.contains("'\(id)' is not an id: ids are hexadecimal"))
        #expect(try sandbox.changeCount() == before)
    }
}

// MARK: - log

@Suite("margin log")
struct LogTests {
    @Test func aHighlightLogsEachOfItsFields() throws {
        // Given a store with the seed story
        let sandbox = try Sandbox.initialized()
        let origin = try #require(try sandbox.logEntries().first { $0.entity == "replica" }?.origin)
        let article = try sandbox.importSeed()

        // When a passage is highlighted with a note, tags and a color
        let a = try sandbox.highlight(
            article, "cause a stink", "--note", "Kim's warning", "--tag", "nk", "--tag", "threat", "--color", "yellow")

        // Then `log ID` holds one entry per field, all of one change (one seq: a highlight is
        // one change of the annotation) by this replica
        let entries = try sandbox.logEntries(a.id)
        #expect(Set(entries.map(\.field))
            == ["article", "motivation", "target", "author", "note", "color", "tag/nk", "tag/threat"])
        #expect(entries.count == 8)
        #expect(entries.allSatisfy { $0.entity == "annotation" && $0.entity_id == a.id })
        #expect(entries.allSatisfy { $0.origin == origin && $0.origin_name == "laptop-a" && $0.previous == nil })
        #expect(entries.map(\.seq) == entries.map(\.seq).sorted(by: >))
        #expect(entries.map(\.hlc) == entries.map(\.hlc).sorted(by: >))
        #expect(Set(entries.map(\.seq)).count == 1)
        var values: [String: JSONValue] = [:]
        for entry in entries { values[entry.field] = entry.value }
        #expect(values["article"] == .string(article))
        #expect(values["motivation"] == .string("commenting"))
        #expect(values["author"] == .string("laptop-a"))
        #expect(values["note"] == .string("Kim's warning"))
        #expect(values["color"] == .string("yellow"))
        #expect(values["tag/nk"] == .bool(true))
        #expect(values["tag/threat"] == .bool(true))
        let target = try #require(values["target"])
        #expect(target["exact"] == .string("cause a stink"))
        #expect(target["start"] == .int(Int64(a.start)))
        #expect(target["end"] == .int(Int64(a.end)))
        #expect(target["prefix"] == .string(a.prefix))
        #expect(target["suffix"] == .string(a.suffix))

        // And the whole log holds those, the article's import and the replica's name
        let all = try sandbox.logEntries()
        #expect(all.count > entries.count)
        #expect(Set(all.map(\.entity)) == ["replica", "article", "annotation"])
        let articleEntries = try sandbox.logEntries(String(article.prefix(8)))
        #expect(!articleEntries.isEmpty)
        #expect(articleEntries.allSatisfy { $0.entity_id == article })
        #expect(Set(articleEntries.map(\.field)).isSuperset(of: ["title", "body", "source", "published_at"]))
    }

    @Test func logTextShowsWhoChangedWhat() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        sandbox.margin("tag", article, "korea")
        sandbox.margin("untag", article, "korea")

        let result = sandbox.margin("log", article, "--limit", "2")

        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0].hasSuffix("article \(article.prefix(8)) tag/korea: true → false"))
        #expect(lines[1].hasSuffix("article \(article.prefix(8)) tag/korea: true"))
        #expect(lines.allSatisfy { $0.contains("  laptop-a#") })
    }
}

// MARK: - export

@Suite("margin export")
struct ExportTests {
    /// A store with the seed story, two highlights, a note and tags.
    static func annotatedStore() throws -> (Sandbox, article: String) {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        sandbox.margin("tag", article, "korea")
        _ = try sandbox.highlight(article, "cause a stink", "--note", "Kim's warning", "--tag", "nk")
        _ = try sandbox.highlight(article, "all available options", "--color", "#ffd400")
        return (sandbox, article)
    }

    @Test func jsonExportIsByteForByteRepeatable() throws {
        let (sandbox, article) = try Self.annotatedStore()

        let first = sandbox.margin("export")
        let second = sandbox.margin("export", "--format", "json")

        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == second.stdout)
        let export = try JSONDecoder().decode(ExportShape.self, from: Data(first.stdout.utf8))
        #expect(export.articles.map(\.id) == [article])
        #expect(export.articles.first?.body?.hasPrefix("US Secretary of State") == true)
        #expect(export.annotations.count == 2)
        #expect(export.annotations.map(\.id) == export.annotations.map(\.id).sorted())
    }

    @Test func exportOutputWritesTheFileInsteadOfStdout() throws {
        let (sandbox, _) = try Self.annotatedStore()
        let stdout = sandbox.margin("export").stdout

        let result = sandbox.margin("export", "--output", "out.json")

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "margin: wrote 1 article, 2 annotations to out.json\n")
        let written = try String(contentsOfFile: sandbox.path("out.json"), encoding: .utf8)
        #expect(written == stdout)
    }

    @Test func exportToAnUnwritablePlaceFailsClearly() throws {
        let (sandbox, _) = try Self.annotatedStore()
        let result = sandbox.margin("export", "--output", "no/such/folder/out.json")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("margin: cannot write no/such/folder/out.json"))
    }

    @Test func markdownExportQuotesTheHighlights() throws {
        let (sandbox, _) = try Self.annotatedStore()

        let result = sandbox.margin("export", "--format", "markdown")

        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.components(separatedBy: "\n")
        #expect(lines.contains("# Blinken arrives in S. Korea for talks on N. Korea, alliance"))
        #expect(lines.contains("> cause a stink"))
        #expect(lines.contains("> all available options"))
        #expect(lines.contains("Kim's warning"))
        #expect(result.stdout.contains("#korea"))
        #expect(result.stdout.contains("#nk"))
    }

    @Test func anUnknownExportFormatIsAUsageError() throws {
        let (sandbox, _) = try Self.annotatedStore()
        let result = sandbox.margin("export", "--format", "pdf")
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown export format 'pdf'; use json, markdown, w3c or hypothesis"))
    }

    @Test(.enabled(
        if: Tools.w3cValidatorRuns,
        "the W3C checker (../shared/conformance) or python3 with jsonschema and rfc3987 is missing: skipped"))
    func w3cExportPassesTheW3CConformanceChecks() throws {
        let (sandbox, _) = try Self.annotatedStore()
        let exported = sandbox.margin("export", "--format", "w3c", "--output", "w3c.json")
        try #require(exported.status == 0, "\(exported.stderr)")

        let python3 = try #require(Tools.python3)
        let check = runProcess(python3, [w3cValidator.path, sandbox.path("w3c.json")])

        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("2 passed, 0 failed"))
    }
}

// MARK: - the store file

@Suite("the store file")
struct StoreFileTests {
    @Test func aCommandBeforeInitSaysToRunInit() throws {
        let sandbox = try Sandbox()
        let result = sandbox.margin("list")
        #expect(result.status == 1)
        #expect(result.stderr.contains("no Margin store at \(sandbox.store)"))
        #expect(result.stderr.contains("margin init"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.folder.path).isEmpty)
    }

    @Test func initPrintsTheReplicaAndInitTwiceIsAnError() throws {
        // Given a store made by init
        let sandbox = try Sandbox()
        let made = try sandbox.json(InitShape.self, "init", "--name", "laptop-a")
        #expect(made.store == sandbox.store)
        #expect(made.replica_name == "laptop-a")
        // A replica id is derived from its signing key: 26 base32 characters.
        #expect(made.replica_id.count == 26)
        #expect(made.replica_id.allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) }, "\(made.replica_id)")
        let before = try sandbox.changeCount()

        // When init runs again on it
        let again = sandbox.margin("init", "--name", "laptop-b")

        // Then it refuses, and the store keeps its identity
        #expect(again.status == 1)
        #expect(again.stderr.contains("\(sandbox.store) is already a Margin store (replica laptop-a)"))
        #expect(try sandbox.changeCount() == before)
        let origins = Set(try sandbox.logEntries().map(\.origin))
        #expect(origins == [made.replica_id])
    }

    @Test func withoutStoreOrEnvironmentTheStoreLivesUnderXDGDataHome() throws {
        let sandbox = try Sandbox()
        let xdg = sandbox.path("xdg")
        let made = run(["init", "--name", "laptop-a"], env: ["XDG_DATA_HOME": xdg], directory: sandbox.folder)
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.hasPrefix("created store \(xdg)/margin/store.sqlite for replica laptop-a ("))
        #expect(FileManager.default.fileExists(atPath: "\(xdg)/margin/store.sqlite"))
    }

    @Test func aFileThatIsNotSQLiteIsNotAMarginStoreAndIsLeftAlone() throws {
        let sandbox = try Sandbox()
        let notes = sandbox.path("notes.txt")
        let text = "Groceries: eggs, milk.\nCall the bank.\n"
        try sandbox.write("notes.txt", text)

        for args in [["list"], ["import", seedStory.path], ["init", "--name", "x"]] {
            let result = run(args + ["--store", notes], directory: sandbox.folder)
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(notes) is not a Margin store"))
        }
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == text)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.folder.path) == ["notes.txt"])
    }

    @Test(.enabled(if: Tools.sqlite3 != nil, "the sqlite3 command is missing: skipped"))
    func anotherProgramsSQLiteDatabaseIsNotAMarginStore() throws {
        // Given an SQLite database made by someone else
        let sandbox = try Sandbox()
        let sqlite3 = try #require(Tools.sqlite3)
        let other = sandbox.path("other.db")
        let made = runProcess(sqlite3, [other, "CREATE TABLE t(x); INSERT INTO t VALUES (42);"])
        try #require(made.status == 0, "\(made.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: other))

        // When margin is pointed at it
        let listed = run(["list", "--store", other], directory: sandbox.folder)
        let initialized = run(["init", "--name", "x", "--store", other], directory: sandbox.folder)

        // Then margin refuses it and leaves it exactly as it was (not even switched to WAL)
        for result in [listed, initialized] {
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(other) is not a Margin store"))
        }
        #expect(runProcess(sqlite3, [other, "SELECT x FROM t"]).stdout == "42\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) == bytes)
        #expect(runProcess(sqlite3, [other, "PRAGMA journal_mode"]).stdout == "delete\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.folder.path) == ["other.db"])
    }

    @Test(.timeLimit(.minutes(1)))
    func aWriteWhileAnotherProcessHoldsTheStoreGivesUpWithExit73() throws {
        // Given a store whose write lock another process holds (it says who it is in the lock file)
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let before = try sandbox.changeCount()
        let fd = open(sandbox.store + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let holder = "margin process 4242 (import nightly.csv)"
        _ = ftruncate(fd, 0)
        _ = holder.withCString { pwrite(fd, $0, strlen($0), 0) }

        // When a write is attempted
        let started = Date()
        let blocked = sandbox.margin("tag", article, "busy")

        // Then it waits its 10 s, then exits 73 (locked) naming the holder, and writes nothing
        #expect(blocked.status == 73)
        #expect(blocked.stderr.contains("the store \(sandbox.store) is busy: \(holder) is writing to it"))
        #expect(blocked.stderr.contains("try again later"))
        #expect(Date().timeIntervalSince(started) >= 9)
        // And reading does not wait for the lock
        #expect(sandbox.margin("list").status == 0)
        #expect(try sandbox.changeCount() == before)

        // When the holder lets go, the same write goes through
        _ = flock(fd, LOCK_UN)
        let retried = try sandbox.json(TagsShape.self, "tag", article, "busy")
        #expect(retried.tags == ["busy"])
    }

    @Test func aFreshStoreHasNoConflictsAndResolvingAnUnknownOneFails() throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        let none = sandbox.margin("conflicts")
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr == "margin: no conflicts\n")
        #expect(sandbox.margin("conflicts", "--json").stdout == "[\n\n]\n")
        let before = try sandbox.changeCount()
        let result = sandbox.margin("resolve", "abcdef12", "--keep", "mine")
        #expect(result.status == 1)
        #expect(result.stderr.contains("no conflict has an id starting with 'abcdef12'"))
        #expect(try sandbox.changeCount() == before)
    }

    @Test func theStoreOptionWorksBeforeAndAfterTheSubcommand() throws {
        // Given a store with the seed story, and MARGIN_STORE pointing elsewhere
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let elsewhere = ["MARGIN_STORE": sandbox.path("elsewhere.sqlite")]

        // Then --store wins, wherever it stands
        let after = run(["list", "--store", sandbox.store], env: elsewhere)
        let before = run(["--store", sandbox.store, "list"], env: elsewhere)
        let joined = run(["--store=\(sandbox.store)", "list", "--json"], env: elsewhere)

        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.hasPrefix("\(article.prefix(8))  2021-03-17  Blinken arrives"))
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout == after.stdout)
        #expect(joined.status == 0, "\(joined.stderr)")
        let listed = try JSONDecoder().decode([ArticleShape].self, from: Data(joined.stdout.utf8))
        #expect(listed.map(\.id) == [article])
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("elsewhere.sqlite")))
    }
}

@Suite("help and usage")
struct HelpTests {
    @Test(arguments: [["--help"], ["list", "--help"], ["sync", "--help"], ["token", "create", "--help"], ["help", "import"]])
    func helpPrintsUsageAndExitsZero(args: [String]) throws {
        let sandbox = try Sandbox()
        let result = sandbox.margin(args)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("USAGE: margin"))
        #expect(!result.stderr.contains("could not be completed"))
    }

    @Test func anUnknownCommandIsAUsageError() throws {
        let result = try Sandbox().margin(["bogus"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("margin: 'bogus' is not a margin command; see `margin --help`"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
