import Foundation
import MarginStore
import Testing

@testable import MarginSync

/// Who may do what on a hub, and what it records: read-only tokens, deliveries, the replica keys
/// seen with each token, and which addresses count as loopback.
@Suite("hub access")
struct AccessTests {
    @Test func aReadOnlyTokenPullsAndVerifiesButItsPushIsRefusedWith403AndWritesNothing() async throws {
        // Given a hub holding laptop A's story, and laptop B with a read-only token.
        let hub = try Store.inMemory(name: "hub")
        let writer = try hub.createToken(name: "a")
        let reader = try hub.createToken(name: "b", readOnly: true)
        #expect(try hub.tokens().map(\.readOnly) == [false, true])
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        let a = try Store.inMemory(name: "laptop-a")
        _ = try SyncFixtures.importStory(into: a)
        _ = try await Reconciler(store: a, client: SyncClient(baseURL: server.url, token: writer)).run(remote: "hub")
        let b = try Store.inMemory(name: "laptop-b")
        let client = SyncClient(baseURL: server.url, token: reader)

        // When B pulls and asks for the digest with it,
        let pulled = try await Reconciler(store: b, client: client).run(remote: "hub", push: false)
        // Then both work.
        #expect(pulled.received == (try hub.counts().changes))
        #expect(try b.articles().count == 1)
        #expect(try await client.digest().digest.kinds["articles"] == (try hub.digest().kinds["articles"]))

        // When B pushes its own changes with it,
        let before = try hub.digest()
        await #expect {
            try await Reconciler(store: b, client: client).run(remote: "hub", pull: false)
        } throws: { error in
            // Then the push is refused with 403 read_only, naming the token,
            guard case SyncError.refused(403, "read_only", let message, _, _) = error else { return false }
            return message.contains("read-only") && message.contains("b")
        }
        // and nothing is written.
        #expect(try hub.digest() == before)
        #expect(try hub.versionVector()[b.replicaID] == 0)
    }

    @Test func theHubRecordsEachDeliveryAndTheKeysThatPushedWithEachToken() async throws {
        let hub = try Store.inMemory(name: "hub")
        let token = try hub.createToken(name: "newsroom")
        let server = try await InProcessServer.serve(hub)
        defer { Task { await server.stop() } }
        let a = try Store.inMemory(name: "laptop-a")
        let article = try SyncFixtures.importStory(into: a)
        _ = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("cause a stink"), note: "n")

        // When A syncs twice (the second time with nothing to push), and a forged run is pushed,
        let client = SyncClient(baseURL: server.url, token: token)
        let first = try await Reconciler(store: a, client: client).run(remote: "hub")
        _ = try await Reconciler(store: a, client: client).run(remote: "hub")
        var forged = try #require(a.runs(after: VersionVector()).runs.last)
        forged.first = try a.versionVector()[a.replicaID] + 1
        forged.last = forged.first
        _ = try? await client.push([forged])

        // Then the hub lists both pushes, newest first: the refusal, then what A delivered.
        let deliveries = try hub.deliveries()
        #expect(deliveries.count == 2)
        let refused = try #require(deliveries.first)
        #expect(refused.result != "ok" && refused.applied == 0 && refused.token == "newsroom")
        let delivered = try #require(deliveries.last)
        #expect(delivered.result == "ok" && delivered.token == "newsroom")
        #expect(delivered.applied == first.sent && delivered.changes == first.sent)
        #expect(delivered.ranges.allSatisfy { $0.origin == a.replicaID })
        let end = try a.versionVector()[a.replicaID]
        #expect(delivered.ranges.first?.first == 1 && delivered.ranges.last?.last == end)

        // And the token lists A's origin with the key that signed its runs.
        let origins = try #require(hub.tokens().first).origins
        #expect(origins.map(\.origin) == [a.replicaID])
        let key = try #require(a.runs(after: VersionVector()).runs.first?.key)
        #expect(origins.first?.key == Data(key).base64EncodedString())
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("LOCALHOST", true), ("::1", true),
        ("127.example.org", false), ("127.0.0.1.example.org", false), ("127.0.0.256", false), ("127.0.0", false),
        ("0.0.0.0", false), ("10.0.0.1", false), ("::", false), ("", false), ("127..0.1", false),
    ])
    func loopbackIsAnAddressNotAPrefix(host: String, loopback: Bool) {
        #expect(SyncServer.isLoopback(host) == loopback, "\(host)")
    }
}
