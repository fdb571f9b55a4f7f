import Foundation
import GRDB

/// One write transaction's view of the merge engine.
///
/// Local edits and received changes go through the same path (`integrate`): a change is logged,
/// the dots it supersedes die, it joins the live writes of its field unless a held write already
/// superseded it, and at the end of the transaction every touched field is recomputed from its
/// live writes (`finish`). The rows shown are therefore a function of the set of changes held,
/// whatever order they arrived in.
struct WriteContext {
    let db: Database
    let replicaID: String
    let clock: () -> Date
    private(set) var hlc: HLC
    private(set) var localSeq: Int64
    /// Fields touched in this transaction, per entity.
    private var dirty: [EntityKey: Set<String>] = [:]
    /// Origins whose version moved in this transaction, with their new seq.
    private var versions: [String: Int64] = [:]
    /// Conflicts that appeared in this transaction (for reports).
    private(set) var conflictsRecorded = 0

    struct EntityKey: Hashable {
        var entity: EntityKind
        var id: String
    }

    init(db: Database, replicaID: String, clock: @escaping () -> Date) throws {
        self.db = db
        self.replicaID = replicaID
        self.clock = clock
        hlc = HLC(rawValue: Int64(try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'hlc'") ?? "0") ?? 0)
        localSeq = try Int64.fetchOne(db, sql: "SELECT seq FROM version WHERE origin = ?", arguments: [replicaID]) ?? 0
    }

    // MARK: Local writes

    /// Issues the next clock reading: never backwards, past every reading seen.
    mutating func tick() -> HLC {
        let now = HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000))
        hlc = max(now, HLC(rawValue: hlc.rawValue + 1))
        return hlc
    }

    /// Writes one field as this replica: supersedes every live write of the field the author sees.
    @discardableResult
    mutating func write(
        _ entity: EntityKind, _ id: String, _ field: String, _ value: JSONValue, context: VersionVector? = nil
    ) throws -> Change {
        let supersedes = try liveDots(id, field)
        localSeq += 1
        let change = Change(
            origin: replicaID, seq: localSeq, hlc: tick(), entity: entity, entityID: id, field: field, value: value,
            supersedes: supersedes, context: context)
        try integrate(change)
        versions[replicaID] = localSeq
        return change
    }

    /// The dots of the live writes of one field, in dot order.
    func liveDots(_ id: String, _ field: String) throws -> [Dot] {
        try rows("SELECT origin, seq FROM live WHERE entity_id = ? AND field = ? ORDER BY origin, seq", [id, field])
            .map { Dot(origin: $0[0], seq: $0[1]) }
    }

    /// The version vector as held now, including this transaction's writes.
    func currentVector() throws -> VersionVector {
        var vector = VersionVector()
        for row in try Row.fetchAll(db, sql: "SELECT origin, seq FROM version") {
            vector[row[0]] = row[1]
        }
        for (origin, seq) in versions { vector[origin] = seq }
        return vector
    }

    // MARK: Received changes

    /// Notes that a received change from `origin` with sequence `seq` is held, and that its clock was seen.
    mutating func received(_ change: Change) {
        versions[change.origin] = change.seq
        if change.hlc > hlc { hlc = change.hlc }
    }

    // MARK: Statements

    /// Runs a statement compiled once per connection: the engine runs the same few statements
    /// for every change, and compiling them each time was its largest cost.
    func exec(_ sql: String, _ arguments: StatementArguments = []) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    // MARK: The engine

    /// Logs a change and updates the live writes of its field. The caller has checked that the
    /// change is new and in sequence.
    mutating func integrate(_ change: Change) throws {
        let supersedes = Self.encodeDots(change.supersedes)
        let value = change.value.canonical
        try exec(
            """
                INSERT INTO change(origin, seq, hlc, entity, entity_id, field, value, supersedes, context)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            [
                change.origin, change.seq, change.hlc.rawValue, change.entity.rawValue, change.entityID, change.field,
                value, supersedes, change.context?.json.canonical,
            ])
        for dot in change.supersedes {
            try exec("INSERT OR IGNORE INTO superseded(origin, seq) VALUES (?, ?)", [dot.origin, dot.seq])
            try exec("DELETE FROM live WHERE origin = ? AND seq = ?", [dot.origin, dot.seq])
        }
        let dead = try !rows("SELECT 1 FROM superseded WHERE origin = ? AND seq = ?", [change.origin, change.seq])
            .isEmpty
        if !dead {
            try exec(
                """
                    INSERT INTO live(origin, seq, hlc, entity, entity_id, field, value, supersedes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                [
                    change.origin, change.seq, change.hlc.rawValue, change.entity.rawValue, change.entityID,
                    change.field, value, supersedes,
                ])
        }
        switch change.entity {
        case .article, .annotation:
            let table = change.entity.rawValue
            try exec(
                """
                    INSERT INTO \(table)(id, created_hlc, updated_hlc) VALUES (?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET created_hlc = min(created_hlc, excluded.created_hlc),
                        updated_hlc = max(updated_hlc, excluded.updated_hlc)
                    """,
                [change.entityID, change.hlc.rawValue, change.hlc.rawValue])
        case .replica:
            break
        }
        dirty[EntityKey(entity: change.entity, id: change.entityID), default: []].insert(change.field)
    }

