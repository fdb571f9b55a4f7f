import Foundation
import MarginStore
import NIOCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why an exchange with a remote failed.
public enum SyncError: Error, Sendable, CustomStringConvertible {
    /// Could not connect, or the connection broke or timed out: temporary, retry later.
    case unreachable(url: String, reason: String)
    /// 401: no token, a wrong one, or a revoked one.
    case unauthorized(url: String, message: String)
    /// The two sides speak different protocol versions.
    case protocolMismatch(String)
    /// 409: the batch would leave a gap; resend from `vector`.
    case gap(vector: VersionVector)
    /// Any other refusal, with the server's sentence (and the origin and seq it names, if any).
    case refused(status: Int, code: String, message: String, origin: String? = nil, seq: Int64? = nil)
    /// The answer was not what the protocol says (a half-received body, say): nothing was applied.
    case invalidResponse(String)
    /// Changes were refused for their clock, and the remote's `Date` shows which clock is wrong
    /// (this machine's, when the sentence says so).
    case clockSkew(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason): return "cannot reach \(url): \(reason); try again later"
        case .unauthorized(let url, let message): return "\(url) refused the token: \(message)"
        case .protocolMismatch(let message): return message
        case .gap: return "the server refused a batch with a gap; resending from its vector"
        case .refused(let status, _, let message, _, _): return "the server refused (\(status)): \(message)"
        case .invalidResponse(let why): return "the server's answer was not valid: \(why); nothing was applied"
        case .clockSkew(let message): return message
        }
    }

    /// True for errors worth retrying later (network trouble, a busy or restarting server).
    public var isTemporary: Bool {
        switch self {
        case .unreachable: return true
        case .refused(let status, _, _, _, _): return status == 503 || status == 502 || status == 504 || status == 429
        case .invalidResponse: return true
        default: return false
        }
    }
}

/// Traffic counters of a client, for reports and benchmarks.
public struct TrafficStats: Sendable, Equatable, Codable {
    public var requests = 0
    public var bytesSent = 0
    public var bytesReceived = 0
}

/// A client of the sync protocol over URLSession (FoundationNetworking on Linux; bodies are buffered).
public final class SyncClient: @unchecked Sendable {
    public let baseURL: URL
    private let token: String?
    private let session: URLSession
    private let lock = NSLock()
    private var _stats = TrafficStats()

    /// - Parameters:
    ///   - baseURL: like `http://127.0.0.1:8421` (https works behind a TLS-terminating proxy).
    ///   - token: the bearer token, if the server needs one.
    ///   - timeout: seconds a request may wait for an answer.
    public init(baseURL: URL, token: String? = nil, timeout: TimeInterval = 30) {
        self.baseURL = baseURL
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 4
        configuration.httpMaximumConnectionsPerHost = 1
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    public var stats: TrafficStats { lock.withLock { _stats } }

    /// The remote's clock as its last answer's `Date` header said (whole seconds), or nil before
    /// an answer with one.
    public var remoteDate: Date? { lock.withLock { _remoteDate } }
    private var _remoteDate: Date?

    /// How long the last refusal (503, 429) asked to wait before trying again (`Retry-After`, in
    /// seconds or as an HTTP date), or nil when it did not say (or the last answer was no refusal).
    public var retryAfter: TimeInterval? { lock.withLock { _retryAfter } }
    private var _retryAfter: TimeInterval?

    private static let httpDate: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter
    }()

    public func health() async throws -> HealthResponse {
        try await send("GET", "/v1/health", as: HealthResponse.self)
    }

    public func vector() async throws -> VersionVector {
        try await send("GET", "/v1/vector", as: VectorResponse.self).vector
    }

    /// The remote's state digests and vector (`GET /v1/digest`), for `margin verify`.
    public func digest() async throws -> DigestResponse {
        try await send("GET", "/v1/digest", as: DigestResponse.self)
    }

    public func changes(after vector: VersionVector, limit: Int) async throws -> ChangesResponse {
        try await changes(after: PullPosition(vector: vector), limit: limit)
    }

    /// A page of the runs the remote holds past `position` (whose heads let it notice another
    /// history under the same seqs: 409 `equivocation`).
    public func changes(after position: PullPosition, limit: Int) async throws -> ChangesResponse {
        try await send(
            "GET", "/v1/changes",
            query: [URLQueryItem(name: "after", value: position.queryValue), URLQueryItem(name: "limit", value: String(limit))],
            decode: { data in
                try data.withUnsafeBytes { bytes in
                    do {
                        return try WireCodec.decodeChangesResponse(bytes)
                    } catch let error as WireCodec.Malformed {
                        throw SyncError.invalidResponse(error.reason)
                    } catch let error as WireCodec.InvalidRun {
                        throw SyncError.invalidResponse(error.reason)
                    }
                }
            })
    }

    /// Pushes runs as the log stores them: their bodies go as they are.
    public func push(_ runs: [SignedRun]) async throws -> PushResponse {
        try await send("POST", "/v1/changes", body: WireCodec.encode(PushRequest(runs: runs)), as: PushResponse.self)
    }

