import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarginStore
import MarginSync
import NIOCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Import by URL and feeds against a server on 127.0.0.1 (a free port each) that serves pages,
// redirects, 404s, slow answers, wrong types, gzip, a page in Windows-1252, and feeds with
// conditional GETs; in-process through `WebImporter`, and end to end through the built binary.

/// What the test server saw, for assertions on headers and request counts.
fileprivate final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [String]] = [:]

    func add(_ key: String, _ value: String) { lock.withLock { values[key, default: []].append(value) } }
    func all(_ key: String) -> [String] { lock.withLock { values[key] ?? [] } }
}

/// A page whose body can be changed between fetches (a correction).
fileprivate final class Mutable: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String
    init(_ value: String) { self.value = value }
    var current: String {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

fileprivate let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../MarginStoreTests/Fixtures/html").standardizedFileURL

fileprivate func page(title: String, paragraphs: [String], canonical: String? = nil) -> String {
    """
    <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(title) | Test Gazette</title>
    \(canonical.map { "<link rel=\"canonical\" href=\"\($0)\">" } ?? "")
    <meta property="og:type" content="article"></head>
    <body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
    <article><h1>\(title)</h1><p class="byline">By Ada Lovelace</p>
    \(paragraphs.map { "<p>\($0)</p>" }.joined(separator: "\n"))
    </article><footer>© Test Gazette</footer></body></html>
    """
}

fileprivate let storyParagraphs = [
    "The harbour commission voted on Monday to rebuild the old north pier, which has been closed since a storm damaged it two winters ago, at a cost of about four million pounds.",
    "Work will begin in the spring and take eighteen months. Fishing boats will use the south quay in the meantime, the commission said.",
]

fileprivate func html(_ text: String, type: String = "text/html; charset=utf-8", status: HTTPResponse.Status = .ok,
                      headers extra: HTTPFields = [:]) -> Response
{
    var headers: HTTPFields = [.contentType: type]
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}

fileprivate func bytes(_ data: Data, type: String, headers extra: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: type]
    headers.append(contentsOf: extra)
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// The router of the test site; `base` is filled once the port is known (feeds link to it).
fileprivate func testSite(seen: Seen, story: Mutable, base: Mutable) -> Router<BasicRequestContext> {
    let router = Router()
    router.get("/story") { request, _ in
        seen.add("user-agent", request.headers[.userAgent] ?? "")
        return html(story.current)
    }
    router.get("/nyt") { _, _ in
        bytes(try Data(contentsOf: fixtures.appendingPathComponent("nyt-reservoir-drought.html")), type: "text/html")
    }
    router.get("/old") { _, _ in
        Response(status: .movedPermanently, headers: [.location: "/moved/story"])
    }
    router.get("/moved/story") { _, _ in html(page(title: "Pier to be rebuilt", paragraphs: storyParagraphs)) }
    router.get("/loop") { _, _ in Response(status: .found, headers: [.location: "/loop"]) }
    router.get("/missing") { _, _ in html("<html><body><h1>Not found</h1></body></html>", status: .notFound) }
    router.get("/broken") { _, _ in html("oops", status: .internalServerError) }
    router.get("/slow") { _, _ in
        try await Task.sleep(for: .seconds(4))
        return html(page(title: "Too late", paragraphs: storyParagraphs))
    }
    router.get("/report.pdf") { _, _ in bytes(Data("%PDF-1.4\n".utf8), type: "application/pdf") }
    router.get("/huge") { _, _ in html(page(title: "Huge", paragraphs: [String(repeating: "word ", count: 400_000)])) }
    router.get("/front") { _, _ in
        bytes(try Data(contentsOf: fixtures.appendingPathComponent("section-front-world.html")), type: "text/html")
    }
    router.get("/gzip") { request, _ in
        seen.add("accept-encoding", request.headers[.acceptEncoding] ?? "")
        let body = Data(page(title: "Compressed pier story", paragraphs: storyParagraphs).utf8)
        return bytes(storedGzip(body), type: "text/html; charset=utf-8", headers: [.contentEncoding: "gzip"])
    }
    router.get("/latin") { _, _ in
        // Windows-1252 bytes; the charset is only in the HTTP header.
        let text = page(title: "Caf\u{e9} owners object", paragraphs: [
            "Caf\u{e9} owners on the quay say the council\u{2019}s plan would cost them their passing trade in a bad summer, and they have started a petition against it.",
        ]).replacingOccurrences(of: "<meta charset=\"utf-8\">", with: "")
        return bytes(text.data(using: .windowsCP1252)!, type: "text/html; charset=windows-1252")
    }
    router.get("/feed.xml") { request, _ in
        seen.add("feed", request.headers[.ifNoneMatch] ?? "-")
        if request.headers[.ifNoneMatch] == "\"v1\"" { return Response(status: .notModified, headers: [.eTag: "\"v1\""]) }
        let root = base.current
        let rss = """
            <?xml version="1.0" encoding="UTF-8"?>
            <rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <channel><title>Test Gazette</title><link>\(root)/</link><language>en</language>
            <item><title>Full text in the feed</title><link>\(root)/full?utm_source=rss</link><guid>g-1</guid>
              <pubDate>Mon, 04 Mar 2024 10:15:00 GMT</pubDate><dc:creator>Grace Hopper</dc:creator>
              <content:encoded><![CDATA[<p>The library will open on Sundays from April, the council said, after a survey found that most readers wanted weekend hours.</p><p>Staff will work a rota.</p>]]></content:encoded></item>
            <item><title>Only a summary</title><link>\(root)/moved/story</link><guid>g-2</guid>
              <description>Pier to be rebuilt.</description></item>
            <item><title>The same story again</title><link>\(root)/moved/story?utm_medium=feed</link><guid>g-3</guid></item>
            <item><title>Gone</title><link>\(root)/missing</link><guid>g-4</guid></item>
            </channel></rss>
            """
        return html(rss, type: "application/rss+xml", headers: [.eTag: "\"v1\"", .lastModified: "Mon, 04 Mar 2024 10:15:00 GMT"])
    }
    router.get("/notafeed") { _, _ in html(page(title: "Pier to be rebuilt", paragraphs: storyParagraphs)) }
    return router
}

/// `data` as gzip made of stored (uncompressed) deflate blocks, which every inflater reads.
fileprivate func storedGzip(_ data: Data) -> Data {
    var out = Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF])
    let bytes = [UInt8](data)
    var offset = 0
    repeat {
        let count = min(65_535, bytes.count - offset)
        let last: UInt8 = offset + count >= bytes.count ? 1 : 0
        out.append(last)
        out.append(contentsOf: [UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)])
        out.append(contentsOf: bytes[offset..<offset + count])
        offset += count
    } while offset < bytes.count
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    crc ^= 0xFFFF_FFFF
    for value in [crc, UInt32(truncatingIfNeeded: bytes.count)] {
        out.append(contentsOf: [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)])
    }
    return out
}

