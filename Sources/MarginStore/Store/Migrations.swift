import Foundation
import GRDB

/// The store's migrations: the SQL files of Schema/, embedded (see Scripts/embed-schema), applied
/// in order and frozen once shipped.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embedded {
            let sql = migration.sql
            migrator.registerMigration(migration.name) { db in try db.execute(sql: sql) }
        }
        return migrator
    }
}