    /// Recomputes every touched field and saves the clock and the version vector.
    mutating func finish() throws {
        for (key, fields) in dirty.sorted(by: { ($0.key.entity.rawValue, $0.key.id) < ($1.key.entity.rawValue, $1.key.id) }) {
            try materialize(key, fields: fields)
        }
        // Placements follow the bodies and targets just written (derived state, see Anchoring).
        var bodies = Set<String>()
        var targets = Set<String>()
        for (key, fields) in dirty {
            if key.entity == .article, fields.contains("body") { bodies.insert(key.id) }
            if key.entity == .annotation, fields.contains("target") || fields.contains("article") { targets.insert(key.id) }
        }
        try Anchoring.refresh(db, articles: bodies, annotations: targets)
        dirty = [:]
        for (origin, seq) in versions {
            try exec(
                "INSERT INTO version(origin, seq) VALUES (?, ?) ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq",
                [origin, seq])
        }
        versions = [:]
        try exec("UPDATE meta SET value = ? WHERE key = 'hlc'", [String(hlc.rawValue)])
    }

    /// A live write of a field.
    struct LiveWrite {
        var dot: Dot
        var hlc: HLC
        var value: JSONValue
        var supersedes: [Dot]

        /// Orders writes by (hlc, origin): the last one wins.
        static func precedes(_ a: LiveWrite, _ b: LiveWrite) -> Bool {
            (a.hlc, a.dot.origin, a.dot.seq) < (b.hlc, b.dot.origin, b.dot.seq)
        }
    }

    func liveWrites(_ id: String, _ field: String) throws -> [LiveWrite] {
        try rows("SELECT origin, seq, hlc, value, supersedes FROM live WHERE entity_id = ? AND field = ?", [id, field])
            .map { row in
            LiveWrite(
                dot: Dot(origin: row[0], seq: row[1]), hlc: HLC(rawValue: row[2]), value: try JSONValue.parse(row[3]),
                supersedes: try Self.decodeDots(row[4]))
        }.sorted(by: LiveWrite.precedes)
    }

    /// What a field shows, and whether its live writes are in conflict.
    struct Resolution {
        var value: JSONValue
        var conflict: Bool
    }

    /// The shown value of a field from its live writes: the last by (hlc, origin); for a note whose
    /// concurrent writes share one base, their clean three-way merge.
    func resolve(_ field: String, _ writes: [LiveWrite]) throws -> Resolution {
        guard let winner = writes.last else { return Resolution(value: .null, conflict: false) }
        let distinct = Set(writes.map(\.value))
        if distinct.count <= 1 { return Resolution(value: winner.value, conflict: false) }
        if field == "note", let merged = try mergeNotes(writes) {
            return Resolution(value: .string(merged), conflict: false)
        }
        return Resolution(value: winner.value, conflict: true)
    }

    /// Three-way merge of concurrent note writes against the common base they all superseded.
    private func mergeNotes(_ writes: [LiveWrite]) throws -> String? {
        let bases = Set(writes.map { $0.supersedes.sorted() })
        guard bases.count == 1, let base = bases.first, base.count <= 1 else { return nil }
        var baseText = ""
        if let dot = base.first {
            guard let text = try rows("SELECT value FROM change WHERE origin = ? AND seq = ?", [dot.origin, dot.seq])
                .first?[0] as String?
            else { return nil }  // the base has not arrived yet: a conflict until it does
            baseText = try JSONValue.parse(text).stringValue ?? ""
        }
        var merged: String? = nil
        for write in writes {
            guard case .string(let text) = write.value else { return nil }
            if let current = merged {
                guard let next = ThreeWayMerge.merge(base: baseText, current, text) else { return nil }
                merged = next
            } else {
                merged = text
            }
        }
        return merged
    }

