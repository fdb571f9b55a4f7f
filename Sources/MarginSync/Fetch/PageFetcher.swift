import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A page or feed as fetched: the final URL after redirects, the body (decompressed) and the headers
/// that matter for reading it and for fetching it again.
public struct FetchedPage: Sendable {
    /// The URL the answer came from, after redirects.
    public var url: URL
    public var status: Int
    public var data: Data
    /// The `Content-Type` without parameters, lowercased (`text/html`).
    public var contentType: String?
    /// The `charset` parameter of the `Content-Type`.
    public var charset: String?
    public var etag: String?
    public var lastModified: String?
    /// 304: the conditional GET found nothing new; `data` is empty.
    public var notModified: Bool { status == 304 }
}

/// Why a page could not be fetched, with what to do about it.
public enum FetchError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Not an http(s) URL, or not a URL at all.
    case badURL(String)
    /// 404 or 410: the page is not there.
    case notFound(url: String, status: Int)
    /// Any other refusal (401, 403, 451, 5xx, …).
    case status(url: String, status: Int)
    /// No answer within the timeout, or the answer stalled.
    case timeout(url: String, seconds: Double)
    /// The host name does not resolve: a typo in the URL, or no network at all.
    case unknownHost(url: String, host: String)
    /// Refused or dropped connection, no network: temporary.
    case unreachable(url: String, reason: String)
    /// The answer is larger than the limit.
    case tooLarge(url: String, limit: Int)
    /// The answer is not of a kind Margin reads (a PDF, an image, …).
    case unsupportedType(url: String, type: String)
    case tooManyRedirects(url: String)
    /// TLS failed (a bad certificate, an old protocol).
    case insecure(url: String, reason: String)

    public var description: String {
        switch self {
        case .badURL(let text):
            return "'\(text)' is not an http or https URL"
        case .notFound(let url, let status):
            return "\(url) answered \(status) (not found); check the URL"
        case .status(let url, let status):
            let hint = status == 401 || status == 403 ? " (the site refuses this request; save the page from a browser and import the file)"
                : status >= 500 || status == 429 || status == 408 ? "; try again later" : ""
            return "\(url) answered \(status)\(hint)"
        case .timeout(let url, let seconds):
            return "\(url) did not answer within \(Self.format(seconds)) s; try again later (or raise --timeout)"
        case .unknownHost(let url, let host):
            return "cannot find the host \(host) (\(url)); check the URL, or your network connection"
        case .unreachable(let url, let reason):
            return "cannot reach \(url): \(reason); try again later"
        case .tooLarge(let url, let limit):
            return "\(url) is larger than \(limit >> 20) MiB, the limit for a page (--max-size)"
        case .unsupportedType(let url, let type):
            return "\(url) is \(type), not an HTML page or a feed"
        case .tooManyRedirects(let url):
            return "\(url) redirects too many times (more than \(PageFetcher.Options().maxRedirects)); check the URL"
        case .insecure(let url, let reason):
            return "cannot open a secure connection to \(url): \(reason)"
        }
    }

    /// Worth trying again later: timeouts, refused connections, 408, 429 and 5xx.
    public var isTemporary: Bool {
        switch self {
        case .timeout, .unreachable: return true
        case .status(_, let status): return status >= 500 || status == 429 || status == 408
        default: return false
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

/// Fetches pages and feeds over URLSession (FoundationNetworking on Linux): redirects followed (at most
/// `maxRedirects`, http and https only), a timeout, a size limit counted while the body arrives, gzip
/// decoded by URLSession, a User-Agent naming Margin, and conditional GETs for feeds.
public final class PageFetcher: NSObject, @unchecked Sendable {
    /// Limits and headers of a fetcher.
    public struct Options: Sendable {
        /// Seconds without an answer (or between parts of it) before giving up; the whole fetch may take
        /// twice as long.
        public var timeout: TimeInterval = 30
        /// The largest body accepted, decompressed.
        public var maxBytes = 10 << 20
        public var maxRedirects = 10
        public var userAgent = "Margin/0.1 (article import; offline-first annotated news)"

        public init() {}
    }

    /// What kind of answer a fetch expects.
    public enum Accept: Sendable {
        /// An article page; a feed is accepted too (it is told apart by its type or content).
        case pageOrFeed
        /// A feed (RSS, Atom, OPML).
        case feed
    }

    public let options: Options
    private var session: URLSession!
    private let lock = NSLock()
    private var tasks: [Int: TaskState] = [:]

    private final class TaskState {
        var data = Data()
        var error: FetchError?
        var redirects = 0
        var accept: Accept
        let url: URL
        let continuation: CheckedContinuation<FetchedPage, any Error>

        init(url: URL, accept: Accept, continuation: CheckedContinuation<FetchedPage, any Error>) {
            self.url = url
            self.accept = accept
            self.continuation = continuation
        }
    }

    /// - Parameter options: Limits and the User-Agent.
    public init(options: Options = Options()) {
        self.options = options
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = options.timeout
        configuration.timeoutIntervalForResource = options.timeout * 2
        configuration.httpAdditionalHeaders = ["User-Agent": options.userAgent]
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    /// Parses a URL as the user typed it: http and https only, a host required.
    public static func url(_ text: String) throws(FetchError) -> URL {
        guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)),
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { throw FetchError.badURL(text) }
        return url
    }

    /// Whether `text` is meant as a URL (rather than a file name).
    public static func looksLikeURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    /// Fetches `url`.
    /// - Parameters:
    ///   - url: An http or https URL.
    ///   - accept: What the answer may be.
    ///   - etag: The `ETag` of the copy held, for a conditional GET (`If-None-Match`).
    ///   - lastModified: The `Last-Modified` of the copy held (`If-Modified-Since`).
    /// - Returns: The answer; `notModified` for a 304.
    /// - Throws: `FetchError`; nothing is half-returned.
    public func fetch(_ url: URL, accept: Accept = .pageOrFeed, etag: String? = nil, lastModified: String? = nil)
        async throws(FetchError) -> FetchedPage
    {
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        request.setValue(
            accept == .feed
                ? "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
                : "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1",
            forHTTPHeaderField: "Accept")
        if let etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
        if let lastModified { request.setValue(lastModified, forHTTPHeaderField: "If-Modified-Since") }
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request)
                lock.withLock {
                    tasks[task.taskIdentifier] = TaskState(url: url, accept: accept, continuation: continuation)
                }
                task.resume()
            }
        } catch let error as FetchError {
            throw error
        } catch {
            throw FetchError.unreachable(url: url.absoluteString, reason: "\(error)")
        }
    }

    private func state(_ task: URLSessionTask) -> TaskState? {
        lock.withLock { tasks[task.taskIdentifier] }
    }

    /// The kind of body a `Content-Type` announces: nil when it must be sniffed.
    static func kind(ofType type: String?) -> String? {
        guard let type, !type.isEmpty else { return nil }
        switch type {
        case "text/html", "application/xhtml+xml": return "html"
        case "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
            "text/x-opml", "application/x-opml", "application/opml+xml", "application/feed+xml":
            return "feed"
        case "application/octet-stream", "text/plain", "binary/octet-stream": return nil
        default: return "other"
        }
    }

    /// The mime type of a `Content-Type` value, lowercased, without parameters.
    static func mimeType(_ value: String?) -> String? {
        guard let value else { return nil }
        let type = value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return type?.isEmpty == false ? type : nil
    }

    fileprivate static func classify(_ error: any Error, url: String, timeout: Double) -> FetchError {
        let nsError = error as NSError
        guard nsError.domain == NSURLErrorDomain else {
            return .unreachable(url: url, reason: nsError.localizedDescription)
        }
        switch nsError.code {
        case NSURLErrorTimedOut:
            return .timeout(url: url, seconds: timeout)
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed:
            return .unknownHost(url: url, host: URL(string: url)?.host ?? url)
        case NSURLErrorHTTPTooManyRedirects:
            return .tooManyRedirects(url: url)
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate,
            NSURLErrorServerCertificateHasUnknownRoot, NSURLErrorServerCertificateNotYetValid,
            NSURLErrorClientCertificateRejected:
            return .insecure(url: url, reason: nsError.localizedDescription)
        case NSURLErrorUnsupportedURL, NSURLErrorBadURL:
            return .badURL(url)
        case NSURLErrorCannotConnectToHost:
            return .unreachable(url: url, reason: "connection refused")
        case NSURLErrorNetworkConnectionLost:
            return .unreachable(url: url, reason: "the connection was lost")
        case NSURLErrorNotConnectedToInternet:
            return .unreachable(url: url, reason: "no network connection")
        default:
            return .unreachable(url: url, reason: nsError.localizedDescription)
        }
    }
}

