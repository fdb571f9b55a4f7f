import Foundation
import GRDB
import GRDBSQLite

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
    /// Where each entity touched in this transaction is in `touchedOrder`.
    private var dirty: [EntityKey: Int] = [:]
    /// Touched entities (their fields, the clock range of their changes, what they logged) in the
    /// order the transaction first touched them: their rows are created in that order (so row
    /// numbers follow arrival, as when each change upserted its row).
    private var touchedOrder: [Touched] = []
    /// Entities this transaction created with a fresh random id: no write of theirs exists
    /// outside this transaction, so a first write of a field supersedes nothing.
    private var fresh: Set<String> = []
    /// Dots known to be superseded: loaded for a range of seqs per origin (`preloadSuperseded`)
    /// and added to as this transaction records more, so integrating asks the database no more.
    private var superseded: Set<Dot> = []
    private var supersededLoaded: [String: ClosedRange<Int64>] = [:]
    /// The engine's statements, compiled once per connection (GRDB's statement cache) and kept
    /// here by index for the transaction (looking them up by SQL text hashed the text on every
    /// change).
    private let prepared = Prepared()
    /// Origins whose version moved in this transaction, with their new seq.
    private var versions: [String: Int64] = [:]
    /// Conflicts that appeared in this transaction (for reports).
    private(set) var conflictsRecorded = 0

    struct EntityKey: Hashable {
        var entity: EntityKind
        var id: String
    }

    struct Touched {
        var key: EntityKey
        var fields: Set<String>
        var firstHLC: Int64
        var lastHLC: Int64
        /// The changes this transaction logged live, per field: for an entity that had no row
        /// before it (nothing of it was held), they are all its live writes but those a later one
        /// here superseded, so its fields resolve without reading them back.
        var logged: [String: [LiveWrite]] = [:]
    }

    private final class Prepared {
        var statements: [Statement?] = Array(repeating: nil, count: Query.allCases.count)
        /// Row upserts by table and set of columns (see `rowColumns`).
        var upserts: [Int: Statement] = [:]
    }

    /// Every column a field sets in the article and annotation tables, in the order upserts list them.
    static let rowColumns = [
        "url", "title", "byline", "source", "published_at", "language", "body", "content_hash", "caption", "article_id",
        "motivation", "exact", "prefix", "suffix", "start", "end", "revision", "note", "color", "author", "deleted",
        "anchor_state", "anchor_start", "anchor_end", "anchor_score", "anchor_method",
    ]
    static let rowColumnIndex = Dictionary(uniqueKeysWithValues: rowColumns.enumerated().map { ($1, $0) })

    /// The statements the engine runs for every change or entity.
    private enum Query: Int, CaseIterable {
        case insertChange, insertSuperseded, unsetLive, isSuperseded, supersededRange, liveOfEntity,
             conflictsOfEntity, liveDots, insertTag, deleteTag, articleText, noteText, insertArticleText,
             deleteArticleText, insertNoteText, deleteNoteText

        var sql: String {
            switch self {
            case .insertChange:
                return """
                    INSERT INTO change(origin, seq, hlc, entity, entity_id, field, value, supersedes, context, live)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            case .insertSuperseded: return "INSERT OR IGNORE INTO superseded(origin, seq) VALUES (?, ?)"
            case .unsetLive: return "UPDATE change SET live = 0 WHERE origin = ? AND seq = ? AND live = 1"
            case .isSuperseded: return "SELECT 1 FROM superseded WHERE origin = ? AND seq = ?"
            case .supersededRange: return "SELECT seq FROM superseded WHERE origin = ? AND seq BETWEEN ? AND ?"
            case .articleText: return "SELECT num, title, body FROM article WHERE id = ?"
            case .noteText: return "SELECT num, note FROM annotation WHERE id = ?"
            case .insertArticleText: return "INSERT INTO article_fts(rowid, title, body) VALUES (?, ?, ?)"
            case .deleteArticleText:
                return "INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)"
            case .insertNoteText: return "INSERT INTO note_fts(rowid, note) VALUES (?, ?)"
            case .deleteNoteText: return "INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', ?, ?)"
            case .liveOfEntity:
                return "SELECT field, origin, seq, hlc, value, supersedes FROM change WHERE entity_id = ? AND live = 1"
            case .conflictsOfEntity: return "SELECT field, kind FROM conflict WHERE entity_id = ?"
            case .liveDots:
                return "SELECT origin, seq FROM change WHERE entity_id = ? AND field = ? AND live = 1 ORDER BY origin, seq"
            case .insertTag: return "INSERT OR IGNORE INTO tag(entity_id, tag) VALUES (?, ?)"
            case .deleteTag: return "DELETE FROM tag WHERE entity_id = ? AND tag = ?"
            }
        }
    }

    private func statement(_ query: Query) throws -> Statement {
        if let statement = prepared.statements[query.rawValue] { return statement }
        let statement = try db.cachedStatement(sql: query.sql)
        prepared.statements[query.rawValue] = statement
        return statement
    }

    // The engine's statements run on SQLite directly: binding through StatementArguments and
    // reading through Row was most of the engine's cost. Values bind as GRDB binds them (text up
    // to its first U+0000, which validation refuses in received ids and fields anyway), from the
    // string's own UTF-8 with its length.

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    private static func bind(_ statement: OpaquePointer, _ values: [DatabaseValue]) {
        for (i, value) in values.enumerated() {
            let index = CInt(i + 1)
            switch value.storage {
            case .null: sqlite3_bind_null(statement, index)
            case .int64(let int): sqlite3_bind_int64(statement, index, int)
            case .double(let double): sqlite3_bind_double(statement, index, double)
            case .string(let text): bind(statement, index, text)
            case .blob(let data):
                _ = data.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, CInt($0.count), transient) }
            }
        }
    }

    private static func bind(_ statement: OpaquePointer, _ index: CInt, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else {
                sqlite3_bind_text(statement, index, "", 0, transient)
                return
            }
            let length = bytes.firstIndex(of: 0) ?? bytes.count
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(statement, index, $0, CInt(length), transient)
            }
        }
    }

    /// Runs a statement that takes one dot (origin, seq); true when it returned a row.
    @discardableResult
    private func run(_ query: Query, dot: Dot) throws -> Bool {
        let statement = try statement(query).sqliteStatement
        Self.bind(statement, 1, dot.origin)
        sqlite3_bind_int64(statement, 2, dot.seq)
        let code = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, query) }
        return code == SQLITE_ROW
    }

    private func error(_ code: CInt, _ query: Query) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: query.sql)
    }

    /// Runs one of the engine's statements with `values` bound.
    private func run(_ query: Query, _ values: DatabaseValue...) throws {
        try run(query, values)
    }

    private func run(_ query: Query, _ values: [DatabaseValue]) throws {
        let statement = try statement(query).sqliteStatement
        Self.bind(statement, values)
        let code = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, query) }
    }

    /// Runs a statement compiled once per connection, with `values` bound.
    private func run(sql: String, _ values: [DatabaseValue]) throws {
        try step(db.cachedStatement(sql: sql).sqliteStatement, sql: sql, values)
    }

    /// `sql` names the statement in an error only (GRDB's `Statement.sql` trims a copy each time).
    private func step(_ statement: OpaquePointer, sql: @autoclosure () -> String, _ values: [DatabaseValue]) throws {
        Self.bind(statement, values)
        let code = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql())
        }
    }

    /// Runs one of the engine's queries with `values` bound; `read` reads each row where it stands.
    private func each(_ query: Query, _ values: DatabaseValue..., read: (OpaquePointer) throws -> Void) throws {
        let statement = try statement(query).sqliteStatement
        Self.bind(statement, values)
        defer { sqlite3_reset(statement) }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, query) }
            try read(statement)
        }
    }

    private static func text(_ statement: OpaquePointer, _ column: CInt) -> String {
        sqlite3_column_text(statement, column).map { String(cString: $0) } ?? ""
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
        let firstWriteOfFresh = fresh.contains(id)
            && dirty[EntityKey(entity: entity, id: id)].map { touchedOrder[$0].fields.contains(field) } != true
        let supersedes = firstWriteOfFresh ? [] : try liveDots(id, field)
        localSeq += 1
        let change = Change(
            origin: replicaID, seq: localSeq, hlc: tick(), entity: entity, entityID: id, field: field, value: value,
            supersedes: supersedes, context: context)
        try integrate(change)
        versions[replicaID] = localSeq
        return change
    }

    /// Says that `id` was just made up here (a random id no replica has written yet).
    mutating func created(_ id: String) {
        fresh.insert(id)
    }

    /// The dots of the live writes of one field, in dot order.
    func liveDots(_ id: String, _ field: String) throws -> [Dot] {
        var dots: [Dot] = []
        try each(.liveDots, id.databaseValue, field.databaseValue) { row in
            dots.append(Dot(origin: Self.text(row, 0), seq: sqlite3_column_int64(row, 1)))
        }
        return dots
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

    /// Loads, in one query, which changes of `origin` with seqs in `seqs` some held write
    /// supersedes; `integrate` then asks no more for them.
    mutating func preloadSuperseded(origin: String, seqs: ClosedRange<Int64>) throws {
        var found: [Dot] = []
        try each(.supersededRange, origin.databaseValue, seqs.lowerBound.databaseValue, seqs.upperBound.databaseValue) { row in
            found.append(Dot(origin: origin, seq: sqlite3_column_int64(row, 0)))
        }
        superseded.formUnion(found)
        supersededLoaded[origin] = seqs
    }

    private func isSuperseded(_ dot: Dot) throws -> Bool {
        if superseded.contains(dot) { return true }
        if let loaded = supersededLoaded[dot.origin], loaded.contains(dot.seq) { return false }
        return try run(.isSuperseded, dot: dot)
    }

    /// Logs a change and updates the live writes of its field. The caller has checked that the
    /// change is new and in sequence. `value` is the change's value as canonical JSON, when the
    /// caller has it already.
    mutating func integrate(_ change: Change, value canonicalValue: String? = nil) throws {
        for dot in change.supersedes {
            try run(.insertSuperseded, dot: dot)
            superseded.insert(dot)
            try run(.unsetLive, dot: dot)
        }
        // Live unless a held write already superseded it (it arrived after its successor).
        let live: Int64 = try isSuperseded(change.dot) ? 0 : 1
        // Bound one by one: this runs for every change.
        let statement = try statement(.insertChange).sqliteStatement
        Self.bind(statement, 1, change.origin)
        sqlite3_bind_int64(statement, 2, change.seq)
        sqlite3_bind_int64(statement, 3, change.hlc.rawValue)
        Self.bind(statement, 4, change.entity.rawValue)
        Self.bind(statement, 5, change.entityID)
        Self.bind(statement, 6, change.field)
        Self.bind(statement, 7, canonicalValue ?? change.value.canonical)
        Self.bind(statement, 8, change.supersedes.isEmpty ? "[]" : Self.encodeDots(change.supersedes))
        if let context = change.context { Self.bind(statement, 9, context.json.canonical) } else { sqlite3_bind_null(statement, 9) }
        sqlite3_bind_int64(statement, 10, live)
        let code = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard code == SQLITE_DONE else { throw error(code, .insertChange) }
        // The entity's row (created_hlc, updated_hlc: the clock range of its changes) is written
        // once per transaction, in `finish`.
        let key = EntityKey(entity: change.entity, id: change.entityID)
        let hlc = change.hlc.rawValue
        let index: Int
        if let known = dirty[key] {
            index = known
            touchedOrder[index].fields.insert(change.field)
            touchedOrder[index].firstHLC = min(touchedOrder[index].firstHLC, hlc)
            touchedOrder[index].lastHLC = max(touchedOrder[index].lastHLC, hlc)
        } else {
            index = touchedOrder.count
            dirty[key] = index
            touchedOrder.append(Touched(key: key, fields: [change.field], firstHLC: hlc, lastHLC: hlc))
        }
        if live == 1 {
            touchedOrder[index].logged[change.field, default: []].append(
                LiveWrite(dot: change.dot, hlc: change.hlc, value: change.value, supersedes: change.supersedes))
        }
    }

    /// Recomputes every touched field, writes each touched row once (with its placement and its
    /// full-text entry), and saves the clock and the version vector.
    mutating func finish() throws {
        var writes: [RowWrite] = []
        for touched in touchedOrder {
            let key = touched.key
            // The row before this transaction: none for an id made up here.
            var old: OldRow?
            if key.entity != .replica, !fresh.contains(key.id) {
                let columns = Self.fullTextColumns(key.entity).count
                try each(key.entity == .article ? .articleText : .noteText, key.id.databaseValue) { row in
                    old = OldRow(num: sqlite3_column_int64(row, 0), text: (1...columns).map { Self.value(row, CInt($0)) })
                }
            }
            let isNew = key.entity != .replica && old == nil
            let assignments = try materialize(touched, isNew: isNew)
            if key.entity != .replica {
                writes.append(RowWrite(
                    key: key, firstHLC: touched.firstHLC, lastHLC: touched.lastHLC, assignments: assignments, old: old))
            }
        }
        // Placements follow the bodies and targets just written (derived state, see Anchoring).
        var bodies = Set<String>()
        for touched in touchedOrder where touched.key.entity == .article && touched.fields.contains("body") {
            bodies.insert(touched.key.id)
        }
        let targets = try placeInRows(&writes, bodies: bodies)
        var fullText = FullTextWrites()
        for write in writes {
            try save(write, &fullText)
        }
        try fullText.run(self)
        try Anchoring.refresh(db, articles: bodies, annotations: targets)
        dirty = [:]
        touchedOrder = []
        for (origin, seq) in versions {
            try exec(
                "INSERT INTO version(origin, seq) VALUES (?, ?) ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq",
                [origin, seq])
        }
        versions = [:]
        try exec("UPDATE meta SET value = ? WHERE key = 'hlc'", [String(hlc.rawValue)])
    }

    /// One article's or annotation's row as this transaction leaves it: the columns its touched
    /// fields set, and the clock range of its changes.
    struct RowWrite {
        var key: EntityKey
        var firstHLC: Int64
        var lastHLC: Int64
        var assignments: [(column: String, value: DatabaseValue)]
        /// The row before this transaction, if it had one.
        var old: OldRow?

        func value(_ column: String) -> DatabaseValue? {
            assignments.first(where: { $0.column == column })?.value
        }
    }

    /// A row's number and full-text columns before this transaction.
    struct OldRow {
        var num: Int64
        var text: [DatabaseValue]
    }

    /// Computes the placement of every annotation whose target and article this transaction wrote
    /// together (a new highlight, a synced annotation), so its row is written once with it. Returns
    /// the other annotations whose target or article changed, for `Anchoring.refresh` to place after
    /// their rows are written. Annotations of an article whose body changed are placed with all the
    /// article's annotations by `Anchoring.refresh`.
    private func placeInRows(_ writes: inout [RowWrite], bodies: Set<String>) throws -> Set<String> {
        var later = Set<String>()
        var byArticle: [String: [(index: Int, row: Anchoring.Row)]] = [:]
        for (index, write) in writes.enumerated() where write.key.entity == .annotation {
            let fields = touchedOrder[dirty[write.key]!].fields
            guard fields.contains("target") || fields.contains("article") else { continue }
            guard fields.contains("target"), fields.contains("article"),
                  case .string(let article)? = write.value("article_id")?.storage, !bodies.contains(article),
                  case .string(let exact)? = write.value("exact")?.storage
            else {
                later.insert(write.key.id)
                continue
            }
            func text(_ column: String) -> String? {
                if case .string(let text)? = write.value(column)?.storage { return text }
                return nil
            }
            func int(_ column: String) -> Int {
                if case .int64(let int)? = write.value(column)?.storage { return Int(int) }
                return 0
            }
            let target = TextTarget(
                exact: exact, prefix: text("prefix") ?? "", suffix: text("suffix") ?? "", start: int("start"),
                end: int("end"), revision: text("revision"))
            byArticle[article, default: []].append(
                (index, Anchoring.Row(id: write.key.id, articleID: article, target: target, anchor: nil)))
        }
        guard !byArticle.isEmpty else { return later }
        let threshold = try Anchoring.minScore(db)
        for (article, group) in byArticle {
            let outcomes = try Anchoring.compute(db, article: article, rows: group.map(\.row), minScore: threshold)
            for ((index, _), outcome) in zip(group, outcomes) {
                writes[index].assignments += Anchoring.columns(outcome.anchor)
            }
        }
        return later
    }

    /// The full-text entries a transaction changes, written after every row so the full-text
    /// index takes them in one flush (FTS5 flushes its pending terms at every statement savepoint,
    /// which a trigger per row made once per row).
    struct FullTextWrites {
        var articles: [(delete: Bool, num: Int64, values: [DatabaseValue])] = []
        var notes: [(delete: Bool, num: Int64, values: [DatabaseValue])] = []

        func run(_ context: WriteContext) throws {
            for entry in articles {
                try context.run(entry.delete ? .deleteArticleText : .insertArticleText, [entry.num.databaseValue] + entry.values)
            }
            for entry in notes {
                try context.run(entry.delete ? .deleteNoteText : .insertNoteText, [entry.num.databaseValue] + entry.values)
            }
        }
    }

    /// The columns of each table the full-text index holds.
    static func fullTextColumns(_ entity: EntityKind) -> [String] {
        entity == .article ? ["title", "body"] : ["note"]
    }

    /// Writes one row with one statement (an insert, or an update of the columns set), and records
    /// what its full-text entry needs: a new row gets one, a row whose indexed text changed gets
    /// the old one deleted and the new one inserted.
    private func save(_ write: RowWrite, _ fullText: inout FullTextWrites) throws {
        let entity = write.key.entity
        let textColumns = Self.fullTextColumns(entity)
        let old = write.old
        // The columns in `rowColumns` order; the statement for that set is compiled once.
        let assigned = write.assignments.map { (index: Self.rowColumnIndex[$0.column]!, value: $0.value) }
            .sorted { $0.index < $1.index }
        let mask = assigned.reduce(0) { $0 | 1 << $1.index }
        let cacheKey = mask << 1 | (entity == .article ? 1 : 0)
        let upsert: Statement
        if let statement = prepared.upserts[cacheKey] {
            upsert = statement
        } else {
            let quoted = assigned.map { "\"\(Self.rowColumns[$0.index])\"" }
            upsert = try db.cachedStatement(sql: """
                INSERT INTO \(entity.rawValue)(id, created_hlc, updated_hlc\(quoted.map { ", " + $0 }.joined()))
                VALUES (?, ?, ?\(String(repeating: ", ?", count: quoted.count)))
                ON CONFLICT(id) DO UPDATE SET created_hlc = min(created_hlc, excluded.created_hlc),
                    updated_hlc = max(updated_hlc, excluded.updated_hlc)\(quoted.map { ", \($0) = excluded.\($0)" }.joined())
                """)
            prepared.upserts[cacheKey] = upsert
        }
        try step(upsert.sqliteStatement, sql: upsert.sql,
                 [write.key.id.databaseValue, write.firstHLC.databaseValue, write.lastHLC.databaseValue] + assigned.map(\.value))
        let entry: (DatabaseValue?, Int) -> DatabaseValue = { $0 ?? old?.text[$1] ?? .null }
        let values = textColumns.enumerated().map { entry(write.value($1), $0) }
        var changes: [(delete: Bool, num: Int64, values: [DatabaseValue])] = []
        if let old {
            guard values != old.text else { return }
            changes = [(true, old.num, old.text), (false, old.num, values)]
        } else {
            changes = [(false, sqlite3_last_insert_rowid(db.sqliteConnection!), values)]
        }
        if entity == .article { fullText.articles += changes } else { fullText.notes += changes }
    }

    private static func value(_ statement: OpaquePointer, _ column: CInt) -> DatabaseValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, column).databaseValue
        case SQLITE_FLOAT: return sqlite3_column_double(statement, column).databaseValue
        default: return text(statement, column).databaseValue
        }
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

    /// The live writes of one entity, every field, read in one query; values are parsed when a
    /// field is asked for.
    struct LiveFields {
        /// As read from the change log.
        var rows: [String: [(dot: Dot, hlc: Int64, value: String, supersedes: String)]] = [:]
        /// As logged in this transaction (an entity new in it).
        var written: [String: [LiveWrite]] = [:]

        /// The live writes of `field`, ordered by (hlc, origin): the last one wins.
        func writes(_ field: String) throws -> [LiveWrite] {
            let read = try (rows[field] ?? []).map { row in
                LiveWrite(
                    dot: row.dot, hlc: HLC(rawValue: row.hlc), value: try JSONValue.parse(row.value),
                    supersedes: try WriteContext.decodeDots(row.supersedes))
            }
            let all = read + (written[field] ?? [])
            return all.count < 2 ? all : all.sorted(by: LiveWrite.precedes)
        }

        /// The dots of the live writes of every field but `field`.
        func dots(except field: String) -> [Dot] {
            rows.filter { $0.key != field }.flatMap { $0.value.map(\.dot) }
                + written.filter { $0.key != field }.flatMap { $0.value.map(\.dot) }
        }
    }

    func liveFields(_ id: String) throws -> LiveFields {
        var live = LiveFields()
        try each(.liveOfEntity, id.databaseValue) { row in
            live.rows[Self.text(row, 0), default: []].append(
                (dot: Dot(origin: Self.text(row, 1), seq: sqlite3_column_int64(row, 2)), hlc: sqlite3_column_int64(row, 3),
                 value: Self.text(row, 4), supersedes: Self.text(row, 5)))
        }
        return live
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
        if writes.count == 1 { return Resolution(value: winner.value, conflict: false) }
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

    /// Resolves the touched fields of one entity: writes its tags, records or clears its
    /// conflicts, saves a replica's name, and returns the columns its row gets. `isNew`: the entity
    /// had no row before this transaction, so its live writes are the ones logged here and it
    /// holds no conflict yet.
    private mutating func materialize(_ touched: Touched, isNew: Bool) throws
        -> [(column: String, value: DatabaseValue)]
    {
        let key = touched.key, fields = touched.fields
        var live = LiveFields()
        var conflicts = Set<ConflictKey>()
        if isNew {
            for (field, writes) in touched.logged {
                live.written[field] = writes.filter { !superseded.contains($0.dot) }
            }
        } else {
            // One read of the entity's live writes and conflicts serves every field below.
            live = try liveFields(key.id)
            try each(.conflictsOfEntity, key.id.databaseValue) { row in
                conflicts.insert(ConflictKey(field: Self.text(row, 0), kind: Self.text(row, 1)))
            }
        }
        var assignments: [(column: String, value: DatabaseValue)] = []
        for field in fields.sorted() {
            if field.hasPrefix("tag/") {
                let tag = String(field.dropFirst(4))
                let present = try live.writes(field).contains { $0.value == .bool(true) }
                try run(present ? .insertTag : .deleteTag, key.id.databaseValue, tag.databaseValue)
                continue
            }
            let resolution = try resolve(field, live.writes(field))
            try recordConflict(key, field: field, kind: "value", present: resolution.conflict, held: conflicts)
            assignments += try Self.columns(for: key.entity, field: field, value: resolution.value)
        }
        switch key.entity {
        case .replica:
            if let name = assignments.first(where: { $0.column == "name" })?.value {
                if name.isNull {
                    // A name that is not a string (from a broken or newer peer): no name to show.
                    try run(sql: "DELETE FROM replica WHERE id = ?", [key.id.databaseValue])
                } else {
                    try run(sql: "INSERT INTO replica(id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                            [key.id.databaseValue, name])
                }
            }
            return []
        case .article, .annotation:
            try checkDeleteConflict(key, live: live, held: conflicts)
            return assignments
        }
    }

    /// A conflict held for an entity: its field and kind.
    struct ConflictKey: Hashable {
        var field: String
        var kind: String
    }

    /// An entity deleted while another replica edited it (the delete had not seen the edit) is a
    /// conflict: the edit is neither silently dropped nor silently resurrected.
    private mutating func checkDeleteConflict(_ key: EntityKey, live: LiveFields, held: Set<ConflictKey>) throws {
        let deletes = try live.writes("deleted")
        var concurrent = false
        if let winner = deletes.last, winner.value == .bool(true) {
            let contextText = try rows(
                "SELECT context FROM change WHERE origin = ? AND seq = ?", [winner.dot.origin, winner.dot.seq]
            ).first?[0] as String?
            let context = try contextText.map { try JSONDecoder().decode(VersionVector.self, from: Data($0.utf8)) }
                ?? VersionVector()
            concurrent = live.dots(except: "deleted").contains { !context.contains($0) }
        }
        try recordConflict(key, field: "deleted", kind: "delete", present: concurrent, held: held)
    }

    /// Records or clears a conflict; `held` are the entity's conflicts before this transaction
    /// materialized it, so a conflict neither held nor present costs no statement.
    private mutating func recordConflict(
        _ key: EntityKey, field: String, kind: String, present: Bool, held: Set<ConflictKey>
    ) throws {
        let isHeld = held.contains(ConflictKey(field: field, kind: kind))
        if present {
            guard !isHeld else { return }
            let id = Self.conflictID(entityID: key.id, field: field, kind: kind)
            try exec(
                "INSERT OR IGNORE INTO conflict(id, entity, entity_id, field, kind) VALUES (?, ?, ?, ?, ?)",
                [id, key.entity.rawValue, key.id, field, kind])
            if db.changesCount > 0 { conflictsRecorded += 1 }
        } else if isHeld {
            try exec("DELETE FROM conflict WHERE entity_id = ? AND field = ? AND kind = ?", [key.id, field, kind])
        }
    }

    /// Deterministic, so every replica names a conflict alike.
    static func conflictID(entityID: String, field: String, kind: String) -> String {
        String(ArticleIdentity.sha256Hex("conflict\n\(kind)\n\(entityID)\n\(field)").prefix(32))
    }

    /// The columns a field's shown value sets.
    static func columns(for entity: EntityKind, field: String, value: JSONValue) throws
        -> [(column: String, value: DatabaseValue)]
    {
        try columnValues(for: entity, field: field, value: value).map { ($0.column, $0.value?.databaseValue ?? .null) }
    }

    private static func columnValues(for entity: EntityKind, field: String, value: JSONValue) throws
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
