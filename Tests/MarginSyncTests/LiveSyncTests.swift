import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarginStore
import MarginSync
import NIOCore
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Live sync tests: real Hummingbird servers on 127.0.0.1 (a free port each), the real
// URLSession `SyncClient` and `Reconciler`, and in-memory or on-disk stores. Every outcome is
// checked on the stores themselves: canonical exports byte for byte, change counts, version
// vectors, conflicts.

// MARK: - Servers

/// A server running in a task on 127.0.0.1; `stop()` shuts it down gracefully and waits for it to end.
fileprivate final class LiveServer: Sendable {
    let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.port = port
        self.task = task
        self.group = group
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Serves `store` with `SyncServer.buildApplication`, on a free port unless one is given.
    static func serve(_ store: Store, port: Int = 0) async throws -> LiveServer {
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = SyncServer.buildApplication(store: store, host: "127.0.0.1", port: port, logger: quietLogger) {
            announce.yield($0)
        }
        return try await start(app, ports: ports, announce: announce)
    }

    /// Runs any application whose `onServerRunning` yields its port to `announce`.
    static func start(
        _ app: some ApplicationProtocol, ports: AsyncStream<Int>, announce: AsyncStream<Int>.Continuation
    ) async throws -> LiveServer {
        let group = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        let task = Task {
            defer { announce.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            let outcome = await task.result
            throw ServerDidNotStart(reason: "\(outcome)")
        }
        return LiveServer(port: port, task: task, group: group)
    }

    /// Stops the server gracefully (a cancelled server task can drop a connection it accepted
    /// but never served, which NIO traps on), cancelling it after 5 s.
    func stop() async {
        await GracefulStop.stop(group, task)
    }

    /// Begins shutting the server down without waiting (usable from synchronous callbacks): it
    /// stops listening and closes its connections once their requests are answered.
    func cancel() {
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
    }
}

/// Cancelling a server makes Hummingbird log an error per open connection: keep test output clean.
fileprivate let quietLogger: Logger = {
    var logger = Logger(label: "margin.test-server")
    logger.logLevel = .critical
    return logger
}()

struct ServerDidNotStart: Error, CustomStringConvertible {
    var reason: String
    var description: String { "the server did not start: \(reason)" }
}

fileprivate extension LiveServer {
    /// Runs `body` with this server, and stops the server however `body` ends.
    func whileRunning<T>(_ body: (LiveServer) async throws -> T) async throws -> T {
        do {
            let value = try await body(self)
            await stop()
            return value
        } catch {
            await stop()
            throw error
        }
    }
}

/// Serves `store` for the duration of `body`, and stops the server however `body` ends.
fileprivate func withServer<T>(_ store: Store, _ body: (LiveServer) async throws -> T) async throws -> T {
    try await LiveServer.serve(store).whileRunning(body)
}

// MARK: - Stores and syncing

enum SyncFixtures {
    /// The package's root folder (this file is Tests/MarginSyncTests/LiveSyncTests.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let storyURL = packageRoot.appendingPathComponent(
        "Tests/MarginStoreTests/Fixtures/yonhap-blinken-seoul-2021-03-17.txt")

    /// The Yonhap story as the importer reads it.
    static func story() throws -> ImportedArticle {
        try ArticleImporter.parse(Data(contentsOf: storyURL), format: .text, filename: storyURL.path)[0]
    }

    /// Imports the story into `store` and returns the article id.
    @discardableResult
    static func importStory(into store: Store) throws -> String {
        try store.importArticles([try story()])[0].id
    }

    static func quote(_ exact: String) -> Anchor { .quote(exact: exact, prefix: nil, suffix: nil) }
}

/// A full sync (pull, then push) of `store` with the server at `url`.
@discardableResult
fileprivate func sync(
    _ store: Store, with url: URL, token: String? = nil, pageSize: Int = 100, attempts: Int = 4,
    timeout: TimeInterval = 10, progress: (@Sendable (String) -> Void)? = nil
) async throws -> SyncReport {
    let client = SyncClient(baseURL: url, token: token, timeout: timeout)
    return try await Reconciler(store: store, client: client, pageSize: pageSize, attempts: attempts, progress: progress)
        .run(remote: "test")
}

fileprivate func export(_ store: Store) throws -> String { String(decoding: try store.exportJSON(), as: UTF8.self) }

/// The conflicts as every replica should list them: `mine` is the only per-replica field.
fileprivate func neutral(_ conflicts: [ConflictInfo]) -> [ConflictInfo] {
    conflicts.map { conflict in
        var conflict = conflict
        conflict.versions = conflict.versions.map { version in
            var version = version
            version.mine = false
            return version
        }
        return conflict
    }
}

fileprivate func changeCount(_ store: Store) throws -> Int { try store.counts().changes }

/// A folder for on-disk stores, removed when the test is done with it.
fileprivate final class TempFolder: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("margin-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A thread-safe counter for callbacks.
fileprivate final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    @discardableResult
    func increment() -> Int { lock.withLock { value += 1; return value } }

    var count: Int { lock.withLock { value } }
}

