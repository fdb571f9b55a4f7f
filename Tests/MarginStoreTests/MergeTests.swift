import Foundation
import GRDB
import Testing
@testable import MarginStore

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { now = start }

    var date: Date { lock.withLock { now } }

    func advance(_ seconds: TimeInterval) { lock.withLock { now += seconds } }

    func set(_ date: Date) { lock.withLock { now = date } }
}

/// A replica in memory with its own clock, as tests use it.
struct Replica {
    let store: Store
    let clock: ManualClock

    init(_ name: String, clock: ManualClock = ManualClock()) throws {
        var options = Store.Options()
        let clock = clock
        options.clock = { clock.date }
        store = try Store.inMemory(name: name, options: options)
        self.clock = clock
    }

    /// Pulls everything `other` holds that this replica lacks, in pages.
    func pull(from other: Replica, pageSize: Int = 100) throws {
        while true {
            let page = try other.store.runs(after: store.versionVector(), limit: pageSize)
            if page.runs.isEmpty { return }
            _ = try store.apply(page.runs)
            if !page.more { return }
        }
    }

    func export() throws -> String { String(decoding: try store.exportJSON(), as: UTF8.self) }
}

func sync(_ a: Replica, _ b: Replica) throws {
    try a.pull(from: b)
    try b.pull(from: a)
}

@Suite struct MergeTests {
    /// Given one article and annotation on A, synced to B.
    private func pair() throws -> (Replica, Replica, String, String) {
        let clock = ManualClock()
        let a = try Replica("a", clock: clock)
        let b = try Replica("b", clock: clock)
        let article = try a.store.importArticles([TestSupport.article(1)])[0].id
        let annotation = try a.store.highlight(
            articleRef: article, anchor: .quote(exact: "apples", prefix: nil, suffix: nil),
            note: "line one\nline two\nline three").id
        try sync(a, b)
        clock.advance(1)
        return (a, b, article, annotation)
    }

    @Test func differentFieldsOfOneAnnotationBothWin() throws {
        let (a, b, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "new note")
        _ = try b.store.write { ctx in try ctx.write(.annotation, id, "color", .string("green")) }
        try sync(a, b)
        #expect(try a.store.annotation(id).note == "new note")
        #expect(try a.store.annotation(id).color == "green")
        #expect(try a.export() == b.export())
        #expect(try a.store.conflicts().isEmpty)
    }

    @Test func concurrentNoteEditsMergeThreeWay() throws {
        let (a, b, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "line ONE\nline two\nline three")
        try b.store.setNote(annotationRef: id, text: "line one\nline two\nline three\nline four")
        try sync(a, b)
        let merged = "line ONE\nline two\nline three\nline four"
        #expect(try a.store.annotation(id).note == merged)
        #expect(try b.store.annotation(id).note == merged)
        #expect(try a.store.conflicts().isEmpty)
        // Editing the merged note settles both writes everywhere.
        try a.store.setNote(annotationRef: id, text: merged + "\nline five")
        try sync(a, b)
        #expect(try b.store.annotation(id).note == merged + "\nline five")
        // One live write again: nothing kept aside in live_value.
        #expect(try b.store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM live_value WHERE field = 'note'") } == 0)
    }

