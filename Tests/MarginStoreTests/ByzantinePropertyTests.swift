import Foundation
import Testing
@testable import MarginStore

/// The merge property test with a Byzantine peer among honest replicas: it forges runs, alters
/// forwarded ones, claims honest replicas' next seqs, supersedes dots nobody holds, equivocates,
/// and sends oversized, truncated and out-of-order batches. Every attack is refused whole,
/// naming what it refused, and writes nothing; the honest replicas still converge and lose
/// nothing they wrote. A failure names the seed that replays it.
@Suite struct ByzantinePropertyTests {
    static let seeds = MergePropertyTests.seeds
    static let operations = 600

    struct Stats {
        var attacks: [String: Int] = [:]
        var exchanges = 0
        var excluded = 0
    }

    /// The attacker: its own keys (a fresh one per attack that needs an origin of its own).
    struct Attacker {
        var random: SeededRandom

        mutating func key() -> ReplicaKey {
            var seed = [UInt8](repeating: 0, count: 32)
            for i in seed.indices { seed[i] = UInt8.random(in: 0...255, using: &random) }
            return try! ReplicaKey(seed: seed)
        }
    }

    static func sign(_ run: Run, with key: ReplicaKey?) -> SignedRun {
        let body = RunCodec.encode(run)
        let hash = Hashing.sha256(body)
        return SignedRun(
            origin: run.origin, first: run.first, last: run.last, body: body, hash: hash, key: key?.publicKey,
            signature: key?.sign(runHash: hash))
    }

