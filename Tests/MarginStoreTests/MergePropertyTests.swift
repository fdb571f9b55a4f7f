import Foundation
import GRDB
import Testing
@testable import MarginStore

/// Random operations on several replicas with random partial exchanges; in the end every replica
/// holds the same changes and must show the same bytes. A failure names the seed that replays it.
@Suite struct MergePropertyTests {
    /// CI runs 50 seeds; MARGIN_PROPERTY_SEEDS=N runs more (or fewer) locally.
    static let seeds: [UInt64] = {
        let n = ProcessInfo.processInfo.environment["MARGIN_PROPERTY_SEEDS"].flatMap(Int.init) ?? 50
        return (1...max(1, n)).map(UInt64.init)
    }()

    static let operations = 2_000

    static let words = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "quince", "grape", "melon"]
    static let tags = ["red", "green", "blue", "todo", "later"]

    struct Stats {
        var replicas = 0
        var operations = 0
        var exchanges = 0
        var changes = 0
        var conflicts = 0
        var conflictsRecorded = 0
        var merges = 0
        var redeliveries = 0
        var gapsRefused = 0
        var resolved = 0
    }

    @Test(arguments: seeds)
    func replicasConvergeByteForByte(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var stats = Stats()
        let clock = ManualClock()
        let count = Int.random(in: 3...5, using: &random)
        stats.replicas = count
        let replicas = try (0..<count).map { try Replica("r\($0)", clock: clock) }
        var pages: [[SignedRun]] = []

        for _ in 0..<Self.operations {
            clock.advance(Double(Int.random(in: 0...40, using: &random)) / 1000)
            let r = replicas[Int.random(in: 0..<count, using: &random)]
            let roll = Int.random(in: 0..<100, using: &random)
            stats.operations += 1
            switch roll {
            case 0..<6: try importArticle(r, &random)
            case 6..<20: try highlight(r, &random)
            case 20..<40: try editNote(r, &random, &stats)
            case 40..<50: try tag(r, &random)
            case 50..<56: try untag(r, &random)
            case 56..<59: try deleteAnnotation(r, &random)
            case 59..<60: try deleteArticle(r, &random)
            case 60..<64: try resolveConflict(r, &random, &stats)
            default:
                let other = replicas[Int.random(in: 0..<count, using: &random)]
                guard other.store.replicaID != r.store.replicaID else { continue }
                try exchange(from: other, to: r, &random, &pages, &stats, seed: seed)
            }
        }

        // Everyone exchanges everything.
        for _ in 0..<2 {
            for a in replicas { for b in replicas where a.store.replicaID != b.store.replicaID { try b.pull(from: a, pageSize: 500) } }
        }
        let vectors = try Set(replicas.map { try $0.store.versionVector() })
        #expect(vectors.count == 1, "seed \(seed): vectors differ after a full exchange")
        let exports = try replicas.map { try $0.export() }
        for (i, export) in exports.enumerated().dropFirst() {
            #expect(export == exports[0], "seed \(seed): replica \(i) exports different bytes than replica 0")
        }
        let conflictLists = try replicas.map { try Self.conflictSignature($0.store) }
        for (i, list) in conflictLists.enumerated().dropFirst() {
            #expect(list == conflictLists[0], "seed \(seed): replica \(i) lists different conflicts")
        }
        for (i, replica) in replicas.enumerated() {
            let differences = try TestSupport.fullTextDifferences(replica.store)
            #expect(differences.isEmpty, "seed \(seed): replica \(i)'s full-text index differs from its rows: \(differences)")
        }
        for (i, replica) in replicas.enumerated() {
            // The digests kept as rows changed are the digests of the rows.
            #expect(try replica.store.digest() == replica.store.recomputedDigest(),
                    "seed \(seed): replica \(i)'s kept digests differ from its rows'")
        }
        let digests = try Set(replicas.map { try $0.store.digest() })
        #expect(digests.count == 1, "seed \(seed): digests differ after a full exchange")
        try Self.expectNoTypedNoteLost(replicas[0].store, seed: seed, stats: &stats)
        stats.changes = Int(try replicas[0].store.versionVector().total)
        stats.conflicts = try replicas[0].store.conflicts().count
        print("merge property seed \(seed): \(stats.replicas) replicas × \(stats.operations) operations, "
            + "\(stats.exchanges) exchanges (\(stats.redeliveries) re-deliveries, \(stats.gapsRefused) gaps refused), "
            + "\(stats.changes) changes, \(stats.conflictsRecorded) conflicts recorded on receipt, "
            + "\(stats.resolved) resolved, \(stats.conflicts) pending at the end, "
            + "\(stats.merges) clean three-way note merges")
    }

    // MARK: Operations

    func importArticle(_ r: Replica, _ random: inout SeededRandom) throws {
        let n = Int.random(in: 0..<6, using: &random)
        let variant = Int.random(in: 0..<3, using: &random)
        let body = (0..<4).map { p in
            "Paragraph \(p) of story \(n): " + (0..<12).map { Self.words[($0 * 7 + p + n + ($0 == 3 ? variant : 0)) % 10] }
                .joined(separator: " ") + "."
        }.joined(separator: "\n\n")
        _ = try r.store.importArticles([TestSupport.article(n, body: body)])
    }

    func highlight(_ r: Replica, _ random: inout SeededRandom) throws {
        let articles = try r.store.articles()
        guard let article = articles.randomElement(using: &random) else { return }
        let length = TextAnchor.length(article.body)
        let start = Int.random(in: 0..<(length - 1), using: &random)
        let end = min(length, start + Int.random(in: 1...30, using: &random))
        let note: String? = Bool.random(using: &random) ? Self.randomNote(&random) : nil
        _ = try r.store.highlight(
            articleRef: article.id, anchor: .position(start: start, end: end), note: note,
            tags: Bool.random(using: &random) ? [Self.tags.randomElement(using: &random)!] : [])
    }

    func editNote(_ r: Replica, _ random: inout SeededRandom, _ stats: inout Stats) throws {
        guard let annotation = try r.store.annotations().randomElement(using: &random) else { return }
        var lines = (annotation.note ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        switch Int.random(in: 0..<5, using: &random) {
        case 0: lines.append(Self.randomLine(&random))
        case 1 where !lines.isEmpty: lines.remove(at: Int.random(in: 0..<lines.count, using: &random))
        case 2 where !lines.isEmpty:
            let i = Int.random(in: 0..<lines.count, using: &random)
            var words = lines[i].split(separator: " ").map(String.init)
            if words.isEmpty { words = [Self.words[0]] }
            words[Int.random(in: 0..<words.count, using: &random)] = Self.words.randomElement(using: &random)!
            lines[i] = words.joined(separator: " ")
        case 3: lines = Self.randomNote(&random).components(separatedBy: "\n")
        default: lines.insert(Self.randomLine(&random), at: Int.random(in: 0...lines.count, using: &random))
        }
        do {
            try r.store.setNote(annotationRef: annotation.id, text: lines.joined(separator: "\n"))
        } catch StoreError.invalidArgument {
            // The note has a pending conflict: settle it instead, as a user would.
            try resolveConflict(r, &random, &stats, on: annotation.id)
        }
    }

    func tag(_ r: Replica, _ random: inout SeededRandom) throws {
        let targets = try r.store.annotations().map(\.id) + r.store.articles().map(\.id)
        guard let id = targets.randomElement(using: &random) else { return }
        try r.store.addTags(ref: id, tags: [Self.tags.randomElement(using: &random)!])
    }

    func untag(_ r: Replica, _ random: inout SeededRandom) throws {
        let tagged = try r.store.annotations().map { ($0.id, $0.tags) } + r.store.articles().map { ($0.id, $0.tags) }
        guard let (id, tags) = tagged.filter({ !$0.1.isEmpty }).randomElement(using: &random) else { return }
        try r.store.removeTags(ref: id, tags: [tags.randomElement(using: &random)!])
    }

    func deleteAnnotation(_ r: Replica, _ random: inout SeededRandom) throws {
        guard let annotation = try r.store.annotations().randomElement(using: &random) else { return }
        try r.store.remove(ref: annotation.id)
    }

    func deleteArticle(_ r: Replica, _ random: inout SeededRandom) throws {
        guard let article = try r.store.articles().randomElement(using: &random) else { return }
        try r.store.remove(ref: article.id)
    }

    func resolveConflict(
        _ r: Replica, _ random: inout SeededRandom, _ stats: inout Stats, on entityID: String? = nil
    ) throws {
        let conflicts = try r.store.conflicts().filter { entityID == nil || $0.entityID == entityID }
        guard let conflict = conflicts.randomElement(using: &random) else { return }
        let choices: [Resolution] = conflict.kind == .delete
            ? [.value("delete"), .value("edit"), .mine, .theirs]
            : [.mine, .theirs, .value(conflict.field == "note" ? Self.randomNote(&random) : "true")]
        do {
            try r.store.resolve(conflictRef: conflict.id, keep: choices.randomElement(using: &random)!)
            stats.resolved += 1
        } catch StoreError.invalidArgument {
            // mine/theirs did not name one value here: settle with the shown one.
            let shown = conflict.versions.last { $0.shown }!.value
            if conflict.kind == .value, case .string(let text) = shown {
                try r.store.resolve(conflictRef: conflict.id, keep: .value(text))
                stats.resolved += 1
            } else if conflict.kind == .delete {
                try r.store.resolve(conflictRef: conflict.id, keep: .value("delete"))
                stats.resolved += 1
            }
        }
    }

    private func exchange(
        from source: Replica, to target: Replica, _ random: inout SeededRandom, _ pages: inout [[SignedRun]],
        _ stats: inout Stats, seed: UInt64
    ) throws {
        stats.exchanges += 1
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 10, let old = pages.randomElement(using: &random) {
            // A re-delivery of an old page: what is held is skipped, anything new must still be in sequence.
            stats.redeliveries += 1
            do { _ = try target.store.apply(old) } catch StoreError.gap { stats.gapsRefused += 1 } catch StoreError.notCausal {
                stats.gapsRefused += 1
            }
            return
        }
        let page = try source.store.runs(
            after: target.store.versionVector(), limit: Int.random(in: 1...60, using: &random))
        guard !page.runs.isEmpty else { return }
        if roll < 15, page.runs.count >= 2 {
            // A page that lost its first run: refused whole (a gap, or a later run names what it
            // lacks), nothing written; or, when nothing else needed it, taken.
            let before = try target.store.versionVector()
            var gapped = page.runs
            gapped.removeFirst()
            do {
                _ = try target.store.apply(gapped)
            } catch StoreError.gap {
                stats.gapsRefused += 1
                #expect(try target.store.versionVector() == before, "seed \(seed): a refused batch moved the vector")
            } catch StoreError.notCausal {
                stats.gapsRefused += 1
                #expect(try target.store.versionVector() == before, "seed \(seed): a refused batch moved the vector")
            }
            return
        }
        stats.conflictsRecorded += try target.store.apply(page.runs).conflicts
        pages.append(page.runs)
        if pages.count > 50 { pages.removeFirst() }
    }

    // MARK: Checks

    /// Every note text ever written is superseded by a write whose author saw it, the shown
    /// value, part of a clean three-way merge, or listed in a conflict.
    static func expectNoTypedNoteLost(_ store: Store, seed: UInt64, stats: inout Stats) throws {
        // Every note write held, and which of them a held note write of the same annotation superseded.
        var writes: [(change: Change, value: JSONValue)] = []
        var superseded = Set<String>()
        let runs = try store.runs(after: VersionVector(), limit: 1_000_000, maxBytes: .max).runs
        for run in runs {
            for change in try run.decoded().changes {
                guard let write = change.write(of: "note") else { continue }
                writes.append((change, write.value))
                for dot in write.supersedes { superseded.insert("\(change.entityID) \(dot)") }
            }
        }
        try store.read { db in
            for (change, value) in writes where !superseded.contains("\(change.entityID) \(change.dot)") {
                let id = change.entityID
                let shown = try String.fetchOne(db, sql: "SELECT note FROM annotation WHERE id = ?", arguments: [id])
                let conflict = try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM conflict WHERE entity_id = ? AND field = 'note'", arguments: [id]) ?? false
                let liveValues = try Set(String.fetchAll(
                    db, sql: "SELECT value FROM live_value WHERE entity_id = ? AND field = 'note'", arguments: [id]))
                let merged = !conflict && liveValues.count > 1
                if merged { stats.merges += 1 }
                let kept = value.stringValue == shown || value == .null && shown == nil || conflict || merged
                #expect(kept, "seed \(seed): the note \(value) on \(id) was lost")
            }
        }
    }

    static func conflictSignature(_ store: Store) throws -> [String] {
        try store.conflicts().map { c in
            "\(c.id) \(c.kind) \(c.field) " + c.versions.map { "\($0.origin):\($0.seq)=\($0.value) \($0.shown)" }.joined(separator: ",")
        }
    }

    static func randomLine(_ random: inout SeededRandom) -> String {
        (0..<Int.random(in: 2...5, using: &random)).map { _ in words.randomElement(using: &random)! }.joined(separator: " ")
    }

    static func randomNote(_ random: inout SeededRandom) -> String {
        (0..<Int.random(in: 1...4, using: &random)).map { _ in randomLine(&random) }.joined(separator: "\n")
    }
}
