import Foundation
import MarginStore
import Testing

@testable import MarginSync

/// The codec of the hot bodies (`WireCodec`): runs travel as their authors signed them, byte for
/// byte; every shape it takes is JSON that Foundation reads the same way; bad bodies are refused
/// with a sentence, never a crash.
@Suite("Wire codec")
struct WireCodecTests {
    /// Random runs: signed (a key per origin) or not, one to a few changes each, chained.
    static func runs(_ random: inout SeededRandom) -> [SignedRun] {
        var runs: [SignedRun] = []
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            var seed = [UInt8](repeating: 0, count: 32)
            for i in seed.indices { seed[i] = UInt8.random(in: 0...255, using: &random) }
            let key = try! ReplicaKey(seed: seed)
            var next: Int64 = 1
            var prev: [UInt8] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let changes = (0..<Int.random(in: 1...4, using: &random)).map { i -> Change in
                    let text = String((0..<Int.random(in: 0...12, using: &random)).map { _ in
                        "aé\"\\\n\u{1}€😀 z".randomElement(using: &random)!
                    })
                    return Change(
                        origin: key.replicaID, seq: next + Int64(i), hlc: HLC(milliseconds: 1_700_000_000_000 + Int64(i)),
                        entity: .article, entityID: "0123456789abcdef", field: ["title", "body", "tags"].randomElement(using: &random)!,
                        value: Bool.random(using: &random) ? .string(text) : .array([.string(text), .int(3)]))
                }
                let run = Run(origin: key.replicaID, first: next, prev: prev, changes: changes)
                let body = RunCodec.encode(run)
                let hash = Hashing.sha256(body)
                let signs = Bool.random(using: &random)
                runs.append(SignedRun(
                    origin: run.origin, first: run.first, last: run.last, body: body, hash: hash,
                    key: signs ? key.publicKey : nil, signature: signs ? key.sign(runHash: hash) : nil))
                next = run.last + 1
                prev = hash
            }
        }
        return runs
    }

    static func same(_ a: [SignedRun], _ b: [SignedRun]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            x.origin == y.origin && x.first == y.first && x.last == y.last && x.body == y.body && x.key == y.key
                && x.signature == y.signature
        }
    }

    static func decodePush(_ bytes: [UInt8]) throws -> PushRequest {
        try bytes.withUnsafeBytes { try WireCodec.decodePush($0) }
    }

    static func decodePage(_ bytes: [UInt8]) throws -> ChangesResponse {
        try bytes.withUnsafeBytes { try WireCodec.decodeChangesResponse($0) }
    }

    @Test func pushesAndPagesRoundTripWithEveryRunsBytesAsSigned() throws {
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        for _ in 0..<200 {
            let runs = Self.runs(&random)
            let push = try Self.decodePush(WireCodec.encode(PushRequest(runs: runs)))
            #expect(Self.same(push.runs, runs), "seed \(seed)")
            #expect(push.protocol == SyncProtocol.version)
            // A received run's signature still verifies over the bytes that arrived.
            for run in push.runs where run.isSigned {
                #expect(ReplicaIdentity.verify(
                    signature: run.signature!, runHash: Hashing.sha256(run.body), publicKey: run.key!), "seed \(seed)")
            }

            var vector = VersionVector()
            for run in runs { vector[run.origin] = run.last }
            let more = Bool.random(using: &random)
            let page = try Self.decodePage(WireCodec.encode(ChangesResponse(runs: runs, more: more, vector: vector)))
            #expect(Self.same(page.runs, runs) && page.more == more && page.vector == vector, "seed \(seed)")
        }
    }

    @Test func whatTheEncoderWritesIsJSONThatFoundationReadsTheSameWay() throws {
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        for _ in 0..<100 {
            let runs = Self.runs(&random)
            let bytes = WireCodec.encode(PushRequest(runs: runs))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["protocol"] as? Int == SyncProtocol.version)
            let list = try #require(object["runs"] as? [[String: Any]])
            #expect(list.count == runs.count)
            for (item, run) in zip(list, runs) {
                #expect(item["origin"] as? String == run.origin && item["first"] as? Int == Int(run.first))
                #expect(item["last"] as? Int == Int(run.last))
                #expect((item["key"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) == run.key)
                #expect((item["sig"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) == run.signature)
                // The run's body is an object of its own, the one its author's RunCodec wrote.
                let body = try #require(item["run"] as? [String: Any])
                #expect(body["origin"] as? String == run.origin && body["v"] as? Int == 2)
            }
        }
    }

    @Test func aRunsBodyIsCarriedAsItArrivedNotReEncoded() throws {
        // Given a push whose run body has spaces and key order of its own (not canonical),
        let odd = #"{ "v" : 2 , "first":1, "origin":"x", "changes":[ ] }"#
        let body = #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1,"run":"# + odd + "}]}"
        // Then the decoder hands on exactly those bytes, for the store to check and refuse.
        let push = try Self.decodePush(Array(body.utf8))
        #expect(push.runs.first?.body == Array(odd.utf8))
    }

    @Test func badBodiesAreRefusedWithASentence() throws {
        var fixed = SeededRandom(seed: 42)
        let valid = WireCodec.encode(PushRequest(runs: Self.runs(&fixed)))
        let cases: [(String, String, String)] = [
            ("empty", "", "not a valid push"),
            ("not JSON", "protocol=2", "not a valid push"),
            ("protocol missing", #"{"runs":[]}"#, "protocol is missing"),
            ("runs missing", #"{"protocol":2}"#, "runs is missing"),
            ("a key of 5 bytes", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1,"key":"AAAAAAA=","sig":"","run":{}}]}"#,
             "32-byte"),
            ("a key without its signature", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1,"key":"# + "\""
                + Data(count: 32).base64EncodedString() + #"","run":{}}]}"#, "both key and sig"),
            ("first after last", #"{"protocol":2,"runs":[{"origin":"x","first":3,"last":2,"run":{}}]}"#, "first <= last"),
            ("a first of 0", #"{"protocol":2,"runs":[{"origin":"x","first":0,"last":2,"run":{}}]}"#, "1 or more"),
            ("a run over the run limit", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":"#
                + "\(ChangeLimits.maxRunChanges + 1)" + #","run":{}}]}"#, "at most \(ChangeLimits.maxRunChanges)"),
            ("a body that is a string", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1,"run":"{}"}]}"#,
             "its body, an object"),
            ("a run without a body", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1}]}"#, "a run is"),
            ("100,000 nested arrays", String(repeating: "[", count: 100_000), "not a valid push"),
            ("a body nested 100,000 deep", #"{"protocol":2,"runs":[{"origin":"x","first":1,"last":1,"run":"#
                + String(repeating: #"{"a":"#, count: 100_000), "not a valid push"),
            ("trailing bytes", String(decoding: valid, as: UTF8.self) + "x", "not a valid push"),
            ("truncated", String(decoding: valid.dropLast(), as: UTF8.self), "not a valid push"),
        ]
        for (what, body, reason) in cases {
            #expect {
                _ = try Self.decodePush(Array(body.utf8))
            } throws: { error in
                // A shape the JSON is not (400), or a run's rule no schema states (422).
                if let malformed = error as? WireCodec.Malformed { return malformed.reason.contains(reason) }
                if let invalid = error as? WireCodec.InvalidRun { return invalid.reason.contains(reason) }
                return false
            }
            _ = what
        }
        // More runs than a batch may hold.
        let one = #"{"origin":"x","first":1,"last":1,"run":{}}"#
        let many = #"{"protocol":2,"runs":["# + Array(repeating: one, count: ChangeLimits.maxBatch + 1).joined(separator: ",") + "]}"
        #expect(throws: WireCodec.Malformed.self) { try Self.decodePush(Array(many.utf8)) }
    }

    @Test func everyPrefixAndRandomDamageIsRefusedOrReadNeverACrash() throws {
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        let valid = WireCodec.encode(PushRequest(runs: Self.runs(&random) + Self.runs(&random)))
        // Every proper prefix is refused (a half-received body is never taken for a push).
        for length in 0..<valid.count {
            #expect(throws: (any Error).self, "seed \(seed), \(length) bytes") {
                try Self.decodePush(Array(valid.prefix(length)))
            }
        }
        // Damaged bodies: what is not JSON to Foundation is refused here too.
        var taken = 0
        var refused = 0
        for _ in 0..<2_000 {
            var damaged = valid
            for _ in 0..<Int.random(in: 1...3, using: &random) where !damaged.isEmpty {
                damaged[Int.random(in: 0..<damaged.count, using: &random)] = Array("{}[]\",:0a\\ ".utf8).randomElement(using: &random)!
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(damaged))) != nil
            if (try? Self.decodePush(damaged)) != nil {
                taken += 1
                #expect(foundation, "seed \(seed): taken here, not JSON to Foundation: \(String(decoding: damaged, as: UTF8.self))")
            } else {
                refused += 1
            }
        }
        #expect(taken > 0 && refused > 0, "seed \(seed): \(taken) taken, \(refused) refused")
    }
}
