import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// What `margin serve` gives one connection and one token, so that no client can hold the server:
/// none of these is a protocol limit (they bound time and concurrency, never what a change may be),
/// so a laptop that is refused by one of them succeeds by trying again later.
public struct ServerLimits: Sendable {
    /// Seconds a new connection has to send a whole request head (line and headers). A client that
    /// dribbles its headers a byte at a time is closed when they run out.
    public var headerTimeout: Double = 10
    /// Seconds a connection may wait between requests (keep-alive) before it is closed.
    public var idleTimeout: Double = 30
    /// Seconds a request's body may take to arrive once its head has (a 16 MiB push at 1 Mbit/s
    /// takes about 2 minutes).
    public var bodyTimeout: Double = 180
    /// Open connections served at once; a request on one more is answered 503 with Retry-After and
    /// the connection closed. `/v1/health` is always answered.
    public var maxConnections = 512
    /// Requests of one token in progress at once; one more is answered 429 with Retry-After. A
    /// laptop syncs one request at a time, so this only binds a client that floods the server.
    public var maxRequestsPerToken = 8
    /// Seconds a refused client is told to wait (Retry-After).
    public var retryAfter = 1

    public init() {}

    /// The sentence for a value out of range, or nil when all are sound.
    public var problem: String? {
        for (name, value) in [("header timeout", headerTimeout), ("idle timeout", idleTimeout), ("body timeout", bodyTimeout)]
            where !(value > 0 && value <= 86_400)
        {
            return "the \(name) must be a number of seconds above 0 and at most 86400"
        }
        if maxConnections < 1 { return "the connection limit must be at least 1" }
        if maxRequestsPerToken < 1 { return "the limit of requests per token must be at least 1" }
        return nil
    }
}

/// Connections open now, across the server.
final class ConnectionCount: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0

    /// Counts one more; returns how many are open with it.
    func enter() -> Int { lock.withLock { open += 1; return open } }
    func leave() { lock.withLock { open -= 1 } }
    var current: Int { lock.withLock { open } }
}

/// Whether a connection's client is still there, as its `ConnectionGuard` sees it. A request's
/// context takes its connection's from `Liveness.of(_:)` when the request begins.
final class Liveness: @unchecked Sendable {
    private let lock = NSLock()
    private var gone = false

    var isGone: Bool { lock.withLock { gone } }
    func markGone() { lock.withLock { gone = true } }

    private static let registry = Registry()

    /// The liveness of a guarded connection; nil for a channel no guard watches (tests' channels).
    static func of(_ channel: any Channel) -> Liveness? { registry.get(ObjectIdentifier(channel)) }

    fileprivate static func register(_ channel: any Channel) -> Liveness {
        let liveness = Liveness()
        registry.set(ObjectIdentifier(channel), liveness)
        return liveness
    }

    fileprivate static func unregister(_ channel: any Channel) { registry.set(ObjectIdentifier(channel), nil) }

    private final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var map: [ObjectIdentifier: Liveness] = [:]
        func get(_ id: ObjectIdentifier) -> Liveness? { lock.withLock { map[id] } }
        func set(_ id: ObjectIdentifier, _ value: Liveness?) { lock.withLock { map[id] = value } }
    }
}

/// Requests in progress per token.
final class TokenWork: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [String: Int] = [:]

    /// Takes a place for `token` unless `limit` are taken already.
    func enter(_ token: String, limit: Int) -> Bool {
        lock.withLock {
            let now = running[token, default: 0]
            guard now < limit else { return false }
            running[token] = now + 1
            return true
        }
    }

    func leave(_ token: String) {
        lock.withLock {
            let now = running[token, default: 1] - 1
            running[token] = now > 0 ? now : nil
        }
    }
}

