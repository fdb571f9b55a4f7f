import Foundation
import GRDB
import GRDBSQLite

/// One write transaction of the merge engine: local edits and received runs go through it.
///
/// A change's field writes update their entity's state (`EntityState`: the live writes of each
/// field) as they come; at the end of the transaction (`finish`) every touched field is resolved
/// from its live writes (`FieldResolution`), conflicts are recorded or cleared (`ConflictRecorder`),
/// each touched row is written once with its columns (`Projection`), placement and full-text
/// entry, this replica's new changes are signed as runs, and the version vector is saved. The
/// rows shown are a function of the set of changes held, whatever order they arrived in.
struct WriteContext {
    let db: Database
    let statements: Statements
    let replicaID: String
    /// This replica's id before protocol 2 (a UUID), whose history it signed when it upgraded.
    let legacyReplicaID: String?
    let key: ReplicaKey
    let clock: () -> Date
    /// The last clock reading this replica issued.
    private(set) var hlc: HLC
    private(set) var localSeq: Int64
    var origins: OriginTable
    let ownNum: Int64

    /// This replica's changes made in this transaction, signed into runs by `finish`.
    private var localChanges: [Change] = []
    /// The change still taking writes (consecutive writes of one entity join one change).
    private var openChange: Int?

    private var touchedIndex: [EntityKey: Int] = [:]
    private var touched: [Touched] = []
    /// Entities this transaction created with a fresh random id: nothing of them exists elsewhere.
    private var fresh: Set<String> = []
    /// Protocol-1 dots superseded before they arrived (`legacy_superseded`), as far as loaded.
    private var legacySuperseded: Set<LiveDot> = []
    private(set) var conflictsRecorded = 0
    /// Changes received in this transaction.
    private(set) var receivedChanges = 0
    /// The state digests, kept as rows change.
    var digests = DigestSums()

    struct EntityKey: Hashable {
        var entity: EntityKind
        var id: String
    }

    /// A value written in this transaction, by dot: what resolving needs without reading it back.
    struct KnownWrite {
        var hlc: HLC
        var value: JSONValue
        var supersedes: [Dot]
    }

    /// An entity this transaction touched (a class: the engine updates it in place, write by write).
    final class Touched {
        var key: EntityKey
        /// The row before this transaction (nil: none, the entity is new here).
        var old: OldRow?
        var state: EntityState
        /// Fields that had more than one live write before this transaction (their values are in
        /// `live_value`, and they may hold a conflict).
        var loadedMulti: Set<String> = []
        var dirty: Set<String> = []
        /// Writes of this transaction, per field (usually one).
        var known: [String: [(dot: LiveDot, write: KnownWrite)]] = [:]
        /// Delete contexts of the `deleted` writes made in this transaction.
        var contexts: [LiveDot: VersionVector] = [:]
        var firstHLC: Int64
        var lastHLC: Int64
        /// The conflicts held before this transaction, read when first needed.
        var heldConflicts: Set<ConflictRecorder.Key>?

        init(key: EntityKey) {
            self.key = key
            self.state = EntityState()
            self.firstHLC = Int64.max
            self.lastHLC = Int64.min
        }

        /// The write of `field` by `dot` made in this transaction, if any.
        func knownWrite(_ field: String, _ dot: LiveDot) -> KnownWrite? {
            known[field]?.first { $0.dot.origin == dot.origin && $0.dot.seq == dot.seq }?.write
        }
    }

    /// A row before this transaction: its number, the columns its digest covers, and the hash of
    /// its digest line.
    struct OldRow {
        var num: Int64
        /// `Projection.digestColumns` of its entity, in order.
        var values: [DatabaseValue]
        var lineHash: [UInt8]?
        var entity: EntityKind

        var deleted: Bool {
            guard entity != .replica, case .int64(let flag) = values[10 + (entity == .annotation ? 2 : 0)].storage else { return false }
            return flag != 0
        }

        /// The full-text columns (`Projection.fullTextColumns`).
        var text: [DatabaseValue] {
            let columns = Projection.digestColumns(entity)
            return Projection.fullTextColumns(entity).map { values[columns.firstIndex(of: $0)!] }
        }
    }

