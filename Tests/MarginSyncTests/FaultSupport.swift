import Foundation
import Hummingbird
import Logging
import MarginStore
import MarginSync
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Support for the fault tests: the built `margin` binary as a server that can be SIGKILLed, an
// in-process server, a seeded random source, and a fault-injecting HTTP proxy on 127.0.0.1.

// MARK: - The built binary

/// The built `margin`: the first executable of that name in a folder above the test bundle
/// (SwiftPM puts both in .build/<triple>/<config>/), else <package>/.build/debug/margin.
let builtMargin: URL = {
    var starts = [URL(fileURLWithPath: CommandLine.arguments[0])]
    if let executable = Bundle.main.executableURL { starts.append(executable) }
    for start in starts {
        var folder = start.standardizedFileURL.deletingLastPathComponent()
        while folder.path != "/" && !folder.path.isEmpty {
            let candidate = folder.appendingPathComponent("margin")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
    }
    return SyncFixtures.packageRoot.appendingPathComponent(".build/debug/margin")
}()

/// The environment of a `margin` child: no default store to stumble on, plus `extra`.
func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["MARGIN_STORE"] = nil
    environment["XDG_DATA_HOME"] = "/dev/null/margin-tests-have-no-default-store"
    environment.merge(extra) { $1 }
    return environment
}

/// Starts `margin ARGS` with output to `log`; the caller waits or kills.
func startMargin(_ args: [String], log: URL, env: [String: String] = [:]) throws -> Process {
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    let process = Process()
    process.executableURL = builtMargin
    process.arguments = args
    process.environment = childEnvironment(env)
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    try? handle.close()
    return process
}

/// Waits for a child to end without blocking a cooperative thread for long.
func waitForExit(_ process: Process, timeout: Double = 60) async -> Int32 {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
        if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
        try? await Task.sleep(nanoseconds: 5_000_000)
    }
    return process.terminationStatus
}

/// `margin serve --port 0` over a store file, as a child process that tests SIGKILL.
final class ServeChild: @unchecked Sendable {
    let process: Process
    let port: Int

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// Starts the server and waits (up to 60 s: a loaded CI machine) for it to say which port it
    /// listens on.
    static func start(store path: String, log: URL, env: [String: String] = [:]) async throws -> ServeChild {
        let process = try startMargin(["--store", path, "serve", "--port", "0"], log: log, env: env)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "on http://127.0.0.1:"),
               let line = text[range.upperBound...].split(separator: "\n").first, let port = Int(line)
            {
                return ServeChild(process: process, port: port)
            }
            if !process.isRunning { break }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        throw ServerDidNotStart(reason: (try? String(contentsOf: log, encoding: .utf8)) ?? "no output")
    }

    /// SIGKILL, and wait until the process is gone (its flock and sockets with it).
    func kill9() async {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = await waitForExit(process)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

// MARK: - An in-process server

/// `SyncServer` over a store, in a task on 127.0.0.1.
final class InProcessServer: Sendable {
    let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private init(port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.port = port
        self.task = task
        self.group = group
    }

    static func serve(_ store: Store, limits: ServerLimits = ServerLimits(), membersOnly: Bool = false)
        async throws -> InProcessServer
    {
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "margin.fault-test-server")
        logger.logLevel = .critical
        let app = SyncServer.buildApplication(
            store: store, host: "127.0.0.1", port: 0, limits: limits, membersOnly: membersOnly, logger: logger
        ) {
            announce.yield($0)
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { announce.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            throw ServerDidNotStart(reason: "\(await task.result)")
        }
        return InProcessServer(port: port, task: task, group: group)
    }

    /// Stops gracefully (the listener closes, open requests finish), cancelling after 5 s.
    func stop() async {
        await GracefulStop.stop(group, task)
    }
}

/// Graceful shutdown of a test server, then cancellation if it takes over 5 s.
enum GracefulStop {
    static func stop(_ group: ServiceGroup, _ task: Task<Void, any Error>) async {
        await group.triggerGracefulShutdown()
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(5))
            task.cancel()
        }
        _ = await task.result
        watchdog.cancel()
    }
}

// MARK: - Seeded randomness

