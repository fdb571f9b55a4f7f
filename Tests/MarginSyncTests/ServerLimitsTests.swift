import Foundation
import MarginStore
import Testing

@testable import MarginSync

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to 127.0.0.1, for clients no HTTP library would be: dribblers, idlers,
/// clients that hang up.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        // Reads give up after 100 ms, so every wait below is a bounded loop.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends `text`; false once the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    enum ReadResult { case data(String), closed, nothing }

    /// What arrives within about 100 ms.
    func read() -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n > 0 { return .data(String(decoding: buffer[0..<n], as: UTF8.self)) }
        if n == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK ? .nothing : .closed
    }

    /// Everything until the server closes the connection, waiting at most `seconds`; nil when it
    /// was still open then. (Off Swift's cooperative pool: the server in this process needs it.)
    func readUntilClosed(within seconds: Double) async -> String? {
        await offPool { self.blockingReadUntilClosed(within: seconds) }
    }

    /// A whole response to a request without a body.
    func response(within seconds: Double) async -> String? {
        await offPool { self.blockingResponse(within: seconds) }
    }

    /// Runs blocking socket work on a thread of its own.
    func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    private func blockingReadUntilClosed(within seconds: Double) -> String? {
        var text = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            switch read() {
            case .data(let more): text += more
            case .closed: return text
            case .nothing: continue
            }
        }
        return nil
    }

    /// Reads until the response's Content-Length is in.
    private func blockingResponse(within seconds: Double) -> String? {
        var text = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            switch read() {
            case .data(let more):
                text += more
                if let split = text.range(of: "\r\n\r\n") {
                    let head = text[..<split.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text[..<split.upperBound].utf8.count >= length { return text }
                }
            case .closed: return text.isEmpty ? nil : text
            case .nothing: continue
            }
        }
        return nil
    }
}

/// What keeps one client from holding `margin serve`: header, body and idle timeouts, the
/// connection limit (503), the per-token request limit (429), and abandoned requests skipped.
@Suite("server limits", .serialized)
struct ServerLimitsTests {
    static func limits(_ change: (inout ServerLimits) -> Void) -> ServerLimits {
        var limits = ServerLimits()
        change(&limits)
        return limits
    }