    init(db: Database, identity: Store.Identity, clock: @escaping () -> Date) throws {
        self.db = db
        statements = Statements(db: db)
        replicaID = identity.replicaID
        legacyReplicaID = identity.legacyReplicaID
        key = identity.key
        self.clock = clock
        hlc = HLC(rawValue: Int64(try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'hlc'") ?? "0") ?? 0)
        origins = try OriginTable(statements)
        ownNum = origins.numbering(identity.replicaID)
        localSeq = origins[ownNum].seq
    }

    // MARK: Local writes

    /// Issues the next clock reading: the wall clock, or one past the last reading issued when the
    /// wall clock is behind it. Received clocks do not move it: causality travels in dots, and the
    /// clock only orders concurrent writes, so a replica never stamps ahead of real time because a
    /// peer did.
    mutating func tick() -> HLC {
        let now = HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000))
        hlc = max(now, HLC(rawValue: hlc.rawValue + 1))
        return hlc
    }

    /// Placements known when a write was made (a highlight on the current body).
    private var placements: [String: AnchorState] = [:]

    /// Says where the annotation `id` sits, when the writer knows (it spares `finish` computing it).
    mutating func place(_ id: String, _ anchor: AnchorState) {
        placements[id] = anchor
    }

    /// Says that `id` was just made up here (a random id no replica has written yet, or an
    /// article id with no row yet).
    mutating func created(_ id: String) {
        fresh.insert(id)
    }

    /// Writes one field as this replica: it supersedes every live write of the field here.
    /// Consecutive writes of one entity's fields join one change.
    /// - Throws: `StoreError.invalidArgument` when the write breaks a protocol limit (nothing is
    ///   written then): what a peer would refuse is refused here first.
    mutating func write(
        _ entity: EntityKind, _ id: String, _ field: String, _ value: JSONValue, context: VersionVector? = nil
    ) throws {
        try Self.checkLocal(id: id, field: field, value: value)
        let index = try touch(EntityKey(entity: entity, id: id))
        // At most the protocol's number of dots: with more live writes than that (more than 1,000
        // replicas writing one field at once), a later write settles the rest.
        let supersedes = touched[index].state[field].prefix(ChangeLimits.maxSupersedes)
            .map { Dot(origin: origins.id($0.origin), seq: $0.seq) }
        let write = FieldWrite(field: field, value: value, supersedes: supersedes)
        if let open = openChange, localChanges[open].entity == entity, localChanges[open].entityID == id,
           localChanges[open].context == nil, context == nil, localChanges[open].write(of: field) == nil,
           localChanges[open].writes.count < ChangeLimits.maxFields
        {
            localChanges[open].writes.append(write)
        } else {
            localSeq += 1
            localChanges.append(Change(
                origin: replicaID, seq: localSeq, hlc: tick(), entity: entity, entityID: id, writes: [write],
                context: context))
            openChange = localChanges.count - 1
            try recordEntityChange(id, origin: ownNum, seq: localSeq)
        }
        let change = localChanges[openChange!]
        ingest(index, dot: LiveDot(origin: ownNum, seq: change.seq, flag: value == .bool(true)), hlc: change.hlc,
               write, context: context, legacy: false)
    }

    /// Refuses what a peer would refuse: the same limits as a received change.
    static func checkLocal(id: String, field: String, value: JSONValue) throws {
        guard !id.isEmpty, id.utf8.count <= ChangeLimits.maxIDLength else {
            throw StoreError.invalidArgument("an id is 1 to \(ChangeLimits.maxIDLength) bytes")
        }
        guard field.utf8.count <= ChangeLimits.maxFieldLength else {
            throw StoreError.invalidArgument(
                "'\(field.prefix(40))…' is too long: a field name (a tag is one) is at most \(ChangeLimits.maxFieldLength) bytes")
        }
        guard value.nesting <= ChangeLimits.maxValueNesting else {
            throw StoreError.invalidArgument("a value may be nested at most \(ChangeLimits.maxValueNesting) levels deep")
        }
        if value.containsNUL || id.utf8.contains(0) || field.utf8.contains(0) {
            throw StoreError.invalidArgument("text may not contain the character U+0000 (NUL); remove it and try again")
        }
        // Cheap bound first: a byte of text is at most six bytes of JSON (a \u00XX escape).
        let size = value.maxCanonicalBytes <= ChangeLimits.maxValueBytes ? 0 : value.canonicalByteCount
        guard size <= ChangeLimits.maxValueBytes else {
            throw StoreError.invalidArgument(
                "the \(field) is \(size / 1024) KiB, more than the protocol's limit of \(ChangeLimits.maxValueBytes / (1024 * 1024)) MiB "
                    + "per value (a peer would refuse it); shorten it or split it")
        }
    }

