import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarginStore
import NIOCore
import Testing

@testable import MarginSync

/// The attacks of issue 12, each tried end to end against a live hub on 127.0.0.1 by a client that
/// holds a valid token and keys of its own: none of them forges, cancels or hides an honest
/// replica's edits, and `verify`'s digests agree afterwards.
@Suite("attacks by a token holder")
struct AttackTests {
    /// A hub with one token, and laptops A and B that both hold the story and one highlight of A's.
    struct Team {
        let hub: Store
        let server: InProcessServer
        let token: String
        let a: Store
        let b: Store
        let article: String
        let highlight: String

        static func make(b: Store? = nil) async throws -> Team {
            let hub = try Store.inMemory(name: "hub")
            let token = try hub.createToken(name: "team")
            let server = try await InProcessServer.serve(hub)
            let a = try Store.inMemory(name: "laptop-a")
            let article = try SyncFixtures.importStory(into: a)
            let highlight = try a.highlight(articleRef: article, anchor: SyncFixtures.quote("cause a stink"), note: "A's note").id
            let team = Team(hub: hub, server: server, token: token, a: a, b: try b ?? Store.inMemory(name: "laptop-b"),
                            article: article, highlight: highlight)
            try await team.sync(team.a)
            try await team.sync(team.b)
            return team
        }

        @discardableResult
        func sync(_ store: Store) async throws -> SyncReport {
            try await Reconciler(store: store, client: SyncClient(baseURL: server.url, token: token)).run(remote: "hub")
        }

        /// POSTs `runs` as the hostile client.
        func push(_ runs: [SignedRun]) async throws -> (status: Int, error: ErrorResponse?) {
            var request = URLRequest(url: server.url.appendingPathComponent("v1/changes"))
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("\(SyncProtocol.version)", forHTTPHeaderField: SyncProtocol.versionHeader)
            request.httpBody = Data(WireCodec.encode(PushRequest(runs: runs)))
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, try? JSONDecoder().decode(ErrorResponse.self, from: data))
        }