/// A TCP relay on 127.0.0.1 that counts the bytes each way, headers included: what a sync
/// really costs on the wire.
fileprivate final class ByteCountingProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let lock = NSLock()
    private var _up = 0
    private var _down = 0
    private var _connections = 0

    init(upstream: Int) throws {
        (listener, port) = try listeningSocket(port: 0)
        self.upstream = upstream
        Thread { [self] in acceptLoop() }.start()
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }
    /// Bytes from the client to the server, and back; TCP connections opened.
    var counts: (up: Int, down: Int, connections: Int) { lock.withLock { (_up, _down, _connections) } }

    /// Stops accepting (open connections end when either side closes them).
    func stop() { _ = shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { closeSocket(listener) }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            guard let server = try? connectedSocket(port: upstream) else {
                closeSocket(client)
                continue
            }
            lock.withLock { _connections += 1 }
            let done = Counter()
            for (from, to, up) in [(client, server, true), (server, client, false)] {
                Thread { [self] in
                    relay(from, to, up: up)
                    if done.increment() == 2 {
                        closeSocket(client)
                        closeSocket(server)
                    }
                }.start()
            }
        }
    }

    private func relay(_ from: Int32, _ to: Int32, up: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            lock.withLock { if up { _up += n } else { _down += n } }
            var sent = 0
            while sent < n {
                let m = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                if m <= 0 { break }
                sent += m
            }
        }
        _ = shutdown(to, Int32(SHUT_WR))
    }
}

// MARK: - Sockets

func tcpSocket() -> Int32 {
    #if canImport(Glibc)
    socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    socket(AF_INET, SOCK_STREAM, 0)
    #endif
}