fileprivate var quiet: Logger {
    var logger = Logger(label: "margin.web-import-test")
    logger.logLevel = .critical
    return logger
}

/// Runs `body` with the test site listening on 127.0.0.1 and its base URL.
fileprivate func withSite(
    story: Mutable = Mutable(page(title: "Pier to be rebuilt", paragraphs: storyParagraphs)),
    _ body: @Sendable (String, Seen) async throws -> Void
) async throws {
    let seen = Seen()
    let base = Mutable("")
    let app = Application(router: testSite(seen: seen, story: story, base: base),
                          configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quiet)
    try await app.test(.live) { client in
        let root = "http://127.0.0.1:\(try #require(client.port))"
        base.current = root
        try await body(root, seen)
    }
}

fileprivate func importer(timeout: Double = 10, maxBytes: Int = 1 << 20) -> WebImporter {
    var options = PageFetcher.Options()
    options.timeout = timeout
    options.maxBytes = maxBytes
    return WebImporter(fetcher: PageFetcher(options: options))
}

@Suite struct WebImportTests {
    @Test func aFetchedPageIsTheArticleOfTheSavedPageWithTheSameID() async throws {
        try await withSite { root, _ in
            let saved = try HTMLImporter.parse(try Data(contentsOf: fixtures.appendingPathComponent("nyt-reservoir-drought.html")))
            let fetched = try await importer().article(at: URL(string: root + "/nyt")!)
            #expect(fetched == saved)
            #expect(fetched.url == "https://www.nytimes.com/2024/08/14/us/reservoir-drought-town.html")
            let store = try Store.inMemory()
            let ids = try store.importArticles([saved, fetched]).map(\.id)
            #expect(ids[0] == ids[1])
        }
    }

