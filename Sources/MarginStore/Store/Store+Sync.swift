import Foundation
import GRDB
import GRDBSQLite

/// What applying a batch did.
public struct ApplyReport: Codable, Sendable, Equatable {
    /// Changes new to this replica, now held.
    public var applied: Int
    /// Changes already held, skipped.
    public var duplicates: Int
    /// Conflicts that appeared while applying.
    public var conflicts: Int
    /// The version vector after the batch.
    public var vector: VersionVector
}

extension Store {
    /// The protocol's limits (`ChangeLimits`), under the name callers know.
    public typealias Limits = ChangeLimits

    /// Per origin, the highest contiguous seq this replica holds.
    public func versionVector() throws -> VersionVector {
        try read { db in try Self.vector(db) }
    }

    static func vector(_ db: Database) throws -> VersionVector {
        var vector = VersionVector()
        for row in try Row.fetchAll(db, sql: "SELECT id, seq FROM origin WHERE seq > 0") { vector[row[0]] = row[1] }
        return vector
    }

    /// The runs held here that a peer at `vector` lacks, in a causal order (the order they arrived
    /// here), at most `limit` changes and about `maxBytes` (at least one run).
    /// - Parameter excluding: origins to leave out (one whose runs a peer refused as equivocation).
    public func runs(
        after vector: VersionVector, limit: Int = 1_000, maxBytes: Int = ChangeLimits.maxPageBytes,
        excluding: Set<String> = []
    ) throws -> RunPage {
        precondition(limit > 0)
        return try read { db in try ChangeLog.page(after: vector, limit: limit, maxBytes: maxBytes, excluding: excluding, db) }
    }

    /// Applies runs received from a peer in one transaction: all of them or nothing.
    ///
    /// Every run is checked before anything is written: its body keeps the protocol's shape and
    /// limits; a signed run's signature verifies with its key, which is its origin's (derived from
    /// the id, or the key its earlier runs used); it continues its origin's chain (`prev` names the
    /// held run before it); every dot it names is held or comes earlier in the batch; none is
    /// stamped too far ahead. A run already held is skipped; a held seq arriving with other bytes
    /// is equivocation, recorded (`equivocations()`) and refused.
    /// - Parameter via: who delivered the batch (a token's or a remote's name), for the records.
    /// - Throws: `StoreError.forgedRun`, `.equivocation`, `.notCausal`, `.gap`, `.clockSkew`,
    ///   `.invalidChange`; nothing of the batch is written then.
    public func apply(_ runs: [SignedRun], via: String? = nil) throws -> ApplyReport {
        let decoded = try runs.map { try check($0) }
        do {
            return try write { context in try apply(decoded, &context) }
        } catch let refusal as Equivocation {
            try? recordEquivocation(
                origin: refusal.origin, seq: refusal.seq, via: via, heldHash: refusal.heldHash, receivedHash: refusal.receivedHash)
            throw StoreError.equivocation(
                origin: refusal.origin, seq: refusal.seq,
                ownOrigin: refusal.origin == replicaID || refusal.origin == legacyReplicaID)
        }
    }

