import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MarginStore
import NIOCore
import NIOPosix

/// The request context of the sync server: the body limit, and the token name once authenticated.
public struct SyncRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The name of the token the request presented, once the auth middleware accepted it.
    public var tokenName: String?
    /// True when that token is read-only: it may pull, digest and verify, not push.
    public var readOnly = false
    /// The connection's liveness: work for a request whose client has gone is not started.
    let liveness: Liveness?

    public init(source: Source) {
        coreContext = .init(source: source)
        liveness = Liveness.of(source.channel)
    }

    public var maxUploadSize: Int { SyncProtocol.maxBodyBytes }
}

/// An error answered as JSON (`ErrorResponse`) with its status.
public struct SyncHTTPError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var vector: VersionVector?
    /// The origin the refusal names, if any, and the seq.
    public var origin: String?
    public var seq: Int64?
    /// Extra response headers, such as `Allow` with 405.
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, _ message: String, vector: VersionVector? = nil,
        origin: String? = nil, seq: Int64? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.vector = vector
        self.origin = origin
        self.seq = seq
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorResponse(
            code: code, error: message, protocol: SyncProtocol.version, vector: vector, origin: origin, seq: seq)
        var response = try SyncServer.json(body, status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"margin\"" }
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// The HTTP server that exposes a store: `margin serve`.
public enum SyncServer {
    /// Builds the application; `run()`/`runService()` it, or test it with HummingbirdTesting.
    /// - Parameters:
    ///   - store: the replica to expose.
    ///   - host: the address to listen on; non-loopback addresses need tokens (checked by the caller).
    ///   - port: 0 for any free port.
    ///   - limits: timeouts and concurrency limits per connection and per token.
    ///   - membersOnly: accept runs only from replicas bound to a token (`margin token bind`).
    public static func buildApplication(
        store: Store, host: String = "127.0.0.1", port: Int = 8421, limits: ServerLimits = ServerLimits(),
        membersOnly: Bool = false, logger: Logger? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var log = logger ?? Logger(label: "margin.serve")
        if logger == nil { log.logLevel = .warning }
        let connections = ConnectionCount()
        let health = try? WireJSON.encoder().encode(SyncAPI(store: store).healthResponse)
        return Application(
            router: buildRouter(store: store, loopbackOnly: isLoopback(host), limits: limits, membersOnly: membersOnly),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(
                    limits: limits, connections: connections, health: health.map { [UInt8]($0) })])),
            configuration: .init(address: .hostname(host, port: port), serverName: "margin"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: log)
    }

    /// True for 127.0.0.0/8 (four decimal octets), ::1 and localhost: an address, not a prefix of
    /// a name (`127.example.org` is a host on the network).
    public static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" || host == "[::1]" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { octet in
            !octet.isEmpty && octet.count <= 3 && octet.allSatisfy(\.isASCII) && octet.allSatisfy(\.isNumber)
                && Int(octet).map { $0 <= 255 } == true
        }
    }

    /// The routes of Schema/sync-api.yaml.
    public static func buildRouter(
        store: Store, loopbackOnly: Bool = true, limits: ServerLimits = ServerLimits(), membersOnly: Bool = false
    ) -> Router<SyncRequestContext> {
        buildRouter(store: store, loopbackOnly: loopbackOnly, limits: limits, membersOnly: membersOnly, tokenWork: TokenWork())
    }

    static func buildRouter(
        store: Store, loopbackOnly: Bool, limits: ServerLimits, membersOnly: Bool, tokenWork: TokenWork
    ) -> Router<SyncRequestContext> {
        let router = Router(context: SyncRequestContext.self)
        router.add(middleware: ProtocolMiddleware())
        router.add(middleware: AuthMiddleware(store: store, loopbackOnly: loopbackOnly))
        router.add(middleware: TokenWorkMiddleware(limits: limits, work: tokenWork))
        let api = SyncAPI(store: store, membersOnly: membersOnly)
        let routes: [(path: String, method: HTTPRequest.Method, handler: Handler)] = [
            ("/v1/health", .get, { _, _ in try api.health() }),
            ("/v1/vector", .get, { _, context in try await ServerWork.read(for: context) { try api.vector() } }),
            ("/v1/digest", .get, { _, context in try await ServerWork.read(for: context) { try api.digest() } }),
            ("/v1/changes", .get, { request, context in
                try await ServerWork.read(for: context) { try api.changes(request, context: context) }
            }),
            ("/v1/changes", .post, { request, context in try await api.push(request, context: context) }),
        ]
        // Another method on a served path is 405 with Allow (RFC 9110), not the router's 404.
        router.add(middleware: MethodNotAllowedMiddleware(
            allowed: Dictionary(routes.map { ($0.path, [$0.method]) }, uniquingKeysWith: +)))
        for route in routes { router.on(RouterPath(route.path), method: route.method, use: route.handler) }
        return router
    }

    typealias Handler = @Sendable (Request, SyncRequestContext) async throws -> Response

    /// The sentence a peer speaking protocol `theirs` gets: which side to upgrade.
    static func mismatch(theirs: Int) -> String {
        theirs < SyncProtocol.version
            ? "this server speaks Margin protocol \(SyncProtocol.version) but the request speaks \(theirs): "
                + "upgrade margin on the client (the laptop) to sync with this hub"
            : "this server speaks Margin protocol \(SyncProtocol.version) but the request speaks \(theirs): "
                + "upgrade margin on this server"
    }

    /// The status and code of a refused batch.
    static func httpError(_ error: StoreError, vector: () throws -> VersionVector) -> SyncHTTPError {
        switch error {
        case .gap:
            return SyncHTTPError(.conflict, code: "gap", error.description, vector: try? vector())
        case .clockSkew(let origin, _, _):
            return SyncHTTPError(.unprocessableContent, code: "clock_skew", error.description, origin: origin)
        case .locked:
            return SyncHTTPError(.serviceUnavailable, code: "busy", error.description, headers: [.retryAfter: "1"])
        case .forgedRun(let origin, let seq, _):
            return SyncHTTPError(.unprocessableContent, code: "forged_run", error.description, origin: origin, seq: seq)
        case .equivocation(let origin, let seq, _):
            return SyncHTTPError(.conflict, code: "equivocation", error.description, origin: origin, seq: seq)
        case .notCausal(let origin, let seq, _):
            return SyncHTTPError(.unprocessableContent, code: "not_causal", error.description, origin: origin, seq: seq)
        default:
            return SyncHTTPError(.unprocessableContent, code: "invalid_change", error.description)
        }
    }

    /// A JSON response, gzipped when the request accepts gzip and the body is worth it.
    static func json(bytes: [UInt8], compressFor request: Request, status: HTTPResponse.Status = .ok) throws -> Response {
        let accepts = request.headers[.acceptEncoding]?.lowercased().contains("gzip") == true
        guard accepts, bytes.count >= BodyCompression.minimumBytes else { return json(bytes: bytes, status: status) }
        var response = json(bytes: [], status: status)
        response.headers[.contentEncoding] = "gzip"
        response.body = .init(byteBuffer: try BodyCompression.gzip(bytes))
        return response
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        json(bytes: try WireJSON.encoder().encode(value), status: status)
    }

    /// A response of JSON already encoded.
    static func json(bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[HTTPField.Name(SyncProtocol.versionHeader)!] = String(SyncProtocol.version)
        headers[HTTPField.Name(SyncProtocol.schemaHeader)!] = String(SyncProtocol.changeSchema)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Refuses requests that declare another protocol or schema version.
struct ProtocolMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        for (header, ours, what) in [
            (SyncProtocol.versionHeader, SyncProtocol.version, "protocol"),
            (SyncProtocol.schemaHeader, SyncProtocol.changeSchema, "change schema"),
        ] {
            if let value = request.headers[HTTPField.Name(header)!], Int(value) != ours {
                if what == "protocol", let theirs = Int(value) {
                    throw SyncHTTPError(.badRequest, code: "protocol_mismatch", SyncServer.mismatch(theirs: theirs))
                }
                throw SyncHTTPError(
                    .badRequest, code: "protocol_mismatch",
                    "this server speaks Margin \(what) \(ours) but the request says \(value); "
                        + "upgrade the older side so both speak the same version")
            }
        }
        return try await next(request, context)
    }
}