    private mutating func materialize(_ key: EntityKey, fields: Set<String>) throws {
        var assignments: [(column: String, value: (any DatabaseValueConvertible)?)] = []
        for field in fields.sorted() {
            if field.hasPrefix("tag/") {
                let tag = String(field.dropFirst(4))
                let present = try liveWrites(key.id, field).contains { $0.value == .bool(true) }
                if present {
                    try exec("INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)", [key.id, tag])
                } else {
                    try exec("DELETE FROM tag WHERE entity_id = ? AND tag = ?", [key.id, tag])
                }
                continue
            }
            let resolution = try resolve(field, liveWrites(key.id, field))
            try recordConflict(key, field: field, kind: "value", present: resolution.conflict)
            assignments += try Self.columns(for: key.entity, field: field, value: resolution.value)
        }
        switch key.entity {
        case .replica:
            if let name = assignments.first(where: { $0.column == "name" })?.value {
                try exec(
                    "INSERT INTO replica(id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                    [key.id, name])
            }
            return
        case .article, .annotation:
            if !assignments.isEmpty {
                let sets = assignments.map { "\"\($0.column)\" = ?" }.joined(separator: ", ")
                try exec(
                    "UPDATE \(key.entity.rawValue) SET \(sets) WHERE id = ?",
                    StatementArguments(assignments.map(\.value) + [key.id]))
            }
            try checkDeleteConflict(key)
        }
    }

    /// An entity deleted while another replica edited it (the delete had not seen the edit) is a
    /// conflict: the edit is neither silently dropped nor silently resurrected.
    private mutating func checkDeleteConflict(_ key: EntityKey) throws {
        let deletes = try liveWrites(key.id, "deleted")
        var concurrent = false
        if let winner = deletes.last, winner.value == .bool(true) {
            let contextText = try rows(
                "SELECT context FROM change WHERE origin = ? AND seq = ?", [winner.dot.origin, winner.dot.seq]
            ).first?[0] as String?
            let context = try contextText.map { try JSONDecoder().decode(VersionVector.self, from: Data($0.utf8)) }
                ?? VersionVector()
            let edits = try rows("SELECT origin, seq FROM live WHERE entity_id = ? AND field <> 'deleted'", [key.id])
            concurrent = edits.contains { row in !context.contains(Dot(origin: row[0], seq: row[1])) }
        }
        try recordConflict(key, field: "deleted", kind: "delete", present: concurrent)
    }

    private mutating func recordConflict(_ key: EntityKey, field: String, kind: String, present: Bool) throws {
        if present {
            let id = Self.conflictID(entityID: key.id, field: field, kind: kind)
            try exec(
                "INSERT OR IGNORE INTO conflict(id, entity, entity_id, field, kind) VALUES (?, ?, ?, ?, ?)",
                [id, key.entity.rawValue, key.id, field, kind])
            if db.changesCount > 0 { conflictsRecorded += 1 }
        } else {
            try exec("DELETE FROM conflict WHERE entity_id = ? AND field = ? AND kind = ?", [key.id, field, kind])
        }
    }

    /// Deterministic, so every replica names a conflict alike.
    static func conflictID(entityID: String, field: String, kind: String) -> String {
        String(ArticleIdentity.sha256Hex("conflict\n\(kind)\n\(entityID)\n\(field)").prefix(32))
    }

    /// The columns a field's shown value sets.
    static func columns(for entity: EntityKind, field: String, value: JSONValue) throws
        -> [(column: String, value: (any DatabaseValueConvertible)?)]
    {
        switch (entity, field) {
        case (.replica, "name"):
            return [("name", value.stringValue)]
        case (_, "deleted"):
            return [("deleted", value.boolValue == true ? 1 : 0)]
        case (.article, "body"):
            let body = value.stringValue
            return [("body", body), ("content_hash", body.map(ArticleIdentity.sha256Hex))]
        case (.article, let field) where Self.articleFields.contains(field):
            return [(field, value.stringValue)]
        case (.annotation, "article"):
            return [("article_id", value.stringValue)]
        case (.annotation, "target"):
            return [
                ("exact", value["exact"]?.stringValue), ("prefix", value["prefix"]?.stringValue),
                ("suffix", value["suffix"]?.stringValue), ("start", value["start"]?.intValue),
                ("end", value["end"]?.intValue), ("revision", value["revision"]?.stringValue),
            ]
        case (.annotation, let field) where Self.annotationFields.contains(field):
            return [(field, value.stringValue)]
        default:
            // A field this version does not know (from a newer peer): logged and synced, not shown.
            return []
        }
    }

    static let articleFields: Set<String> = ["url", "title", "byline", "source", "published_at", "language", "caption"]
    static let annotationFields: Set<String> = ["motivation", "note", "color", "author"]

    static func encodeDots(_ dots: [Dot]) -> String {
        JSONValue.array(dots.map { .array([.string($0.origin), .int($0.seq)]) }).canonical
    }

    static func decodeDots(_ text: String) throws -> [Dot] {
        if text == "[]" { return [] }
        guard case .array(let items) = try JSONValue.parse(text) else { throw JSONValue.ParseError(offset: 0, reason: "dots") }
        return try items.map { item in
            guard case .array(let pair) = item, pair.count == 2, let origin = pair[0].stringValue,
                  let seq = pair[1].intValue
            else { throw JSONValue.ParseError(offset: 0, reason: "a dot is [origin, seq]") }
            return Dot(origin: origin, seq: seq)
        }
    }
}