    @Test func redirectsAreFollowedAndThePageWithoutCanonicalKeepsItsFinalURL() async throws {
        try await withSite { root, _ in
            let article = try await importer().article(at: URL(string: root + "/old")!)
            #expect(article.url == root + "/moved/story")
            #expect(article.title == "Pier to be rebuilt")
            #expect(article.byline == "Ada Lovelace")
        }
    }

    @Test func failuresAreClearErrorsWithTheirKind() async throws {
        try await withSite { root, _ in
            let web = importer(timeout: 1, maxBytes: 1 << 20)
            func failure(_ path: String) async -> WebImportError? {
                do {
                    _ = try await web.article(at: URL(string: root + path)!)
                    return nil
                } catch {
                    return error
                }
            }
            guard case .fetch(.notFound(_, 404))? = await failure("/missing") else { Issue.record("404"); return }
            guard case .fetch(.status(_, 500))? = await failure("/broken") else { Issue.record("500"); return }
            #expect(await failure("/broken")?.isTemporary == true)
            guard case .fetch(.timeout)? = await failure("/slow") else { Issue.record("timeout"); return }
            #expect(await failure("/slow")?.isTemporary == true)
            guard case .fetch(.unsupportedType(_, "application/pdf"))? = await failure("/report.pdf") else {
                Issue.record("pdf"); return
            }
            guard case .fetch(.tooLarge)? = await failure("/huge") else { Issue.record("size"); return }
            let loop = await failure("/loop")
            guard case .fetch(.tooManyRedirects)? = loop else { Issue.record("loop: \(String(describing: loop))"); return }
            guard case .content(_, let error)? = await failure("/front") else { Issue.record("front"); return }
            #expect(error.message.contains("not an article"))
            #expect(await failure("/missing")?.isTemporary == false)
        }
    }

    @Test func anUnknownHostIsNotTemporary() async throws {
        do {
            _ = try await importer(timeout: 5).article(at: URL(string: "http://margin-test-host.invalid/story")!)
            Issue.record("an .invalid host resolved")
        } catch {
            guard case .fetch(.unknownHost(_, let host)) = error else {
                Issue.record("expected unknownHost, got \(error)")
                return
            }
            #expect(host == "margin-test-host.invalid")
            #expect(!error.isTemporary)
        }
    }

    @Test func gzipIsAskedForAndDecodedAndTheUserAgentNamesMargin() async throws {
        try await withSite { root, seen in
            let article = try await importer().article(at: URL(string: root + "/gzip")!)
            #expect(article.title == "Compressed pier story")
            #expect(seen.all("accept-encoding").first?.contains("gzip") == true)
            _ = try await importer().article(at: URL(string: root + "/story")!)
            #expect(seen.all("user-agent").first?.hasPrefix("Margin/") == true)
        }
    }

    @Test func theHTTPCharsetDecodesAPageThatDeclaresNone() async throws {
        try await withSite { root, _ in
            let article = try await importer().article(at: URL(string: root + "/latin")!)
            #expect(article.title == "Café owners object")
            #expect(article.body.contains("council’s plan"))
        }
    }

