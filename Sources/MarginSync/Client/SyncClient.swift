import Foundation
import MarginStore

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
    /// Any other refusal, with the server's sentence.
    case refused(status: Int, code: String, message: String)
    /// The answer was not what the protocol says (a half-received body, say): nothing was applied.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason): return "cannot reach \(url): \(reason); try again later"
        case .unauthorized(let url, let message): return "\(url) refused the token: \(message)"
        case .protocolMismatch(let message): return message
        case .gap: return "the server refused a batch with a gap; resending from its vector"
        case .refused(let status, _, let message): return "the server refused (\(status)): \(message)"
        case .invalidResponse(let why): return "the server's answer was not valid: \(why); nothing was applied"
        }
    }

    /// True for errors worth retrying later (network trouble, a busy or restarting server).
    public var isTemporary: Bool {
        switch self {
        case .unreachable: return true
        case .refused(let status, _, _): return status == 503 || status == 502 || status == 504
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
        let response = try await send(
            "GET", "/v1/changes",
            query: [URLQueryItem(name: "after", value: vector.queryValue), URLQueryItem(name: "limit", value: String(limit))],
            as: ChangesResponse.self, decode: WireJSON.decodeChangesResponse)
        return response
    }

    public func push(_ changes: [Change]) async throws -> PushResponse {
        let body = Data(WireEncoder.encode(PushRequest(changes: changes)))
        return try await send("POST", "/v1/changes", body: body, as: PushResponse.self)
    }

    /// Pushes changes as the log stores them (`Store.storedChanges`): their JSON is sent as it is.
    public func push(_ changes: [StoredChange]) async throws -> PushResponse {
        let body = Data(WireEncoder.encodePush(changes))
        return try await send("POST", "/v1/changes", body: body, as: PushResponse.self)
    }

    private func send<T: Decodable>(
        _ method: String, _ path: String, query: [URLQueryItem] = [], body: Data? = nil, as type: T.Type,
        decode: (Data) throws -> T = { try WireJSON.decoder().decode(T.self, from: $0) }
    ) async throws -> T {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        request.setValue(String(SyncProtocol.version), forHTTPHeaderField: SyncProtocol.versionHeader)
        request.setValue(String(SyncProtocol.changeSchema), forHTTPHeaderField: SyncProtocol.schemaHeader)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await perform(request)
        lock.withLock {
            _stats.requests += 1
            _stats.bytesSent += (body?.count ?? 0) + (components.url!.absoluteString.utf8.count)
            _stats.bytesReceived += data.count
        }
        guard let http = response as? HTTPURLResponse else {
            throw SyncError.invalidResponse("no HTTP response")
        }
        // URLSession asks for gzip and inflates it, so a compressed answer's Content-Length (say,
        // from a reverse proxy that compresses JSON) counts other bytes than `data`: compare only
        // an uncompressed one.
        let encoding = http.value(forHTTPHeaderField: "Content-Encoding")?.trimmingCharacters(in: .whitespaces)
        if encoding == nil || encoding?.lowercased() == "identity",
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
            case (_, "protocol_mismatch"): throw SyncError.protocolMismatch(message)
            case (409, "gap"): throw SyncError.gap(vector: error?.vector ?? VersionVector())
            default: throw SyncError.refused(status: http.statusCode, code: error?.code ?? "http", message: message)
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