/// Answers 405 `method_not_allowed`, with `Allow`, to a method a served path does not serve.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    /// Per served path, its methods.
    let allowed: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let methods = allowed[request.uri.path], !methods.contains(request.method) {
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            throw SyncHTTPError(.methodNotAllowed, code: "method_not_allowed",
                                "\(request.uri.path) answers \(allow), not \(request.method.rawValue)",
                                headers: [.allow: allow])
        }
        return try await next(request, context)
    }
}

/// Bearer tokens, looked up on every request so `token create`/`revoke` take effect at once.
/// A server on loopback with no token configured is open to requests without a token (a single
/// user's machine); once a token exists, or on any other address, every route but health needs
/// one. A token that is presented is always checked.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let store: Store
    let loopbackOnly: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if request.uri.path == "/v1/health" { return try await next(request, context) }
        let header = request.headers[.authorization]
        // A presented token is always checked, so a revoked one is refused even on an open server.
        var required = header != nil || !loopbackOnly
        if !required { required = try await ServerWork.read(for: context) { try store.hasTokens() } }
        guard required else { return try await next(request, context) }
        guard let header else {
            throw SyncHTTPError(.unauthorized, code: "unauthorized",
                                "this server needs a bearer token: send Authorization: Bearer TOKEN "
                                    + "(margin remote add NAME URL --token-env VAR)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        let presented = parts.count == 2 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""
        guard parts.count == 2, parts[0].lowercased() == "bearer",
              let grant = try await ServerWork.read(for: context, { try store.grant(token: presented) })
        else {
            throw SyncHTTPError(.unauthorized, code: "unauthorized",
                                "the bearer token is not valid here (wrong or revoked); ask the server's owner "
                                    + "for a token (margin token create NAME)")
        }
        var context = context
        context.tokenName = grant.name
        context.readOnly = grant.readOnly
        return try await next(request, context)
    }
}