        /// Every replica's digest equals the hub's.
        func expectConverged(_ stores: [Store], sourceLocation: SourceLocation = #_sourceLocation) throws {
            for store in stores {
                #expect(try store.digest() == hub.digest(), "\(store.replicaName)", sourceLocation: sourceLocation)
                #expect(try store.versionVector() == hub.versionVector(), "\(store.replicaName)", sourceLocation: sourceLocation)
            }
        }
    }

    static func signed(_ run: Run, with key: ReplicaKey) -> SignedRun {
        let body = RunCodec.encode(run)
        let hash = Hashing.sha256(body)
        return SignedRun(
            origin: run.origin, first: run.first, last: run.last, body: body, hash: hash, key: key.publicKey,
            signature: key.sign(runHash: hash))
    }

    static func now() -> HLC { HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 1) }

    /// The hash of the last run of `origin` that `store` holds.
    static func head(of origin: String, in store: Store) throws -> [UInt8] {
        let run = try #require(try store.runs(after: VersionVector(), limit: 5_000).runs.last { $0.origin == origin })
        return Hashing.sha256(run.body)
    }

    @Test func claimingAnotherReplicasNextSeqsIsRefusedAndItsRealEditsStillArrive() async throws {
        let team = try await Team.make()
        defer { Task { await team.server.stop() } }
        let b = team.b.replicaID
        let next = try team.hub.versionVector()[b] + 1
        let before = try team.hub.digest()

        // When the attacker sends, under B's origin, B's next two seqs (a valid run in every
        // other way, chained to B's head, signed with the attacker's own key),
        let attacker = ReplicaKey()
        let changes = (0..<2).map { i in
            Change(origin: b, seq: next + Int64(i), hlc: Self.now(), entity: .annotation, entityID: team.highlight,
                   field: "note", value: .string("forged \(i)"))
        }
        let forged = Self.signed(Run(origin: b, first: next, prev: try Self.head(of: b, in: team.hub), changes: changes),
                                 with: attacker)
        let answer = try await team.push([forged])

        // Then it is refused as forged, naming B and the seq, and the hub is as it was.
        #expect(answer.status == 422)
        #expect(answer.error?.code == "forged_run")
        #expect(answer.error?.origin == b && answer.error?.seq == next)
        #expect(try team.hub.digest() == before)

        // And B's real edits at those seqs are sent (not skipped as duplicates) and reach A.
        _ = try team.b.setNote(annotationRef: team.highlight, text: "B's note")
        _ = try team.b.addTags(ref: team.highlight, tags: ["b"])
        let pushed = try await team.sync(team.b)
        #expect(pushed.sent == 2)
        try await team.sync(team.a)
        #expect(try team.a.annotation(team.highlight).note == "B's note")
        #expect(try team.a.annotation(team.highlight).tags == ["b"])
        try team.expectConverged([team.a, team.b])
    }

    @Test func supersedingAnotherReplicasFutureWritesIsRefusedAndTheyStillShowEverywhere() async throws {
        let team = try await Team.make()
        defer { Task { await team.server.stop() } }
        let b = team.b.replicaID
        let next = try team.hub.versionVector()[b] + 1
        let before = try team.hub.digest()

        // When the attacker, under its own key and origin, writes A's note superseding B's next
        // 1,000 dots (the "dead on arrival" attack: 45 KB in protocol 1, about 8 KB in protocol 2's
        // encoding),
        let attacker = ReplicaKey()
        let futureDots = (0..<Int64(ChangeLimits.maxSupersedes)).map { Dot(origin: b, seq: next + $0) }
        let change = Change(origin: attacker.replicaID, seq: 1, hlc: Self.now(), entity: .annotation,
                            entityID: team.highlight, field: "note", value: .string("gone"), supersedes: futureDots)
        let run = Self.signed(Run(origin: attacker.replicaID, first: 1, prev: [], changes: [change]), with: attacker)
        #expect(run.body.count > 4_000)
        let answer = try await team.push([run])

        // Then it is refused as not causal, naming the attacker's change, and nothing is written.
        #expect(answer.status == 422)
        #expect(answer.error?.code == "not_causal")
        #expect(answer.error?.origin == attacker.replicaID && answer.error?.seq == 1)
        #expect(try team.hub.digest() == before)

        // And B's later writes of that note and its tags show on the hub, on A and on B.
        _ = try team.b.setNote(annotationRef: team.highlight, text: "B's later note")
        _ = try team.b.addTags(ref: team.highlight, tags: ["kept"])
        try await team.sync(team.b)
        try await team.sync(team.a)
        for store in [team.hub, team.a, team.b] {
            #expect(try store.annotation(team.highlight).note == "B's later note", "\(store.replicaName)")
            #expect(try store.annotation(team.highlight).tags == ["kept"], "\(store.replicaName)")
        }
        try team.expectConverged([team.a, team.b])
    }

    @Test func aCopiedStoreFileIsEquivocationThatNamesTheCopyAndTheHonestHistoryGoesOn() async throws {
        // Given laptop B on disk, synced with the hub, and a copy of its file set up as a second
        // laptop (a common way to set up a new machine).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("b.sqlite").path
        let team = try await Team.make(b: try Store.create(at: path, name: "laptop-b"))
        defer { Task { await team.server.stop() } }
        try team.b.truncateWAL(ifLargerThan: 0)
        let copyPath = folder.appendingPathComponent("b-copy.sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copyPath)
        let copy = try Store.open(at: copyPath)
        #expect(copy.replicaID == team.b.replicaID)

        // When both copies write as one replica and sync, B first,
        _ = try team.b.setNote(annotationRef: team.highlight, text: "from B")
        _ = try copy.setNote(annotationRef: team.highlight, text: "from the copy")
        try await team.sync(team.b)
        // and A writes meanwhile,
        _ = try team.a.addTags(ref: team.highlight, tags: ["from-a"])
        try await team.sync(team.a)

        // Then the copy's sync is refused as equivocation with a message that says the store was
        // copied and what to do,
        await #expect {
            try await team.sync(copy)
        } throws: { error in
            guard case SyncError.refused(409, "equivocation", let message, let origin, _) = error else { return false }
            return origin == copy.replicaID && message.contains("copied") && message.contains("margin init")
        }
        // it is recorded on both sides (what `margin status` lists),
        #expect(try copy.equivocations().contains { $0.origin == copy.replicaID && $0.ownOrigin })
        #expect(try team.hub.equivocations().contains { $0.origin == copy.replicaID })
        // the copy still received A's edit (the honest history of every other origin goes on),
        #expect(try copy.annotation(team.highlight).tags == ["from-a"])
        // and the hub kept B's version: A and B agree with it.
        try await team.sync(team.b)
        try await team.sync(team.a)
        #expect(try team.a.annotation(team.highlight).note == "from B")
        try team.expectConverged([team.a, team.b])
    }

    @Test func aRelayThatAltersARunIsRefusedByTheLaptopAndNothingIsWritten() async throws {
        // Given laptop A's runs, and a relay (a stand-in hub) that serves them with the story's
        // title changed in its signed body,
        let a = try Store.inMemory(name: "laptop-a")
        _ = try SyncFixtures.importStory(into: a)
        var runs = try a.runs(after: VersionVector()).runs
        let index = try #require(try runs.firstIndex { try $0.decoded().changes.contains { $0.write(of: "title") != nil } })
        var run = try runs[index].decoded()
        let change = try #require(run.changes.firstIndex { $0.write(of: "title") != nil })
        let field = try #require(run.changes[change].writes.firstIndex { $0.field == "title" })
        run.changes[change].writes[field].value = .string("Altered by the relay")
        runs[index].body = RunCodec.encode(run)
        var vector = VersionVector()
        for run in runs { vector[run.origin] = run.last }
        let page = WireCodec.encode(ChangesResponse(runs: runs, more: false, vector: vector))
        let router = Router()
        router.get("/v1/changes") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", HTTPField.Name("Margin-Protocol")!: "2"],
                     body: .init(byteBuffer: ByteBuffer(bytes: page)))
        }
        var logger = Logger(label: "margin.attack-relay")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        let laptop = try Store.inMemory(name: "laptop-c")
        let before = (try laptop.digest(), try laptop.versionVector())
        try await app.test(.live) { client in
            let url = URL(string: "http://127.0.0.1:\(try #require(client.port))")!
            // When laptop C pulls from it,
            await #expect {
                try await Reconciler(store: laptop, client: SyncClient(baseURL: url)).run(remote: "relay", push: false)
            } throws: { error in
                // Then the page is refused as forged, naming A's origin,
                guard case StoreError.forgedRun(let origin, _, _) = error else { return false }
                return origin == a.replicaID
            }
        }
        // and nothing of it is written.
        #expect(try laptop.digest() == before.0)
        #expect(try laptop.versionVector() == before.1)
        #expect(try laptop.articles().isEmpty)
    }
}
