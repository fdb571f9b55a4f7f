import Foundation
import MarginStore
import MarginSync
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// End-to-end sync with the built `margin` binary: `margin serve` runs as a child process on
// 127.0.0.1 (a free port each), and other stores talk to it with `remote add`, `sync`,
// `status` and `conflicts`, as a user or a cron job would. Every child server is stopped when
// its test ends, however it ends.

// MARK: - Running margin


fileprivate struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A folder with one store for `margin`, removed when the test is done with it.
fileprivate final class CLIStore: @unchecked Sendable {
    let folder: URL
    let path: String

    init(_ name: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("\(name).sqlite").path
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// The environment of every child: this store, and no default store to stumble on.
    func environment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["MARGIN_STORE"] = path
        environment["XDG_DATA_HOME"] = "/dev/null/margin-tests-have-no-default-store"
        environment["MARGIN_HUB_TOKEN"] = nil
        environment.merge(extra) { $1 }
        return environment
    }

    /// Runs `margin ARGS` on this store to the end.
    @discardableResult
    func margin(_ args: String..., env: [String: String] = [:]) async throws -> Finished {
        try await run(args, env: env)
    }

    /// Runs `margin ARGS --json`, expecting success, and decodes its output.
    func json<T: Decodable>(_ type: T.Type, _ args: String..., env: [String: String] = [:]) async throws -> T {
        let finished = try await run(args + ["--json"], env: env)
        try #require(finished.status == 0, "margin \(args) exited \(finished.status): \(finished.stderr)")
        return try JSONDecoder().decode(T.self, from: Data(finished.stdout.utf8))
    }

    /// Runs `margin ARGS` on this store to the end (killed after 60 s), without blocking a thread.
    func run(_ args: [String], env: [String: String] = [:]) async throws -> Finished {
        let out = folder.appendingPathComponent("out-\(UUID().uuidString)")
        let err = folder.appendingPathComponent("err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        let process = Process()
        process.executableURL = builtMargin
        process.arguments = args
        process.environment = environment(env)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + 60) {
                if process.isRunning { process.terminate() }
            }
        }
        #expect(process.terminationReason == .exit, "margin \(args) was killed by signal \(status)")
        return Finished(
            status: status,
            stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    /// `margin init --name NAME`.
    static func initialized(_ name: String) async throws -> CLIStore {
        let store = try CLIStore(name)
        let result = try await store.margin("init", "--name", name)
        try #require(result.status == 0, "init failed: \(result.stderr)")
        return store
    }
}

// MARK: - A child server

/// A free TCP port on 127.0.0.1: bound to port 0, read, released.
fileprivate func freeLoopbackPort() throws -> Int {
    let (fd, port) = try listeningSocket(port: 0)
    closeSocket(fd)
    return port
}

/// `margin serve` as a child process on 127.0.0.1; `stop()` sends SIGTERM (then SIGKILL).
fileprivate final class ServeProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let log: URL
    private let logHandle: FileHandle

    var url: String { "http://127.0.0.1:\(port)" }

    private init(process: Process, port: Int, log: URL, logHandle: FileHandle) {
        self.process = process
        self.port = port
        self.log = log
        self.logHandle = logHandle
    }

    /// Starts `margin serve --port P` on a free port and waits until /v1/health answers.
    static func start(_ store: CLIStore, _ extra: [String] = []) async throws -> ServeProcess {
        var lastFailure = ""
        for _ in 0..<3 {  // another process may take the free port between our probe and the bind
            let port = try freeLoopbackPort()
            let log = store.folder.appendingPathComponent("serve-\(port).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            let process = Process()
            process.executableURL = builtMargin
            process.arguments = ["serve", "--port", String(port)] + extra
            process.environment = store.environment([:])
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let server = ServeProcess(process: process, port: port, log: log, logHandle: handle)
            if try await server.waitUntilHealthy() { return server }
            server.stop()
            lastFailure = server.output
        }
        throw ServerDidNotStart(reason: lastFailure)
    }

    /// Waits up to 15 s for this process to announce the port (so the answer is not another
    /// process's on a port taken meanwhile) and for /v1/health to answer; false when it exits first.
    private func waitUntilHealthy() async throws -> Bool {
        let client = SyncClient(baseURL: URL(string: url)!, timeout: 2)
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard process.isRunning else { return false }
            if output.contains("on \(url)\n"), let health = try? await client.health(), health.status == "ok" {
                return true
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }

    /// What the server wrote to stdout and stderr.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Stops the server and waits for it to exit: SIGTERM, then SIGKILL after 5 s.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? logHandle.close()
    }

    deinit { if process.isRunning { stop() } }
}

// MARK: - JSON shapes, as a script reads them

fileprivate struct SyncRow: Decodable {
    var remote: String
    var ok: Bool
    var sent, received, conflicts, requests, bytes_sent, bytes_received: Int?
    var error: String?
}

fileprivate struct StatusShape: Decodable {
    struct Remote: Decodable {
        var name, url: String
        var pending: Int64?
        var last_sync_at, last_error: String?
    }

    var replica_id, replica_name, store: String
    var vector: [String: Int64]
    var articles, annotations, changes, conflicts: Int
    var remotes: [Remote]
}

fileprivate struct ConflictShape: Decodable {
    struct Version: Decodable {
        var origin: String
        var origin_name: String?
        var value: JSONValue
        var shown, mine: Bool
    }

    var id, kind, entity, entity_id, field: String
    var versions: [Version]
}

fileprivate struct IDShape: Decodable { var id: String }
fileprivate struct TokenShape: Decodable { var name, token: String }

// MARK: - Tests

@Suite("margin serve and sync, end to end")
struct ServeBinaryTests {
    @Test func twoStoresSyncThroughAServedHubWithATokenAndAgreeOnTheirConflict() async throws {
        // Given a hub store with a token, served by `margin serve` on 127.0.0.1.
        let hub = try await CLIStore.initialized("hub")
        let token = try await hub.json(TokenShape.self, "token", "create", "laptops").token
        #expect(token.hasPrefix("mgn_"))
        let server = try await ServeProcess.start(hub)
        defer { server.stop() }
        #expect(server.output.contains("serving hub on http://127.0.0.1:\(server.port)"))

        // And two laptops with the hub as a remote whose token is in $MARGIN_HUB_TOKEN.
        let a = try await CLIStore.initialized("laptop-a")
        let b = try await CLIStore.initialized("laptop-b")
        let env = ["MARGIN_HUB_TOKEN": token]
        for laptop in [a, b] {
            let added = try await laptop.margin("remote", "add", "hub", server.url, "--token-env", "MARGIN_HUB_TOKEN")
            #expect(added.status == 0, "\(added.stderr)")
        }
        let article = try await a.json([IDShape].self, "import", SyncFixtures.storyURL.path)[0].id
        let highlight = try await a.json(
            IDShape.self, "highlight", article, "--quote", "cause a stink", "--note", "first thought").id

        // When laptop A syncs (text output) and laptop B syncs (JSON output).
        let syncA = try await a.margin("sync", env: env)
        #expect(syncA.status == 0, "\(syncA.stderr)")
        let aChanges = try await a.json(StatusShape.self, "status").changes
        #expect(syncA.stdout.hasPrefix("hub: synced: sent \(aChanges - 1) changes, received 1 change ("), "\(syncA.stdout)")
        let rowsB = try await b.json([SyncRow].self, "sync", env: env)

        // Then B received everything the hub held, and sent only its own name.
        let hubStatus = try await hub.json(StatusShape.self, "status")
        #expect(rowsB.count == 1)
        #expect(rowsB.first?.ok == true && rowsB.first?.remote == "hub")
        #expect(rowsB.first?.received == hubStatus.changes - 1)
        #expect(rowsB.first?.sent == 1)
        #expect(rowsB.first?.conflicts == 0)
        #expect(try await b.json([IDShape].self, "annotations").map(\.id) == [highlight])

        // When both laptops rewrite the same note offline, and sync A, B, A.
        #expect(try await a.margin("note", highlight, "a's reading").status == 0)
        #expect(try await b.margin("note", highlight, "b's reading").status == 0)
        // (A sync that leaves a conflict pending still goes through, and exits 2 to say so.)
        for (laptop, expected) in [(a, Int32(0)), (b, 2), (a, 2)] {
            let result = try await laptop.margin("sync", "--json", env: env)
            #expect(result.status == expected, "\(result.stderr)")
            let rows = try JSONDecoder().decode([SyncRow].self, from: Data(result.stdout.utf8))
            #expect(rows.first?.ok == true, "\(rows.first?.error ?? "")")
        }

        // Then both laptops list the same one conflict, with both readings, each marking its own.
        let conflictsA = try await a.json([ConflictShape].self, "conflicts")
        let conflictsB = try await b.json([ConflictShape].self, "conflicts")
        #expect(conflictsA.count == 1)
        #expect(conflictsA.map(\.id) == conflictsB.map(\.id))
        #expect(conflictsA.first?.entity_id == highlight && conflictsA.first?.field == "note")
        #expect(Set(conflictsA.first?.versions.map(\.value) ?? []) == [.string("a's reading"), .string("b's reading")])
        #expect(conflictsA.first?.versions.filter(\.mine).map(\.origin_name) == ["laptop-a"])
        #expect(conflictsB.first?.versions.filter(\.mine).map(\.origin_name) == ["laptop-b"])
        #expect(conflictsA.first?.versions.map(\.shown) == conflictsB.first?.versions.map(\.shown))
        let text = try await a.margin("conflicts")
        #expect(text.status == 0)
        #expect(text.stdout.contains("a's reading") && text.stdout.contains("b's reading"))
        #expect(text.stdout.contains("laptop-a (this replica)"))

        // And `status --json` agrees across the three: same vector and counts, nothing pending.
        let statusA = try await a.json(StatusShape.self, "status")
        let statusB = try await b.json(StatusShape.self, "status")
        let statusHub = try await hub.json(StatusShape.self, "status")
        #expect(statusA.vector == statusHub.vector && statusB.vector == statusHub.vector)
        #expect(statusA.changes == statusHub.changes && statusB.changes == statusHub.changes)
        #expect(statusA.conflicts == 1 && statusB.conflicts == 1 && statusHub.conflicts == 1)
        #expect(statusA.remotes.map(\.name) == ["hub"])
        #expect(statusA.remotes.first?.pending == 0 && statusB.remotes.first?.pending == 0)
        #expect(statusA.remotes.first?.last_error == nil && statusA.remotes.first?.last_sync_at != nil)
        let exportA = try await a.margin("export")
        let exportB = try await b.margin("export")
        #expect(exportA.status == 0 && exportA.stdout == exportB.stdout)

        // And a sync with nothing to do moves nothing, in one request.
        let idleResult = try await b.margin("sync", "--json", env: env)
        #expect(idleResult.status == 2)  // the conflict is still pending
        let idle = try JSONDecoder().decode([SyncRow].self, from: Data(idleResult.stdout.utf8))
        #expect(idle.first?.sent == 0 && idle.first?.received == 0 && idle.first?.requests == 1)
    }

    @Test func serveRefusesANonLoopbackAddressWithoutTokens() async throws {
        // Given a store with no token, and the port it would use held by a loopback listener, so
        // that even a broken check could not serve on 0.0.0.0.
        let store = try await CLIStore.initialized("hub")
        let (holder, port) = try listeningSocket(port: 0)
        defer { closeSocket(holder) }

        // When it is asked to serve on 0.0.0.0,
        let result = try await store.margin("serve", "--host", "0.0.0.0", "--port", String(port))

        // Then it refuses before listening: a usage error that says to create a token first.
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("refusing to listen on 0.0.0.0 without tokens"), "\(result.stderr)")
        #expect(result.stderr.contains("margin token create"))
        #expect(!result.stderr.contains("serving"))
        #expect(try await store.json(StatusShape.self, "status").changes == 1)
    }

    @Test func aWrongTokenExits77AndAStoppedServerExits75() async throws {
        // Given a served hub with a token, and a laptop with a change and the hub as a remote.
        let hub = try await CLIStore.initialized("hub")
        let token = try await hub.margin("token", "create", "laptop").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try await ServeProcess.start(hub)
        defer { server.stop() }
        let laptop = try await CLIStore.initialized("laptop-a")
        #expect(try await laptop.margin("import", SyncFixtures.storyURL.path).status == 0)
        #expect(try await laptop.margin("remote", "add", "hub", server.url, "--token-env", "MARGIN_HUB_TOKEN").status == 0)
        let hubBefore = try await hub.json(StatusShape.self, "status")

        // When it syncs with a wrong token in the environment,
        let wrong = try await laptop.margin("sync", env: ["MARGIN_HUB_TOKEN": token + "x"])
        // Then it exits 77 naming the refusal, and nothing reached the hub.
        #expect(wrong.status == 77, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("refused the token"), "\(wrong.stderr)")
        let wrongJSON = try await laptop.margin("sync", "--json", env: ["MARGIN_HUB_TOKEN": "mgn_nope"])
        #expect(wrongJSON.status == 77)
        let rows = try JSONDecoder().decode([SyncRow].self, from: Data(wrongJSON.stdout.utf8))
        #expect(rows.first?.ok == false && rows.first?.error?.isEmpty == false)
        // With no token at all in the environment it exits 77 too, naming the variable.
        let missing = try await laptop.margin("sync")
        #expect(missing.status == 77, "\(missing.stderr)")
        #expect(missing.stderr.contains("MARGIN_HUB_TOKEN"))
        #expect(try await hub.json(StatusShape.self, "status").vector == hubBefore.vector)
        let status = try await laptop.json(StatusShape.self, "status")
        #expect(status.remotes.first?.last_error?.isEmpty == false)

        // When the right token is used, the sync goes through.
        let ok = try await laptop.margin("sync", env: ["MARGIN_HUB_TOKEN": token])
        #expect(ok.status == 0, "\(ok.stderr)")

        // When the server is stopped and the laptop has something new to send,
        server.stop()
        #expect(try await laptop.margin("tag", try await laptop.json([IDShape].self, "list")[0].id, "later").status == 0)
        let down = try await laptop.margin("sync", env: ["MARGIN_HUB_TOKEN": token])
        // Then it exits 75 (temporary: retry later), and says it cannot reach the hub.
        #expect(down.status == 75, "\(down.stderr)")
        #expect(down.stderr.contains("cannot reach"), "\(down.stderr)")
        let after = try await laptop.json(StatusShape.self, "status")
        #expect(after.remotes.first?.pending == 1)
        #expect(after.remotes.first?.last_error?.contains("cannot reach") == true)
    }

    @Test func aCopiedStoreFileIsRefusedAsEquivocationAndStatusSaysWhatToDo() async throws {
        // Given a served hub and laptop B synced with it, and B's store file copied (a new
        // machine set up from the old one's file).
        let hub = try await CLIStore.initialized("hub")
        let token = try await hub.json(TokenShape.self, "token", "create", "laptops").token
        let server = try await ServeProcess.start(hub)
        defer { server.stop() }
        let env = ["MARGIN_HUB_TOKEN": token]
        let b = try await CLIStore.initialized("laptop-b")
        #expect(try await b.margin("remote", "add", "hub", server.url, "--token-env", "MARGIN_HUB_TOKEN").status == 0)
        let article = try await b.json([IDShape].self, "import", SyncFixtures.storyURL.path)[0].id
        #expect(try await b.margin("sync", env: env).status == 0)
        let copy = try CLIStore("laptop-b-copy")
        try FileManager.default.copyItem(atPath: b.path, toPath: copy.path)

        // When both write as the one replica they are and sync, B first,
        #expect(try await b.margin("tag", article, "from-b").status == 0)
        #expect(try await copy.margin("tag", article, "from-the-copy").status == 0)
        #expect(try await b.margin("sync", env: env).status == 0)
        let refused = try await copy.margin("sync", env: env)

        // Then the copy's sync fails (exit 1) with a message that says the store was copied and
        // what to do, and `status` lists the equivocation with the same advice, text and JSON.
        #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("copied") && refused.stderr.contains("margin init"), "\(refused.stderr)")
        let status = try await copy.margin("status")
        #expect(status.stdout.contains("equivocation:") && status.stdout.contains("copied"), "\(status.stdout)")
        struct Equivocations: Decodable {
            struct Entry: Decodable { var origin: String; var seq: Int64; var own_origin: Bool }
            var equivocations: [Entry]
        }
        let listed = try await copy.json(Equivocations.self, "status").equivocations
        let replica = try await b.json(StatusShape.self, "status").replica_id
        #expect(listed.contains { $0.origin == replica && $0.own_origin }, "\(listed)")
        // And the hub kept B's history: B verifies equal.
        #expect(try await b.margin("verify", env: env).status == 0)
    }

    @Test func aReadOnlyTokenPullsButCannotPushAndTheHubListsWhoDeliveredWhat() async throws {
        // Given a served hub with a read-write token for A and a read-only one for B.
        let hub = try await CLIStore.initialized("hub")
        let writer = try await hub.json(TokenShape.self, "token", "create", "a").token
        let reader = try await hub.json(TokenShape.self, "token", "create", "b", "--read-only").token
        let server = try await ServeProcess.start(hub)
        defer { server.stop() }
        let a = try await CLIStore.initialized("laptop-a")
        let b = try await CLIStore.initialized("laptop-b")
        for laptop in [a, b] {
            #expect(try await laptop.margin("remote", "add", "hub", server.url, "--token-env", "MARGIN_HUB_TOKEN").status == 0)
        }
        let article = try await a.json([IDShape].self, "import", SyncFixtures.storyURL.path)[0].id
        #expect(try await a.margin("sync", env: ["MARGIN_HUB_TOKEN": writer]).status == 0)

        // When B pulls with its read-only token, then tags the article and pushes,
        let pulled = try await b.margin("pull", env: ["MARGIN_HUB_TOKEN": reader])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try await b.json([IDShape].self, "list").map(\.id) == [article])
        #expect(try await b.margin("tag", article, "from-b").status == 0)
        let pushed = try await b.margin("push", env: ["MARGIN_HUB_TOKEN": reader])

        // Then the push exits 77 saying the token is read-only, and the hub holds nothing of B.
        #expect(pushed.status == 77, "\(pushed.stdout) \(pushed.stderr)")
        #expect(pushed.stderr.contains("read-only"), "\(pushed.stderr)")
        let replicaB = try await b.json(StatusShape.self, "status").replica_id
        #expect(try await hub.json(StatusShape.self, "status").vector[replicaB] == nil)

        // And `token list` shows which token is read-only and A's replica under A's token,
        struct Listed: Decodable {
            struct Origin: Decodable { var origin: String; var key: String? }
            var name: String
            var read_only: Bool
            var origins: [Origin]
        }
        let tokens = try await hub.json([Listed].self, "token", "list")
        let replicaA = try await a.json(StatusShape.self, "status").replica_id
        #expect(tokens.map(\.name) == ["a", "b"] && tokens.map(\.read_only) == [false, true])
        #expect(tokens[0].origins.map(\.origin) == [replicaA] && tokens[0].origins[0].key != nil)
        #expect(tokens[1].origins.isEmpty)
        // and `log --deliveries` lists A's push: its token, A's seqs, applied.
        struct Delivered: Decodable {
            struct Range: Decodable { var origin: String; var first, last: Int64 }
            var token: String?
            var ranges: [Range]
            var applied: Int
            var result: String
        }
        let deliveries = try await hub.json([Delivered].self, "log", "--deliveries")
        #expect(deliveries.count == 1)
        #expect(deliveries.first?.token == "a" && deliveries.first?.result == "ok")
        #expect(deliveries.first?.ranges.allSatisfy { $0.origin == replicaA } == true)
        let text = try await hub.margin("log", "--deliveries")
        #expect(text.stdout.contains("applied") && text.stdout.contains("a  "), "\(text.stdout)")
    }

    @Test func aMembersOnlyHubTakesRunsOfBoundReplicasOnlyAndSaysHowToBindAnother() async throws {
        // Given a hub whose token binds laptop A, served members-only, and laptops A and B with that token.
        let hub = try await CLIStore.initialized("hub")
        let a = try await CLIStore.initialized("laptop-a")
        let b = try await CLIStore.initialized("laptop-b")
        let replicaA = try await a.json(StatusShape.self, "status").replica_id
        let replicaB = try await b.json(StatusShape.self, "status").replica_id
        let token = try await hub.json(TokenShape.self, "token", "create", "newsroom", "--replica", replicaA).token
        let server = try await ServeProcess.start(hub, ["--members-only"])
        defer { server.stop() }
        let env = ["MARGIN_HUB_TOKEN": token]
        for laptop in [a, b] {
            #expect(try await laptop.margin("remote", "add", "hub", server.url, "--token-env", "MARGIN_HUB_TOKEN").status == 0)
            _ = try await laptop.json([IDShape].self, "import", SyncFixtures.storyURL.path)
        }

        // When A syncs, it goes through; when B pushes, it exits 77, naming B and the command.
        let synced = try await a.margin("sync", env: env)
        #expect(synced.status == 0, "\(synced.stderr)")
        let refused = try await b.margin("push", env: env)
        #expect(refused.status == 77, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains(replicaB) && refused.stderr.contains("margin token bind"), "\(refused.stderr)")
        #expect(try await hub.json(StatusShape.self, "status").vector[replicaB] == nil)

        // When the owner binds B (a bad id is refused first), B's push goes through.
        let bad = try await hub.margin("token", "bind", "newsroom", "laptop-b")
        #expect(bad.status != 0 && bad.stderr.contains("not a replica id"), "\(bad.stderr)")
        #expect(try await hub.margin("token", "bind", "newsroom", replicaB).status == 0)
        let pushed = try await b.margin("push", env: env)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(try await hub.json(StatusShape.self, "status").vector[replicaB] != nil)
        struct Listed: Decodable { var name: String; var members: [String] }
        #expect(try await hub.json([Listed].self, "token", "list").first?.members == [replicaA, replicaB])
    }

    @Test func serveRefusesAClockLimitStricterThanTheProtocolsAndMalformedSettings() async throws {
        let hub = try await CLIStore.initialized("hub")
        // A hub that would refuse changes 60 s ahead, which every laptop accepts, does not start.
        let strict = try await hub.margin("serve", "--port", "0", env: ["MARGIN_MAX_CLOCK_SKEW": "60"])
        #expect(strict.status == 64, "\(strict.stderr)")
        #expect(strict.stderr.contains("stricter than the protocol's 300 s"), "\(strict.stderr)")
        #expect(!strict.stderr.contains("serving"))
        // A setting that is not a number is named, not ignored.
        let malformed = try await hub.margin("status", env: ["MARGIN_LOCK_TIMEOUT": "ten"])
        #expect(malformed.status == 64 && malformed.stderr.contains("MARGIN_LOCK_TIMEOUT must be a number"), "\(malformed.stderr)")
        // Limits out of range are usage errors.
        let zero = try await hub.margin("serve", "--port", "0", "--max-connections", "0")
        #expect(zero.status == 64 && zero.stderr.contains("connection limit"), "\(zero.stderr)")
    }
}