    @Test func aFeedAnswersNotModifiedToItsETag() async throws {
        try await withSite { root, seen in
            let web = importer()
            let (page, resource) = try await web.resource(URL(string: root + "/feed.xml")!, accept: .feed)
            guard case .feed(let feed)? = resource else { Issue.record("not a feed"); return }
            #expect(feed.entries.count == 4)
            #expect(page.etag == "\"v1\"")
            #expect(page.lastModified == "Mon, 04 Mar 2024 10:15:00 GMT")
            let (again, nothing) = try await web.resource(URL(string: root + "/feed.xml")!, accept: .feed, etag: page.etag,
                                                          lastModified: page.lastModified)
            #expect(again.notModified)
            #expect(nothing == nil)
            #expect(seen.all("feed") == ["-", "\"v1\""])
        }
    }

    @Test func feedEntriesUseTheirFullTextElseTheirPageAndDuplicatesGo() async throws {
        try await withSite { root, _ in
            let web = importer()
            let (_, resource) = try await web.resource(URL(string: root + "/feed.xml")!, accept: .feed)
            guard case .feed(let feed)? = resource else { Issue.record("not a feed"); return }
            let outcomes = await web.articles(of: feed)
            #expect(outcomes.count == 4)
            guard case .article(let full) = outcomes[0].result, case .article(let fetched) = outcomes[1].result else {
                Issue.record("entries 1 and 2 should be articles: \(outcomes.map(\.result))")
                return
            }
            #expect(full.title == "Full text in the feed")
            #expect(full.body.hasPrefix("The library will open on Sundays"))
            #expect(full.byline == "Grace Hopper")
            #expect(full.publishedAt == "2024-03-04T10:15:00Z")
            #expect(full.source == "Test Gazette")
            #expect(fetched.title == "Pier to be rebuilt")
            #expect(fetched.body.hasPrefix("The harbour commission voted"))
            guard case .duplicate = outcomes[2].result else { Issue.record("the same canonical URL twice"); return }
            guard case .failed(.fetch(.notFound)) = outcomes[3].result else { Issue.record("the gone entry"); return }
            // New entries only: the ones done are skipped without a fetch.
            let rest = await web.articles(of: feed, skipping: ["g-1", "g-2", "g-3"])
            #expect(rest.map(\.entry.key) == ["g-4"])
        }
    }

    @Test func aPageGivenAsAFeedIsRefused() async throws {
        try await withSite { root, _ in
            do {
                _ = try await importer().resource(URL(string: root + "/notafeed")!, accept: .feed)
                Issue.record("a page was read as a feed")
            } catch {
                #expect("\(error)".contains("not a feed"))
            }
        }
    }

    // MARK: - The binary