/// SplitMix64: a small seeded generator, so a failing run can be replayed from its printed seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed: $MARGIN_FAULT_SEED, else the clock.
    static func seed() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["MARGIN_FAULT_SEED"], let seed = UInt64(text) { return seed }
        return UInt64(Date().timeIntervalSince1970 * 1000)
    }
}

// MARK: - Many changes

/// Writes `highlights` highlights with notes on the article, each with `tags` tags added one at a
/// time (as a reader tags over days): highlights × (tags + 1) changes, each its own run.
func writeMany(into store: Store, article: String, highlights: Int, tags: Int, salt: String = "") throws {
    let length = try store.article(article).body.unicodeScalars.count
    for i in 0..<highlights {
        let start = (i * 37 + salt.count * 11) % (length - 20)
        let id = try store.highlight(
            articleRef: article, anchor: .position(start: start, end: start + 1 + i % 17), note: "note \(salt)\(i)").id
        for tag in 0..<tags { try store.addTags(ref: id, tags: ["t\(salt)-\(i)-\(tag)"]) }
    }
}

// MARK: - A fault-injecting HTTP proxy

/// An HTTP/1.1 proxy on 127.0.0.1 in front of a server that injects faults into chosen requests:
/// a connection dropped before forwarding, dropped after the server answered (so a push was
/// applied but its answer is lost), a body cut in half, a 503 without forwarding, and a request
/// forwarded twice. Each request has its own client and upstream connections (`Connection: close`).
final class FaultProxy: @unchecked Sendable {
    enum Fault: String, CaseIterable, Sendable {
        case droppedBeforeForwarding = "dropped before forwarding"
        case droppedAfterServerAnswered = "dropped after the server answered"
        case truncatedBody = "truncated response body"
        case serviceUnavailable = "503 without forwarding"
        case duplicatedRequest = "request forwarded twice"
    }

    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let choose: @Sendable (_ index: Int, _ method: String) -> Fault?
    private let keepAlive: Bool
    private let lock = NSLock()
    private var _requests = 0
    private var _faults: [Fault: Int] = [:]
    private var _forwarded = 0

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// - Parameters:
    ///   - keepAlive: serve several requests per client connection, so a fault may hit a
    ///     connection the client reuses; else one request per connection (`Connection: close`).
    ///   - choose: for the n-th request (from 0) and its method, the fault to inject, if any.
    init(upstream: Int, keepAlive: Bool = false,
         choose: @escaping @Sendable (_ index: Int, _ method: String) -> Fault?) throws {
        (listener, port) = try listeningSocket(port: 0)
        self.upstream = upstream
        self.keepAlive = keepAlive
        self.choose = choose
        Thread { [self] in acceptLoop() }.start()
    }

    /// Requests received, faults injected by kind, and requests the server received.
    var counts: (requests: Int, faults: [Fault: Int], forwarded: Int) {
        lock.withLock { (_requests, _faults, _forwarded) }
    }

