import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarginStore
import NIOCore
import Testing

@testable import MarginSync

/// A busy server's `Retry-After` is honoured by the client's retries.
@Suite("Retry-After")
struct RetryAfterTests {
    final class Arrivals: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [Date] = []
        func add() -> Int { lock.withLock { times.append(Date()); return times.count } }
        var all: [Date] { lock.withLock { times } }
    }

    @Test(arguments: ["503", "429"])
    func aRefusalThatSaysRetryAfterIsRetriedNoSoonerThanThat(status: String) async throws {
        // Given a stand-in hub that answers its first pull "busy, retry after 1 s", then an empty page.
        let arrivals = Arrivals()
        let router = Router()
        router.get("/v1/changes") { _, _ -> Response in
            if arrivals.add() == 1 {
                let body = #"{"code":"busy","error":"the hub is busy; retry shortly","protocol":2}"#
                return Response(
                    status: status == "503" ? .serviceUnavailable : .tooManyRequests,
                    headers: [.contentType: "application/json", .retryAfter: "1"],
                    body: .init(byteBuffer: ByteBuffer(string: body)))
            }
            let page = WireCodec.encode(ChangesResponse(runs: [], more: false, vector: VersionVector()))
            return Response(status: .ok, headers: [.contentType: "application/json", HTTPField.Name("Margin-Protocol")!: "2"],
                            body: .init(byteBuffer: ByteBuffer(bytes: page)))
        }
        var logger = Logger(label: "margin.retry-after")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        let laptop = try Store.inMemory(name: "laptop-a")
        try await app.test(.live) { client in
            let url = URL(string: "http://127.0.0.1:\(try #require(client.port))")!
            // When the laptop pulls with a backoff far shorter than that (5 ms),
            _ = try await Reconciler(store: laptop, client: SyncClient(baseURL: url), attempts: 3, backoff: 0.005)
                .run(remote: "hub", push: false)
        }
        // Then it asked again, and not before the second the server asked for.
        let times = arrivals.all
        #expect(times.count == 2)
        if times.count == 2 { #expect(times[1].timeIntervalSince(times[0]) >= 0.95) }
    }
}
