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

    @Test func aMembersOnlyHubAcceptsRunsOnlyFromReplicasBoundToATokenWhoeverDeliversThem() async throws {
        // Given a members-only hub whose token binds laptop A, and laptops A and B sharing that token.
        let hub = try Store.inMemory(name: "hub")
        let token = try hub.createToken(name: "newsroom")
        let a = try Store.inMemory(name: "laptop-a")
        let b = try Store.inMemory(name: "laptop-b")
        try hub.bindMember(token: "newsroom", origin: a.replicaID)
        #expect(try hub.tokens().first?.members == [a.replicaID])
        let server = try await InProcessServer.serve(hub, membersOnly: true)
        defer { Task { await server.stop() } }
        let client = SyncClient(baseURL: server.url, token: token)
        _ = try SyncFixtures.importStory(into: a)
        let article = try SyncFixtures.importStory(into: b)
        _ = try b.highlight(articleRef: article, anchor: SyncFixtures.quote("cause a stink"), note: "from b")

        // When A pushes, its runs are taken in.
        let sent = try await Reconciler(store: a, client: client).run(remote: "hub")
        #expect(sent.sent > 0)
        #expect(try hub.versionVector()[a.replicaID] == (try a.versionVector()[a.replicaID]))

        // When B pushes with the same token, it is refused: 403 not_member, naming B and the way in,
        let before = try hub.digest()
        await #expect {
            try await Reconciler(store: b, client: client).run(remote: "hub", pull: false)
        } throws: { error in
            guard case SyncError.refused(403, "not_member", let message, _, _) = error else { return false }
            return message.contains(b.replicaID) && message.contains("margin token bind")
        }
        // nothing of it is written, and the refusal is recorded.
        #expect(try hub.digest() == before)
        #expect(try hub.versionVector()[b.replicaID] == 0)
        #expect(try hub.deliveries().first?.result == "not_member")

        // When the owner binds B, B's push goes through, and A relays nothing it should not.
        try hub.bindMember(token: "newsroom", origin: b.replicaID)
        _ = try await Reconciler(store: b, client: client).run(remote: "hub")
        #expect(try hub.versionVector()[b.replicaID] == (try b.versionVector()[b.replicaID]))
        _ = try await Reconciler(store: a, client: client).run(remote: "hub")
        #expect(try a.digest() == (try hub.digest()))

        // And revoking the token ends the memberships it held.
        try hub.revokeToken(name: "newsroom")
        #expect(try hub.memberOrigins().isEmpty)
    }

    @Test func aMemberRelayingAStrangersRunsStillPushesItsOwnAndIsToldWhichWasRefused() async throws {
        // Given a members-only hub binding laptop A, and A holding runs of C (pulled from C directly).
        let hub = try Store.inMemory(name: "hub")
        let token = try hub.createToken(name: "newsroom")
        let a = try Store.inMemory(name: "laptop-a")
        let c = try Store.inMemory(name: "laptop-c")
        try hub.bindMember(token: "newsroom", origin: a.replicaID)
        _ = try SyncFixtures.importStory(into: c)
        _ = try a.apply(try c.runs(after: VersionVector()).runs)
        let article = try #require(a.articles().first?.id)
        _ = try a.addTags(ref: article, tags: ["from-a"])
        let server = try await InProcessServer.serve(hub, membersOnly: true)
        defer { Task { await server.stop() } }

        // When A pushes, the push ends refused, naming C,
        await #expect {
            try await Reconciler(store: a, client: SyncClient(baseURL: server.url, token: token)).run(remote: "hub", pull: false)
        } throws: { error in
            guard case SyncError.refused(403, "not_member", _, let origin, _) = error else { return false }
            return origin == c.replicaID
        }
        // but A's own runs went through, and nothing of C's.
        #expect(try hub.versionVector()[a.replicaID] == (try a.versionVector()[a.replicaID]))
        #expect(try hub.versionVector()[c.replicaID] == 0)
    }

    @Test func bindingNamesABadReplicaIdOrAnUnknownTokenAndWritesNothing() throws {
        let hub = try Store.inMemory(name: "hub")
        _ = try hub.createToken(name: "newsroom")
        let laptop = try Store.inMemory(name: "laptop")
        #expect { try hub.bindMember(token: "newsroom", origin: "laptop-a") } throws: { error in
            "\(error)".contains("not a replica id")
        }
        #expect { try hub.bindMember(token: "newsroom", origin: UUID().uuidString) } throws: { error in
            "\(error)".contains("protocol-1 replica id")
        }
        #expect { try hub.bindMember(token: "nobody", origin: laptop.replicaID) } throws: { error in
            "\(error)".contains("no token is named nobody")
        }
        #expect { try hub.unbindMember(token: "newsroom", origin: laptop.replicaID) } throws: { error in
            "\(error)".contains("is not bound")
        }
        #expect(try hub.memberOrigins().isEmpty)
        try hub.bindMember(token: "newsroom", origin: laptop.replicaID)
        try hub.bindMember(token: "newsroom", origin: laptop.replicaID)
        #expect(try hub.memberOrigins() == [laptop.replicaID])
        try hub.unbindMember(token: "newsroom", origin: laptop.replicaID)
        #expect(try hub.memberOrigins().isEmpty)
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
