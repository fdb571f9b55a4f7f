import Foundation
import MarginStore
import MarginSync
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Fault injection: kill -9 of the server and of the client, a proxy that drops, cuts, refuses
// and repeats requests, hostile input, broken clocks. Each test ends by checking the stores
// themselves: every acknowledged change present, none twice (the change count equals the
// changes the vector names), `PRAGMA integrity_check` ok, and equal digests on both sides.

/// A folder for store files, removed when the test is done with it.
final class FaultFolder: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("margin-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The highest vector the client saw acknowledged, shared with the task that pushes.
final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var vector = VersionVector()
    private var _batches = 0

    func record(_ answer: VersionVector) {
        lock.withLock {
            for (origin, seq) in answer.seqs where seq > vector[origin] { vector[origin] = seq }
            _batches += 1
        }
    }

    var current: VersionVector { lock.withLock { vector } }
    var batches: Int { lock.withLock { _batches } }
}

/// The checks every fault test ends with, on one store: sound file, no duplicate, no gap.
func expectSound(_ store: Store, _ who: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try store.integrityCheck() == ["ok"], "\(who): integrity_check", sourceLocation: sourceLocation)
    // The vector says "every seq up to n from this origin": as many changes as it names means
    // nothing twice and nothing missing below it.
    #expect(Int64(try store.counts().changes) == (try store.versionVector()).total,
            "\(who): the change count differs from the changes the vector names", sourceLocation: sourceLocation)
}

@Suite("faults: kills, a lossy proxy, hostile input, broken clocks", .serialized)
struct FaultTests {
    @Test(.timeLimit(.minutes(3)))
    func killingTheServerDuringALargePushLosesNoAcknowledgedChange() async throws {
        // Given a laptop with a few thousand changes on disk, and a hub store file that
        // `margin serve` children serve one after the other.
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        let folder = try FaultFolder()
        let hubPath = folder.path("hub.sqlite")
        _ = try Store.create(at: hubPath, name: "hub")
        let laptop = try Store.create(at: folder.path("laptop.sqlite"), name: "laptop-a")
        let article = try SyncFixtures.importStory(into: laptop)
        try writeMany(into: laptop, article: article, highlights: 60, tags: 50)
        let acknowledged = Acknowledged()
        var kills = 0
        var killedMidPush = 0
        var killedAfterAnAck = 0
        var refills = 0

        // When, 50 times, a server starts, the laptop pushes pages of 10 changes, and the server
        // is SIGKILLed after a random 0-120 ms.
        while kills < 50 {
            let server = try await ServeChild.start(store: hubPath, log: folder.file("serve-\(kills).log"))
            let batchesBefore = acknowledged.batches
            let pusher = Task { () -> Bool in
                let client = SyncClient(baseURL: server.url, timeout: 5)
                var remote = try await client.vector()
                while true {
                    let page = try laptop.runs(after: remote, limit: 10)
                    if page.runs.isEmpty { return true }
                    let answer = try await client.push(page.runs)
                    acknowledged.record(answer.vector)
                    remote = answer.vector
                }
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...120_000_000, using: &random))
            await server.kill9()
            kills += 1
            let finished = (try? await pusher.value) == true
            if !finished { killedMidPush += 1 }
            if !finished && acknowledged.batches > batchesBefore { killedAfterAnAck += 1 }

            // Then the hub file, reopened, holds every change acknowledged before the kill,
            // nothing twice, and passes integrity_check.
            do {
                let hub = try Store.open(at: hubPath)
                let held = try hub.versionVector()
                #expect(held.includes(acknowledged.current), "seed \(seed), kill \(kills): acknowledged \(acknowledged.current), held \(held)")
                try expectSound(hub, "hub after kill \(kills) (seed \(seed))")
            }
            // A push that finished before the kill leaves nothing to do: write more.
            if finished {
                refills += 1
                try writeMany(into: laptop, article: article, highlights: 10, tags: 30, salt: "r\(refills)")
            }
        }