    /// What a delete of `id` carries as its context: the seqs held of every origin with a live
    /// write in the entity. An edit the delete had not seen is a live write this does not cover;
    /// origins that never wrote the entity need no entry, so the context stays small.
    mutating func deleteContext(_ entity: EntityKind, _ id: String) throws -> VersionVector {
        let index = try touch(EntityKey(entity: entity, id: id))
        let vector = currentVector()
        var context = VersionVector()
        for dots in touched[index].state.fields.values {
            for dot in dots {
                let origin = origins.id(dot.origin)
                context[origin] = vector[origin]
            }
        }
        return context
    }

    /// The version vector as held now, including this transaction's writes.
    func currentVector() -> VersionVector {
        var vector = origins.vector
        if localSeq > 0 { vector[replicaID] = localSeq }
        return vector
    }

    // MARK: Received changes

    /// Takes in the changes of a received run whose signature, chain and causality were checked.
    /// - Parameter legacy: the run is protocol-1 history (an origin without a key-derived id):
    ///   its writes may supersede dots not held yet (kept in `legacy_superseded`).
    mutating func receive(_ run: Run, originNum: Int64, legacy: Bool) throws {
        if legacy {
            // Which of the run's dots a held legacy write superseded before they arrived.
            try statements.each(
                "SELECT seq FROM legacy_superseded WHERE origin = ? AND seq BETWEEN ? AND ?",
                [.int(originNum), .int(run.first), .int(run.last)]
            ) { row in legacySuperseded.insert(LiveDot(origin: originNum, seq: sqlite3_column_int64(row, 0), flag: false)) }
        }
        for change in run.changes {
            let index = try touch(EntityKey(entity: change.entity, id: change.entityID))
            try recordEntityChange(change.entityID, origin: originNum, seq: change.seq)
            for write in change.writes {
                ingest(index, dot: LiveDot(origin: originNum, seq: change.seq, flag: write.value == .bool(true)),
                       hlc: change.hlc, write, context: change.context, legacy: legacy)
            }
            receivedChanges += 1
        }
        if legacy {
            for change in run.changes {
                for write in change.writes {
                    for dot in write.supersedes where !origins.holds(dot) && !ReplicaIdentity.isKeyDerived(dot.origin) {
                        let num = origins.numbering(dot.origin)
                        try statements.run("INSERT OR IGNORE INTO legacy_superseded(origin, seq) VALUES (?, ?)",
                                           [.int(num), .int(dot.seq)])
                        legacySuperseded.insert(LiveDot(origin: num, seq: dot.seq, flag: false))
                    }
                }
            }
        }
    }

    private func recordEntityChange(_ id: String, origin: Int64, seq: Int64) throws {
        try statements.run("INSERT OR IGNORE INTO entity_change(entity_id, origin, seq) VALUES (?, ?, ?)",
                           [.text(id), .int(origin), .int(seq)])
    }

    // MARK: The engine

    /// The touched entity for `key`, read from its row the first time.
    private mutating func touch(_ key: EntityKey) throws -> Int {
        if let index = touchedIndex[key] { return index }
        let entry = Touched(key: key)
        if !fresh.contains(key.id) {
            let columns = Projection.digestColumns(key.entity)
            let quoted = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            let sql = key.entity == .replica
                ? "SELECT 0, NULL, state, \(quoted) FROM replica WHERE id = ?"
                : "SELECT num, line_hash, state, \(quoted) FROM \(key.entity.rawValue) WHERE id = ?"
            try statements.each(sql, [.text(key.id)]) { row in
                entry.old = OldRow(
                    num: sqlite3_column_int64(row, 0), values: (0..<columns.count).map { Statements.value(row, CInt(3 + $0)) },
                    lineHash: Statements.blob(row, 1), entity: key.entity)
                if sqlite3_column_type(row, 2) != SQLITE_NULL {
                    entry.state = try Statements.withBlob(row, 2) { try EntityState(decoding: $0) }
                }
            }
            entry.loadedMulti = Set(entry.state.fields.filter { $0.value.count > 1 && !Projection.isTag($0.key) }.keys)
        }
        touched.append(entry)
        touchedIndex[key] = touched.count - 1
        return touched.count - 1
    }