    private func send<T: Decodable>(
        _ method: String, _ path: String, query: [URLQueryItem] = [], body: [UInt8]? = nil, as type: T.Type
    ) async throws -> T {
        try await send(method, path, query: query, body: body, decode: { try WireJSON.decoder().decode(T.self, from: $0) })
    }

    private func send<T>(
        _ method: String, _ path: String, query: [URLQueryItem] = [], body: [UInt8]? = nil,
        decode: (Data) throws -> T
    ) async throws -> T {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        request.setValue(String(SyncProtocol.version), forHTTPHeaderField: SyncProtocol.versionHeader)
        request.setValue(String(SyncProtocol.changeSchema), forHTTPHeaderField: SyncProtocol.schemaHeader)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("gzip", forHTTPHeaderField: "Accept-Encoding")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        var sentBytes = 0
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if body.count >= BodyCompression.minimumBytes, let compressed = try? BodyCompression.gzip(body) {
                request.httpBody = Data(compressed.readableBytesView)
                request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
            } else {
                request.httpBody = Data(body)
            }
            sentBytes = request.httpBody?.count ?? 0
        }
        var (data, response) = try await perform(request)
        guard let http = response as? HTTPURLResponse else {
            throw SyncError.invalidResponse("no HTTP response")
        }
        // The bytes that crossed the wire: the compressed body, whether URLSession inflated it
        // (then its Content-Length says) or left it to us.
        var receivedBytes = data.count
        let encoding = http.value(forHTTPHeaderField: "Content-Encoding")?.trimmingCharacters(in: .whitespaces).lowercased()
        if encoding == "gzip" {
            if data.starts(with: [0x1F, 0x8B]) {
                do {
                    let inflated = try BodyCompression.gunzip(ByteBuffer(bytes: data), limit: SyncProtocol.maxBodyBytes)
                    data = Data(inflated.readableBytesView)
                } catch {
                    throw SyncError.invalidResponse("the gzip body could not be inflated (cut short, or larger than "
                                                    + "\(SyncProtocol.maxBodyBytes / (1024 * 1024)) MiB)")
                }
            } else if let declared = http.value(forHTTPHeaderField: "Content-Length").flatMap(Int.init) {
                receivedBytes = declared
            }
        }
        let date = http.value(forHTTPHeaderField: "Date").flatMap { Self.httpDate.date(from: $0) }
        let retryAfter = http.value(forHTTPHeaderField: "Retry-After").flatMap { value -> TimeInterval? in
            let text = value.trimmingCharacters(in: .whitespaces)
            if let seconds = Int(text), seconds >= 0 { return TimeInterval(seconds) }
            return Self.httpDate.date(from: text).map { max(0, $0.timeIntervalSince(date ?? Date())) }
        }
        lock.withLock {
            if let date { _remoteDate = date }
            _retryAfter = (200..<300).contains(http.statusCode) ? nil : retryAfter
            _stats.requests += 1
            _stats.bytesSent += sentBytes + (components.url!.absoluteString.utf8.count)
            _stats.bytesReceived += receivedBytes
        }
        // A compressed answer's Content-Length counts other bytes than `data`: compare only an
        // uncompressed one.
        if encoding == nil || encoding == "identity",
           let declared = http.value(forHTTPHeaderField: "Content-Length").flatMap(Int.init), declared != data.count
        {
            throw SyncError.invalidResponse("the body was cut short (\(data.count) of \(declared) bytes)")
        }
        let decoder = WireJSON.decoder()
        guard (200..<300).contains(http.statusCode) else {
            let error = try? decoder.decode(ErrorResponse.self, from: data)
            let message = error?.error ?? String(decoding: data.prefix(200), as: UTF8.self)
            switch (http.statusCode, error?.code) {
            case (401, _): throw SyncError.unauthorized(url: baseURL.absoluteString, message: message)
            case (_, "protocol_mismatch"):
                // The server's own protocol tells which side is older.
                if let theirs = error?.protocol, theirs < SyncProtocol.version {
                    throw SyncError.protocolMismatch(
                        "\(baseURL.absoluteString) speaks Margin protocol \(theirs) but this margin speaks "
                            + "\(SyncProtocol.version): upgrade margin on the server")
                }
                throw SyncError.protocolMismatch(message)
            case (409, "gap"): throw SyncError.gap(vector: error?.vector ?? VersionVector())
            default:
                throw SyncError.refused(
                    status: http.statusCode, code: error?.code ?? "http", message: message, origin: error?.origin,
                    seq: error?.seq)
            }
        }
        if let version = http.value(forHTTPHeaderField: SyncProtocol.versionHeader), Int(version) != SyncProtocol.version {
            throw SyncError.protocolMismatch(
                "\(baseURL.absoluteString) speaks Margin protocol \(version) but this margin speaks "
                    + "\(SyncProtocol.version); upgrade the older side")
        }
        do {
            return try decode(data)
        } catch {
            throw SyncError.invalidResponse("\(error)")
        }
    }

    private func perform(_ request: URLRequest) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: SyncError.unreachable(
                        url: self.baseURL.absoluteString, reason: error.localizedDescription))
                } else if let data, let response {
                    continuation.resume(returning: (data, response))
                } else {
                    continuation.resume(throwing: SyncError.invalidResponse("empty answer"))
                }
            }
            task.resume()
        }
    }
}
