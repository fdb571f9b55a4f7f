import Foundation
import MarginStore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What a cron job relies on, end to end with the built binary and a live `margin serve` on
// 127.0.0.1: exit codes per outcome, `sync --all --json` going on past a failing remote,
// `--dry-run` writing nothing, `verify`, Scripts/nightly-merge, and two processes on one store.

// MARK: - Helpers

/// `margin --store PATH ARGS`.
@discardableResult
func margin(
    _ store: String, _ args: String..., env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
) -> CLIResult {
    run(["--store", store] + args, env: env, sourceLocation: sourceLocation)
}

/// `margin --store PATH ARGS --json`, decoded whatever the exit code.
func marginJSON<T: Decodable>(
    _ type: T.Type, _ store: String, _ args: String..., env: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (status: Int32, value: T, stderr: String) {
    let result = run(["--store", store] + args + ["--json"], env: env, sourceLocation: sourceLocation)
    let value = try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    return (result.status, value, result.stderr)
}

/// `margin serve --port 0` over a store, as a child; `stop()` ends it.
final class ServedStore {
    let process: Process
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    init(_ store: String, env: [String: String] = [:]) throws {
        let log = URL(fileURLWithPath: store + ".serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process = Process()
        process.executableURL = marginBinary
        process.arguments = ["--store", store, "serve", "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["MARGIN_STORE"] = nil
        environment.merge(env) { $1 }
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        var found: Int? = nil
        while found == nil && Date() < deadline && process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "on http://127.0.0.1:") {
                found = text[range.upperBound...].split(separator: "\n").first.flatMap { Int($0) }
            }
            usleep(10_000)
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            throw ServeFailure("margin serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        port = found
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }
}

struct ServeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port nothing listens on: bound, then released.
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            _ = bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    close(fd)
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Holds `<store>.lock` as another margin process would, until `release()`.
final class HeldLock {
    private let fd: Int32

    init(_ store: String) throws {
        fd = open(store + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else { throw ServeFailure("cannot take \(store).lock") }
        let holder = "margin process 4242 (sync --all)"
        _ = ftruncate(fd, 0)
        _ = holder.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    func release() { _ = flock(fd, LOCK_UN) }

    deinit { close(fd) }
}

struct ExchangeRow: Decodable {
    var remote: String
    var ok: Bool
    var outcome: String
    var exit_code: Int32
    var sent, received, conflicts, conflicts_pending: Int?
    var error: String?
}

struct PlanRow: Decodable {
    struct Origin: Decodable {
        var origin: String
        var name: String?
        var local, remote, send, receive: Int64
    }

    var remote: String
    var ok: Bool
    var outcome: String
    var exit_code: Int32
    var send, receive: Int64?
    var origins: [Origin]?
    var error: String?
}

struct VerifyRow: Decodable {
    struct Side: Decodable {
        var kinds: [String: String]
        var counts: [String: Int]
        var vector: [String: Int64]
    }

    var remote: String
    var equal: Bool
    var outcome: String
    var exit_code: Int32
    var differing_kinds: [String]?
    var vectors_equal: Bool?
    var local_lacks, remote_lacks: Int64?
    var local, remote_state: Side?
    var error: String?
}

struct StatusRow: Decodable {
    struct Remote: Decodable {
        var name: String
        var pending: Int64?
        var last_sync_at, last_error: String?
    }

    var vector: [String: Int64]
    var changes, conflicts: Int
    var remotes: [Remote]
}

/// Results of processes run on other threads.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [String: CLIResult] = [:]

    func set(_ name: String, _ result: CLIResult) { lock.withLock { results[name] = result } }
    var all: [String: CLIResult] { lock.withLock { results } }
}

/// `PRAGMA integrity_check` with the sqlite3 shell.
func integrity(_ store: String) -> String {
    guard let sqlite3 = Tools.sqlite3 else { return "ok (sqlite3 not installed)" }
    return runProcess(sqlite3, [store, "PRAGMA integrity_check"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

// MARK: - Tests

@Suite("exit codes, dry run, verify, nightly merge, two processes")
struct NightlyTests {
    @Test(.timeLimit(.minutes(2)))
    func syncAllReportsEachRemoteGoesOnAndExitsWithTheWorst() throws {
        // Given a hub with a token served on 127.0.0.1, and a laptop with three remotes:
        // "bad" (the hub with a wrong token), "down" (nothing listens), and "hub".
        let sandbox = try Sandbox()
        let hubStore = sandbox.path("hub.sqlite"), a = sandbox.path("a.sqlite"), b = sandbox.path("b.sqlite")
        #expect(margin(hubStore, "init", "--name", "hub").status == 0)
        let token = margin(hubStore, "token", "create", "laptops").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let hub = try ServedStore(hubStore)
        defer { hub.stop() }
        let env = ["HUB_TOKEN": token, "BAD_TOKEN": "mgn_wrong"]
        for laptop in [a, b] {
            #expect(margin(laptop, "init", "--name", laptop == a ? "laptop-a" : "laptop-b").status == 0)
            #expect(margin(laptop, "remote", "add", "hub", hub.url, "--token-env", "HUB_TOKEN").status == 0)
        }
        #expect(margin(a, "remote", "add", "bad", hub.url, "--token-env", "BAD_TOKEN").status == 0)
        #expect(margin(a, "remote", "add", "down", "http://127.0.0.1:\(closedPort())").status == 0)
        #expect(margin(a, "import", seedStory.path).status == 0)
        let localChanges = try marginJSON(StatusRow.self, a, "status").value.changes

        // When A asks what a sync would do, per remote (dry run),
        let statusBefore = try marginJSON(StatusRow.self, a, "status").value
        let plan = try marginJSON([PlanRow].self, a, "sync", "--dry-run", "--all", env: env)
        // Then it says what it would send and receive, per origin, and exits with the worst code
        // (the refused token, 77), having written nothing on either side.
        #expect(plan.status == 77, "\(plan.stderr)")
        #expect(plan.value.map(\.remote) == ["bad", "down", "hub"])
        #expect(plan.value.map(\.outcome) == ["auth", "unreachable", "planned"])
        let hubPlan = try #require(plan.value.last)
        #expect(hubPlan.send == Int64(localChanges) && hubPlan.receive == 1)
        #expect(hubPlan.origins?.first { $0.name == "laptop-a" }?.send == Int64(localChanges))
        let pushOnly = try marginJSON([PlanRow].self, a, "push", "--dry-run", "hub", env: env)
        #expect(pushOnly.status == 0 && pushOnly.value.first?.send == Int64(localChanges))
        #expect(pushOnly.value.first?.receive == 0)
        let text = margin(a, "sync", "--dry-run", "hub", env: env)
        #expect(text.status == 0 && text.stdout.contains("hub: would send \(localChanges) changes, receive 1 change"), "\(text.stdout)")
        let statusAfter = try marginJSON(StatusRow.self, a, "status").value
        #expect(statusAfter.vector == statusBefore.vector)
        #expect(statusAfter.remotes.map(\.last_sync_at) == statusBefore.remotes.map(\.last_sync_at))
        #expect(statusAfter.remotes.allSatisfy { $0.last_sync_at == nil && $0.last_error == nil })
        #expect(try marginJSON(StatusRow.self, hubStore, "status").value.changes == 1)

        // When A syncs with every remote,
        let all = try marginJSON([ExchangeRow].self, a, "sync", "--all", env: env)
        // Then each remote has its row in order, the failing ones did not stop the hub, and the
        // exit code is the worst: 77 (token refused) over 75 (unreachable) over 0.
        #expect(all.status == 77, "\(all.stderr)")
        #expect(all.value.map(\.remote) == ["bad", "down", "hub"])
        #expect(all.value.map(\.outcome) == ["auth", "unreachable", "synced"])
        #expect(all.value.map(\.exit_code) == [77, 75, 0])
        #expect(all.value[2].ok && all.value[2].sent == localChanges && all.value[2].received == 1)
        #expect(all.value[0].error?.contains("refused the token") == true)
        #expect(all.value[1].error?.contains("cannot reach") == true)
        #expect(all.stderr.contains("margin: down: cannot reach"), "\(all.stderr)")
        // Without the remote that refuses the token, the worst is the unreachable one: 75.
        #expect(margin(a, "remote", "rm", "bad").status == 0)
        #expect(margin(a, "sync", "--all", env: env).status == 75)

        // And verify says the hub is equal (0), in text and JSON.
        let equal = margin(a, "verify", "hub", env: env)
        #expect(equal.status == 0, "\(equal.stderr)")
        #expect(equal.stdout.hasPrefix("hub: equal ("), "\(equal.stdout)")
        let equalJSON = try marginJSON([VerifyRow].self, a, "verify", "hub", env: env)
        #expect(equalJSON.status == 0 && equalJSON.value.first?.equal == true)
        #expect(equalJSON.value.first?.differing_kinds == [] && equalJSON.value.first?.vectors_equal == true)
        #expect(equalJSON.value.first?.local?.kinds == equalJSON.value.first?.remote_state?.kinds)

        // When A writes after the sync, verify says where they differ and exits 3.
        let article = try #require(try marginJSON([ArticleShape].self, a, "list").value.first?.id)
        #expect(margin(a, "tag", article, "later").status == 0)
        let differs = try marginJSON([VerifyRow].self, a, "verify", "hub", env: env)
        #expect(differs.status == 3)
        #expect(differs.value.first?.equal == false && differs.value.first?.outcome == "differs")
        #expect(differs.value.first?.differing_kinds?.contains("changes") == true)
        #expect(differs.value.first?.differing_kinds?.contains("tags") == true)
        #expect(differs.value.first?.remote_lacks == 1 && differs.value.first?.local_lacks == 0)
        let differsText = margin(a, "verify", "hub", env: env)
        #expect(differsText.status == 3)
        #expect(differsText.stdout.contains("hub: differs in "), "\(differsText.stdout)")
        #expect(differsText.stdout.contains("this replica lacks 0 changes and hub lacks 1 change; run `margin sync hub`"),
                "\(differsText.stdout)")
        // Verifying an unreachable remote is 75, with a row saying so; with --all, the worst of both.
        let verifyDown = try marginJSON([VerifyRow].self, a, "verify", "down")
        #expect(verifyDown.status == 75 && verifyDown.value.first?.outcome == "unreachable")
        let verifyAll = try marginJSON([VerifyRow].self, a, "verify", "--all", env: env)
        #expect(verifyAll.status == 75 && verifyAll.value.map(\.outcome) == ["unreachable", "differs"])

        // When B syncs and then both laptops edit the same note concurrently and sync,
        #expect(margin(a, "sync", "hub", env: env).status == 0)
        #expect(margin(b, "sync", env: env).status == 0)
        let highlight = try marginJSON(AnnotationShape.self, a, "highlight", article, "--quote", "cause a stink").value.id
        #expect(margin(a, "sync", "hub", env: env).status == 0)
        #expect(margin(b, "sync", env: env).status == 0)
        #expect(margin(a, "note", highlight, "a's reading").status == 0)
        #expect(margin(b, "note", highlight, "b's reading").status == 0)
        #expect(margin(a, "sync", "hub", env: env).status == 0)
        let conflicted = try marginJSON([ExchangeRow].self, b, "sync", env: env)
        // Then the sync that brings the conflict exits 2 (went through, conflicts pending),
        #expect(conflicted.status == 2, "\(conflicted.stderr)")
        #expect(conflicted.value.first?.ok == true && conflicted.value.first?.outcome == "conflicts_pending")
        #expect(conflicted.value.first?.conflicts == 1 && conflicted.value.first?.conflicts_pending == 1)
        #expect(conflicted.stderr.contains("1 conflict pending; see `margin conflicts`"))
        // and so does a pull while it is pending; a push does not look at local conflicts.
        #expect(margin(b, "pull", env: env).status == 2)
        #expect(margin(b, "push", env: env).status == 0)
        // Both replicas still verify equal: conflicts are state every replica derives alike.
        #expect(margin(b, "verify", env: env).status == 0)

        // When the store is held by another process past MARGIN_LOCK_TIMEOUT,
        let held = try HeldLock(a)
        let locked = try marginJSON(
            [ExchangeRow].self, a, "sync", "hub", env: env.merging(["MARGIN_LOCK_TIMEOUT": "0.3"]) { $1 })
        held.release()
        // Then the sync exits 73 (locked), not 75, naming the holder.
        #expect(locked.status == 73, "\(locked.stderr)")
        #expect(locked.value.first?.outcome == "locked")
        #expect(locked.stderr.contains("is busy: margin process 4242 (sync --all) is writing to it"), "\(locked.stderr)")
        #expect(integrity(a) == "ok" || integrity(a).hasPrefix("ok ("))
    }

    @Test(.timeLimit(.minutes(2)))
    func theNightlyScriptSyncsVerifiesLogsAndSkipsWhileARunIsGoing() throws {
        // Given a served hub with a token, and a laptop with a change and the hub as a remote.
        let sandbox = try Sandbox()
        let hubStore = sandbox.path("hub.sqlite"), laptop = sandbox.path("laptop.sqlite")
        #expect(margin(hubStore, "init", "--name", "hub").status == 0)
        let token = margin(hubStore, "token", "create", "cron").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let hub = try ServedStore(hubStore)
        defer { hub.stop() }
        #expect(margin(laptop, "init", "--name", "laptop-a").status == 0)
        #expect(margin(laptop, "remote", "add", "hub", hub.url, "--token-env", "HUB_TOKEN").status == 0)
        #expect(margin(laptop, "import", seedStory.path).status == 0)
        let script = packageRoot.appendingPathComponent("Scripts/nightly-merge")
        let log = sandbox.path("state/nightly.log")
        func nightly(_ env: [String: String] = [:]) -> CLIResult {
            var environment = ProcessInfo.processInfo.environment
            environment["MARGIN_STORE"] = nil
            environment["HUB_TOKEN"] = token
            environment["XDG_STATE_HOME"] = sandbox.path("xdg-state")
            environment.merge(env) { $1 }
            return runProcess(script, ["--store", laptop, "--log", log, "--margin", marginBinary.path],
                              environment: environment)
        }

        // When the script runs,
        let first = nightly()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // Then it exits 0, having synced and verified, and every log line starts with a UTC timestamp.
        #expect(first.status == 0, "\(first.stderr)\n\(text)")
        #expect(text.contains("sync --all exited 0") && text.contains("verify hub exited 0"), "\(text)")
        #expect(text.contains("\"synced\"") && text.contains("\"equal\""), "\(text)")
        let stamp = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z "#)
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.prefixMatch(of: stamp) != nil }, "\(text)")
        #expect(margin(laptop, "verify", env: ["HUB_TOKEN": token]).status == 0)
        #expect(try marginJSON(StatusRow.self, hubStore, "status").value.vector
                == (try marginJSON(StatusRow.self, laptop, "status").value.vector))

        // When a run finds the previous one still holding the lock,
        let held = open(log + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0)
        let skipped = nightly()
        close(held)
        // Then it logs that it skipped and exits 0, touching nothing.
        #expect(skipped.status == 0)
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("skipped: the previous run"))

        // When a remote is down and the token of another is missing,
        #expect(margin(laptop, "remote", "add", "down", "http://127.0.0.1:\(closedPort())").status == 0)
        let down = nightly()
        // Then the status is the worst one (75, retry later), and the hub is still verified.
        #expect(down.status == 75, "\(down.stderr)")
        let after = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(after.contains("verify down exited 75") && after.contains("done: exit 75"), "\(after)")
        let without = nightly(["HUB_TOKEN": ""])
        #expect(without.status == 77)

        // And with no --log, the log goes under $XDG_STATE_HOME/margin.
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_STATE_HOME"] = sandbox.path("xdg-state")
        environment["HUB_TOKEN"] = token
        #expect(margin(laptop, "remote", "rm", "down").status == 0)
        let defaulted = runProcess(script, ["--store", laptop, "--margin", marginBinary.path], environment: environment)
        #expect(defaulted.status == 0, "\(defaulted.stderr)")
        #expect(FileManager.default.fileExists(atPath: sandbox.path("xdg-state/margin/nightly-merge.log")))
        #expect(runProcess(script, ["--bogus"]).status == 64)
    }

    @Test(.timeLimit(.minutes(2)))
    func aServerAndCLIWritersShareOneStoreWithoutHarm() throws {
        // Given a store served by `margin serve`, with an article, and a laptop that will push to it.
        let sandbox = try Sandbox()
        let store = sandbox.path("shared.sqlite"), laptop = sandbox.path("laptop.sqlite")
        #expect(margin(store, "init", "--name", "desk").status == 0)
        let article = try #require(try marginJSON([ImportRow].self, store, "import", seedStory.path).value.first?.id)
        // The server gives up on a held store after 1 s (503 busy), so the laptop's retries are quick.
        let server = try ServedStore(store, env: ["MARGIN_LOCK_TIMEOUT": "1"])
        defer { server.stop() }
        #expect(margin(laptop, "init", "--name", "laptop-a").status == 0)
        #expect(margin(laptop, "remote", "add", "desk", server.url).status == 0)
        #expect(margin(laptop, "import", seedStory.path).status == 0)
        for i in 0..<20 { #expect(margin(laptop, "tag", article, "laptop-\(i)").status == 0) }

        // When two CLI writers tag the served store while the laptop syncs with it, all at once,
        let results = Results()
        let group = DispatchGroup()
        for writer in ["w1", "w2"] {
            DispatchQueue.global().async(group: group) {
                for i in 0..<12 { results.set("\(writer)-\(i)", margin(store, "tag", article, "\(writer)-\(i)")) }
            }
        }
        DispatchQueue.global().async(group: group) { results.set("sync", margin(laptop, "sync", "--page-size", "5")) }
        group.wait()

        // Then every one succeeded (waiting its turn), and the store holds every tag, once.
        #expect(results.all.count == 25)
        for (name, result) in results.all.sorted(by: { $0.key < $1.key }) {
            #expect(result.status == 0, "\(name): \(result.stderr)")
        }
        let sync = margin(laptop, "sync")
        #expect(sync.status == 0, "\(sync.stderr)")
        let tags = try marginJSON([ArticleShape].self, store, "list").value.first?.tags ?? []
        #expect(tags.count == 44, "\(tags)")
        #expect(integrity(store) == "ok" || integrity(store).hasPrefix("ok ("))
        #expect(integrity(laptop) == "ok" || integrity(laptop).hasPrefix("ok ("))
        #expect(margin(laptop, "verify").status == 0)

        // When a writer meets the store held past MARGIN_LOCK_TIMEOUT,
        let held = try HeldLock(store)
        let before = try marginJSON(StatusRow.self, store, "status").value.changes
        let blocked = margin(store, "tag", article, "blocked", env: ["MARGIN_LOCK_TIMEOUT": "0.5"])
        // Then it exits 73 with one line naming the holder and what to do, and writes nothing;
        #expect(blocked.status == 73, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("is busy: margin process 4242 (sync --all) is writing to it; waited 0.5 s"))
        #expect(blocked.stderr.split(separator: "\n").count == 1)
        // and the server answers a push 503 busy, which the laptop's sync reports as temporary (75).
        #expect(margin(laptop, "tag", article, "while-held").status == 0)
        #expect(margin(laptop, "sync", env: ["MARGIN_LOCK_TIMEOUT": "0.5"]).status == 75)
        held.release()
        #expect(try marginJSON(StatusRow.self, store, "status").value.changes == before)
        #expect(margin(laptop, "sync").status == 0)
        #expect(margin(laptop, "verify").status == 0)
    }
}