    /// One field write joins its field's live writes, replacing those it supersedes.
    private mutating func ingest(
        _ index: Int, dot: LiveDot, hlc: HLC, _ write: FieldWrite, context: VersionVector?, legacy: Bool
    ) {
        var live = touched[index].state[write.field]
        if !write.supersedes.isEmpty {
            let superseded = Set(write.supersedes.compactMap { d in origins.num(d.origin).map { ($0, d.seq) } }.map {
                LiveDot(origin: $0.0, seq: $0.1, flag: false)
            })
            live.removeAll { superseded.contains(LiveDot(origin: $0.origin, seq: $0.seq, flag: false)) }
        }
        let dead = legacy && legacySuperseded.contains(LiveDot(origin: dot.origin, seq: dot.seq, flag: false))
        if !dead, !live.contains(where: { $0.origin == dot.origin && $0.seq == dot.seq }) { live.append(dot) }
        touched[index].state[write.field] = live
        touched[index].known[write.field, default: []].append(
            (dot, KnownWrite(hlc: hlc, value: write.value, supersedes: write.supersedes)))
        if write.field == "deleted", let context { touched[index].contexts[dot] = context }
        touched[index].dirty.insert(write.field)
        touched[index].firstHLC = min(touched[index].firstHLC, hlc.rawValue)
        touched[index].lastHLC = max(touched[index].lastHLC, hlc.rawValue)
    }

    /// Signs this transaction's changes into runs, resolves every touched field, writes each
    /// touched row once (with its placement and full-text entry), and saves the vector and clock.
    mutating func finish() throws {
        try signLocalChanges()
        var writes: [RowWriter.RowWrite] = []
        var recorder = ConflictRecorder(statements: statements)
        for i in touched.indices {
            let assignments = try materialize(i, &recorder)
            let entry = touched[i]
            if entry.key.entity == .replica {
                let name = assignments.last { $0.column == "name" }?.value
                try statements.run(
                    """
                    INSERT INTO replica(id, name, state) VALUES (?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, replica.name), state = excluded.state
                    """,
                    [.text(entry.key.id), name.map { Statements.Value($0) } ?? (entry.old == nil ? .text("") : .null),
                     .blob(entry.state.encoded())])
                let oldName = entry.old?.values[1]
                let newName = name ?? oldName ?? "".databaseValue
                if oldName != newName {
                    if let oldName {
                        try digests.remove("replicas", line: DigestLine.row([entry.key.id.databaseValue, oldName]), statements)
                    }
                    try digests.add("replicas", line: DigestLine.row([entry.key.id.databaseValue, newName]), statements)
                }
                continue
            }
            writes.append(RowWriter.RowWrite(
                key: entry.key, firstHLC: entry.firstHLC, lastHLC: entry.lastHLC,
                assignments: assignments + [("state", Data(entry.state.encoded()).databaseValue)], old: entry.old,
                fields: entry.dirty, placement: placements[entry.key.id]))
        }
        conflictsRecorded += recorder.recorded
        var rows = RowWriter(statements: statements)
        try rows.save(writes, &digests)
        touched = []
        touchedIndex = [:]
        placements = [:]
        try origins.save(statements)
        try digests.save(statements)
        try statements.run("UPDATE meta SET value = ? WHERE key = 'hlc'", [.text(String(hlc.rawValue))])
    }

