import Foundation
import GRDB
import GRDBSQLite

/// A conflict as `margin conflicts` lists it.
public struct ConflictInfo: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Concurrent writes of one field with different values.
        case value
        /// A delete that had not seen an edit made elsewhere.
        case delete
    }

    /// One of the competing writes.
    public struct Version: Codable, Sendable, Equatable {
        public var origin: String
        public var originName: String?
        public var seq: Int64
        public var time: String
        public var field: String
        public var value: JSONValue
        /// True for the value the store shows now.
        public var shown: Bool
        /// True when this replica wrote it.
        public var mine: Bool
    }

    public var id: String
    public var kind: Kind
    public var entity: EntityKind
    public var entityID: String
    public var field: String
    public var versions: [Version]
}

/// How to settle a conflict.
public enum Resolution: Sendable, Equatable {
    /// The value this replica wrote (for a delete conflict: what this replica did).
    case mine
    /// The other value (when there is exactly one).
    case theirs
    /// This value (a note's text, say; for a delete conflict `delete` or `edit`).
    case value(String)
}

extension Store {
    /// Every pending conflict, oldest entity first.
    public func conflicts() throws -> [ConflictInfo] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id FROM conflict ORDER BY entity_id, field, kind").map {
                try conflictInfo($0["id"], db: db)
            }
        }
    }

    /// One conflict by full id.
    public func conflict(_ id: String) throws -> ConflictInfo {
        try read { db in try conflictInfo(id, db: db) }
    }

    func conflictInfo(_ id: String, db: Database) throws -> ConflictInfo {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM conflict WHERE id = ?", arguments: [id]) else {
            throw StoreError.notFound(kind: "conflict", id: id)
        }
        let entityID: String = row["entity_id"]
        let field: String = row["field"]
        let kind = ConflictInfo.Kind(rawValue: row["kind"]) ?? .value
        let names = try Dictionary(
            Row.fetchAll(db, sql: "SELECT id, name FROM replica").map { ($0["id"] as String, $0["name"] as String) },
            uniquingKeysWith: { a, _ in a })
        let entity = EntityKind(rawValue: row["entity"]) ?? .annotation
        let live = try liveWrites(entity, entityID, db: db)
        func version(_ write: LiveWrite, field: String, shown: Bool) -> ConflictInfo.Version {
            ConflictInfo.Version(
                origin: write.dot.origin, originName: names[write.dot.origin], seq: write.dot.seq, time: write.hlc.iso8601,
                field: field, value: write.value, shown: shown,
                mine: write.dot.origin == replicaID || write.dot.origin == legacyReplicaID)
        }
        var versions: [ConflictInfo.Version] = []
        switch kind {
        case .value:
            let writes = (live[field] ?? []).sorted(by: LiveWrite.precedes)
            versions = writes.map { version($0, field: field, shown: $0 == writes.last) }
        case .delete:
            // The delete, and the edits made elsewhere that it had not seen: nothing else.
            let deletes = (live["deleted"] ?? []).sorted(by: LiveWrite.precedes)
            let winner = deletes.last
            let context = try winner.flatMap { try ChangeLog.change(at: $0.dot, Statements(db: db))?.context } ?? VersionVector()
            versions = deletes.map { version($0, field: "deleted", shown: $0 == winner) }
            for (name, writes) in live.sorted(by: { $0.key < $1.key }) where name != "deleted" {
                for write in writes.sorted(by: LiveWrite.precedes) where context[write.dot.origin] < write.dot.seq {
                    versions.append(version(write, field: name, shown: false))
                }
            }
        }
        return ConflictInfo(id: id, kind: kind, entity: entity, entityID: entityID, field: field, versions: versions)
    }

    /// The live writes of every field of an entity, with their values.
    func liveWrites(_ entity: EntityKind, _ id: String, db: Database) throws -> [String: [LiveWrite]] {
        let statements = Statements(db: db)
        var state = EntityState()
        try statements.each("SELECT state FROM \(entity.rawValue) WHERE id = ? AND state IS NOT NULL", [.text(id)]) { row in
            state = try Statements.withBlob(row, 0) { try EntityState(decoding: $0) }
        }
        var origins: [Int64: String] = [:]
        try statements.each("SELECT num, id FROM origin", []) { row in
            origins[sqlite3_column_int64(row, 0)] = Statements.text(row, 1)
        }
        var out: [String: [LiveWrite]] = [:]
        for (field, dots) in state.fields {
            var stored: [Dot: LiveWrite] = [:]
            if dots.count > 1 {
                try statements.each(
                    "SELECT origin, seq, hlc, value, supersedes FROM live_value WHERE entity_id = ? AND field = ?",
                    [.text(id), .text(field)]
                ) { row in
                    let dot = Dot(origin: origins[sqlite3_column_int64(row, 0)] ?? "", seq: sqlite3_column_int64(row, 1))
                    stored[dot] = LiveWrite(
                        dot: dot, hlc: HLC(rawValue: sqlite3_column_int64(row, 2)),
                        value: try JSONValue.parse(Statements.text(row, 3)),
                        supersedes: try Dot.decodeList(Statements.text(row, 4)))
                }
            }
            out[field] = try dots.compactMap { live in
                let dot = Dot(origin: origins[live.origin] ?? "", seq: live.seq)
                if let write = stored[dot] { return write }
                guard let change = try ChangeLog.change(at: dot, statements), let write = change.write(of: field) else {
                    return nil
                }
                return LiveWrite(dot: dot, hlc: change.hlc, value: write.value, supersedes: write.supersedes)
            }
        }
        return out
    }

    /// Settles a conflict with a new write that supersedes every competing one; the write syncs,
    /// so the conflict is settled on every replica.
    /// - Throws: `StoreError.invalidArgument` when `mine` or `theirs` does not name one value.
    public func resolve(conflictRef: String, keep: Resolution) throws {
        try write { context in
            let id = try resolveID(conflictRef, kinds: [.conflict], db: context.db).id
            let info = try conflictInfo(id, db: context.db)
            switch info.kind {
            case .value:
                let value = try chosenValue(info, keep)
                try context.write(info.entity, info.entityID, info.field, value)
            case .delete:
                let keepDelete: Bool
                switch keep {
                case .value("delete"), .value("deleted"): keepDelete = true
                case .value("edit"), .value("keep"): keepDelete = false
                case .mine, .theirs:
                    let deletedHere = info.versions.contains { $0.field == "deleted" && $0.mine }
                    let editedHere = info.versions.contains { $0.field != "deleted" && $0.mine }
                    guard deletedHere != editedHere else {
                        let sides = deletedHere ? "both the delete and an edit" : "neither the delete nor an edit"
                        throw StoreError.invalidArgument(
                            "this replica made \(sides) of conflict \(id.prefix(8)), so mine and theirs "
                                + "name no side; use --keep delete or --keep edit")
                    }
                    keepDelete = (keep == .mine) == deletedHere
                case .value(let other):
                    throw StoreError.invalidArgument(
                        "'\(other)' does not settle a delete conflict; use --keep delete or --keep edit")
                }
                if keepDelete {
                    try context.write(
                        info.entity, info.entityID, "deleted", .bool(true),
                        context: try context.deleteContext(info.entity, info.entityID))
                } else {
                    try context.write(info.entity, info.entityID, "deleted", .bool(false))
                }
            }
        }
    }

    private func chosenValue(_ info: ConflictInfo, _ keep: Resolution) throws -> JSONValue {
        let distinct = info.versions.reduce(into: [JSONValue]()) { if !$0.contains($1.value) { $0.append($1.value) } }
        switch keep {
        case .mine:
            let mine = Set(info.versions.filter(\.mine).map(\.value))
            guard mine.count == 1, let value = mine.first else {
                throw StoreError.invalidArgument(
                    "no value of conflict \(info.id.prefix(12)) was written on this replica; "
                        + "use --keep theirs or --keep VALUE")
            }
            return value
        case .theirs:
            let theirs = Set(info.versions.filter { !$0.mine }.map(\.value)).subtracting(info.versions.filter(\.mine).map(\.value))
            guard theirs.count == 1, let value = theirs.first else {
                throw StoreError.invalidArgument(
                    "conflict \(info.id.prefix(12)) has \(theirs.count) other values (\(distinct.map(\.canonical).joined(separator: ", "))); "
                        + "use --keep VALUE")
            }
            return value
        case .value(let text):
            switch info.field {
            case "deleted":
                guard let flag = Bool(text) else {
                    throw StoreError.invalidArgument("the field deleted takes true or false")
                }
                return .bool(flag)
            case "target", "article":
                // Structured fields: pick one of the competing values by its text.
                if let match = distinct.first(where: { $0.canonical == text || $0["exact"]?.stringValue == text }) {
                    return match
                }
                throw StoreError.invalidArgument(
                    "for the field \(info.field) give one of the competing values, or use --keep mine|theirs")
            default:
                return text.isEmpty && info.field == "note" ? .null : .string(text)
            }
        }
    }
}