func closeSocket(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// A socket bound to 127.0.0.1:`port` and listening; returns it and its port.
func listeningSocket(port: Int) throws -> (Int32, Int) {
    let fd = tcpSocket()
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = loopbackAddress(port: port)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
        closeSocket(fd)
        throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A socket connected to 127.0.0.1:`port`.
func connectedSocket(port: Int) throws -> Int32 {
    let fd = tcpSocket()
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        closeSocket(fd)
        throw POSIXError(.ECONNREFUSED)
    }
    return fd
}

// MARK: - Crafted HTTP requests

fileprivate struct RawResponse {
    var status: Int
    var body: Data
    var headers: [String: String]

    var error: ErrorResponse? { try? JSONDecoder().decode(ErrorResponse.self, from: body) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Sends one request with URLSession, exactly as given (plus `Margin-Protocol: 1` unless overridden).
fileprivate func rawRequest(
    _ base: URL, _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil
) async throws -> RawResponse {
    var request = URLRequest(url: base.appendingPathComponent(path))
    request.httpMethod = method
    request.timeoutInterval = 20
    var all = [SyncProtocol.versionHeader: String(SyncProtocol.version), "Content-Type": "application/json"]
    all.merge(headers) { $1 }
    for (name, value) in all { request.setValue(value, forHTTPHeaderField: name) }
    request.httpBody = body
    let session = URLSession(configuration: .ephemeral)
    defer { session.finishTasksAndInvalidate() }
    let (data, response): (Data, URLResponse) = try await withCheckedThrowingContinuation { continuation in
        session.dataTask(with: request) { data, response, error in
            if let error { continuation.resume(throwing: error) }
            else { continuation.resume(returning: (data ?? Data(), response!)) }
        }.resume()
    }
    let http = try #require(response as? HTTPURLResponse)
    var fields: [String: String] = [:]
    for (key, value) in http.allHeaderFields {
        if let key = key as? String, let value = value as? String { fields[key.lowercased()] = value }
    }
    return RawResponse(status: http.statusCode, body: data, headers: fields)
}

/// A push body of the given runs, as the wire carries it.
fileprivate func pushBody(_ runs: [SignedRun], protocol version: Int = SyncProtocol.version) throws -> Data {
    var request = PushRequest(runs: runs)
    request.protocol = version
    return Data(WireCodec.encode(request))
}

/// `run` signed with `key`, as its author would ship it.
fileprivate func signed(_ run: Run, with key: ReplicaKey) -> SignedRun {
    let body = RunCodec.encode(run)
    let hash = Hashing.sha256(body)
    return SignedRun(
        origin: run.origin, first: run.first, last: run.last, body: body, hash: hash, key: key.publicKey,
        signature: key.sign(runHash: hash))
}

/// What a store holds, to check that a refused request wrote nothing.
fileprivate struct Snapshot: Equatable {
    var vector: VersionVector
    var changes: Int
    var export: String

    init(_ store: Store) throws {
        vector = try store.versionVector()
        changes = try changeCount(store)
        export = try MarginSyncTests.export(store)
    }
}

// MARK: - Tests

@Suite("live sync over HTTP")
struct LiveSyncTests {
    @Test func twoLaptopsAndAHubConvergeAfterOfflineEditsOnBoth() async throws {
        // Given a hub served on 127.0.0.1, and laptop A holding the Yonhap story with two
        // annotated highlights and article tags, synced through the hub to laptop B.
        let hub = try Store.inMemory(name: "hub")
        let a = try Store.inMemory(name: "laptop-a")
        let b = try Store.inMemory(name: "laptop-b")
        let article = try SyncFixtures.importStory(into: a)
        let baseNote = "Kim Yo-jong's warning.\nShe spoke a day before.\nThe drills go on.\nAllies plan talks.\nWatch Pyongyang."
        let stink = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("cause a stink"), note: baseNote,
                                    tags: ["quote"], color: "yellow").id
        let chung = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("Chung Eui-yong"),
                                    note: "First face-to-face talks at 6:30 p.m.").id
        try a.addTags(ref: article, tags: ["korea", "diplomacy"])

        try await withServer(hub) { server in
            try await sync(a, with: server.url)
            let first = try await sync(b, with: server.url)
            #expect(first.received == (try changeCount(hub)) - 1)  // all but B's own name
            #expect(try export(b) == export(a))

            // When both laptops edit offline: the same note on different lines (mergeable), the
            // same line of another note (a conflict), new highlights and tags on each side.
            try a.setNote(annotationRef: stink, text: baseNote.replacingOccurrences(
                of: "Kim Yo-jong's warning.", with: "Kim Yo-jong's jarring warning."))
            try b.setNote(annotationRef: stink, text: baseNote.replacingOccurrences(
                of: "Watch Pyongyang.", with: "Watch Pyongyang's answer."))
            try a.setNote(annotationRef: chung, text: "First face-to-face talks at 6:30 p.m., per A's notes")
            try b.setNote(annotationRef: chung, text: "First face-to-face talks at 6:30 p.m., per B's notes")
            let regime = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("recalcitrant regime"),
                                         tags: ["nk-policy"]).id
            try a.addTags(ref: article, tags: ["alliance"])
            let austin = try b.highlight(articleRef: article, anchor: SyncFixtures.quote("Lloyd Austin"),
                                         note: "Austin flew in hours earlier.").id
            try b.addTags(ref: stink, tags: ["follow-up"])
            // B imports the same story again: one article id, nothing recorded.
            #expect(try b.importArticles([try SyncFixtures.story()])[0].status == .unchanged)

            // …and then sync through the hub: A, B, then A again to collect B's edits.
            let reportA = try await sync(a, with: server.url)
            let reportB = try await sync(b, with: server.url)
            let reportA2 = try await sync(a, with: server.url)
            #expect(reportA.received == 1 && reportA.sent > 0)  // B's name, from its first sync
            #expect(reportB.received == reportA.sent && reportB.sent > 0)
            #expect(reportA2.received == reportB.sent && reportA2.sent == 0)

            // Then the three replicas hold the same changes and show the same bytes.
            #expect(try a.versionVector() == hub.versionVector())
            #expect(try b.versionVector() == hub.versionVector())
            #expect(try changeCount(a) == changeCount(hub))
            #expect(try changeCount(b) == changeCount(hub))
            let hubExport = try export(hub)
            #expect(try export(a) == hubExport)
            #expect(try export(b) == hubExport)
            #expect(try a.annotations().count == 4)
            #expect(try hub.annotation(regime).tags == ["nk-policy"])
            #expect(try hub.annotation(austin).note == "Austin flew in hours earlier.")
            #expect(try hub.annotation(stink).tags == ["follow-up", "quote"])
            #expect(try hub.article(article).tags == ["alliance", "diplomacy", "korea"])

            // The edits of different lines merged three-way, the same on every replica.
            let merged = baseNote.replacingOccurrences(of: "Kim Yo-jong's warning.", with: "Kim Yo-jong's jarring warning.")
                .replacingOccurrences(of: "Watch Pyongyang.", with: "Watch Pyongyang's answer.")
            for store in [a, b, hub] { #expect(try store.annotation(stink).note == merged) }

            // The overlapping edits are one conflict, listed alike on both laptops and on the hub,
            // keeping both texts.
            let conflicts = try hub.conflicts()
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.entityID == chung)
            #expect(conflicts.first?.field == "note")
            #expect(Set(conflicts.first?.versions.map(\.value) ?? []) == [
                .string("First face-to-face talks at 6:30 p.m., per A's notes"),
                .string("First face-to-face talks at 6:30 p.m., per B's notes"),
            ])
            #expect(neutral(try a.conflicts()) == neutral(conflicts))
            #expect(neutral(try b.conflicts()) == neutral(conflicts))
            #expect(try a.conflicts().first?.versions.filter(\.mine).map(\.originName) == ["laptop-a"])
            #expect(try b.conflicts().first?.versions.filter(\.mine).map(\.originName) == ["laptop-b"])
            #expect(reportB.conflicts == 1 && reportA2.conflicts == 1)  // it appeared on each laptop on arrival

            // And another round is a no-op for both.
            for store in [a, b] {
                let again = try await sync(store, with: server.url)
                #expect(again.sent == 0 && again.received == 0 && again.requests == 1)
            }
        }
    }

    @Test func twoLaptopsSyncWithoutAHubWhenOneOfThemServes() async throws {
        // Given laptop A and laptop B, each having imported the same story and annotated it offline.
        let a = try Store.inMemory(name: "laptop-a")
        let b = try Store.inMemory(name: "laptop-b")
        let articleA = try SyncFixtures.importStory(into: a)
        let articleB = try SyncFixtures.importStory(into: b)
        #expect(articleA == articleB)
        _ = try a.highlight(articleRef: articleA, anchor: SyncFixtures.quote("sleep in peace"), note: "Kim Yo-jong")
        try a.addTags(ref: articleA, tags: ["korea"])
        let bHighlight = try b.highlight(articleRef: articleB, anchor: SyncFixtures.quote("Lloyd Austin")).id
        try b.addTags(ref: articleB, tags: ["alliance", "korea"])
        let aOnly = try changeCount(a)
        let bOnly = try changeCount(b)

        // When A serves its own store (HummingbirdTesting's live server) and B syncs with it.
        let app = SyncServer.buildApplication(store: a, host: "127.0.0.1", port: 0, logger: quietLogger)
        let report = try await app.test(.live) { client in
            let url = URL(string: "http://localhost:\(try #require(client.port))")!
            let report = try await sync(b, with: url)
            // A change B made is then on A, and a second sync has nothing to do.
            let again = try await sync(b, with: url)
            #expect(again.sent == 0 && again.received == 0 && again.requests == 1)
            return report
        }

        // Then each received exactly what the other made, and both show the same bytes: one
        // article (the same story imported twice), four tags merged as a set, no conflicts.
        #expect(report.received == aOnly)
        #expect(report.sent == bOnly)
        #expect(try export(a) == export(b))
        #expect(try a.versionVector() == b.versionVector())
        #expect(try a.articles().count == 1)
        #expect(try a.article(articleA).tags == ["alliance", "korea"])
        #expect(try a.annotation(bHighlight).author == "laptop-b")
        #expect(try a.conflicts().isEmpty && b.conflicts().isEmpty)
    }

    @Test func aReplicaJoiningLateGetsEverythingOnceAndANoOpSyncIsOneSmallRequest() async throws {
        // Given a hub that already holds the work of two laptops.
        let hub = try Store.inMemory(name: "hub")
        let a = try Store.inMemory(name: "laptop-a")
        let b = try Store.inMemory(name: "laptop-b")
        let article = try SyncFixtures.importStory(into: a)
        for quote in ["cause a stink", "Chung Eui-yong", "recalcitrant regime"] {
            _ = try a.highlight(articleRef: article, anchor: SyncFixtures.quote(quote), note: "note on \(quote)")
        }
        try await withServer(hub) { server in
            try await sync(a, with: server.url)
            try await sync(b, with: server.url)
            try b.addTags(ref: article, tags: ["seoul"])
            try await sync(b, with: server.url)
            try await sync(a, with: server.url)

            // When a third replica joins, with only its own name change, and syncs in small pages.
            let c = try Store.inMemory(name: "laptop-c")
            let own = try changeCount(c)
            let held = try changeCount(hub)
            let first = try await sync(c, with: server.url, pageSize: 10)

            // Then it received every change the hub held, once, and sent only its own.
            #expect(first.received == held)
            #expect(first.received == (try changeCount(hub)) - own)
            #expect(first.sent == own)
            #expect(first.conflicts == 0)
            #expect(first.requests == (held + 9) / 10 + 1)  // pages of 10, then one push
            #expect(try changeCount(c) == changeCount(hub))
            #expect(try export(c) == export(hub))
            #expect(try c.versionVector() == hub.versionVector())

            // And a second sync has nothing to send or receive: one request, under 1 KB on the
            // wire, headers included (measured by a relay between the client and the hub).
            let proxy = try ByteCountingProxy(upstream: server.port)
            defer { proxy.stop() }
            let second = try await sync(c, with: proxy.url, pageSize: 10)
            #expect(second.received == 0 && second.sent == 0)
            #expect(second.requests == 1)
            #expect(second.remoteVector == (try hub.versionVector()))
            #expect(second.bytesSent + second.bytesReceived < 1024)
            let wire = proxy.counts
            #expect(wire.connections == 1)
            #expect(wire.up + wire.down < 1024, "\(wire.up) bytes up, \(wire.down) down")
            print("no-op sync (\(try hub.versionVector().seqs.count) origins): \(second.requests) request; "
                + "report \(second.bytesSent)+\(second.bytesReceived) bytes, wire \(wire.up)+\(wire.down) bytes")
        }
    }

    @Test func changesKeepTheirOriginWhenForwardedThroughAHub() async throws {
        // Given laptop A's highlights, pushed to the hub.
        let hub = try Store.inMemory(name: "hub")
        let a = try Store.inMemory(name: "laptop-a")
        let b = try Store.inMemory(name: "laptop-b")
        let article = try SyncFixtures.importStory(into: a)
        let highlight = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("cause a stink"), note: "from A").id
        try await withServer(hub) { server in
            let pushed = try await sync(a, with: server.url)
            #expect(pushed.sent == (try changeCount(a)) - 1)  // all but the hub's own name, pulled first

            // When laptop B pulls them from the hub.
            let pulled = try await sync(b, with: server.url)

            // Then B's log names A, not the hub, as their origin, with A's own sequence numbers.
            let entries = try b.log(entityID: highlight)
            #expect(!entries.isEmpty)
            #expect(entries.allSatisfy { $0.origin == a.replicaID && $0.originName == "laptop-a" })
            #expect(Set(entries.map(\.seq)) == Set(try a.log(entityID: highlight).map(\.seq)))
            #expect(try b.versionVector()[a.replicaID] == a.versionVector()[a.replicaID])
            #expect(pulled.received == (try changeCount(hub)) - 1)

            // And pushing B to the hub again sends nothing: A's changes are not echoed back.
            let client = SyncClient(baseURL: server.url)
            let push = try await Reconciler(store: b, client: client).run(remote: "hub", push: true, pull: false)
            #expect(push.sent == 0)
            #expect(push.requests == 1)  // the vector, and no POST
            // Nor does A get its own changes back from the hub.
            let back = try await sync(a, with: server.url)
            #expect(back.received == 1 && back.sent == 0)  // B's name only
            #expect(try a.log(entityID: highlight).allSatisfy { $0.origin == a.replicaID })
        }
    }

    @Test func anInterruptedPushResumesWithoutDuplicatesAfterTheServerRestarts() async throws {
        // Given a laptop with thousands of offline changes (100 highlights with notes on the
        // Yonhap story, 25 tags on each, added one at a time) and an empty hub on disk.
        let folder = try TempFolder()
        let hubPath = folder.path("hub.sqlite")
        let hub = try Store.create(at: hubPath, name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        let article = try SyncFixtures.importStory(into: laptop)
        let length = try laptop.article(article).body.unicodeScalars.count
        for i in 0..<100 {
            let start = (i * 31) % (length - 20)
            let id = try laptop.highlight(
                articleRef: article, anchor: .position(start: start, end: start + 1 + i % 19), note: "note \(i)").id
            for tag in 0..<25 { try laptop.addTags(ref: id, tags: ["topic-\(i)-\(tag)"]) }
        }
        let total = try changeCount(laptop)
        #expect(total > 2_500)

        // When the server stops after five pages of 100 have been acknowledged.
        let server = try await LiveServer.serve(hub)
        let port = server.port
        let pages = Counter()
        let interrupted: (any Error)?
        do {
            try await sync(laptop, with: server.url, pageSize: 100, attempts: 2) { message in
                if message.hasPrefix("sent"), pages.increment() == 5 { server.cancel() }
            }
            interrupted = nil
        } catch {
            interrupted = error
        }
        await server.stop()

        // Then the sync failed with a SyncError, having delivered some of the pages but not all.
        let error = try #require(interrupted, "the sync should fail when the server stops")
        #expect(error is SyncError)
        #expect((error as? SyncError)?.isTemporary == true)
        let delivered = try changeCount(hub)
        #expect(delivered > 500 && delivered < total)
        #expect(try hub.versionVector()[laptop.replicaID] == Int64(delivered - 1))  // a contiguous prefix

        // When a server is started again on the same port over the store reopened from disk.
        let reopened = try Store.open(at: hubPath)
        #expect(try changeCount(reopened) == delivered)
        let resumed = try await LiveServer.serve(reopened, port: port).whileRunning { restarted in
            try await sync(laptop, with: restarted.url, pageSize: 100)
        }

        // Then the sync completes, sending exactly what the hub lacked: nothing twice.
        #expect(resumed.received == 0)
        #expect(resumed.sent == (try changeCount(laptop)) - delivered)
        #expect(try changeCount(reopened) == changeCount(laptop))
        #expect(try reopened.versionVector() == laptop.versionVector())
        #expect(try export(reopened) == export(laptop))
        print("interrupted push: \(delivered) of \(total) changes delivered before the stop; "
            + "resumed with \(resumed.sent) in \(resumed.requests) requests")
    }

    @Test func aPageSizeOutsideWhatTheProtocolAllowsIsKeptWithinIt() async throws {
        // Given a laptop with a few dozen changes, and a hub.
        let hub = try Store.inMemory(name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        let article = try SyncFixtures.importStory(into: laptop)
        try laptop.addTags(ref: article, tags: ["korea", "alliance", "diplomacy"])
        let own = try changeCount(laptop)
        try await withServer(hub) { server in
            // When it syncs with a page size of 0 (which `Store.changes` would trap on),
            let tiny = try await sync(laptop, with: server.url, pageSize: 0)
            // Then it syncs one change per request instead.
            #expect(tiny.received == 1 && tiny.sent == own)
            #expect(tiny.requests == 1 + own)  // one page with the hub's one change, then one push each

            // When another replica pulls with a page size past the protocol's 5,000 (which the
            // server would refuse with 400),
            let other = try Store.inMemory(name: "laptop-b")
            let huge = try await sync(other, with: server.url, pageSize: 1_000_000)
            // Then it gets everything in one page.
            #expect(huge.received == own + 1 && huge.requests == 2)
            #expect(try export(other) == export(laptop))
        }
    }

    @Test func longArticlesSyncInPagesThatFitTheBodyLimit() async throws {
        // Given a laptop holding twelve 1.5 MiB articles: 18 MiB of bodies, past the 16 MiB a push
        // may carry, in fewer changes than one page of 100.
        let hub = try Store.inMemory(name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        let paragraph = String(repeating: "The committee met again on Tuesday and read the report aloud. ", count: 64)
        let body = (0..<384).map { "\($0). \(paragraph)" }.joined(separator: "\n\n")
        #expect(body.utf8.count > 1_500_000)
        let articles = (0..<12).map {
            ImportedArticle(url: "https://news.example.com/long/\($0)", title: "Long report \($0)", body: "\($0) \(body)")
        }
        _ = try laptop.importArticles(articles)
        try await withServer(hub) { server in
            // When it pushes with pages of up to 100 changes (a debug build on a busy machine
            // takes a while to apply 8 MiB: a generous timeout, so no page is sent twice),
            let push = try await sync(laptop, with: server.url, pageSize: 100, timeout: 300)
            // Then every change arrives, in pages the server accepts (more than one).
            #expect(try changeCount(hub) == changeCount(laptop))
            #expect(push.requests > 3)
            #expect(try export(hub) == export(laptop))

            // And a pull of up to 5,000 changes from the hub answers a page of at most about 8 MiB
            // that says more remain.
            let client = SyncClient(baseURL: server.url, timeout: 300)
            let page = try await client.changes(after: VersionVector(), limit: 5_000)
            #expect(page.more)
            #expect(page.changeCount < (try changeCount(hub)))
            #expect(client.stats.bytesReceived < SyncProtocol.maxBodyBytes)
        }
    }

    @Test func tokensAreCheckedOnEveryRequestAndRevokingOneTakesEffectAtOnce() async throws {
        // Given a hub with a token, and a laptop with a change to push.
        let hub = try Store.inMemory(name: "hub")
        let token = try hub.createToken(name: "laptop-a")
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)
        let before = try Snapshot(hub)

        try await withServer(hub) { server in
            // When the laptop syncs without a token, or with a wrong one,
            // Then it is refused as unauthorized, and nothing is written on either side.
            for presented in [nil, "mgn_wrong", token + "x"] as [String?] {
                await #expect {
                    try await sync(laptop, with: server.url, token: presented)
                } throws: { error in
                    guard case SyncError.unauthorized = error else { return false }
                    return true
                }
            }
            #expect(try Snapshot(hub) == before)
            // Health stays open, for monitoring.
            #expect(try await SyncClient(baseURL: server.url).health().replicaName == "hub")
            let refused = try await rawRequest(server.url, "GET", "/v1/vector")
            #expect(refused.status == 401)
            #expect(refused.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            #expect(refused.error?.code == "unauthorized")

            // When it presents the right token, the sync goes through.
            let report = try await sync(laptop, with: server.url, token: token)
            #expect(report.sent == (try changeCount(laptop)) - 1)
            #expect(try export(hub) == export(laptop))

            // When the token is revoked while the server runs,
            // Then the very next request with it is refused, and nothing more is written.
            try hub.revokeToken(name: "laptop-a")
            try SyncFixtures.importStory(into: laptop)  // unchanged: no change
            try laptop.addTags(ref: try laptop.articles()[0].id, tags: ["after-revoke"])
            let afterSync = try Snapshot(hub)
            let client = SyncClient(baseURL: server.url, token: token)
            await #expect {
                _ = try await client.vector()
            } throws: { error in
                guard case SyncError.unauthorized = error else { return false }
                return true
            }
            await #expect(throws: SyncError.self) { try await sync(laptop, with: server.url, token: token) }
            #expect(try Snapshot(hub) == afterSync)

            // And a new token works again at once, without a restart.
            let fresh = try hub.createToken(name: "laptop-a-2")
            #expect(try await sync(laptop, with: server.url, token: fresh).sent == 1)
        }
    }

    @Test func anOversizedBodyIsRefusedWith413AndWritesNothing() async throws {
        // Given a hub.
        let hub = try Store.inMemory(name: "hub")
        let before = try Snapshot(hub)
        try await withServer(hub) { server in
            // When a push body is larger than the limit (a valid push padded with spaces),
            var body = Data(#"{"protocol":2,"runs":[]"#.utf8)
            body.append(Data(repeating: UInt8(ascii: " "), count: SyncProtocol.maxBodyBytes))
            body.append(Data("}".utf8))
            let response = try await rawRequest(server.url, "POST", "/v1/changes", body: body)

            // Then it is refused with 413 and nothing is written; the server keeps serving.
            #expect(response.status == 413)
            #expect(response.error?.code == "too_large", "\(response.text)")
            #expect(try Snapshot(hub) == before)

            // When a push carries more changes than a batch may hold (each one well formed),
            // (two signed runs: one of as many changes as a run may hold, and one more)
            let key = try ReplicaKey(seed: Array(repeating: 3, count: 32))
            let hlc = HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
            func changes(_ seqs: ClosedRange<Int64>) -> [Change] {
                seqs.map { Change(origin: key.replicaID, seq: $0, hlc: HLC(rawValue: hlc.rawValue + $0), entity: .replica,
                                  entityID: key.replicaID, field: "name", value: .string("name \($0)")) }
            }
            let full = signed(Run(origin: key.replicaID, first: 1, prev: [],
                                  changes: changes(1...Int64(ChangeLimits.maxRunChanges))), with: key)
            let next = Int64(ChangeLimits.maxRunChanges) + 1
            let many = [full, signed(Run(origin: key.replicaID, first: next, prev: full.hash, changes: changes(next...next)),
                                     with: key)]
            #expect(many.reduce(0) { $0 + $1.count } == SyncProtocol.maxBatch + 1)
            let tooMany = try await rawRequest(server.url, "POST", "/v1/changes", body: try pushBody(many))
            // Then it is a 422, and nothing is written.
            #expect(tooMany.status == 422)
            #expect(tooMany.error?.code == "too_many_changes", "\(tooMany.text)")
            #expect(try Snapshot(hub) == before)
            #expect(try await SyncClient(baseURL: server.url).vector() == before.vector)
        }
    }

    @Test func aValueNestedDeeperThanTheProtocolAllowsIsRefusedWith422() async throws {
        // Given a hub, and a replica of its own key (signing is no obstacle to a hostile client).
        let hub = try Store.inMemory(name: "hub")
        let before = try Snapshot(hub)
        let key = try ReplicaKey(seed: Array(repeating: 7, count: 32))
        func run(nesting: Int) -> SignedRun {
            var value = JSONValue.string("deep")
            for _ in 1..<nesting { value = .array([value]) }
            let change = Change(
                origin: key.replicaID, seq: 1, hlc: HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)),
                entity: .replica, entityID: key.replicaID, field: "name", value: value)
            return signed(Run(origin: key.replicaID, first: 1, prev: [], changes: [change]), with: key)
        }
        try await withServer(hub) { server in
            // When a signed run's value is nested one level deeper than the protocol allows (the
            // wire's JSON would take 512),
            let response = try await rawRequest(
                server.url, "POST", "/v1/changes", body: try pushBody([run(nesting: ChangeLimits.maxValueNesting + 1)]))
            // Then the push is refused with the protocol's 422, naming the limit, and writes nothing.
            #expect(response.status == 422)
            #expect(response.error?.code == "invalid_change", "\(response.text)")
            #expect(response.text.contains("nested deeper than \(ChangeLimits.maxValueNesting) levels"), "\(response.text)")
            #expect(try Snapshot(hub) == before)
            // While the limit itself is accepted (and a replica name that is not a string shows no name).
            let accepted = try await rawRequest(
                server.url, "POST", "/v1/changes", body: try pushBody([run(nesting: ChangeLimits.maxValueNesting)]))
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(try hub.versionVector()[key.replicaID] == 1)
        }
    }

    @Test func malformedOrMistypedPushesAreRefusedWith400AndWriteNothing() async throws {
        // Given a hub, and the real changes of a laptop to build bodies from.
        let hub = try Store.inMemory(name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)
        let changes = try laptop.runs(after: VersionVector(), limit: 1_000).runs
        let valid = try JSONSerialization.jsonObject(with: try pushBody(changes)) as! [String: Any]
        func mutated(_ edit: (inout [String: Any]) -> Void) throws -> Data {
            var object = valid
            edit(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }
        let before = try Snapshot(hub)
        try await withServer(hub) { server in
            // When pushes arrive that are not JSON, or JSON of the wrong shape or types,
            let bodies: [(String, Data)] = [
                ("truncated JSON", try pushBody(changes).dropLast(10)),
                ("not JSON", Data("protocol=2&runs=all".utf8)),
                ("empty", Data()),
                ("runs is a string", try mutated { $0["runs"] = "everything" }),
                ("first is a string", try mutated { object in
                    var list = object["runs"] as! [[String: Any]]
                    list[0]["first"] = "one"
                    object["runs"] = list
                }),
                ("origin is a number", try mutated { object in
                    var list = object["runs"] as! [[String: Any]]
                    list[0]["origin"] = 42
                    object["runs"] = list
                }),
                ("a run without its body", try mutated { object in
                    var list = object["runs"] as! [[String: Any]]
                    list[0]["run"] = nil
                    object["runs"] = list
                }),
                ("missing runs", try mutated { $0["runs"] = nil }),
            ]
            for (what, body) in bodies {
                let response = try await rawRequest(server.url, "POST", "/v1/changes", body: body)
                // Then each is a 400 with a sentence, and nothing is written.
                #expect(response.status == 400, "\(what): \(response.status) \(response.text)")
                #expect(response.error?.code == "bad_request", "\(what): \(response.text)")
                #expect(response.error?.error.isEmpty == false, "\(what)")
            }
            #expect(try Snapshot(hub) == before)

            // And the same changes, well formed, are accepted.
            let accepted = try await rawRequest(server.url, "POST", "/v1/changes", body: try pushBody(changes))
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(try export(hub) == export(laptop))
        }
    }

    @Test func aProtocolVersionMismatchIsA400ThatTheClientReportsAsSuch() async throws {
        // Given a hub, and a laptop change.
        let hub = try Store.inMemory(name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)
        let runs = try laptop.runs(after: VersionVector(), limit: 1_000).runs
        let changes = runs.reduce(0) { $0 + $1.count }
        let next = SyncProtocol.version + 1
        let before = try Snapshot(hub)
        try await withServer(hub) { server in
            // When a request says the next protocol in its header,
            for (method, path, body) in [("GET", "/v1/vector", nil), ("GET", "/v1/changes", nil),
                                         ("POST", "/v1/changes", try pushBody(runs))] as [(String, String, Data?)] {
                let response = try await rawRequest(
                    server.url, method, path, headers: [SyncProtocol.versionHeader: "\(next)"], body: body)
                // Then it is a 400 with code protocol_mismatch that names both versions.
                #expect(response.status == 400, "\(method) \(path)")
                #expect(response.error?.code == "protocol_mismatch", "\(method) \(path): \(response.text)")
                #expect(response.error?.protocol == SyncProtocol.version)
                #expect(response.error?.error.contains("\(next)") == true)
                #expect(response.error?.error.contains("upgrade margin on this server") == true)
            }
            // When an older client (protocol 1) asks, it is told to upgrade the laptop.
            let old = try await rawRequest(server.url, "GET", "/v1/vector", headers: [SyncProtocol.versionHeader: "1"])
            #expect(old.status == 400)
            #expect(old.error?.error.contains("upgrade margin on the client") == true, "\(old.text)")
            // When a push body says the next protocol (under this version's header),
            let response = try await rawRequest(server.url, "POST", "/v1/changes", body: try pushBody(runs, protocol: next))
            // Then it is refused the same way, and nothing was written.
            #expect(response.status == 400)
            #expect(response.error?.code == "protocol_mismatch", "\(response.text)")
            #expect(try Snapshot(hub) == before)
        }

        // When the real client meets a server of the next protocol (a stand-in that answers like one),
        let future = Router()
        future.get("/v1/changes") { _, _ in
            let body = #"{"code":"protocol_mismatch","error":"this server speaks Margin protocol 3 but the request says 2","protocol":3}"#
            return Response(status: .badRequest, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        future.get("/v1/vector") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", HTTPField.Name("Margin-Protocol")!: "3"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"protocol":3,"schema":1,"vector":{}}"#)))
        }
        let app = Application(
            router: future, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
        try await app.test(.live) { client in
            let url = URL(string: "http://localhost:\(try #require(client.port))")!
            // Then a refusal with protocol_mismatch, and a success that declares protocol 2 in
            // its header, both surface as SyncError.protocolMismatch, and nothing is applied.
            #expect(SyncProtocol.version == 2, "the stand-in below speaks protocol 3")
            await #expect {
                try await sync(laptop, with: url)
            } throws: { error in
                guard case SyncError.protocolMismatch(let message) = error else { return false }
                return message.contains("protocol 3")
            }
            await #expect {
                _ = try await SyncClient(baseURL: url).vector()
            } throws: { error in
                guard case SyncError.protocolMismatch(let message) = error else { return false }
                return message.contains("3") && message.contains("upgrade")
            }
        }
        #expect(try changeCount(laptop) == changes)
    }

    @Test func aSyncThroughAReverseProxyThatCompressesAnswersWorks() async throws {
        // Given a hub behind a reverse proxy that gzips JSON answers for clients that accept it
        // (URLSession does, and inflates them), so Content-Length counts the compressed bytes.
        let hub = try Store.inMemory(name: "hub")
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)
        let inner = SyncServer.buildRouter(store: hub).buildResponder()
        let compressed = Counter()
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: CallbackResponder<SyncRequestContext> { request, context in
                let accepts = request.headers[.acceptEncoding]?.contains("gzip") == true
                var response = try await inner.respond(to: request, context: context)
                guard accepts else { return response }
                let plain = Collected()
                let body = response.body
                try await body.write(CollectingWriter(into: plain))
                response.headers[.contentEncoding] = "gzip"
                response.body = .init(byteBuffer: ByteBuffer(bytes: gzipStored(Data(plain.buffer.readableBytesView))))
                compressed.increment()
                return response
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { announce.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)

        // When the laptop syncs through it,
        let report = try await LiveServer.start(app, ports: ports, announce: announce).whileRunning { server in
            try await sync(laptop, with: server.url, attempts: 1)
        }

        // Then the compressed answers are read like plain ones.
        #expect(compressed.count == report.requests)
        let sent = try changeCount(laptop) - 1
        #expect(report.received == 1 && report.sent == sent)
        #expect(try export(hub) == export(laptop))
    }

    @Test func anOriginTheVectorQueryCannotCarryDoesNotWedgeEverySyncWithTheHub() async throws {
        // Given a hub, and a push of one change whose origin holds a comma, the separator of
        // the vector in `GET /v1/changes?after=origin:seq,origin:seq`.
        let hub = try Store.inMemory(name: "hub")
        let odd = Change(origin: "laptop,evil", seq: 1, hlc: HLC(rawValue: 1_000), entity: .replica,
                         entityID: "laptop,evil", field: "name", value: .string("odd"))
        try await withServer(hub) { server in
            let body = RunCodec.encode(Run(origin: odd.origin, first: 1, prev: [], changes: [odd]))
            let run = SignedRun(origin: odd.origin, first: 1, last: 1, body: body, hash: Hashing.sha256(body),
                                key: nil, signature: nil)
            let pushed = try await rawRequest(server.url, "POST", "/v1/changes", body: try pushBody([run]))

            // When a laptop syncs with the hub twice.
            let laptop = try Store.inMemory(name: "laptop-a")
            try SyncFixtures.importStory(into: laptop)

            // Then the push is refused (nothing written: the hub's vector stays its own), and both syncs work.
            #expect(pushed.status == 422, "\(pushed.text)")
            #expect(try hub.versionVector() == VersionVector([hub.replicaID: 1]))
            try await sync(laptop, with: server.url, attempts: 1)
            let again = try await sync(laptop, with: server.url, attempts: 1)
            #expect(again.received == 0 && again.sent == 0)
        }
    }

    @Test func aPushWithAGapIsRefusedWith409AndTheReconcilerResendsFromTheServersVector() async throws {
        // Given a laptop with an imported story and five highlights (a run each), and a hub that
        // holds the first run.
        let laptop = try Store.inMemory(name: "laptop-a")
        let article = try SyncFixtures.importStory(into: laptop)
        for quote in ["cause a stink", "Chung Eui-yong", "recalcitrant regime", "Lloyd Austin", "sleep in peace"] {
            _ = try laptop.highlight(articleRef: article, anchor: SyncFixtures.quote(quote), note: quote, tags: ["t"])
        }
        let all = try laptop.runs(after: VersionVector(), limit: 1_000).runs
        try #require(all.count >= 6)
        let total = all.reduce(0) { $0 + $1.count }
        let origin = laptop.replicaID
        let hub = try Store.inMemory(name: "hub")
        _ = try hub.apply(Array(all.prefix(1)))

        try await withServer(hub) { server in
            // When a push skips the second run,
            let before = try Snapshot(hub)
            let gapped = Array(all.dropFirst(2).prefix(2))
            let response = try await rawRequest(server.url, "POST", "/v1/changes", body: try pushBody(gapped))

            // Then it is refused with 409 and the server's vector, and nothing is written.
            #expect(response.status == 409)
            #expect(response.error?.code == "gap")
            #expect(response.error?.vector == before.vector)
            #expect(response.error?.vector?[origin] == all[0].last)
            #expect(try Snapshot(hub) == before)
            // The client maps it to SyncError.gap with that vector.
            await #expect {
                _ = try await SyncClient(baseURL: server.url).push(gapped)
            } throws: { error in
                guard case SyncError.gap(let vector) = error else { return false }
                return vector == before.vector
            }
        }

        // When the laptop syncs through a hub address that fails over between the pull and the
        // push: reads answer from a primary that holds three of the laptop's runs, writes go to
        // the standby above that holds only the first, so the push starts past the standby's end.
        let primary = try Store.inMemory(name: "hub")
        _ = try primary.apply(Array(all.prefix(3)))
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let failover = Application(
            responder: Failover(reads: SyncServer.buildRouter(store: primary).buildResponder(),
                                writes: SyncServer.buildRouter(store: hub).buildResponder()),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { announce.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let report = try await LiveServer.start(failover, ports: ports, announce: announce).whileRunning { server in
            try await sync(laptop, with: server.url, pageSize: 1_000)
        }

        // Then the Reconciler took the 409, resent from the standby's vector, and finished: the
        // standby holds every change of the laptop, once.
        #expect(report.sent == total - Int(all[0].last) + 1)  // the laptop's second run on, and the primary's name
        #expect(report.requests == 3)  // pull, refused push, resent push
        #expect(try hub.versionVector()[origin] == laptop.versionVector()[origin])
        #expect(try hub.versionVector().includes(laptop.versionVector()))
        #expect(try export(hub) == export(laptop))
    }
}

/// A response body's bytes, as a proxy reads them.
fileprivate final class Collected: @unchecked Sendable { var buffer = ByteBuffer() }

fileprivate struct CollectingWriter: ResponseBodyWriter {
    let into: Collected

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        into.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// `data` as a gzip stream of stored (uncompressed) deflate blocks: what a compressing reverse
/// proxy sends, without needing zlib in the tests.
fileprivate func gzipStored(_ data: Data) -> Data {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    crc ^= 0xFFFF_FFFF
    var out = Data([0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF])
    let bytes = [UInt8](data)
    var offset = 0
    repeat {
        let length = min(65_535, bytes.count - offset)
        let final: UInt8 = offset + length == bytes.count ? 1 : 0
        out.append(final)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)])
        out.append(contentsOf: bytes[offset..<(offset + length)])
        offset += length
    } while offset < bytes.count
    for value in [crc, UInt32(truncatingIfNeeded: bytes.count)] {
        out.append(contentsOf: [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)])
    }
    return out
}

/// Sends reads to one server's routes and writes to another's, like a hub address that fails
/// over to a lagging standby between two requests.
fileprivate struct Failover: HTTPResponder {
    typealias Context = SyncRequestContext
    let reads: RouterResponder<SyncRequestContext>
    let writes: RouterResponder<SyncRequestContext>

    func respond(to request: Request, context: Context) async throws -> Response {
        request.method == .post
            ? try await writes.respond(to: request, context: context)
            : try await reads.respond(to: request, context: context)
    }
}