    @Test(arguments: seeds)
    func honestReplicasConvergeWhatEverTheAttackerSends(seed: UInt64) throws {
        var random = SeededRandom(seed: seed &+ 0xB12A)
        var attacker = Attacker(random: SeededRandom(seed: seed &* 31 &+ 7))
        var stats = Stats()
        let clock = ManualClock()
        let count = Int.random(in: 3...4, using: &random)
        let replicas = try (0..<count).map { try Replica("h\($0)", clock: clock) }
        let honest = MergePropertyTests()
        var mergeStats = MergePropertyTests.Stats()
        // Origins an honest replica refused as equivocation: left out of its exchanges from then on.
        var excluded: [String: Set<String>] = [:]

        func exchange(from source: Replica, to target: Replica, limit: Int) throws {
            stats.exchanges += 1
            while true {
                let skip = excluded[target.store.replicaID, default: []].union(excluded[source.store.replicaID, default: []])
                // As a pull does: the target's heads let the source notice another history under the same seqs.
                var heads = try target.store.heads(digits: 8)
                for origin in skip { heads[origin] = nil }
                if let (origin, _) = try source.store.divergence(
                    from: target.store.versionVector(), heads: heads, via: "test")
                {
                    excluded[target.store.replicaID, default: []].insert(origin)
                    stats.excluded += 1
                    continue
                }
                let page = try source.store.runs(after: target.store.versionVector(), limit: limit, excluding: skip)
                if page.runs.isEmpty { return }
                do {
                    _ = try target.store.apply(page.runs)
                } catch StoreError.equivocation(let origin, _, _) {
                    // As `Reconciler` does: the honest history goes on without that origin.
                    excluded[target.store.replicaID, default: []].insert(origin)
                    stats.excluded += 1
                    continue
                }
                if !page.more || limit < 1_000 { return }
            }
        }

        for _ in 0..<Self.operations {
            clock.advance(Double(Int.random(in: 0...40, using: &random)) / 1000)
            let r = replicas[Int.random(in: 0..<count, using: &random)]
            let roll = Int.random(in: 0..<100, using: &random)
            switch roll {
            case 0..<6: try honest.importArticle(r, &random)
            case 6..<20: try honest.highlight(r, &random)
            case 20..<36: try honest.editNote(r, &random, &mergeStats)
            case 36..<44: try honest.tag(r, &random)
            case 44..<48: try honest.untag(r, &random)
            case 48..<50: try honest.deleteAnnotation(r, &random)
            case 50..<53: try honest.resolveConflict(r, &random, &mergeStats)
            case 53..<70:
                let other = replicas[Int.random(in: 0..<count, using: &random)]
                guard other.store.replicaID != r.store.replicaID else { continue }
                try attack(target: r, source: other, replicas: replicas, &attacker, &random, &stats, seed: seed)
            default:
                let other = replicas[Int.random(in: 0..<count, using: &random)]
                guard other.store.replicaID != r.store.replicaID else { continue }
                try exchange(from: other, to: r, limit: Int.random(in: 1...60, using: &random))
            }
        }
        for _ in 0..<2 {
            for a in replicas { for b in replicas where a.store.replicaID != b.store.replicaID { try exchange(from: a, to: b, limit: 5_000) } }
        }
        // Every honest origin is held everywhere, and the honest state is the same everywhere.
        for replica in replicas {
            let vector = try replica.store.versionVector()
            for other in replicas {
                #expect(vector[other.store.replicaID] == (try other.store.versionVector())[other.store.replicaID],
                        "seed \(seed): an honest replica's changes did not reach another")
            }
        }
        let exports = try replicas.map { try $0.export() }
        for (i, export) in exports.enumerated().dropFirst() {
            #expect(export == exports[0], "seed \(seed): honest replica \(i) shows other bytes than replica 0")
        }
        for replica in replicas {
            #expect(try replica.store.digest() == replica.store.recomputedDigest(), "seed \(seed): kept digests drifted")
            try MergePropertyTests.expectNoTypedNoteLost(replica.store, seed: seed, stats: &mergeStats)
        }
        let kinds = ["articles", "annotations", "tags", "conflicts"]
        let digests = try Set(replicas.map { r in try kinds.map { try r.store.digest().kinds[$0]! } })
        #expect(digests.count == 1, "seed \(seed): honest replicas' digests differ")
        print("byzantine seed \(seed): \(count) honest replicas, \(stats.exchanges) exchanges, attacks refused "
            + stats.attacks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + ", \(stats.excluded) equivocating origins left out")
    }

    /// One attack on `target`, using what `source` would send it. Each must be refused whole.
    private func attack(
        target: Replica, source: Replica, replicas: [Replica], _ attacker: inout Attacker,
        _ random: inout SeededRandom, _ stats: inout Stats, seed: UInt64
    ) throws {
        let vector = try target.store.versionVector()
        let digest = try target.store.digest()
        let page = try source.store.runs(after: vector, limit: 200).runs
        let honestOrigins = replicas.map(\.store.replicaID)
        var batch: [SignedRun] = []
        var kind = ""
        // What the refusal must name.
        var names = ""
        var expected: (StoreError) -> Bool = { _ in false }
        switch Int.random(in: 0..<8, using: &random) {
        case 0 where !page.isEmpty:
            // An altered forwarded run: one letter of its body changed, its signature kept.
            kind = "altered"
            let i = Int.random(in: 0..<page.count, using: &random)
            var run = page[i]
            let letters = run.body.indices.filter { (0x61...0x7A).contains(run.body[$0]) }
            guard let at = letters.randomElement(using: &random) else { return }
            run.body[at] = run.body[at] == 0x78 ? 0x79 : 0x78
            batch = Array(page.prefix(i)) + [run]
            names = run.origin
            expected = { if case .forgedRun = $0 { return true }; if case .invalidChange = $0 { return true }; return false }
        case 1:
            // Claiming an honest replica's next seq, signed with the attacker's own key.
            kind = "claim"
            let victim = honestOrigins.randomElement(using: &random)!
            let held = vector[victim]
            let prev = try target.store.heads(digits: 64)[victim].flatMap { Hashing.bytes(hex: $0) } ?? []
            let change = Change(
                origin: victim, seq: held + 1, hlc: HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - 1000),
                entity: .replica, entityID: victim, field: "name", value: .string("hijacked"))
            batch = [Self.sign(Run(origin: victim, first: held + 1, prev: held == 0 ? [] : prev, changes: [change]),
                               with: attacker.key())]
            names = victim
            expected = { if case .forgedRun = $0 { return true }; return false }
        case 2:
            // The same, unsigned.
            kind = "unsigned"
            let victim = honestOrigins.randomElement(using: &random)!
            let held = vector[victim]
            let prev = try target.store.heads(digits: 64)[victim].flatMap { Hashing.bytes(hex: $0) } ?? []
            let change = Change(
                origin: victim, seq: held + 1, hlc: HLC(milliseconds: 1), entity: .replica, entityID: victim,
                field: "name", value: .string("hijacked"))
            batch = [Self.sign(Run(origin: victim, first: held + 1, prev: held == 0 ? [] : prev, changes: [change]), with: nil)]
            names = victim
            expected = { if case .forgedRun = $0 { return true }; return false }
        case 3:
            // Its own valid run superseding dots nobody holds yet (an honest replica's future writes).
            kind = "future"
            let key = attacker.key()
            let victim = honestOrigins.randomElement(using: &random)!
            let future = (1...50).map { Dot(origin: victim, seq: vector[victim] + Int64($0)) }
            let change = Change(
                origin: key.replicaID, seq: 1, hlc: HLC(milliseconds: 1), entity: .annotation, entityID: "n-\(seed)",
                field: "note", value: .null, supersedes: future)
            batch = [Self.sign(Run(origin: key.replicaID, first: 1, prev: [], changes: [change]), with: key)]
            names = "\(victim):\(vector[victim] + 1)"
            expected = { if case .notCausal = $0 { return true }; return false }
        case 4:
            // Equivocation: one origin, two different first runs, to two honest replicas.
            kind = "equivocation"
            let key = attacker.key()
            let now = HLC(milliseconds: 1)
            for (n, replica) in replicas.shuffled(using: &random).prefix(2).enumerated() {
                let change = Change(
                    origin: key.replicaID, seq: 1, hlc: now, entity: .replica, entityID: key.replicaID, field: "name",
                    value: .string("twin-\(n)"))
                _ = try replica.store.apply([Self.sign(Run(origin: key.replicaID, first: 1, prev: [], changes: [change]), with: key)])
            }
            stats.attacks[kind, default: 0] += 1
            return
        case 5 where Dictionary(grouping: page, by: \.origin).values.contains(where: { $0.count >= 2 }):
            // Out of order: the page reversed, so a later run of an origin comes before an earlier one.
            kind = "reordered"
            batch = page.reversed()
            expected = {
                if case .gap = $0 { return true }; if case .notCausal = $0 { return true }; if case .forgedRun = $0 { return true }
                return false
            }
        case 6 where !page.isEmpty:
            // A truncated run: its last change dropped (its envelope's last seq too), or the last
            // field of its only change; its signature kept.
            kind = "truncated"
            let i = Int.random(in: 0..<page.count, using: &random)
            var run = page[i]
            var decoded = try run.decoded()
            if decoded.changes.count >= 2 {
                decoded.changes.removeLast()
                run.last -= 1
            } else if decoded.changes[0].writes.count >= 2 {
                decoded.changes[0].writes.removeLast()
            } else {
                return
            }
            run.body = RunCodec.encode(decoded)
            batch = Array(page.prefix(i)) + [run]
            names = run.origin
            expected = { if case .forgedRun = $0 { return true }; return false }
        case 7:
            // Oversized: one run past the protocol's size, well signed.
            kind = "oversized"
            let key = attacker.key()
            let changes = (0..<2).map { n in
                Change(origin: key.replicaID, seq: Int64(n + 1), hlc: HLC(milliseconds: 1), entity: .article,
                       entityID: "big-\(n)", field: "body", value: .string(String(repeating: "a", count: 3_500_000)))
            }
            batch = [Self.sign(Run(origin: key.replicaID, first: 1, prev: [], changes: changes), with: key)]
            names = "bytes"
            expected = { if case .invalidChange = $0 { return true }; return false }
        default:
            return
        }
        guard !batch.isEmpty else { return }
        do {
            _ = try target.store.apply(batch)
            Issue.record("seed \(seed): the \(kind) attack was accepted")
        } catch let error as StoreError {
            #expect(expected(error), "seed \(seed): the \(kind) attack was refused with \(error)")
            #expect(names.isEmpty || error.description.contains(names),
                    "seed \(seed): the refusal of the \(kind) attack does not name \(names): \(error)")
        }
        #expect(try target.store.versionVector() == vector, "seed \(seed): the refused \(kind) attack moved the vector")
        #expect(try target.store.digest() == digest, "seed \(seed): the refused \(kind) attack changed the state")
        stats.attacks[kind, default: 0] += 1
    }
}