    @Test func aClientThatDribblesItsHeadersIsDisconnectedWhileOthersAreServed() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub, limits: Self.limits { $0.headerTimeout = 0.5 })
        defer { Task { await server.stop() } }
        // Given a client that sends its request line a byte every 100 ms, for at most 5 s,
        let dribbler = try RawConnection(port: server.port)
        let request = Array("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(String(repeating: "a", count: 200))\r\n\r\n")
        let (sent, closed) = await dribbler.offPool { () -> (Int, Bool) in
            var sent = 0
            let started = Date()
            while sent < request.count, Date().timeIntervalSince(started) < 5 {
                guard dribbler.send(String(request[sent])) else { return (sent, true) }
                sent += 1
                if case .closed = dribbler.read() { return (sent, true) }
            }
            return (sent, false)
        }
        // Then the server closed it before the headers were done, without answering it,
        #expect(closed)
        #expect(sent < request.count)
        // and a client that asks normally is answered meanwhile.
        let other = try RawConnection(port: server.port)
        other.send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await other.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true)
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTimeoutAndABodyThatNeverComesAfterTheBodyTimeout() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub, limits: Self.limits {
            $0.idleTimeout = 0.5
            $0.bodyTimeout = 0.5
        })
        defer { Task { await server.stop() } }
        // A keep-alive connection answered once, then left idle, is closed.
        let idle = try RawConnection(port: server.port)
        idle.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await idle.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true)
        #expect(await idle.readUntilClosed(within: 5) != nil)
        // A push that promises 1,000 bytes and sends 10 is closed too.
        let slow = try RawConnection(port: server.port)
        slow.send("POST /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"protocol")
        #expect(await slow.readUntilClosed(within: 5) != nil)
        #expect(try hub.deliveries().isEmpty)
    }

    @Test func aConnectionOverTheLimitIsAnswered503WithRetryAfterButHealthIsAlwaysAnswered() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub, limits: Self.limits {
            $0.maxConnections = 2
            $0.headerTimeout = 30
        })
        defer { Task { await server.stop() } }
        // Given two connections held open (connected, not yet asking),
        let held = [try RawConnection(port: server.port), try RawConnection(port: server.port)]
        // When a third asks for the vector,
        let third = try RawConnection(port: server.port)
        third.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let refused = try #require(await third.readUntilClosed(within: 5))
        // Then it is told the server is busy, and when to come back, in the protocol's error shape,
        #expect(refused.hasPrefix("HTTP/1.1 503"))
        #expect(refused.lowercased().contains("retry-after: 1"))
        #expect(refused.contains(#""code":"busy""#))
        #expect(refused.contains("2 connections"))
        // but health is answered over the limit too,
        let health = try RawConnection(port: server.port)
        health.send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await health.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true)
        // and once the held connections close, a new one is served.
        var served = false
        for connection in held { shutdown(connection.fd, Int32(SHUT_RDWR)) }
        for _ in 0..<50 where !served {
            let next = try RawConnection(port: server.port)
            next.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            served = await next.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true
            if !served { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(served)
    }

    @Test func aTokenWithTooManyRequestsInProgressIsAnswered429WithRetryAfter() async throws {
        let hub = try Store.inMemory(name: "hub")
        let token = try hub.createToken(name: "flood")
        let other = try hub.createToken(name: "calm")
        let server = try await InProcessServer.serve(hub, limits: Self.limits { $0.maxRequestsPerToken = 1 })
        defer { Task { await server.stop() } }
        // Given a push of that token in progress (its body still arriving),
        let pushHead = "POST /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"protocol\""
        var push = try RawConnection(port: server.port)
        push.send(pushHead)
        // When the same token asks for more (once the push holds its place: a request that came
        // first takes the place, and the push is the one refused; then the push is sent again),
        var answer = ""
        for _ in 0..<50 {
            let second = try RawConnection(port: server.port)
            second.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
            answer = await second.response(within: 5) ?? ""
            if answer.hasPrefix("HTTP/1.1 429") { break }
            let current = push
            if case .data = await current.offPool({ current.read() }) {
                push = try RawConnection(port: server.port)
                push.send(pushHead)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Then it is 429 with Retry-After, naming the token,
        #expect(answer.hasPrefix("HTTP/1.1 429"))
        #expect(answer.lowercased().contains("retry-after: 1"))
        #expect(answer.contains(#""code":"too_many_requests""#) && answer.contains("flood"))
        // while another token is served as usual,
        let calm = try RawConnection(port: server.port)
        calm.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(other)\r\n\r\n")
        #expect(await calm.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true)
        // and once the push ends (its client hangs up), the token is served again.
        shutdown(push.fd, Int32(SHUT_RDWR))
        var served = false
        for _ in 0..<50 where !served {
            let again = try RawConnection(port: server.port)
            again.send("GET /v1/vector HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
            served = await again.response(within: 5)?.hasPrefix("HTTP/1.1 200") == true
            if !served { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(served)
    }

    @Test func pushesWhoseClientsHungUpWhileTheyWaitedAreNeverApplied() async throws {
        // Given a hub on disk whose write lock another process holds (its pushes wait up to 10 s),
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-abandon-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = Store.Options()
        options.lockTimeout = 10
        let hub = try Store.create(at: folder.appendingPathComponent("hub.sqlite").path, name: "hub", options: options)
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        let holder = open(folder.appendingPathComponent("hub.sqlite.lock").path, O_RDWR)
        try #require(holder >= 0 && flock(holder, LOCK_EX | LOCK_NB) == 0)
        var held = true
        defer { if held { close(holder) } }
        let laptop = try Store.inMemory(name: "laptop")
        _ = try SyncFixtures.importStory(into: laptop)
        let body = WireCodec.encode(PushRequest(runs: try laptop.runs(after: VersionVector()).runs))
        let head = "POST /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"

        // When six laptops push and hang up while their pushes wait (two begin, four wait their turn),
        let clients = try (0..<6).map { _ in try RawConnection(port: server.port) }
        for client in clients { client.send(head + String(decoding: body, as: UTF8.self)) }
        try await Task.sleep(for: .milliseconds(500))
        for client in clients { shutdown(client.fd, Int32(SHUT_RDWR)) }
        try await Task.sleep(for: .milliseconds(500))
        close(holder)
        held = false

        // Then only the pushes that had begun ran (each recorded as a delivery); the abandoned
        // ones were skipped, and what the first brought is held.
        var deliveries: [Delivery] = []
        for _ in 0..<100 {
            deliveries = try hub.deliveries()
            if deliveries.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(500))
        deliveries = try hub.deliveries()
        #expect(!deliveries.isEmpty && deliveries.count <= 2, "\(deliveries.count) pushes ran of 6, 4 were abandoned")
        #expect(try hub.versionVector()[laptop.replicaID] == (try laptop.versionVector()[laptop.replicaID]))
    }

    @Test func healthIsAnsweredOnTheEventLoopAsTheRouterAnswersItAndTheConnectionGoesOn() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        // Two health checks, then a vector, on one keep-alive connection: all answered, in order.
        let connection = try RawConnection(port: server.port)
        var answers: [String] = []
        for path in ["/v1/health", "/v1/health?x=1", "/v1/vector"] {
            connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answers.append(await connection.response(within: 5) ?? "")
        }
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") }, "\(answers)")
        let health = try #require(answers.first)
        let head = health.lowercased()
        #expect(head.contains("margin-protocol: 2") && head.contains("margin-schema: 1") && head.contains("server: margin"))
        #expect(head.contains("content-type: application/json") && head.contains("date: "))
        let body = try #require(health.range(of: "\r\n\r\n")).upperBound
        let decoded = try JSONDecoder().decode(HealthResponse.self, from: Data(health[body...].utf8))
        #expect(decoded == HealthResponse(status: "ok", protocol: 2, schema: 1, replicaID: hub.replicaID, replicaName: "hub"))
        #expect(answers[2].contains("\"vector\""))
        // A health check that speaks another protocol still gets the router's 400.
        let old = try RawConnection(port: server.port)
        old.send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nMargin-Protocol: 1\r\n\r\n")
        let refused = await old.response(within: 5) ?? ""
        #expect(refused.hasPrefix("HTTP/1.1 400") && refused.contains("protocol_mismatch"), "\(refused)")
        // And the HTTP date is RFC 9110's.
        #expect(ConnectionGuard.httpDate(Date(timeIntervalSince1970: 1_606_935_310)) == "Wed, 02 Dec 2020 18:55:10 GMT")
    }

    @Test func healthIsAnsweredWhileSwiftsCooperativePoolIsBusy() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        // Given every thread of the cooperative pool taken by blocking work (until the probe is done),
        let width = ProcessInfo.processInfo.activeProcessorCount
        let busy = Liveness()  // "gone" once the probe is done
        let started = ConnectionCount()
        for _ in 0..<width {
            Task.detached {
                _ = started.enter()
                while !busy.isGone { usleep(1_000) }
            }
        }
        // When a health check is sent from a thread of its own once they all run,
        let connection = try RawConnection(port: server.port)
        let answer = await connection.offPool { () -> String? in
            let deadline = Date().addingTimeInterval(5)
            while started.current < width, Date() < deadline { usleep(1_000) }
            connection.send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            var text = ""
            while Date() < deadline, !text.contains("\"status\"") {
                if case .data(let more) = connection.read() { text += more }
            }
            busy.markGone()
            return text.isEmpty ? nil : text
        }
        // Then it was answered before the pool was free again.
        #expect(started.current == width)
        #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "no answer while the pool was busy")")
    }

    @Test func aRefusalAnsweredBeforeItsBodyEndsStillLeavesTheConnectionTimed() async throws {
        // Hummingbird answers a refusal (401 here) without reading the body first; the body's last
        // byte arriving after the answer must not leave the connection without a timer.
        let hub = try Store.inMemory(name: "hub")
        _ = try hub.createToken(name: "someone")
        let server = try await InProcessServer.serve(hub, limits: Self.limits { $0.idleTimeout = 0.5 })
        defer { Task { await server.stop() } }
        let connection = try RawConnection(port: server.port)
        connection.send("POST /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n")
        #expect(await connection.response(within: 5)?.hasPrefix("HTTP/1.1 401") == true)
        connection.send("x")
        #expect(await connection.readUntilClosed(within: 5) != nil, "the connection was kept without a timer")
    }

    @Test func atTheConnectionLimitAConnectionIsClosedOnceItsAnswerIsOut() async throws {
        let hub = try Store.inMemory(name: "hub")
        let server = try await InProcessServer.serve(hub, limits: Self.limits { $0.maxConnections = 2 })
        defer { Task { await server.stop() } }
        // Given one connection open and idle, and a second, the limit, asking once (the router's
        // vector, then on a new one the guard's health),
        let idle = try RawConnection(port: server.port)
        var answers: [String] = []
        for path in ["/v1/vector", "/v1/health"] {
            let connection = try RawConnection(port: server.port)
            connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answers.append(await connection.readUntilClosed(within: 5) ?? "")
        }
        withExtendedLifetime(idle) {}
        // Then each is answered and then closed (not kept idle for 30 s holding a place).
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") }, "\(answers)")
    }

    @Test func workForARequestWhoseClientHasGoneIsNotStarted() async throws {
        // The pools check the connection's liveness before they begin: a gone client costs nothing.
        let liveness = Liveness()
        liveness.markGone()
        let ran = Liveness()
        await #expect(throws: ServerWork.Abandoned.self) {
            try await ServerWork.run(on: ServerWork.reads, liveness: liveness) { ran.markGone() }
        }
        #expect(!ran.isGone)
        try await ServerWork.run(on: ServerWork.reads, liveness: Liveness()) { ran.markGone() }
        #expect(ran.isGone)
    }

    @Test func limitsOutOfRangeAreNamed() {
        #expect(Self.limits { $0.headerTimeout = 0 }.problem?.contains("header timeout") == true)
        #expect(Self.limits { $0.idleTimeout = -1 }.problem?.contains("idle timeout") == true)
        #expect(Self.limits { $0.maxConnections = 0 }.problem?.contains("connection") == true)
        #expect(Self.limits { $0.maxRequestsPerToken = 0 }.problem?.contains("per token") == true)
        #expect(ServerLimits().problem == nil)
    }
}