/// Watches one connection, between the HTTP decoder and Hummingbird's handler:
/// - closes it when a request head does not arrive in time (`headerTimeout` on a new connection,
///   `idleTimeout` between requests) or a body does not (`bodyTimeout`), so dribbling clients
///   cannot hold connections;
/// - answers 503 with Retry-After on a connection over the server's limit (health excepted);
/// - closes the connection when the client closes its side: the request it sent is abandoned, and
///   work not yet started for it is skipped (`ServerWork` checks its `Liveness`).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ServerLimits
    private let connections: ConnectionCount
    /// `/v1/health`'s body, answered here on the event loop: a health check never waits behind
    /// other requests' work on Swift's cooperative pool (nil: the router answers it).
    private let health: [UInt8]?
    private var overLimit = false
    /// Parts of a refused request are dropped until its end.
    private var dropping = false
    /// Requests whose head arrived and whose response has not ended (HTTP/1.1 may pipeline).
    private var inFlight = 0
    /// A request's head arrived and its end has not.
    private var readingBody = false
    /// The timer of the connection's state: headers, body, or idle (none while the server works).
    private var timer: Scheduled<Void>?
    /// While the client does not read what is sent to it (a slow reader), a timer of its own.
    private var sendTimer: Scheduled<Void>?
    private var liveness: Liveness?

    init(limits: ServerLimits, connections: ConnectionCount, health: [UInt8]? = nil) {
        self.limits = limits
        self.connections = connections
        self.health = health
    }

    func handlerAdded(context: ChannelHandlerContext) {
        liveness = Liveness.register(context.channel)
        overLimit = connections.enter() > limits.maxConnections
        arm(context, seconds: limits.headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        gone()
        Liveness.unregister(context.channel)
        connections.leave()
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client hung up: nobody is waiting for an answer.
            liveness?.markGone()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            disarm()
            let isHealth = head.path?.split(separator: "?", maxSplits: 1).first == "/v1/health"
            if overLimit, !isHealth {
                dropping = true
                // With a response of the router's still due, a 503 would come out of order: close.
                if inFlight > 0 { context.close(promise: nil) } else { refuse(context) }
                return
            }
            if isHealth, let health, head.method == .get, inFlight == 0, Self.speaksOurVersions(head) {
                dropping = true
                answerHealth(context, body: health, close: head.headerFields[.connection]?.lowercased() == "close")
                return
            }
            dropping = false
            inFlight += 1
            readingBody = true
            arm(context, seconds: limits.bodyTimeout)
        case .body:
            if dropping { return }
        case .end:
            if dropping { return }
            readingBody = false
            settle(context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            // (A response may end before its request's body has: Hummingbird answers a refusal
            // without reading it. The body timer then goes on.)
            if !readingBody, !settle(context, closing: false) {
                // At the connection limit: close once this response is out.
                let written = promise ?? context.eventLoop.makePromise()
                let channel = context.channel
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
                context.write(data, promise: written)
                return
            }
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            sendTimer?.cancel()
            sendTimer = nil
        } else if sendTimer == nil {
            // The client is not reading its answer: it has the body timeout to start again.
            let channel = context.channel
            sendTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(limits.bodyTimeout * 1e9))) {
                channel.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// No body being read: idle when no response is due (the next request has the idle timeout
    /// to begin; at the connection limit, an idle connection is closed to make room), else no
    /// timer while the server works.
    /// - Returns: false when the connection is to close (at the limit, idle); with `closing`, it is
    ///   closed here.
    @discardableResult
    private func settle(_ context: ChannelHandlerContext, closing: Bool = true) -> Bool {
        guard inFlight == 0 else {
            disarm()
            return true
        }
        if connections.current >= limits.maxConnections {
            disarm()
            if closing {
                let channel = context.channel
                context.eventLoop.execute { channel.close(promise: nil) }
            }
            return false
        }
        arm(context, seconds: limits.idleTimeout)
        return true
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    /// The connection is closed: no timer, and no work for it.
    private func gone() {
        disarm()
        sendTimer?.cancel()
        sendTimer = nil
        liveness?.markGone()
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Double) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            channel.close(promise: nil)
        }
    }

    /// True unless the request declares another protocol or change schema (the router answers
    /// that with 400 `protocol_mismatch`).
    static func speaksOurVersions(_ head: HTTPRequest) -> Bool {
        for (name, ours) in [(SyncProtocol.versionHeader, SyncProtocol.version), (SyncProtocol.schemaHeader, SyncProtocol.changeSchema)] {
            if let value = head.headerFields[HTTPField.Name(name)!], Int(value) != ours { return false }
        }
        return true
    }

    /// The health answer, as the router's: the same body and headers.
    private func answerHealth(_ context: ChannelHandlerContext, body: [UInt8], close asked: Bool) {
        // At the connection limit a health check's connection is not kept: it would hold a place.
        let close = asked || connections.current >= limits.maxConnections
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[HTTPField.Name(SyncProtocol.versionHeader)!] = String(SyncProtocol.version)
        fields[HTTPField.Name(SyncProtocol.schemaHeader)!] = String(SyncProtocol.changeSchema)
        fields[.contentLength] = String(body.count)
        fields[.date] = Self.httpDate()
        fields[.server] = "margin"
        if close { fields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if close { channel.close(promise: nil) }
        }
        if close { disarm() } else { arm(context, seconds: limits.idleTimeout) }
    }

    /// Now as an HTTP date (RFC 9110): `Wed, 02 Dec 2026 18:55:10 GMT`.
    static func httpDate(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// 503, in the protocol's error shape, then close.
    private func refuse(_ context: ChannelHandlerContext) {
        let body = ErrorResponse(
            code: "busy",
            error: "the hub serves at most \(limits.maxConnections) connections at once and all are taken; retry shortly",
            protocol: SyncProtocol.version, vector: nil, origin: nil, seq: nil)
        let bytes = (try? WireJSON.encoder().encode(body)) ?? Data()
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(bytes.count)
        fields[.retryAfter] = String(limits.retryAfter)
        fields[.connection] = "close"
        fields[.date] = Self.httpDate()
        fields[.server] = "margin"
        fields[HTTPField.Name(SyncProtocol.versionHeader)!] = String(SyncProtocol.version)
        fields[HTTPField.Name(SyncProtocol.schemaHeader)!] = String(SyncProtocol.changeSchema)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: bytes))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// At most `limits.maxRequestsPerToken` requests per token in progress; one more is 429.
struct TokenWorkMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let limits: ServerLimits
    let work: TokenWork

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        // A server without tokens (loopback) has one user: only the connection limit applies.
        guard let token = context.tokenName else { return try await next(request, context) }
        guard work.enter(token, limit: limits.maxRequestsPerToken) else {
            throw SyncHTTPError(
                .tooManyRequests, code: "too_many_requests",
                "the token \(token) has \(limits.maxRequestsPerToken) requests in progress already; "
                    + "wait for them (retry after \(limits.retryAfter) s)",
                headers: [.retryAfter: String(limits.retryAfter)])
        }
        defer { work.leave(token) }
        return try await next(request, context)
    }
}