/// The handlers, over a store.
struct SyncAPI: Sendable {
    let store: Store
    /// Runs are accepted only from origins bound to a token, and the hub's own.
    var membersOnly = false

    var healthResponse: HealthResponse {
        HealthResponse(
            status: "ok", protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema,
            replicaID: store.replicaID, replicaName: store.replicaName)
    }

    func health() throws -> Response {
        try SyncServer.json(healthResponse)
    }

    func vector() throws -> Response {
        try SyncServer.json(VectorResponse(
            protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema, vector: try store.versionVector()))
    }

    func digest() throws -> Response {
        let (digest, vector) = try store.digestAndVector()
        return try SyncServer.json(DigestResponse(digest: digest, vector: vector))
    }

    func changes(_ request: Request, context: SyncRequestContext) throws -> Response {
        let query = request.uri.queryParameters
        var position = PullPosition(vector: VersionVector())
        if let text = query["after"] {
            guard let parsed = PullPosition(queryValue: String(text)) else {
                throw SyncHTTPError(.badRequest, code: "bad_request",
                                    "after must be a version vector as origin:seq,origin:seq, each origin a replica id "
                                        + "and each optionally followed by :HEAD (\(PullPosition.headDigits) hex digits)")
            }
            position = parsed
        }
        let after = position.vector
        // The same seqs with another history: two stores write as one replica (a copied store).
        if let (origin, seq) = try store.divergence(from: after, heads: position.heads, via: context.tokenName) {
            throw SyncServer.httpError(.equivocation(origin: origin, seq: seq, ownOrigin: false), vector: { try store.versionVector() })
        }
        var limit = SyncProtocol.defaultPageSize
        if let text = query["limit"] {
            guard let n = Int(String(text)), (1...SyncProtocol.maxBatch).contains(n) else {
                throw SyncHTTPError(.badRequest, code: "bad_request",
                                    "limit must be an integer from 1 to \(SyncProtocol.maxBatch)")
            }
            limit = n
        }
        // Read the vector first: every change it names is in this page or a later one.
        let vector = try store.versionVector()
        // The stored bytes of each run go out as they are, never parsed and encoded again.
        let page = try store.runs(after: after, limit: limit)
        let body = WireCodec.encode(ChangesResponse(runs: page.runs, more: page.more, vector: vector))
        return try SyncServer.json(bytes: body, compressFor: request)
    }

