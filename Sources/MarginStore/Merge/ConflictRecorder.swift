import Foundation

/// Records and clears conflicts as the engine resolves fields. Conflicts are derived state: every
/// replica holding the same changes lists the same ones, under the same ids.
struct ConflictRecorder {
    enum Kind: String {
        /// Concurrent writes of one field with different values.
        case value
        /// A delete that had not seen an edit made elsewhere.
        case delete
    }

    /// A conflict held for an entity: its field and kind.
    struct Key: Hashable {
        var field: String
        var kind: String
    }

    let statements: Statements
    /// Conflicts that appeared (for reports).
    private(set) var recorded = 0

    init(statements: Statements) { self.statements = statements }

    /// Records (`present`) or clears a conflict; `held` are the entity's conflicts before this
    /// transaction, so a conflict neither held nor present costs no statement.
    mutating func set(
        _ key: WriteContext.EntityKey, field: String, kind: Kind, present: Bool, held: Set<Key>,
        _ digests: inout DigestSums
    ) throws {
        let isHeld = held.contains(Key(field: field, kind: kind.rawValue))
        let id = Self.id(entityID: key.id, field: field, kind: kind.rawValue)
        let line = DigestLine.row([id, key.entity.rawValue, key.id, field, kind.rawValue].map(\.databaseValue))
        if present {
            guard !isHeld else { return }
            try statements.run(
                "INSERT OR IGNORE INTO conflict(id, entity, entity_id, field, kind) VALUES (?, ?, ?, ?, ?)",
                [.text(id), .text(key.entity.rawValue), .text(key.id), .text(field), .text(kind.rawValue)])
            if statements.changesCount > 0 {
                recorded += 1
                try digests.add("conflicts", line: line, statements)
            }
        } else if isHeld {
            try statements.run(
                "DELETE FROM conflict WHERE entity_id = ? AND field = ? AND kind = ?",
                [.text(key.id), .text(field), .text(kind.rawValue)])
            if statements.changesCount > 0 { try digests.remove("conflicts", line: line, statements) }
        }
    }

    /// Deterministic, so every replica names a conflict alike.
    static func id(entityID: String, field: String, kind: String) -> String {
        String(ArticleIdentity.sha256Hex("conflict\n\(kind)\n\(entityID)\n\(field)").prefix(32))
    }
}