    @Test func overlappingNoteEditsBecomeAConflictThatResolvingSettlesEverywhere() throws {
        let (a, b, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "line one\nline 2 from a\nline three")
        a.clock.advance(1)
        try b.store.setNote(annotationRef: id, text: "line one\nline 2 from b\nline three")
        try sync(a, b)
        let conflicts = try a.store.conflicts()
        #expect(conflicts.count == 1)
        #expect(try b.store.conflicts() == conflicts.map { c in
            var c = c
            c.versions = c.versions.map { v in var v = v; v.mine.toggle(); return v }
            return c
        })
        #expect(Set(conflicts[0].versions.map(\.value)) == [.string("line one\nline 2 from a\nline three"),
                                                            .string("line one\nline 2 from b\nline three")])
        // The later write (b's) is shown on both replicas.
        #expect(try a.store.annotation(id).note == "line one\nline 2 from b\nline three")
        // A plain edit is refused while the conflict is pending: it would bury the other text.
        #expect(throws: StoreError.self) { try a.store.setNote(annotationRef: id, text: "x") }
        try a.store.resolve(conflictRef: conflicts[0].id, keep: .mine)
        try sync(a, b)
        #expect(try b.store.conflicts().isEmpty)
        #expect(try b.store.annotation(id).note == "line one\nline 2 from a\nline three")
        #expect(try a.export() == b.export())
    }

    @Test func equalConcurrentValuesAreNotConflicts() throws {
        let (a, b, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "same")
        try b.store.setNote(annotationRef: id, text: "same")
        try sync(a, b)
        #expect(try a.store.conflicts().isEmpty)
        // Two laptops importing the same story write equal fields: one article, no conflict.
        let c = try Replica("c", clock: a.clock)
        _ = try c.store.importArticles([try TestSupport.seedArticle()])
        _ = try a.store.importArticles([try TestSupport.seedArticle()])
        try sync(a, c)
        #expect(try a.store.articles().count == 2)
        #expect(try a.store.conflicts().isEmpty)
    }

    @Test func tagsMergeAsAnObservedRemoveSet() throws {
        let (a, b, article, _) = try pair()
        try a.store.addTags(ref: article, tags: ["x", "y"])
        try sync(a, b)
        // An add on one laptop and an unrelated remove on the other both hold.
        try a.store.addTags(ref: article, tags: ["z"])
        try b.store.removeTags(ref: article, tags: ["x"])
        try sync(a, b)
        #expect(try a.store.article(article).tags == ["y", "z"])
        #expect(try b.store.article(article).tags == ["y", "z"])
        // A concurrent add and remove of the same tag: the add wins (a's remove never saw b's new add).
        try a.store.removeTags(ref: article, tags: ["y"])
        try b.store.removeTags(ref: article, tags: ["y"])
        try b.store.addTags(ref: article, tags: ["y"])
        try sync(a, b)
        #expect(try a.store.article(article).tags == ["y", "z"])
        #expect(try b.store.article(article).tags == ["y", "z"])
        try a.store.removeTags(ref: article, tags: ["y", "z"])
        try sync(a, b)
        #expect(try b.store.article(article).tags == [])
        try a.store.addTags(ref: article, tags: ["w"])
        try b.store.addTags(ref: article, tags: ["w"])
        try sync(a, b)
        try a.store.removeTags(ref: article, tags: ["w"])  // removes only the add-dots a saw
        #expect(try a.store.article(article).tags == [])
        try sync(a, b)
        #expect(try b.store.article(article).tags == [])
        #expect(try a.store.conflicts().isEmpty)
    }

    @Test func anEditConcurrentWithADeleteIsAConflict() throws {
        let (a, b, _, id) = try pair()
        try a.store.remove(ref: id)
        try b.store.setNote(annotationRef: id, text: "typed on b while a deleted it")
        try sync(a, b)
        for replica in [a, b] {
            let conflicts = try replica.store.conflicts()
            #expect(conflicts.map(\.kind) == [.delete])
            #expect(conflicts[0].versions.contains { $0.value == .string("typed on b while a deleted it") })
            #expect(try replica.store.annotations().isEmpty)  // the tombstone is shown…
        }
        // …and the edit is kept: settling for the edit brings the annotation back, note included.
        try b.store.resolve(conflictRef: try b.store.conflicts()[0].id, keep: .mine)
        try sync(a, b)
        #expect(try a.store.annotation(id).note == "typed on b while a deleted it")
        #expect(try a.store.conflicts().isEmpty)
        #expect(try a.export() == b.export())
    }

    @Test func aDeleteThatSawTheEditIsNotAConflict() throws {
        let (a, b, _, id) = try pair()
        try b.store.setNote(annotationRef: id, text: "edited")
        try sync(a, b)
        try a.store.remove(ref: id)
        try sync(a, b)
        #expect(try b.store.conflicts().isEmpty)
        #expect(try b.store.annotations().isEmpty)
    }

    @Test func applyIsIdempotent() throws {
        let (a, _, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "again")
        let all = try a.store.runs(after: VersionVector(), limit: 10_000).runs
        let count = all.reduce(0) { $0 + $1.count }
        let c = try Replica("c", clock: a.clock)
        let first = try c.store.apply(all)
        let snapshot = try c.export()
        let second = try c.store.apply(all)
        #expect(first.applied == count && first.duplicates == 0)
        #expect(second.applied == 0 && second.duplicates == count)
        #expect(try c.export() == snapshot)
        #expect(try c.export() == a.export())
    }

    @Test func applyIsCommutativeAcrossOrigins() throws {
        // Given three replicas that edit the same things concurrently.
        let clock = ManualClock()
        let replicas = try ["a", "b", "c"].map { try Replica($0, clock: clock) }
        let article = try replicas[0].store.importArticles([TestSupport.article(1)])[0].id
        let id = try replicas[0].store.highlight(
            articleRef: article, anchor: .position(start: 0, end: 5), note: "base").id
        try sync(replicas[0], replicas[1])
        try sync(replicas[0], replicas[2])
        for (i, r) in replicas.enumerated() {
            clock.advance(0.001)
            try r.store.setNote(annotationRef: id, text: "note from \(i)")
            try r.store.addTags(ref: article, tags: ["t\(i)"])
        }
        try replicas[2].store.remove(ref: id)
        // When their batches reach fresh replicas in every order.
        // Each replica's own runs, after what every replica saw before the concurrent edits.
        let base = try replicas[0].store.versionVector()
        let common = try replicas[0].store.runs(after: VersionVector(), limit: 10_000).runs
            .filter { $0.last <= base[$0.origin] }
        let batches = try replicas.map { r in
            try r.store.runs(after: base, limit: 10_000).runs.filter { $0.origin == r.store.replicaID }
        }
        var exports: Set<String> = []
        var conflictSets: Set<String> = []
        for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let fresh = try Replica("fresh", clock: clock)
            _ = try fresh.store.apply(common)
            for i in order { _ = try fresh.store.apply(batches[i]) }
            exports.insert(try fresh.export())
            conflictSets.insert(try fresh.store.conflicts().map { "\($0.id) \($0.versions.map(\.value))" }.joined())
        }
        // Then every order gives the same bytes and the same conflicts.
        #expect(exports.count == 1)
        #expect(conflictSets.count == 1)
        #expect(!conflictSets.first!.isEmpty)
    }

    @Test func aBatchWithAGapIsRefusedWhole() throws {
        let (a, _, _, _) = try pair()
        let all = try a.store.runs(after: VersionVector(), limit: 10_000).runs
        let c = try Replica("c", clock: a.clock)
        var gapped = all.filter { $0.origin == a.store.replicaID }
        #expect(gapped.count >= 3)
        gapped.remove(at: 1)
        #expect(throws: StoreError.self) { try c.store.apply(gapped) }
        #expect(try c.store.versionVector() == VersionVector([c.store.replicaID: 1]))
        #expect(try TestSupport.count(c.store, "run") == 1)
        _ = try c.store.apply(all)
        #expect(try c.export() == a.export())
    }

    @Test func anInterruptedApplyLeavesTheStoreAsBefore() throws {
        let (a, b, _, id) = try pair()
        try a.store.setNote(annotationRef: id, text: "one more")
        let before = try b.export()
        let runsBefore = try TestSupport.count(b.store, "run")
        let vectorBefore = try b.store.versionVector()
        var batch = try a.store.runs(after: b.store.versionVector(), limit: 100).runs
        // A valid run first, then one that skips ahead: the first is integrated, then the gap throws.
        var bad = batch[0]
        bad.first += 5
        bad.last += 5
        batch.append(bad)
        #expect(throws: StoreError.self) { try b.store.apply(batch) }
        #expect(try b.export() == before)
        #expect(try TestSupport.count(b.store, "run") == runsBefore)
        #expect(try b.store.versionVector() == vectorBefore)
    }

    @Test func changesFromTheFutureAreRefusedAndPoisonNothing() throws {
        // Given laptop b whose clock runs an hour ahead.
        let clockA = ManualClock()
        let clockB = ManualClock(clockA.date.addingTimeInterval(3_600))
        let a = try Replica("a", clock: clockA)
        let b = try Replica("b", clock: clockB)
        _ = try b.store.importArticles([TestSupport.article(1)])
        // When a receives b's changes: refused, naming the origin and the skew.
        do {
            try a.pull(from: b)
            Issue.record("expected a clock skew refusal")
        } catch let error as StoreError {
            guard case .clockSkew(let origin, let ahead, let limit) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(origin == b.store.replicaID)
            #expect(ahead >= 3_599 && limit == 300)
            #expect(error.description.contains("1.0 hours ahead"))
        }
        #expect(try a.store.articles().isEmpty)
        // Then after b's clock is fixed, b's new changes go through; the old ones still wait for a's clock.
        clockA.advance(3_600)
        try a.pull(from: b)
        #expect(try a.store.articles().count == 1)
    }

    @Test func theClockNeverRunsBackwardsAndNeverFollowsAPeerAhead() throws {
        let clockA = ManualClock()
        let clockB = ManualClock(clockA.date.addingTimeInterval(200))  // ahead, within the 5-minute skew
        let a = try Replica("a", clock: clockA)
        let b = try Replica("b", clock: clockB)
        _ = try b.store.importArticles([TestSupport.article(1)])
        try a.pull(from: b)
        let received = try b.store.log().map(\.hlc).max()!
        _ = try a.store.importArticles([TestSupport.article(2)])
        let local = try a.store.log().filter { $0.origin == a.store.replicaID }.map(\.hlc).max()!
        // A's clock stays at its own time: taking in B's changes stamped ahead did not move it.
        #expect(local < received)
        #expect(local.milliseconds == Int64(clockA.date.timeIntervalSince1970 * 1000))
        clockA.set(clockA.date.addingTimeInterval(-86_400))  // the wall clock jumps back a day
        _ = try a.store.importArticles([TestSupport.article(3)])
        let later = try a.store.log().filter { $0.origin == a.store.replicaID }.map(\.hlc).max()!
        #expect(later > local)
    }

    @Test func logShowsWhoChangedWhatFromOldToNew() throws {
        let (a, b, _, id) = try pair()
        try b.store.setNote(annotationRef: id, text: "b's words")
        try sync(a, b)
        let entry = try a.store.log(entityID: id).first { $0.field == "note" }!
        #expect(entry.originName == "b")
        #expect(entry.previous == .string("line one\nline two\nline three"))
        #expect(entry.value == .string("b's words"))
    }
}

@Suite struct DigestTests {
    @Test func convergedReplicasDigestAlikeAndADifferenceNamesItsKind() throws {
        // Given two replicas that exchanged everything.
        let clock = ManualClock()
        let a = try Replica("a", clock: clock)
        let b = try Replica("b", clock: clock)
        let article = try a.store.importArticles([TestSupport.article(1)])[0].id
        _ = try a.store.highlight(articleRef: article, anchor: .quote(exact: "apples", prefix: nil, suffix: nil))
        try sync(a, b)
        #expect(try a.store.digest() == b.store.digest())
        #expect(try a.store.digest().counts["annotations"] == 1)
        // When one of them tags the article and has not synced yet,
        try a.store.addTags(ref: article, tags: ["x"])
        // Then the digests differ in the kinds that changed, and agree again after a sync.
        let differences = try a.store.digest().differences(from: b.store.digest())
        #expect(differences == ["articles", "changes", "tags"])
        try sync(a, b)
        #expect(try a.store.digest().differences(from: b.store.digest()).isEmpty)
    }
}