    /// Resolves the touched fields of one entity: writes its tags and live values, records or
    /// clears its conflicts, and returns the columns its row gets.
    private mutating func materialize(_ i: Int, _ recorder: inout ConflictRecorder) throws
        -> [(column: String, value: DatabaseValue)]
    {
        let key = touched[i].key
        var assignments: [(column: String, value: DatabaseValue)] = []
        var deletedNow: Bool? = nil
        for field in touched[i].dirty.sorted() {
            let live = touched[i].state[field]
            if Projection.isTag(field) {
                let tag = String(field.dropFirst(4))
                let present = live.contains(where: \.flag)
                try statements.run(
                    present
                        ? "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)" : "DELETE FROM tag WHERE entity_id = ? AND tag = ?",
                    [.text(key.id), .text(tag)])
                if statements.changesCount > 0 {
                    let line = DigestLine.row([key.id.databaseValue, tag.databaseValue])
                    if present { try digests.add("tags", line: line, statements) } else { try digests.remove("tags", line: line, statements) }
                }
                continue
            }
            let wasMulti = touched[i].loadedMulti.contains(field)
            var value: JSONValue?
            var conflict = false
            if live.count <= 1 {
                if let dot = live.first {
                    if let known = touched[i].knownWrite(field, dot) {
                        value = known.value
                    } else if wasMulti {
                        value = try storedLiveWrites(key.id, field).first { $0.dot.seq == dot.seq && $0.dot.origin == origins.id(dot.origin) }?.value
                    }
                } else {
                    value = .null
                }
                if wasMulti {
                    try statements.run("DELETE FROM live_value WHERE entity_id = ? AND field = ?", [.text(key.id), .text(field)])
                }
            } else {
                let writes = try liveWrites(i, field, live, wasMulti: wasMulti)
                let outcome = try FieldResolution.resolve(field, writes) { try self.value(of: $0, entity: key.id, field: field) }
                value = outcome.value
                conflict = outcome.conflict
                try storeLiveWrites(key.id, field, writes, replace: wasMulti)
            }
            if wasMulti || conflict {
                try recorder.set(key, field: field, kind: .value, present: conflict, held: heldConflicts(i), &digests)
            }
            if let value {
                if field == "deleted" { deletedNow = value.boolValue == true }
                if Projection.isShown(key.entity, field) {
                    assignments += Projection.columns(for: key.entity, field: field, value: value)
                }
            }
        }
        if key.entity != .replica {
            let deleted = deletedNow ?? touched[i].old?.deleted ?? false
            if deleted || touched[i].old?.deleted == true {
                try checkDeleteConflict(i, deleted: deleted, &recorder)
            }
        }
        return assignments
    }

    /// The live writes of a field with their values: from this transaction, from `live_value`
    /// (a field that already had several), or from the log (the one write a field had).
    private func liveWrites(_ i: Int, _ field: String, _ live: [LiveDot], wasMulti: Bool) throws -> [LiveWrite] {
        let stored = wasMulti ? try storedLiveWrites(touched[i].key.id, field) : []
        return try live.map { dot in
            let id = origins.id(dot.origin)
            if let known = touched[i].knownWrite(field, dot) {
                return LiveWrite(dot: Dot(origin: id, seq: dot.seq), hlc: known.hlc, value: known.value,
                                 supersedes: known.supersedes)
            }
            if let write = stored.first(where: { $0.dot.origin == id && $0.dot.seq == dot.seq }) { return write }
            guard let change = try ChangeLog.change(at: Dot(origin: id, seq: dot.seq), statements, pending: localChanges),
                  let write = change.write(of: field)
            else {
                throw RunError("the store is damaged: the live write \(id):\(dot.seq) of \(field) is not in the log")
            }
            return LiveWrite(dot: change.dot, hlc: change.hlc, value: write.value, supersedes: write.supersedes)
        }
    }

    /// A field's live writes kept in `live_value`.
    func storedLiveWrites(_ id: String, _ field: String) throws -> [LiveWrite] {
        var out: [LiveWrite] = []
        try statements.each(
            "SELECT origin, seq, hlc, value, supersedes FROM live_value WHERE entity_id = ? AND field = ?",
            [.text(id), .text(field)]
        ) { row in
            out.append(LiveWrite(
                dot: Dot(origin: origins.id(sqlite3_column_int64(row, 0)), seq: sqlite3_column_int64(row, 1)),
                hlc: HLC(rawValue: sqlite3_column_int64(row, 2)), value: try JSONValue.parse(Statements.text(row, 3)),
                supersedes: try Dot.decodeList(Statements.text(row, 4))))
        }
        return out
    }

