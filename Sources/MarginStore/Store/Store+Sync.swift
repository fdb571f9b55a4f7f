import Foundation
import GRDB

/// What applying a batch did.
public struct ApplyReport: Codable, Sendable, Equatable {
    /// Changes new to this replica, now held.
    public var applied: Int
    /// Changes already held (same origin and seq), skipped.
    public var duplicates: Int
    /// Conflicts that appeared while applying.
    public var conflicts: Int
    /// The version vector after the batch.
    public var vector: VersionVector
}

/// A page of changes a peer lacks.
public struct ChangePage: Codable, Sendable {
    public var changes: [Change]
    /// True when more changes remain after this page.
    public var more: Bool
}

extension Store {
    /// Limits on what a received change may carry.
    public enum Limits {
        public static let maxIDLength = 128
        public static let maxFieldLength = 200
        public static let maxValueBytes = 4 * 1024 * 1024
        public static let maxSupersedes = 1_000
        /// The most bytes of changes one page carries, a pull's answer or a push (at least one
        /// change): with `maxValueBytes` per value, 5,000 changes could otherwise pass a sync
        /// server's 16 MiB body limit, and a laptop's memory would follow the values' sizes.
        public static let maxPageBytes = 8 * 1024 * 1024
    }

    /// Per origin, the highest contiguous seq this replica holds.
    public func versionVector() throws -> VersionVector {
        try read { db in
            var vector = VersionVector()
            for row in try Row.fetchAll(db, sql: "SELECT origin, seq FROM version") { vector[row[0]] = row[1] }
            return vector
        }
    }

    /// The changes held here that a peer at `vector` lacks, in seq order per origin, at most `limit`
    /// and about `maxBytes` (at least one change).
    public func changes(after vector: VersionVector, limit: Int = 1_000, maxBytes: Int = Limits.maxPageBytes) throws
        -> ChangePage
    {
        let page = try storedChanges(after: vector, limit: limit, maxBytes: maxBytes)
        return ChangePage(changes: try page.changes.map { try $0.decoded() }, more: page.more)
    }

    /// Applies a batch of changes from other replicas in one transaction: all of it or nothing.
    ///
    /// A change already held is skipped; a change that would leave a gap in its origin's seq, one
    /// stamped too far in the future, or a malformed one refuses the whole batch.
    /// - Throws: `StoreError.gap`, `.clockSkew`, `.invalidChange`; nothing is written then.
    public func apply(_ batch: [Change]) throws -> ApplyReport {
        // Each value is encoded once: validation measures it, the log stores it.
        let values = try batch.map { try validate($0) }
        let nowMS = Int64(clock().timeIntervalSince1970 * 1000)
        let limitMS = Int64(maxClockSkew * 1000)
        if let ahead = batch.max(by: { $0.hlc < $1.hlc }), ahead.hlc.milliseconds > nowMS + limitMS {
            throw StoreError.clockSkew(
                origin: ahead.origin, aheadBy: Double(ahead.hlc.milliseconds - nowMS) / 1000, limit: maxClockSkew)
        }
        var ordered = Array(zip(batch, values))
        // Pages arrive in (origin, seq) order already; sort only when they do not.
        let inOrder = zip(batch, batch.dropFirst()).allSatisfy { ($0.origin, $0.seq) <= ($1.origin, $1.seq) }
        if !inOrder { ordered.sort { ($0.0.origin, $0.0.seq) < ($1.0.origin, $1.0.seq) } }
        return try write { context in
            var vector = try context.currentVector()
            // Which of the batch's changes a held write supersedes (dead on arrival): one query per origin.
            var ranges: [String: ClosedRange<Int64>] = [:]
            for (change, _) in ordered {
                let range = ranges[change.origin]
                ranges[change.origin] = range.map { min($0.lowerBound, change.seq)...max($0.upperBound, change.seq) }
                    ?? change.seq...change.seq
            }
            for (origin, range) in ranges { try context.preloadSuperseded(origin: origin, seqs: range) }
            var applied = 0
            var duplicates = 0
            for (change, value) in ordered {
                let held = vector[change.origin]
                if change.seq <= held {
                    duplicates += 1
                    continue
                }
                guard change.seq == held + 1 else {
                    throw StoreError.gap(origin: change.origin, expected: held + 1, got: change.seq)
                }
                if change.origin == replicaID {
                    throw StoreError.invalidChange(
                        "change \(change.dot) claims to come from this replica, which never made it "
                            + "(two stores share one replica id: was a store file copied? run `margin init` on a fresh store)")
                }
                try context.integrate(change, value: value)
                context.received(change)
                vector[change.origin] = change.seq
                applied += 1
            }
            try context.finish()
            return ApplyReport(
                applied: applied, duplicates: duplicates, conflicts: context.conflictsRecorded, vector: vector)
        }
    }

    static let originBytes = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".utf8))
    /// `originBytes` as a table by byte value (checked for every change received).
    static let isOriginByte: [Bool] = (0..<256).map { originBytes.contains(UInt8($0)) }

    /// Checks a received change; returns its value as canonical JSON.
    private func validate(_ change: Change) throws -> String {
        func refuse(_ why: String) -> StoreError { .invalidChange("change \(change.dot): \(why)") }
        // Origins travel in version vectors (`origin:seq,origin:seq` in a query), so they are
        // restricted to characters those forms never need to escape; replica ids are UUIDs.
        guard !change.origin.isEmpty, change.origin.utf8.count <= Limits.maxIDLength,
              change.origin.utf8.allSatisfy({ Self.isOriginByte[Int($0)] })
        else {
            throw refuse("origin must be 1 to \(Limits.maxIDLength) characters from A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        guard change.seq >= 1 else { throw refuse("seq must be 1 or more") }
        guard change.hlc.rawValue > 0 else { throw refuse("hlc must be positive") }
        guard !change.entityID.isEmpty, change.entityID.utf8.count <= Limits.maxIDLength else {
            throw refuse("entity_id must be 1 to \(Limits.maxIDLength) bytes")
        }
        guard !change.field.isEmpty, change.field.utf8.count <= Limits.maxFieldLength else {
            throw refuse("field must be 1 to \(Limits.maxFieldLength) bytes")
        }
        // SQLite text bound from Swift stops at U+0000: "a\0b" would be stored as "a".
        if change.entityID.utf8.contains(0) || change.field.utf8.contains(0) {
            throw refuse("entity_id and field may not contain U+0000")
        }
        if let dot = change.supersedes.first(where: { !$0.origin.utf8.allSatisfy { Self.isOriginByte[Int($0)] } }) {
            throw refuse("supersedes names a malformed origin \(dot.origin.debugDescription)")
        }
        guard change.supersedes.count <= Limits.maxSupersedes else {
            throw refuse("supersedes more than \(Limits.maxSupersedes) dots")
        }
        // The log's parser reads back no deeper (the wire's JSON decoder allows 512 levels).
        guard change.value.nesting <= JSONValue.maxNesting else {
            throw refuse("value is nested deeper than \(JSONValue.maxNesting) levels")
        }
        let value = change.value.canonical
        guard value.utf8.count <= Limits.maxValueBytes else {
            throw refuse("value is larger than \(Limits.maxValueBytes) bytes")
        }
        if change.supersedes.contains(where: { $0.origin == change.origin && $0.seq >= change.seq }) {
            throw refuse("supersedes a later change of its own origin")
        }
        return value
    }
}