    /// Runs the built `margin` with `args` on `store` and waits (at most 60 s).
    fileprivate func margin(_ store: String, _ args: String...) async throws -> (status: Int32, out: String, err: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = builtMargin
        process.arguments = ["--store", store] + args
        process.environment = childEnvironment()
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + 60) { if process.isRunning { process.terminate() } }
        }
        return (status, String(decoding: try Data(contentsOf: out), as: UTF8.self),
                String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    fileprivate func freshStore() async throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("margin-web-\(UUID().uuidString).sqlite").path
        let result = try await margin(path, "init", "--name", "web-test")
        try #require(result.status == 0, "\(result.err)")
        return path
    }

    fileprivate func articleCount(_ store: String) async throws -> Int {
        let listed = try await margin(store, "list", "--json")
        let rows = try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as? [Any]
        return rows?.count ?? -1
    }

    @Test func importOfAURLExitsWithTheDocumentedCodeAndWritesNothingOnFailure() async throws {
        let story = Mutable(page(title: "Pier to be rebuilt", paragraphs: storyParagraphs))
        try await withSite(story: story) { root, _ in
            let store = try await freshStore()
            for (path, code, words) in [("/missing", 1, "404"), ("/report.pdf", 65, "application/pdf"),
                                        ("/front", 65, "not an article"), ("/broken", 75, "try again later")] {
                let result = try await margin(store, "import", root + path)
                #expect(result.status == Int32(code), "\(path): \(result.err)")
                #expect(result.err.hasPrefix("margin: ") && result.err.contains(words), "\(path): \(result.err)")
            }
            let slow = try await margin(store, "import", "--timeout", "1", root + "/slow")
            #expect(slow.status == 75, "\(slow.err)")
            // A good page with a bad one: nothing is written.
            let mixed = try await margin(store, "import", root + "/story", root + "/missing")
            #expect(mixed.status == 1)
            #expect(try await articleCount(store) == 0)
            let usage = try await margin(store, "import", "http://")
            #expect(usage.status == 64, "\(usage.err)")

            // A page, then the same page corrected: a new revision, like a file.
            let first = try await margin(store, "import", root + "/story")
            #expect(first.status == 0, "\(first.err)")
            #expect(first.out.hasPrefix("created"))
            let same = try await margin(store, "import", root + "/story")
            #expect(same.out.hasPrefix("unchanged"))
            story.current = page(title: "Pier to be rebuilt", paragraphs: [storyParagraphs[0], "Work will begin in the summer."])
            let corrected = try await margin(store, "import", "--json", root + "/story")
            let rows = try JSONSerialization.jsonObject(with: Data(corrected.out.utf8)) as? [[String: Any]]
            #expect(rows?.first?["status"] as? String == "updated")
            #expect(rows?.first?["file"] as? String == root + "/story")
            #expect(try await articleCount(store) == 1)
        }
    }

    @Test func feedCommandsFollowFetchNewEntriesOnlyAndUseConditionalGets() async throws {
        try await withSite { root, seen in
            let store = try await freshStore()
            let refused = try await margin(store, "feed", "add", root + "/notafeed")
            #expect(refused.status == 65, "\(refused.err)")
            let added = try await margin(store, "feed", "add", root + "/feed.xml")
            #expect(added.status == 0, "\(added.err)")
            let twice = try await margin(store, "feed", "add", root + "/feed.xml")
            #expect(twice.out.contains("already"))

            // The first fetch imports two articles (full text, fetched page), skips the duplicate, and
            // reports the gone page (exit 1); it is not retried.
            let first = try await margin(store, "feed", "fetch", "--json")
            #expect(first.status == 1, "\(first.err)")
            let row = (try JSONSerialization.jsonObject(with: Data(first.out.utf8)) as? [[String: Any]])?.first
            #expect(row?["created"] as? Int == 2)
            #expect(row?["new"] as? Int == 4)
            #expect((row?["failed"] as? [Any])?.count == 1)
            #expect(try await articleCount(store) == 2)

            // The second is a conditional GET: 304, nothing new.
            let second = try await margin(store, "feed", "fetch")
            #expect(second.status == 0, "\(second.err)")
            #expect(second.out.contains("not modified"))
            #expect(seen.all("feed").last == "\"v1\"")

            let listed = try await margin(store, "feed", "list", "--json")
            let feeds = try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as? [[String: Any]]
            #expect(feeds?.first?["entries"] as? Int == 4)
            #expect(feeds?.first?["title"] as? String == "Test Gazette")
            let removed = try await margin(store, "feed", "rm", root + "/feed.xml")
            #expect(removed.status == 0)
            #expect(try await articleCount(store) == 2)
            let unknown = try await margin(store, "feed", "rm", root + "/feed.xml")
            #expect(unknown.status == 1)

            // `margin import FEED` imports the entries too, without following it.
            let other = try await freshStore()
            let imported = try await margin(other, "import", root + "/feed.xml")
            #expect(imported.status == 1, "\(imported.err)")
            #expect(imported.err.contains("/missing"))
            #expect(try await articleCount(other) == 2)
        }
    }
}
