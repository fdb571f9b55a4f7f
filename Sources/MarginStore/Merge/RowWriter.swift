import Foundation
import GRDB
import GRDBSQLite

/// Writes the rows a transaction touched: one upsert per row with all its columns and its
/// placement, then the full-text entries after every row (FTS5 flushes its pending terms at every
/// statement savepoint, so entries written row by row became one index segment each), then the
/// placements that needed the rows written first.
struct RowWriter {
    let statements: Statements
    /// Row upserts by table and set of columns, compiled once per transaction.
    private var upserts: [Int: (statement: OpaquePointer, sql: String)] = [:]

    init(statements: Statements) { self.statements = statements }

    /// One article's or annotation's row as a transaction leaves it.
    struct RowWrite {
        var key: WriteContext.EntityKey
        var firstHLC: Int64
        var lastHLC: Int64
        var assignments: [(column: String, value: DatabaseValue)]
        /// The row before the transaction, if it had one.
        var old: WriteContext.OldRow?
        /// The fields the transaction wrote.
        var fields: Set<String>
        /// Where the annotation sits, when its writer knew (a highlight made on the current body).
        var placement: AnchorState? = nil

        func value(_ column: String) -> DatabaseValue? {
            assignments.last(where: { $0.column == column })?.value
        }
    }

    /// Full-text entries to write: a new row gets one; a row whose text changed gets the old one
    /// deleted and the new one inserted.
    private struct FullText {
        var articles: [(delete: Bool, num: Int64, values: [DatabaseValue])] = []
        var notes: [(delete: Bool, num: Int64, values: [DatabaseValue])] = []
    }

    mutating func save(_ writes: [RowWrite], _ digests: inout DigestSums) throws {
        guard !writes.isEmpty else { return }
        var writes = writes
        // Placements follow the bodies and targets just written (derived state, see Anchoring).
        var bodies = Set<String>()
        for write in writes where write.key.entity == .article && write.fields.contains("body") {
            bodies.insert(write.key.id)
        }
        let later = try placeInRows(&writes, bodies: bodies)
        var fullText = FullText()
        for write in writes { try save(write, &fullText, &digests) }
        for entry in fullText.articles {
            try statements.run(
                entry.delete
                    ? "INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)"
                    : "INSERT INTO article_fts(rowid, title, body) VALUES (?, ?, ?)",
                [.int(entry.num)] + entry.values.map(Statements.Value.init))
        }
        for entry in fullText.notes {
            try statements.run(
                entry.delete
                    ? "INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', ?, ?)"
                    : "INSERT INTO note_fts(rowid, note) VALUES (?, ?)",
                [.int(entry.num)] + entry.values.map(Statements.Value.init))
        }
        try Anchoring.refresh(statements.db, articles: bodies, annotations: later)
    }

    /// Writes one row with one statement (an insert, or an update of the columns set).
    private mutating func save(_ write: RowWrite, _ fullText: inout FullText, _ digests: inout DigestSums) throws {
        let entity = write.key.entity
        // One value per column (a later assignment wins), in `rowColumns` order.
        var slots = [DatabaseValue?](repeating: nil, count: Projection.rowColumns.count)
        for (column, value) in write.assignments { slots[Projection.rowColumnIndex[column]!] = value }
        // The row's digest line as it will be: the old row's columns with these over them.
        let digestColumns = Projection.digestIndexes(entity)
        var line = write.old?.values ?? Projection.digestDefaults(entity)
        for (i, column) in digestColumns.enumerated() {
            switch column {
            case Projection.idColumn: line[i] = write.key.id.databaseValue
            case Projection.createdColumn:
                if case .int64(let old)? = write.old?.values[i].storage { line[i] = min(old, write.firstHLC).databaseValue } else {
                    line[i] = write.firstHLC.databaseValue
                }
            case Projection.updatedColumn:
                if case .int64(let old)? = write.old?.values[i].storage { line[i] = max(old, write.lastHLC).databaseValue } else {
                    line[i] = write.lastHLC.databaseValue
                }
            default:
                if let value = slots[column] { line[i] = value }
            }
        }
        let lineHash = Hashing.sha256(DigestLine.row(line))
        slots[Projection.lineHashColumn] = Data(lineHash).databaseValue
        let kind = Projection.digestKind(entity)
        if let old = write.old?.lineHash { try digests.remove(kind, hash: old, statements) } else if write.old != nil {
            // A row without a line hash (it cannot happen for a row the engine wrote): count it anew.
            try digests.remove(kind, line: DigestLine.row(write.old!.values), statements)
        }
        try digests.add(kind, hash: lineHash, statements)
        var mask = 0
        for (i, slot) in slots.enumerated() where slot != nil { mask |= 1 << i }
        let cacheKey = mask << 1 | (entity == .article ? 1 : 0)
        let upsert: (statement: OpaquePointer, sql: String)
        if let cached = upserts[cacheKey] {
            upsert = cached
        } else {
            let quoted = slots.indices.filter { slots[$0] != nil }.map { "\"\(Projection.rowColumns[$0])\"" }
            let sql = """
                INSERT INTO \(entity.rawValue)(id, created_hlc, updated_hlc\(quoted.map { ", " + $0 }.joined()))
                VALUES (?, ?, ?\(String(repeating: ", ?", count: quoted.count)))
                ON CONFLICT(id) DO UPDATE SET created_hlc = min(created_hlc, excluded.created_hlc),
                    updated_hlc = max(updated_hlc, excluded.updated_hlc)\(quoted.map { ", \($0) = excluded.\($0)" }.joined())
                """
            upsert = (try statements.statement(sql), sql)
            upserts[cacheKey] = upsert
        }
        let statement = upsert.statement
        Statements.bind(statement, 1, write.key.id)
        sqlite3_bind_int64(statement, 2, write.firstHLC)
        sqlite3_bind_int64(statement, 3, write.lastHLC)
        var parameter: CInt = 4
        for slot in slots {
            guard let slot else { continue }
            Statements.bind(statement, parameter, slot)
            parameter += 1
        }
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        guard code == SQLITE_DONE else { throw statements.error(code, upsert.sql) }
        let textColumns = Projection.fullTextColumns(entity)
        let values = textColumns.enumerated().map { index, column in
            slots[Projection.rowColumnIndex[column]!] ?? write.old?.text[index] ?? .null
        }
        if let old = write.old {
            guard values != old.text else { return }
            let changes = [(true, old.num, old.text), (false, old.num, values)]
            if entity == .article { fullText.articles += changes } else { fullText.notes += changes }
        } else {
            let entry = (false, statements.lastInsertedRowID, values)
            if entity == .article { fullText.articles.append(entry) } else { fullText.notes.append(entry) }
        }
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
            guard write.fields.contains("target") || write.fields.contains("article") else { continue }
            if let placement = write.placement {
                writes[index].assignments += Anchoring.columns(placement)
                continue
            }
            guard write.fields.contains("target"), write.fields.contains("article"),
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
        let threshold = try Anchoring.minScore(statements.db)
        for (article, group) in byArticle {
            let outcomes = try Anchoring.compute(statements.db, article: article, rows: group.map(\.row), minScore: threshold)
            for ((index, _), outcome) in zip(group, outcomes) {
                writes[index].assignments += Anchoring.columns(outcome.anchor)
            }
        }
        return later
    }
}