    private func storeLiveWrites(_ id: String, _ field: String, _ writes: [LiveWrite], replace: Bool) throws {
        if replace {
            try statements.run("DELETE FROM live_value WHERE entity_id = ? AND field = ?", [.text(id), .text(field)])
        }
        for write in writes {
            try statements.run(
                "INSERT INTO live_value(entity_id, field, origin, seq, hlc, value, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.text(id), .text(field), .int(origins.num(write.dot.origin) ?? 0), .int(write.dot.seq),
                 .int(write.hlc.rawValue), .text(write.value.canonical), .text(Dot.encodeList(write.supersedes))])
        }
    }

    /// The value a write of `field` had, for a three-way merge's base (nil while not held).
    private func value(of dot: Dot, entity: String, field: String) throws -> JSONValue? {
        guard let change = try ChangeLog.change(at: dot, statements, pending: localChanges),
              change.entityID == entity
        else { return nil }
        return change.write(of: field)?.value
    }

    private mutating func heldConflicts(_ i: Int) throws -> Set<ConflictRecorder.Key> {
        if let held = touched[i].heldConflicts { return held }
        var held = Set<ConflictRecorder.Key>()
        if touched[i].old != nil {
            try statements.each("SELECT field, kind FROM conflict WHERE entity_id = ?", [.text(touched[i].key.id)]) { row in
                held.insert(ConflictRecorder.Key(field: Statements.text(row, 0), kind: Statements.text(row, 1)))
            }
        }
        touched[i].heldConflicts = held
        return held
    }

    /// An entity deleted while another replica edited it (the delete had not seen the edit) is a
    /// conflict: the edit is neither silently dropped nor silently resurrected.
    private mutating func checkDeleteConflict(_ i: Int, deleted: Bool, _ recorder: inout ConflictRecorder) throws {
        var concurrent = false
        if deleted, let winner = try deleteWinner(i) {
            let context = try touched[i].contexts[winner.dot]
                ?? ChangeLog.change(at: Dot(origin: origins.id(winner.dot.origin), seq: winner.dot.seq), statements,
                                    pending: localChanges)?.context
                ?? VersionVector()
            concurrent = touched[i].state.fields.contains { field, dots in
                field != "deleted" && dots.contains { context[origins.id($0.origin)] < $0.seq }
            }
        }
        try recorder.set(touched[i].key, field: "deleted", kind: .delete, present: concurrent, held: heldConflicts(i), &digests)
    }

    /// The live write of `deleted` that shows (the last by clock), if it deletes.
    private func deleteWinner(_ i: Int) throws -> (dot: LiveDot, hlc: HLC)? {
        let live = touched[i].state["deleted"]
        var best: (dot: LiveDot, hlc: HLC, origin: String)?
        for dot in live {
            let hlc: HLC
            if let known = touched[i].knownWrite("deleted", dot) {
                hlc = known.hlc
            } else if let change = try ChangeLog.change(
                at: Dot(origin: origins.id(dot.origin), seq: dot.seq), statements, pending: localChanges) {
                hlc = change.hlc
            } else {
                continue
            }
            let origin = origins.id(dot.origin)
            if best == nil || (hlc, origin, dot.seq) > (best!.hlc, best!.origin, best!.dot.seq) { best = (dot, hlc, origin) }
        }
        guard let best, best.dot.flag else { return nil }
        return (best.dot, best.hlc)
    }

    // MARK: The log

    /// Appends a run to the log and counts it into the change set's digest.
    mutating func appendRun(_ run: SignedRun, originNum: Int64, hlc: Int64) throws {
        try ChangeLog.insert(run, originNum: originNum, hlc: hlc, statements)
        try digests.add("changes", line: DigestLine.run(origin: run.origin, first: run.first, last: run.last, hash: run.hash),
                        count: run.count, statements)
    }

    /// Removes the runs of an origin from seq `first` on (unsigned history replaced by a longer copy).
    mutating func removeRuns(originNum: Int64, from first: Int64) throws {
        var removed: [(first: Int64, last: Int64, hash: [UInt8])] = []
        try statements.each("SELECT first, last, hash FROM run WHERE origin = ? AND first >= ?", [.int(originNum), .int(first)]) { row in
            removed.append((sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1), Statements.blob(row, 2) ?? []))
        }
        let id = origins.id(originNum)
        for run in removed {
            try digests.remove("changes", line: DigestLine.run(origin: id, first: run.first, last: run.last, hash: run.hash),
                               count: Int(run.last - run.first + 1), statements)
        }
        try statements.run("DELETE FROM run WHERE origin = ? AND first >= ?", [.int(originNum), .int(first)])
    }

    // MARK: Signing

    /// Signs this transaction's own changes as runs (several when they pass a run's limits),
    /// each chained to the one before.
    private mutating func signLocalChanges() throws {
        guard !localChanges.isEmpty else { return }
        var start = 0
        while start < localChanges.count {
            var end = start
            var bytes = 256
            while end < localChanges.count, end - start < ChangeLimits.maxRunChanges {
                let size = RunCodec.estimatedBytes(localChanges[end])
                if end > start, bytes + size > ChangeLimits.maxRunBytes - 64 * 1024 { break }
                bytes += size
                end += 1
            }
            let changes = Array(localChanges[start..<end])
            let run = Run(origin: replicaID, first: changes[0].seq, prev: origins[ownNum].head ?? [], changes: changes)
            let body = RunCodec.encode(run)
            guard body.count <= ChangeLimits.maxRunBytes else {
                throw StoreError.invalidArgument(
                    "one change is larger than a run may be (\(ChangeLimits.maxRunBytes / (1024 * 1024)) MiB); shorten it")
            }
            let hash = Hashing.sha256(body)
            let signed = SignedRun(
                origin: replicaID, first: run.first, last: run.last, body: body, hash: hash, key: key.publicKey,
                signature: key.sign(runHash: hash))
            try appendRun(signed, originNum: ownNum, hlc: changes.map(\.hlc.rawValue).max() ?? 0)
            origins[ownNum].seq = run.last
            origins[ownNum].head = hash
            origins[ownNum].key = key.publicKey
            start = end
        }
        localChanges = []
        openChange = nil
    }
}