        // When a last server runs and the laptop syncs to the end,
        let server = try await ServeChild.start(store: hubPath, log: folder.file("serve-final.log"))
        let client = SyncClient(baseURL: server.url, timeout: 10)
        let report = try await Reconciler(store: laptop, client: client, pageSize: 500, backoff: 0.05).run(remote: "hub")
        let remote = try await client.digest()
        await server.kill9()

        // Then both hold the same changes and the same state, and both files are sound.
        let hub = try Store.open(at: hubPath)
        #expect(try hub.versionVector() == laptop.versionVector())
        #expect(remote.vector == (try laptop.versionVector()))
        #expect(try laptop.digest().differences(from: remote.digest) == [], "seed \(seed)")
        #expect(try hub.digest() == laptop.digest())
        try expectSound(hub, "hub")
        try expectSound(laptop, "laptop")
        print("server SIGKILL: \(kills) kills (\(killedMidPush) before the push finished, \(killedAfterAnAck) of them "
            + "after at least one batch of that run was acknowledged), \(acknowledged.batches) batches acknowledged, "
            + "\(try laptop.counts().changes) changes, final sync sent \(report.sent), lost 0, duplicates 0, seed \(seed)")
    }

    @Test(.timeLimit(.minutes(3)))
    func killingTheClientDuringAPullLeavesASoundStoreThatCompletesLater() async throws {
        // Given a hub with a few thousand changes, served in-process, and a laptop store file
        // whose remote is the hub.
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        let folder = try FaultFolder()
        let hub = try Store.inMemory(name: "hub")
        let article = try SyncFixtures.importStory(into: hub)
        try writeMany(into: hub, article: article, highlights: 50, tags: 50)
        let server = try await InProcessServer.serve(hub)
        let laptopPath = folder.path("laptop.sqlite")
        do {
            let laptop = try Store.create(at: laptopPath, name: "laptop-a")
            try laptop.addRemote(name: "hub", url: server.url.absoluteString, tokenEnv: nil)
        }
        var kills = 0
        var killsAfterProgress = 0
        var runs = 0
        var refills = 0
        var held = VersionVector()

        // When `margin pull` runs with pages of 20 and is SIGKILLed after a random 30-400 ms,
        // until it was killed mid-pull 20 times.
        while kills < 20 && runs < 80 {
            runs += 1
            let pull = try startMargin(["--store", laptopPath, "pull", "--page-size", "20"],
                                       log: folder.file("pull-\(runs).log"))
            try await Task.sleep(nanoseconds: UInt64.random(in: 30_000_000...400_000_000, using: &random))
            if pull.isRunning {
                kill(pull.processIdentifier, SIGKILL)
                kills += 1
            }
            _ = await waitForExit(pull)

            // Then the laptop file is sound after every kill, and holds a prefix of the hub's changes.
            let caughtUp: Bool
            do {
                let laptop = try Store.open(at: laptopPath)
                try expectSound(laptop, "laptop after run \(runs) (seed \(seed))")
                #expect(try hub.versionVector().includes(laptop.versionVector().removing(laptop.replicaID)))
                caughtUp = try laptop.versionVector().includes(hub.versionVector())
                let now = try laptop.versionVector()
                if now != held && pull.terminationReason == .uncaughtSignal { killsAfterProgress += 1 }
                held = now
            }
            if caughtUp {
                refills += 1
                try writeMany(into: hub, article: article, highlights: 10, tags: 40, salt: "r\(refills)")
            }
        }
        #expect(kills >= 20, "only \(kills) kills landed mid-pull in \(runs) runs (seed \(seed))")

        // When the pull runs to the end,
        let last = try startMargin(["--store", laptopPath, "pull"], log: folder.file("pull-final.log"))
        let status = await waitForExit(last)
        #expect(status == 0, "\((try? String(contentsOf: folder.file("pull-final.log"), encoding: .utf8)) ?? "")")

        // Then the laptop holds exactly the hub's changes and state.
        let laptop = try Store.open(at: laptopPath)
        try expectSound(laptop, "laptop")
        #expect(try laptop.versionVector().includes(hub.versionVector()))
        // The laptop's own name change is the one thing the hub lacks; push it and they are equal.
        _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub")
        #expect(try laptop.digest() == hub.digest())
        await server.stop()
        print("client SIGKILL: \(kills) kills in \(runs) runs (\(killsAfterProgress) after the run had applied a page), \(try laptop.counts().changes) changes, "
            + "lost 0, duplicates 0, seed \(seed)")
    }

    /// With `keepAlive`, the client reuses connections the proxy then drops: the case where a
    /// request must time out rather than wait forever.
    @Test(.timeLimit(.minutes(3)), arguments: [false, true])
    func aSyncThroughALossyProxyCompletesWithNothingLostOrDuplicated(keepAlive: Bool) async throws {
        // Given a hub served in-process behind a proxy that faults every other request, in turn
        // each of: dropped before forwarding, dropped after the server answered, a truncated
        // body, a 503, a request forwarded twice.
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub)
        let kinds = FaultProxy.Fault.allCases
        let proxy = try FaultProxy(upstream: server.port, keepAlive: keepAlive) { index, _ in
            index % 2 == 1 ? kinds[(index / 2) % kinds.count] : nil
        }
        defer { proxy.stop() }
        let laptop = try Store.inMemory(name: "laptop-a")
        let article = try SyncFixtures.importStory(into: laptop)
        // (Kept-alive connections that the proxy drops are only noticed when the request times
        // out, so that variant moves fewer changes, with a 1 s timeout.)
        try writeMany(into: laptop, article: article, highlights: keepAlive ? 15 : 30, tags: 40)
        let other = try Store.inMemory(name: "laptop-b")
        try writeMany(into: other, article: try SyncFixtures.importStory(into: other), highlights: 5, tags: 10,
                      salt: "b")

        // When both laptops sync through the proxy in pages of 25, with retries.
        func sync(_ store: Store) async throws -> SyncReport {
            try await Reconciler(store: store, client: SyncClient(baseURL: proxy.url, timeout: keepAlive ? 1 : 10),
                                 pageSize: keepAlive ? 15 : 25,
                                 attempts: 4, backoff: 0.005).run(remote: "hub")
        }
        let first = try await sync(laptop)
        let second = try await sync(other)
        let third = try await sync(laptop)

        // Then all three hold the same changes, each once, and the same state.
        #expect(try hub.versionVector() == laptop.versionVector())
        #expect(try other.versionVector() == hub.versionVector())
        for (store, name) in [(hub, "hub"), (laptop, "laptop-a"), (other, "laptop-b")] { try expectSound(store, name) }
        #expect(try laptop.digest() == hub.digest())
        #expect(try other.digest() == hub.digest())
        let counts = proxy.counts
        for kind in kinds { #expect((counts.faults[kind] ?? 0) >= 5, "\(kind.rawValue): \(counts.faults[kind] ?? 0)") }
        await server.stop()
        let faults = kinds.map { "\($0.rawValue) \(counts.faults[$0] ?? 0)" }.joined(separator: ", ")
        print("fault proxy\(keepAlive ? " (keep-alive)" : ""): \(counts.requests) requests, \(counts.faults.values.reduce(0, +)) faults (\(faults)); "
            + "\(try hub.counts().changes) changes on every replica, sent \(first.sent)+\(second.sent)+\(third.sent), "
            + "lost 0, duplicates 0")
    }

    @Test(.timeLimit(.minutes(2)))
    func aHalfReceivedPageIsNeverApplied() async throws {
        // Given a hub with changes behind a proxy that truncates every answer to a pull.
        let hub = try Store.inMemory(name: "hub")
        try writeMany(into: hub, article: try SyncFixtures.importStory(into: hub), highlights: 5, tags: 10)
        let server = try await InProcessServer.serve(hub)
        let proxy = try FaultProxy(upstream: server.port) { _, method in method == "GET" ? .truncatedBody : nil }
        defer { proxy.stop() }
        let laptop = try Store.inMemory(name: "laptop-a")
        let before = try laptop.versionVector()

        // When the laptop pulls, with two attempts,
        await #expect(throws: SyncError.self) {
            try await Reconciler(store: laptop, client: SyncClient(baseURL: proxy.url, timeout: 5), attempts: 2,
                                 backoff: 0.01).run(remote: "hub", push: false)
        }

        // Then it failed as temporary and applied nothing, and the next pull, direct, gets it all.
        #expect(try laptop.versionVector() == before)
        #expect((proxy.counts.faults[.truncatedBody] ?? 0) >= 2)
        _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub", push: false)
        #expect(try laptop.versionVector().includes(hub.versionVector()))
        await server.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func aServerThatNeverAnswersTimesOutAsTemporary() async throws {
        // Given a socket that accepts connections (the kernel's backlog) but never answers.
        let (silent, port) = try listeningSocket(port: 0)
        defer { closeSocket(silent) }
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)

        // When the laptop syncs with a 1 s request timeout and two attempts,
        let started = Date()
        let client = SyncClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!, timeout: 1)
        await #expect {
            try await Reconciler(store: laptop, client: client, attempts: 2, backoff: 0.01).run(remote: "silent")
        } throws: { error in
            // Then it gives up with a temporary error (exit 75 in the CLI), not a hang.
            (error as? SyncError)?.isTemporary == true
        }
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test(.timeLimit(.minutes(2)))
    func hostileInputToTheServedBinaryIsA4xxAndWritesNothing() async throws {
        // Given `margin serve` (the real binary) over a hub with one token, and a valid push.
        let folder = try FaultFolder()
        let hubPath = folder.path("hub.sqlite")
        let token: String
        do {
            let hub = try Store.create(at: hubPath, name: "hub")
            token = try hub.createToken(name: "ci")
        }
        let server = try await ServeChild.start(store: hubPath, log: folder.file("serve.log"))
        let laptop = try Store.inMemory(name: "laptop-a")
        try SyncFixtures.importStory(into: laptop)
        let runs = try laptop.runs(after: VersionVector()).runs
        let valid = Data(WireCodec.encode(PushRequest(runs: runs)))
        // Edits of the push's JSON envelope (not of a run's signed body, which stays as written).
        func mutated(_ edit: (inout [String: Any], inout [[String: Any]]) -> Void) throws -> Data {
            var object = try JSONSerialization.jsonObject(with: valid) as! [String: Any]
            var list = object["runs"] as! [[String: Any]]
            edit(&object, &list)
            object["runs"] = list
            return try JSONSerialization.data(withJSONObject: object)
        }
        // The push with the story's run altered after it was signed: its title changed, signature kept.
        let forged: Data = try {
            let decoded = try runs.map { try $0.decoded() }
            let index = try #require(decoded.firstIndex { $0.changes.contains { $0.write(of: "title") != nil } })
            var run = decoded[index]
            let change = try #require(run.changes.firstIndex { $0.write(of: "title") != nil })
            let field = try #require(run.changes[change].writes.firstIndex { $0.field == "title" })
            run.changes[change].writes[field].value = .string("Forged headline")
            var altered = runs
            altered[index].body = RunCodec.encode(run)
            return Data(WireCodec.encode(PushRequest(runs: altered)))
        }()
        let auth = ["Authorization": "Bearer \(token)"]
        var hugeValue = Data(#"{"protocol":2,"runs":[{"origin":"a","first":1,"last":1,"run":{"v":2,"x":""#.utf8)
        hugeValue.append(Data(repeating: UInt8(ascii: "a"), count: SyncProtocol.maxBodyBytes))
        hugeValue.append(Data(#""}}]}"#.utf8))
        let cases: [(String, String, String, [String: String], Data?, Int)] = [
            ("malformed JSON", "POST", "/v1/changes", auth, Data("{\"protocol\": 2, \"runs\": [".utf8), 400),
            ("truncated push", "POST", "/v1/changes", auth, valid.prefix(valid.count / 2), 400),
            ("not JSON at all", "POST", "/v1/changes", auth, Data("\u{0}\u{1}\u{2}garbage".utf8), 400),
            ("wrong types", "POST", "/v1/changes", auth,
             Data(#"{"protocol":"2","runs":{"origin":5}}"#.utf8), 400),
            ("first as a float", "POST", "/v1/changes", auth, try mutated { _, list in list[0]["first"] = 1.5 }, 400),
            ("last as a string", "POST", "/v1/changes", auth, try mutated { _, list in list[0]["last"] = "soon" }, 400),
            ("a run body that is a string", "POST", "/v1/changes", auth,
             try mutated { _, list in list[0]["run"] = "{}" }, 400),
            ("a key of 5 bytes", "POST", "/v1/changes", auth, try mutated { _, list in list[0]["key"] = "AAAAAAA=" }, 400),
            ("a signature without its key", "POST", "/v1/changes", auth,
             try mutated { _, list in list[0]["key"] = nil }, 422),
            ("a run body altered after signing", "POST", "/v1/changes", auth, forged, 422),
            ("100,000 nested arrays", "POST", "/v1/changes", auth,
             Data(String(repeating: "[", count: 100_000).utf8), 400),
            ("100,000 nested objects in a value", "POST", "/v1/changes", auth,
             Data((#"{"protocol":2,"runs":[{"origin":"a","first":1,"last":1,"run":"# + String(repeating: #"{"a":"#, count: 100_000)).utf8),
             400),
            ("a body over 16 MiB", "POST", "/v1/changes", auth, hugeValue, 413),
            ("protocol 99 in the header", "GET", "/v1/vector", auth.merging(["Margin-Protocol": "99"]) { $1 }, nil, 400),
            ("protocol 99 in the body", "POST", "/v1/changes", auth, try mutated { object, _ in object["protocol"] = 99 }, 400),
            ("schema x in the header", "POST", "/v1/changes", auth.merging(["Margin-Schema": "x"]) { $1 }, valid, 400),
            ("a wrong token", "POST", "/v1/changes", ["Authorization": "Bearer \(token)x"], valid, 401),
            ("no token", "POST", "/v1/changes", [:], valid, 401),
            ("a Basic header", "GET", "/v1/digest", ["Authorization": "Basic Zm9vOmJhcg=="], nil, 401),
            ("a malformed vector", "GET", "/v1/changes?after=%ff%00:zz", auth, nil, 400),
            ("a limit of -1", "GET", "/v1/changes?limit=-1", auth, nil, 400),
            ("a first seq of 0", "POST", "/v1/changes", auth, try mutated { _, list in list[0]["first"] = 0 }, 400),
        ]

        // When each hostile request is sent,
        for (what, method, path, headers, body, expected) in cases {
            let status = try await rawStatus(server.url, method, path, headers: headers, body: body)
            // Then each is answered with its 4xx, the server stays up, and nothing is written.
            #expect(status == expected, "\(what): \(status)")
            #expect(server.process.isRunning, "\(what) brought the server down")
            let health = try await SyncClient(baseURL: server.url, timeout: 5).health()
            #expect(health.status == "ok", "\(what)")
        }
        let vector = try await SyncClient(baseURL: server.url, token: token).vector()
        await server.kill9()
        let hub = try Store.open(at: hubPath)
        #expect(try hub.counts().changes == 1 && vector.total == 1)
        try expectSound(hub, "hub")

        // And the valid push is accepted afterwards.
        let again = try await ServeChild.start(store: hubPath, log: folder.file("serve-2.log"))
        #expect(try await rawStatus(again.url, "POST", "/v1/changes", headers: auth, body: valid) == 200)
        await again.kill9()
        print("hostile input: \(cases.count) bad requests, each a 4xx, server up after each, nothing written")
    }

    @Test func aLaptopWhoseClockRunsSlowIsToldToFixItsOwnClockAndSyncsOnceItIsRight() async throws {
        // Given a hub holding changes stamped now, and a laptop whose clock runs 10 minutes slow.
        let hub = try Store.inMemory(name: "hub")
        try SyncFixtures.importStory(into: hub)
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        let clock = MovableClock(offset: -600)
        var options = Store.Options()
        options.clock = { clock.now }
        let laptop = try Store.inMemory(name: "laptop-a", options: options)

        // When it pulls, the hub's changes are 10 minutes ahead of its clock and refused; the
        // message says this machine's clock is behind (the hub's Date agrees with the changes),
        // not that the hub's should be fixed.
        await #expect {
            try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub")
        } throws: { error in
            guard case SyncError.clockSkew(let message) = error else { return false }
            return message.contains("this machine's clock is behind") && message.contains(hub.replicaID)
        }
        #expect(try laptop.articles().isEmpty)

        // When its clock is set right, the same pull goes through.
        clock.offset = 0
        _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub")
        #expect(try laptop.articles().count == 1)
    }

    @Test func takingInChangesStampedAheadLeavesTheReceiversOwnClockOnRealTime() throws {
        // Given a hub told to take in changes up to three days ahead, and a laptop two days fast.
        var lenient = Store.Options()
        lenient.maxClockSkew = 3 * 86_400
        let hub = try Store.inMemory(name: "hub", options: lenient)
        let fast = MovableClock(offset: 2 * 86_400)
        var options = Store.Options()
        options.clock = { fast.now }
        let laptop = try Store.inMemory(name: "laptop-a", options: options)
        try SyncFixtures.importStory(into: laptop)

        // When the hub applies the laptop's changes and then writes one of its own,
        _ = try hub.apply(try laptop.runs(after: VersionVector()).runs)
        let article = try #require(try hub.articles().first).id
        _ = try hub.addTags(ref: article, tags: ["hub"])

        // Then the hub's own change is stamped at real time, not two days ahead, so a replica
        // with the normal limit can take it.
        let own = try #require(try hub.runs(after: VersionVector()).runs.last { $0.origin == hub.replicaID })
        let stamp = try #require(try own.decoded().changes.last).hlc.date
        #expect(abs(stamp.timeIntervalSinceNow) < 60, "stamped \(stamp)")
    }

    @Test(arguments: [3_600.0, 2 * 86_400.0])
    func aReplicaWhoseClockRunsAheadIsRefusedAndSyncsOnceTheClockIsRight(ahead: Double) async throws {
        // Given a hub with the default 5 minute limit, and a laptop whose clock runs `ahead`.
        let hubClock = MovableClock()
        var hubOptions = Store.Options()
        hubOptions.clock = { hubClock.now }
        let hub = try Store.inMemory(name: "hub", options: hubOptions)
        let hubBefore = try hub.digestAndVector()
        // (30 s more, so the skew the hub measures a moment later is still over the hour or two days.)
        let laptopClock = MovableClock(offset: ahead + 30)
        var laptopOptions = Store.Options()
        laptopOptions.clock = { laptopClock.now }
        let laptop = try Store.inMemory(name: "laptop-a", options: laptopOptions)
        try SyncFixtures.importStory(into: laptop)
        let server = try await InProcessServer.serve(hub)

        // When the laptop syncs,
        await #expect {
            try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub")
        } throws: { error in
            // Then the push is refused with a message that names the origin and the skew, and
            // (the hub's Date header being behind this laptop's clock) says this clock is wrong,
            guard case SyncError.clockSkew(let message) = error else { return false }
            let amount = ahead >= 86_400 ? "2.0 days" : "1.0 hours"
            return message.contains(laptop.replicaID) && message.contains(amount)
                && message.contains("fix this machine's clock")
        }
        // And nothing is written on the hub: its clock and state are not poisoned.
        #expect(try hub.digestAndVector().digest == hubBefore.digest)
        #expect(try hub.digestAndVector().vector == hubBefore.vector)

        // When the laptop's clock is fixed, its changes written meanwhile still carry future
        // stamps (a hybrid logical clock never goes back), and a new change follows them.
        laptopClock.offset = 0
        try laptop.addTags(ref: try laptop.articles()[0].id, tags: ["after-the-fix"])
        await #expect(throws: SyncError.self) {
            try await Reconciler(store: laptop, client: SyncClient(baseURL: server.url)).run(remote: "hub")
        }
        await server.stop()

        // Then the hub accepts them once its own time has caught up with the stamps (here: the
        // hub's clock moves on by `ahead`), or at once when served with a limit above the skew
        // (MARGIN_MAX_CLOCK_SKEW); either way nothing was lost in between.
        if ahead <= 3_600 {
            hubClock.offset = ahead
            let caughtUp = try await InProcessServer.serve(hub)
            _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: caughtUp.url)).run(remote: "hub")
            await caughtUp.stop()
        } else {
            var lenient = hubOptions
            lenient.maxClockSkew = ahead + 86_400
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("margin-skew-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: path) }
            let relay = try Store.create(at: path.appendingPathComponent("hub.sqlite").path, name: "hub-2",
                                         options: lenient)
            let overridden = try await InProcessServer.serve(relay)
            _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: overridden.url)).run(remote: "hub-2")
            #expect(try relay.digest().kinds["changes"] != nil)
            #expect(try relay.versionVector().includes(laptop.versionVector()))
            await overridden.stop()
            hubClock.offset = ahead
            let caughtUp = try await InProcessServer.serve(hub)
            _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: caughtUp.url)).run(remote: "hub")
            await caughtUp.stop()
        }
        #expect(try hub.versionVector() == laptop.versionVector())
        #expect(try hub.digest() == laptop.digest())
    }
}

