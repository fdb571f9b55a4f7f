import Foundation
import Testing
@testable import MarginStore

/// Every limit a peer applies to a change is a protocol constant (`ChangeLimits`) that the store
/// applies when the change is written here: just under a limit passes here and on a peer, just over
/// is refused here with a sentence naming the limit, and nothing is written. So a replica never
/// holds a change its hub would refuse forever.
@Suite struct LimitsTests {
    /// Writes `body` locally, then delivers what it logged to a peer.
    private func roundTrip(_ write: (Store) throws -> Void) throws -> (local: Store, peer: Store) {
        let local = try Store.inMemory(name: "local")
        try write(local)
        let peer = try Store.inMemory(name: "peer")
        _ = try peer.apply(try local.runs(after: VersionVector(), limit: 5_000, maxBytes: .max).runs)
        #expect(try peer.exportJSON() == local.exportJSON())
        return (local, peer)
    }

    private func expectRefusedLocally(
        _ limit: String, setup: (Store) throws -> Void = { _ in }, _ write: (Store) throws -> Void
    ) throws {
        let store = try Store.inMemory(name: "local")
        try setup(store)
        let before = try store.versionVector()
        #expect {
            try write(store)
        } throws: { error in
            guard let error = error as? StoreError, case .invalidArgument(let message) = error else { return false }
            return message.contains(limit)
        }
        #expect(try store.versionVector() == before, "a refused write was logged")
    }

    @Test func valueSize() throws {
        // A body's canonical JSON is its text plus two quotes.
        let under = String(repeating: "a", count: ChangeLimits.maxValueBytes - 2)
        _ = try roundTrip { _ = try $0.importArticles([ImportedArticle(url: "https://e.example/a", title: "A", body: under)]) }
        try expectRefusedLocally("4 MiB") {
            _ = try $0.importArticles([ImportedArticle(url: "https://e.example/a", title: "A", body: under + "a")])
        }
    }

    @Test func nesting() throws {
        func nested(_ levels: Int) -> JSONValue {
            var value = JSONValue.string("deep")
            for _ in 1..<levels { value = .array([value]) }
            return value
        }
        #expect(nested(ChangeLimits.maxValueNesting).nesting == ChangeLimits.maxValueNesting)
        _ = try roundTrip { store in
            try store.write { try $0.write(.annotation, "n1", "extra", nested(ChangeLimits.maxValueNesting)) }
        }
        try expectRefusedLocally("nested at most \(ChangeLimits.maxValueNesting)") { store in
            try store.write { try $0.write(.annotation, "n1", "extra", nested(ChangeLimits.maxValueNesting + 1)) }
        }
    }

    @Test func fieldNameLength() throws {
        // A tag is the field "tag/NAME": 196 bytes of name make a 200-byte field (49 four-byte emoji).
        let article = TestSupport.article(1)
        let tag = String(repeating: "🍐", count: 49)
        let (local, peer) = try roundTrip { store in
            let id = try store.importArticles([article])[0].id
            try store.addTags(ref: id, tags: [tag])
        }
        #expect(try peer.articles().first?.tags == [tag])
        #expect(try local.articles().first?.tags == [tag])
        try expectRefusedLocally("at most \(ChangeLimits.maxFieldLength) bytes", setup: { _ = try $0.importArticles([article]) }) {
            try $0.addTags(ref: try $0.articles()[0].id, tags: [tag + "x"])
        }
    }

    @Test func idLength() throws {
        let id = String(repeating: "x", count: ChangeLimits.maxIDLength)
        _ = try roundTrip { store in try store.write { try $0.write(.annotation, id, "note", .string("n")) } }
        try expectRefusedLocally("1 to \(ChangeLimits.maxIDLength) bytes") { store in
            try store.write { try $0.write(.annotation, id + "x", "note", .string("n")) }
        }
    }

    @Test func nulIsRefusedEverywhereItCouldBeCut() throws {
        try expectRefusedLocally("U+0000") { store in
            _ = try store.importArticles([ImportedArticle(url: "https://e.example/n", title: "N", body: "before\u{0}after")])
        }
        try expectRefusedLocally("U+0000", setup: { _ = try $0.importArticles([TestSupport.article(1)]) }) {
            _ = try $0.highlight(articleRef: try $0.articles()[0].id, anchor: .position(start: 0, end: 5), note: "a\u{0}b")
        }
    }

    @Test func fieldsPerChangeAndDotsPerFieldStayWithinTheProtocol() throws {
        // More fields of one entity in one transaction than a change may hold: several changes.
        let (local, _) = try roundTrip { store in
            try store.write { context in
                for n in 0..<(ChangeLimits.maxFields + 10) {
                    try context.write(.annotation, "n1", "field-\(n)", .int(Int64(n)))
                }
            }
        }
        let runs = try local.runs(after: VersionVector(), limit: 5_000).runs
        for run in runs {
            for change in try run.decoded().changes { #expect(change.writes.count <= ChangeLimits.maxFields) }
        }
    }

    @Test func transactionsPastARunAreSeveralRunsThatEachFit() throws {
        let bodies = (0..<3).map { String(repeating: "w\($0) ", count: (ChangeLimits.maxValueBytes - 16) / 3) }
        let (local, _) = try roundTrip { store in
            _ = try store.importArticles(bodies.enumerated().map {
                ImportedArticle(url: "https://e.example/big/\($0)", title: "Big \($0)", body: $1)
            })
        }
        let runs = try local.runs(after: VersionVector(), limit: 5_000, maxBytes: .max).runs
        #expect(runs.allSatisfy { $0.body.count <= ChangeLimits.maxRunBytes })
        #expect(runs.count >= 3)
    }
}
