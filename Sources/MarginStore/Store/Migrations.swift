import Foundation
import GRDB

/// The store's migrations: the SQL files of Schema/, embedded (see Scripts/embed-schema), applied
/// in order and frozen once shipped.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embedded {
            let sql = migration.sql
            let name = migration.name
            migrator.registerMigration(name) { db in
                try db.execute(sql: sql)
                // Data steps: a new derived column is filled in the migration that adds it.
                if name == "0003_anchor.sql" { try Anchoring.refreshAll(db) }
                if name == "0006_runs.sql" { try LegacyHistory.convert(db) }
            }
        }
        return migrator
    }
}