/// A clock the test moves: the real time plus `offset` seconds.
final class MovableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var _offset: Double

    init(offset: Double = 0) { _offset = offset }

    var offset: Double {
        get { lock.withLock { _offset } }
        set { lock.withLock { _offset = newValue } }
    }

    var now: Date { Date().addingTimeInterval(offset) }
}

extension VersionVector {
    /// This vector without one origin.
    func removing(_ origin: String) -> VersionVector {
        var seqs = self.seqs
        seqs[origin] = nil
        return VersionVector(seqs)
    }
}

/// Sends one request as given (plus Margin-Protocol: 1 unless overridden) and returns its status.
func rawStatus(_ base: URL, _ method: String, _ path: String, headers: [String: String], body: Data?) async throws
    -> Int
{
    var request = URLRequest(url: URL(string: base.absoluteString + path)!)
    request.httpMethod = method
    request.timeoutInterval = 30
    var all = [SyncProtocol.versionHeader: String(SyncProtocol.version), "Content-Type": "application/json"]
    all.merge(headers) { $1 }
    for (name, value) in all { request.setValue(value, forHTTPHeaderField: name) }
    request.httpBody = body
    let session = URLSession(configuration: .ephemeral)
    defer { session.finishTasksAndInvalidate() }
    let response: URLResponse = try await withCheckedThrowingContinuation { continuation in
        session.dataTask(with: request) { _, response, error in
            if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: response!) }
        }.resume()
    }
    return (response as? HTTPURLResponse)?.statusCode ?? -1
}