    func stop() { _ = shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { closeSocket(listener) }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            Thread { [self] in
                serve(client)
                closeSocket(client)
            }.start()
        }
    }

    private func serve(_ fd: Int32) {
        var connection = BufferedSocket(fd: fd)
        while let request = readRequest(&connection) {
            let (index, fault) = lock.withLock { () -> (Int, Fault?) in
                let index = _requests
                _requests += 1
                let fault = choose(index, request.method)
                if let fault { _faults[fault, default: 0] += 1 }
                return (index, fault)
            }
            if ProcessInfo.processInfo.environment["MARGIN_PROXY_DEBUG"] != nil {
                FileHandle.standardError.write(Data("proxy \(index) \(request.method) \(request.bytes.count) bytes: \(fault?.rawValue ?? "-")\n".utf8))
            }
            switch fault {
            case .droppedBeforeForwarding:
                return
            case .serviceUnavailable:
                let body = Data(#"{"code":"busy","error":"the proxy says the server is busy; try again","protocol":1}"#.utf8)
                var head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                head += "Margin-Protocol: 1\r\nMargin-Schema: 1\r\nContent-Length: \(body.count)\r\n"
                head += "Connection: close\r\n\r\n"
                _ = send(fd, Data(head.utf8) + body)
                return
            case .droppedAfterServerAnswered:
                _ = forward(request.bytes)
                return
            case .truncatedBody:
                guard let response = forward(request.bytes) else { return }
                let cut = response.head.count + max(0, response.body.count / 2)
                _ = send(fd, (response.head + response.body).prefix(cut))
                return
            case .duplicatedRequest:
                _ = forward(request.bytes)
                guard let response = forward(request.bytes), send(fd, response.head + response.body), keepAlive
                else { return }
            case nil:
                guard let response = forward(request.bytes), send(fd, response.head + response.body), keepAlive
                else { return }
            }
        }
    }

    private struct Request {
        var method: String
        var bytes: Data
    }

    /// Reads one request; answers `Expect: 100-continue` itself and drops the header upstream.
    private func readRequest(_ connection: inout BufferedSocket) -> Request? {
        guard let head = connection.readHead() else { return nil }
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard let requestLine = lines.first else { return nil }
        let method = String(requestLine.split(separator: " ").first ?? "")
        var length = 0
        var expectsContinue = false
        lines = lines.filter { line in
            let lower = line.lowercased()
            if lower.hasPrefix("content-length:") { length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0 }
            if lower.hasPrefix("expect:") {
                expectsContinue = lower.contains("100-continue")
                return false
            }
            return !lower.hasPrefix("connection:")
        }
        if expectsContinue { _ = send(connection.fd, Data("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        guard let body = connection.receive(count: length) else { return nil }
        lines.append("Connection: close")
        return Request(method: method, bytes: Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body)
    }

    /// Sends a request to the server on a new connection and reads its whole answer.
    private func forward(_ bytes: Data) -> (head: Data, body: Data)? {
        guard let fd = try? connectedSocket(port: upstream) else { return nil }
        defer { closeSocket(fd) }
        lock.withLock { _forwarded += 1 }
        guard send(fd, bytes) else { return nil }
        var connection = BufferedSocket(fd: fd)
        debug("forward: sent \(bytes.count)")
        guard let head = connection.readHead() else { return nil }
        debug("forward: head \(String(decoding: head, as: UTF8.self).replacingOccurrences(of: "\r\n", with: " | "))")
        let text = String(decoding: head, as: UTF8.self).lowercased()
        var length: Int? = nil
        for line in text.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces))
        }
        let body = length.map { connection.receive(count: $0) ?? Data() } ?? connection.readToEnd()
        // One request per client connection: a client never reuses a connection the proxy may
        // drop, so every fault is met on a fresh one, as after a real network cut.
        if keepAlive { return (head, body) }
        var closing = head.dropLast(2)
        closing.append(Data("Connection: close\r\n\r\n".utf8))
        return (Data(closing), body)
    }

    private func debug(_ text: String) {
        if ProcessInfo.processInfo.environment["MARGIN_PROXY_DEBUG"] != nil {
            FileHandle.standardError.write(Data("proxy \(text)\n".utf8))
        }
    }

    private func send(_ fd: Int32, _ data: Data) -> Bool {
        var sent = 0
        let bytes = [UInt8](data)
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }
}

/// A socket with a read buffer, for reading HTTP heads and bodies.
struct BufferedSocket {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// Reads more bytes into the buffer; false at the end of the stream.
    private mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// The head of a message, up to and including the blank line.
    mutating func readHead() -> Data? {
        let end: [UInt8] = [13, 10, 13, 10]
        var searched = 0
        while true {
            var i = max(0, searched - 3)
            while i + 4 <= buffer.count {
                if buffer[i] == end[0], Array(buffer[i..<i + 4]) == end {
                    let head = Data(buffer[0..<i + 4])
                    buffer.removeFirst(i + 4)
                    return head
                }
                i += 1
            }
            searched = buffer.count
            guard fill() else { return nil }
        }
    }

    mutating func receive(count: Int) -> Data? {
        while buffer.count < count {
            guard fill() else { return nil }
        }
        let data = Data(buffer[0..<count])
        buffer.removeFirst(count)
        return data
    }

    mutating func readToEnd() -> Data {
        while fill() {}
        defer { buffer.removeAll() }
        return Data(buffer)
    }
}