    func push(_ request: Request, context: SyncRequestContext) async throws -> Response {
        if context.readOnly {
            throw SyncHTTPError(.forbidden, code: "read_only",
                                "the token \(context.tokenName ?? "") is read-only: it may pull and verify, not push; "
                                    + "ask the hub's owner for a read-write token")
        }
        let tooLarge = SyncHTTPError(
            .contentTooLarge, code: "too_large",
            "a push body is at most \(SyncProtocol.maxBodyBytes / (1024 * 1024)) MiB; send smaller batches")
        let received: ByteBuffer
        do {
            received = try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            // Hummingbird would answer an empty 413; answer the protocol's error shape instead.
            throw tooLarge
        }
        let encoding = request.headers[.contentEncoding]?.lowercased().trimmingCharacters(in: .whitespaces)
        let store = self.store
        let token = context.tokenName
        // Inflating, decoding, verifying and applying are blocking work: on the server's own threads.
        let membersOnly = self.membersOnly
        return try await ServerWork.write(for: context) {
            var buffer = received
            switch encoding {
            case nil, "identity": break
            case "gzip":
                do {
                    buffer = try BodyCompression.gunzip(buffer, limit: SyncProtocol.maxBodyBytes)
                } catch BodyCompression.InflateError.tooLarge {
                    throw tooLarge
                } catch {
                    throw SyncHTTPError(.badRequest, code: "bad_request", "the body is not valid gzip")
                }
            case let other?:
                throw SyncHTTPError(.unsupportedMediaType, code: "unsupported_encoding",
                                    "Content-Encoding \(other) is not supported; send gzip or no encoding")
            }
            let push: PushRequest
            do {
                push = try buffer.withUnsafeReadableBytes { try WireCodec.decodePush($0) }
            } catch let error as WireCodec.Malformed {
                throw SyncHTTPError(.badRequest, code: "bad_request", error.reason)
            } catch let error as WireCodec.InvalidRun {
                throw SyncHTTPError(.unprocessableContent, code: "invalid_change", "refused: \(error.reason)")
            }
            guard push.protocol == SyncProtocol.version else {
                throw SyncHTTPError(.badRequest, code: "protocol_mismatch", SyncServer.mismatch(theirs: push.protocol))
            }
            let changes = push.runs.reduce(0, { $0 + $1.count })
            // Every batch that got this far is recorded: who delivered what, and what became of it.
            func record(applied: Int, result: String, message: String?) {
                let delivery = Delivery(
                    at: ISO8601DateFormatter().string(from: Date()), token: token,
                    ranges: push.runs.map { Delivery.Range(origin: $0.origin, first: $0.first, last: $0.last) },
                    runs: push.runs.count, changes: changes, applied: applied, result: result, message: message)
                var keys: [String: [UInt8]] = [:]
                for run in push.runs { if let key = run.key { keys[run.origin] = key } }
                try? store.recordDelivery(delivery, keys: keys)
            }
            guard changes <= SyncProtocol.maxBatch else {
                // 422, not 413: the body is within its limit, the batch breaks the protocol's rule.
                let refusal = SyncHTTPError(.unprocessableContent, code: "too_many_changes",
                                            "a push carries at most \(SyncProtocol.maxBatch) changes; send smaller batches")
                record(applied: 0, result: refusal.code, message: refusal.message)
                throw refusal
            }
            if membersOnly {
                let members = try store.memberOrigins()
                if let stranger = push.runs.first(where: {
                    $0.origin != store.replicaID && $0.origin != store.legacyReplicaID && !members.contains($0.origin)
                }) {
                    let refusal = SyncHTTPError(
                        .forbidden, code: "not_member",
                        "refused: this hub accepts runs only from its members' replicas, and \(stranger.origin) is not "
                            + "one; the hub's owner can add it with `margin token bind TOKEN \(stranger.origin)`",
                        origin: stranger.origin, seq: stranger.first)
                    record(applied: 0, result: refusal.code, message: refusal.message)
                    throw refusal
                }
            }
            do {
                let report = try store.apply(push.runs, via: token)
                record(applied: report.applied, result: "ok", message: nil)
                return try SyncServer.json(PushResponse(
                    protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema, applied: report.applied,
                    duplicates: report.duplicates, conflicts: report.conflicts, vector: report.vector))
            } catch let error as StoreError {
                let refusal = SyncServer.httpError(error, vector: { try store.versionVector() })
                // (A push refused because another process holds the store is retried; its record
                // would wait for the same lock.)
                if refusal.code != "busy" { record(applied: 0, result: refusal.code, message: refusal.message) }
                throw refusal
            }
        }
    }
}

/// The server's blocking work (SQLite, the store's file lock, hashing, signature checks, gzip) runs
/// on thread pools of its own, never on Swift's cooperative pool, so a slow request or a push
/// waiting for the store's lock cannot stall the event loops or `/v1/health`. Reads and writes have
/// separate pools: pushes waiting for the lock never hold up pulls and digests.
enum ServerWork {
    static let reads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(4, System.coreCount * 2))
        pool.start()
        return pool
    }()

    static let writes: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    /// Runs `body` on the read pool, unless the request's client has gone by the time its turn
    /// comes (an abandoned request costs nothing more).
    static func read<T: Sendable>(for context: SyncRequestContext, _ body: @escaping @Sendable () throws -> T)
        async throws -> T
    {
        try await run(on: reads, liveness: context.liveness, body)
    }

    static func write<T: Sendable>(for context: SyncRequestContext, _ body: @escaping @Sendable () throws -> T)
        async throws -> T
    {
        try await run(on: writes, liveness: context.liveness, body)
    }

    static func run<T: Sendable>(
        on pool: NIOThreadPool, liveness: Liveness?, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        return try await pool.runIfActive {
            if liveness?.isGone == true { throw Abandoned() }
            return try body()
        }
    }

    /// The client closed its connection before the work began.
    struct Abandoned: Error {}
}