extension PageFetcher: URLSessionDataDelegate {
    public func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        guard let state = state(dataTask), let http = response as? HTTPURLResponse else {
            completionHandler(.allow)
            return
        }
        let url = (http.url ?? state.url).absoluteString
        var failure: FetchError?
        switch http.statusCode {
        case 200..<300, 304:
            let type = Self.mimeType(http.value(forHTTPHeaderField: "Content-Type"))
            if http.statusCode != 304, Self.kind(ofType: type) == "other" {
                failure = .unsupportedType(url: url, type: type ?? "unknown")
            } else if http.expectedContentLength > Int64(options.maxBytes) {
                failure = .tooLarge(url: url, limit: options.maxBytes)
            }
        case 404, 410:
            failure = .notFound(url: url, status: http.statusCode)
        default:
            failure = .status(url: url, status: http.statusCode)
        }
        // A refused redirect arrives here as its 3xx answer: the refusal is the error.
        if let earlier = lock.withLock({ state.error }) { failure = earlier }
        if let failure {
            lock.withLock { state.error = failure }
            completionHandler(.cancel)
        } else {
            completionHandler(.allow)
        }
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let state = state(dataTask) else { return }
        let over: Bool = lock.withLock {
            state.data.append(data)
            if state.data.count > options.maxBytes, state.error == nil {
                state.error = .tooLarge(url: (dataTask.response?.url ?? state.url).absoluteString, limit: options.maxBytes)
                return true
            }
            return false
        }
        if over { dataTask.cancel() }
    }

    public func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        guard let state = state(task) else {
            completionHandler(request)
            return
        }
        let scheme = request.url?.scheme?.lowercased()
        let refusal: FetchError? = lock.withLock {
            state.redirects += 1
            if state.redirects > options.maxRedirects {
                state.error = .tooManyRedirects(url: state.url.absoluteString)
            } else if scheme != "http" && scheme != "https" {
                state.error = .badURL(request.url?.absoluteString ?? "")
            }
            return state.error
        }
        if refusal != nil {
            completionHandler(nil)
            task.cancel()
        } else {
            completionHandler(request)
        }
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let state = lock.withLock({ tasks.removeValue(forKey: task.taskIdentifier) }) else { return }
        let url = (task.response?.url ?? state.url).absoluteString
        if let failure = lock.withLock({ state.error }) {
            state.continuation.resume(throwing: failure)
            return
        }
        if let error {
            state.continuation.resume(throwing: Self.classify(error, url: url, timeout: options.timeout))
            return
        }
        guard let http = task.response as? HTTPURLResponse else {
            state.continuation.resume(throwing: FetchError.unreachable(url: url, reason: "no HTTP answer"))
            return
        }
        let contentType = http.value(forHTTPHeaderField: "Content-Type")
        state.continuation.resume(returning: FetchedPage(
            url: http.url ?? state.url,
            status: http.statusCode,
            data: state.data,
            contentType: Self.mimeType(contentType),
            charset: Self.charset(contentType),
            etag: http.value(forHTTPHeaderField: "ETag"),
            lastModified: http.value(forHTTPHeaderField: "Last-Modified")))
    }

    static func charset(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "charset" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            }
        }
        return nil
    }
}