extension JSONValue {
    /// True when a string (or key) anywhere in the value holds U+0000.
    var containsNUL: Bool {
        switch self {
        case .string(let s):
            // memchr over the bytes in place (a body is kilobytes).
            return s.utf8.withContiguousStorageIfAvailable { bytes in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
                return memchr(base, 0, bytes.count) != nil
            } ?? s.utf8.contains(0)
        case .array(let items): return items.contains { $0.containsNUL }
        case .object(let members): return members.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        default: return false
        }
    }

    /// An upper bound of the canonical JSON's bytes, without building it.
    var maxCanonicalBytes: Int {
        switch self {
        case .null, .bool: return 5
        case .int: return 20
        case .string(let s): return s.utf8.count * 6 + 2
        case .array(let items): return items.reduce(2) { $0 + $1.maxCanonicalBytes + 1 }
        case .object(let members): return members.reduce(2) { $0 + $1.key.utf8.count * 6 + 4 + $1.value.maxCanonicalBytes }
        }
    }

    /// Bytes of the canonical JSON, without building it for a plain string.
    var canonicalByteCount: Int {
        if case .string(let s) = self, !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            return s.utf8.count + 2
        }
        return canonicalBytes.count
    }
}

extension Dot {
    /// Dots as canonical JSON: `[["origin",seq],…]`.
    static func encodeList(_ dots: [Dot]) -> String {
        JSONValue.array(dots.map { .array([.string($0.origin), .int($0.seq)]) }).canonical
    }

    static func decodeList(_ text: String) throws -> [Dot] {
        if text == "[]" { return [] }
        guard case .array(let items) = try JSONValue.parse(text) else { throw RunError("a list of dots is damaged") }
        return try items.map { item in
            guard case .array(let pair) = item, pair.count == 2, let origin = pair[0].stringValue, let seq = pair[1].intValue
            else { throw RunError("a dot is [origin, seq]") }
            return Dot(origin: origin, seq: seq)
        }
    }
}