    /// Records an equivocation (for `margin status`): one seen here, or one a peer refused.
    public func recordEquivocation(
        origin: String, seq: Int64, via: String?, heldHash: [UInt8] = [], receivedHash: [UInt8] = []
    ) throws {
        try write { context in
            try context.statements.run(
                """
                INSERT OR IGNORE INTO equivocation(origin, seq, held_hash, received_hash, seen_at, via)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [.text(origin), .int(seq), .blob(heldHash), .blob(receivedHash),
                 .text(ISO8601DateFormatter().string(from: clock())), via.map { .text($0) } ?? .null])
        }
    }

    /// A dot held with other bytes, found while applying (recorded after the batch rolled back).
    struct Equivocation: Error {
        var origin: String
        var seq: Int64
        var heldHash: [UInt8]
        var receivedHash: [UInt8]
    }

    /// The checks that need no store state: shape, limits, hash, signature, key binding, clock.
    private func check(_ signed: SignedRun) throws -> (signed: SignedRun, run: Run) {
        var signed = signed
        signed.hash = Hashing.sha256(signed.body)
        let run: Run
        do {
            run = try RunCodec.decode(signed.body)
        } catch let error as RunError {
            // Named by its envelope: the body may be too broken to say whose it is.
            throw StoreError.invalidChange("run \(signed.origin):\(signed.first): \(error.reason)")
        }
        guard run.origin == signed.origin, run.first == signed.first, run.last == signed.last else {
            throw StoreError.invalidChange(
                "a run's envelope says \(signed.origin):\(signed.first)...\(signed.last) but its body holds "
                    + "\(run.origin):\(run.first)...\(run.last)")
        }
        if let signature = signed.signature {
            guard let key = signed.key, ReplicaIdentity.verify(signature: signature, runHash: signed.hash, publicKey: key)
            else {
                throw StoreError.forgedRun(origin: run.origin, seq: run.first, reason: "its signature does not verify")
            }
            if ReplicaIdentity.isKeyDerived(run.origin), ReplicaIdentity.id(publicKey: key) != run.origin {
                throw StoreError.forgedRun(
                    origin: run.origin, seq: run.first, reason: "it is signed with a key that is not \(run.origin)'s")
            }
        } else if ReplicaIdentity.isKeyDerived(run.origin) {
            throw StoreError.forgedRun(origin: run.origin, seq: run.first, reason: "it is not signed")
        }
        let nowMS = Int64(clock().timeIntervalSince1970 * 1000)
        let limitMS = Int64(maxClockSkew * 1000)
        if let ahead = run.changes.max(by: { $0.hlc < $1.hlc }), ahead.hlc.milliseconds > nowMS + limitMS {
            throw StoreError.clockSkew(
                origin: run.origin, aheadBy: Double(ahead.hlc.milliseconds - nowMS) / 1000, limit: maxClockSkew)
        }
        return (signed, run)
    }

    private func apply(_ batch: [(signed: SignedRun, run: Run)], _ context: inout WriteContext) throws -> ApplyReport {
        var applied = 0
        var duplicates = 0
        let statements = context.statements
        for (signed, run) in batch {
            let own = run.origin == replicaID || run.origin == legacyReplicaID
            let num = context.origins.numbering(run.origin)
            var entry = context.origins[num]
            if own, run.last > entry.seq {
                throw Equivocation(origin: run.origin, seq: max(run.first, entry.seq + 1), heldHash: [], receivedHash: signed.hash)
            }
            if run.last <= entry.seq {
                try checkHeld(signed, run, num: num, entry: &entry, statements)
                context.origins[num] = entry
                duplicates += run.changes.count
                continue
            }
            guard run.first <= entry.seq + 1 else {
                throw StoreError.gap(origin: run.origin, expected: entry.seq + 1, got: run.first)
            }
            let legacy = !ReplicaIdentity.isKeyDerived(run.origin)
            var newFrom = run.first
            if run.first <= entry.seq {
                // A run that starts below what is held: protocol-1 history cut into runs elsewhere
                // (a longer copy of an unsigned run held here). What is held must be its prefix.
                try replaceHeldPrefix(signed, run, num: num, held: entry.seq, &context)
                duplicates += Int(entry.seq - run.first + 1)
                newFrom = entry.seq + 1
            }
            if let key = signed.key, signed.signature != nil {
                if let held = entry.key, held != key {
                    throw StoreError.forgedRun(
                        origin: run.origin, seq: run.first, reason: "it is signed with another key than its earlier runs")
                }
                entry.key = key
            } else if entry.key != nil {
                throw StoreError.forgedRun(
                    origin: run.origin, seq: run.first, reason: "it is not signed, but \(run.origin) signs its runs")
            }
            let expectedPrev: [UInt8]
            if run.first == 1 {
                expectedPrev = []
            } else if run.first == entry.seq + 1, let head = entry.head {
                expectedPrev = head
            } else {
                expectedPrev = try ChangeLog.run(of: num, containing: run.first - 1, statements)
                    .flatMap { $0.last == run.first - 1 ? $0.hash : nil } ?? []
            }
            guard run.prev == expectedPrev else {
                // Signed with the origin's own key, yet continuing another history: the key's holder
                // wrote twice under these seqs (two stores writing as one replica), not a forger.
                if signed.signature != nil, entry.key == signed.key, run.first <= entry.seq + 1 {
                    throw Equivocation(origin: run.origin, seq: run.first - 1, heldHash: entry.head ?? [], receivedHash: run.prev)
                }
                throw StoreError.forgedRun(
                    origin: run.origin, seq: run.first,
                    reason: "its prev does not name the held run before it: truncated, reordered or altered")
            }
            for change in run.changes where change.seq >= newFrom {
                try checkCausal(change, legacy: legacy, context.origins)
            }
            let kept = newFrom == run.first ? run : Run(
                origin: run.origin, first: newFrom, prev: run.prev, changes: run.changes.filter { $0.seq >= newFrom })
            try context.appendRun(signed, originNum: num, hlc: run.changes.map(\.hlc.rawValue).max() ?? 0)
            entry.seq = run.last
            entry.head = signed.hash
            context.origins[num] = entry
            try context.receive(kept, originNum: num, legacy: legacy)
            applied += kept.changes.count
        }
        let vector = context.currentVector()
        try context.finish()
        return ApplyReport(applied: applied, duplicates: duplicates, conflicts: context.conflictsRecorded, vector: vector)
    }

    /// Every dot a change names (superseded writes, a delete's context) must be held: a change
    /// cannot kill or claim to have seen a write its receiver has not got. Protocol-1 history may
    /// name dots of other protocol-1 origins not held yet (it was not delivered causally).
    private func checkCausal(_ change: Change, legacy: Bool, _ origins: OriginTable) throws {
        func check(_ dot: Dot) throws {
            guard dot.origin != change.origin else { return }  // earlier in its own run or held: checked by seq
            if origins.holds(dot) { return }
            if legacy, !ReplicaIdentity.isKeyDerived(dot.origin) { return }
            throw StoreError.notCausal(origin: change.origin, seq: change.seq, names: "\(dot.origin):\(dot.seq)")
        }
        for write in change.writes { for dot in write.supersedes { try check(dot) } }
        if let context = change.context {
            for (origin, seq) in context.seqs where seq > 0 { try check(Dot(origin: origin, seq: seq)) }
        }
    }

    /// A run wholly held already: the same bytes are a duplicate (an unsigned copy held here takes
    /// the signature); other bytes for a held seq are equivocation.
    private func checkHeld(
        _ signed: SignedRun, _ run: Run, num: Int64, entry: inout OriginTable.Entry, _ statements: Statements
    ) throws {
        if let held = try ChangeLog.run(of: num, containing: run.first, statements), held.first == run.first,
           held.last == run.last, held.hash == signed.hash
        {
            if held.signature == nil, let signature = signed.signature, let key = signed.key,
               entry.key == nil || entry.key == key
            {
                try statements.run("UPDATE run SET signature = ? WHERE num = ?", [.blob(signature), .int(held.num)])
                entry.key = key
            }
            return
        }
        try compareWithHeld(run, num: num, through: run.last, receivedHash: signed.hash, statements)
    }

    /// Refuses with `Equivocation` at the first change of `run` (up to `through`) that differs from
    /// the held change with its seq.
    private func compareWithHeld(
        _ run: Run, num: Int64, through: Int64, receivedHash: [UInt8], _ statements: Statements
    ) throws {
        var seq = run.first
        while seq <= through {
            guard let held = try ChangeLog.run(of: num, containing: seq, statements) else {
                throw Equivocation(origin: run.origin, seq: seq, heldHash: [], receivedHash: receivedHash)
            }
            let heldRun = try RunCodec.decode(held.body)
            for change in heldRun.changes where change.seq >= seq && change.seq <= through {
                let received = run.changes[Int(change.seq - run.first)]
                guard received.normalized == change.normalized else {
                    throw Equivocation(origin: run.origin, seq: change.seq, heldHash: held.hash, receivedHash: receivedHash)
                }
            }
            seq = held.last + 1
        }
    }

    /// Replaces the unsigned runs held from `run.first` to `held` by `run`, of which they must be
    /// a prefix (protocol-1 history: a store that held fewer changes cut its last run shorter).
    private func replaceHeldPrefix(
        _ signed: SignedRun, _ run: Run, num: Int64, held: Int64, _ context: inout WriteContext
    ) throws {
        let statements = context.statements
        if let straddling = try ChangeLog.run(of: num, containing: run.first, statements), straddling.first != run.first {
            throw StoreError.forgedRun(
                origin: run.origin, seq: run.first, reason: "it starts inside a held run (at \(straddling.first)...\(straddling.last))")
        }
        try compareWithHeld(run, num: num, through: held, receivedHash: signed.hash, statements)
        var signedHeld = false
        try statements.each("SELECT 1 FROM run WHERE origin = ? AND first >= ? AND signature IS NOT NULL", [.int(num), .int(run.first)]) { _ in
            signedHeld = true
        }
        if signedHeld {
            throw StoreError.forgedRun(
                origin: run.origin, seq: run.first, reason: "its boundaries differ from the signed runs held")
        }
        try context.removeRuns(originNum: num, from: run.first)
    }
}

extension Change {
    /// The change with its dots in order, to compare two encodings of one change.
    var normalized: Change {
        var copy = self
        copy.writes = writes.map { FieldWrite(field: $0.field, value: $0.value, supersedes: $0.supersedes.sorted()) }
            .sorted { $0.field.utf8.lexicographicallyPrecedes($1.field.utf8) }
        return copy
    }
}

/// A held change that arrived again with other bytes: evidence that two stores write as one
/// replica (a copied store file, say).
public struct EquivocationRecord: Codable, Sendable, Equatable {
    public var origin: String
    public var seq: Int64
    /// When it was seen (ISO 8601).
    public var seenAt: String
    /// Who delivered the other version: a remote's name (a pull) or a token's name (a push).
    public var via: String?
    /// True when the origin is this replica: this store or another has been copied.
    public var ownOrigin: Bool
}

extension Store {
    /// Every equivocation seen, oldest first.
    public func equivocations() throws -> [EquivocationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT origin, seq, seen_at, via FROM equivocation ORDER BY seen_at, origin, seq").map {
                let origin: String = $0["origin"]
                return EquivocationRecord(
                    origin: origin, seq: $0["seq"], seenAt: $0["seen_at"], via: $0["via"],
                    ownOrigin: origin == replicaID || origin == legacyReplicaID)
            }
        }
    }
}

extension Store {
    /// Per origin held, the first `digits` hex digits of the hash of the held run ending at its
    /// seq: what a puller sends so a peer can tell another history under the same seqs.
    public func heads(digits: Int) throws -> [String: String] {
        try read { db in
            var heads: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, head FROM origin WHERE seq > 0 AND head IS NOT NULL") {
                heads[row[0]] = String(Hashing.hex(Array(row[1] as Data)).prefix(digits))
            }
            return heads
        }
    }

    /// The first origin whose held run ending at a peer's seq has another hash than the peer's
    /// head (two stores writing as one replica), recorded as an equivocation; nil when none.
    /// - Parameter via: who the peer is, for the record.
    public func divergence(from vector: VersionVector, heads: [String: String], via: String?) throws -> (origin: String, seq: Int64)? {
        guard !heads.isEmpty else { return nil }
        let found: (String, Int64, [UInt8])? = try read { db in
            let statements = Statements(db: db)
            for origin in heads.keys.sorted() {
                let seq = vector[origin]
                guard seq > 0, let head = heads[origin],
                      let num = try Int64.fetchOne(db, sql: "SELECT num FROM origin WHERE id = ? AND seq >= ?", arguments: [origin, seq])
                else { continue }
                let held = try ChangeLog.run(of: num, containing: seq, statements)
                guard let held else { continue }
                if held.last != seq || !Hashing.hex(held.hash).hasPrefix(head) { return (origin, seq, held.hash) }
            }
            return nil
        }
        guard let (origin, seq, hash) = found else { return nil }
        try recordEquivocation(origin: origin, seq: seq, via: via, heldHash: hash)
        return (origin, seq)
    }
}
