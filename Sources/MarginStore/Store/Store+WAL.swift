import Foundation
import GRDB

extension Store {
    /// Runs `body`, a run of write transactions (an import's batches), with automatic checkpoints
    /// only once the write-ahead log passes `limit` bytes, not after each commit past SQLite's default
    /// of 1,000 pages (4 MB): a commit still syncs the log (`synchronous = FULL`), but the pages
    /// are copied into the database, and the database synced, once per `limit` instead of once per
    /// batch (a 5,000-article import made 40 syncs, now 13). The log stays bounded by `limit`, and
    /// `truncateWAL` folds in the rest when the command ends. Checkpoints still run inside commits,
    /// under the store's lock.
    public func deferringCheckpoints<T>(upTo limit: Int = 64 << 20, _ body: () throws -> T) throws -> T {
        guard path != nil else { return try body() }
        func autocheckpoint(_ pages: Int) throws {
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = \(pages)") }
        }
        let pageSize = try writer.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } ?? 4096
        try autocheckpoint(max(1000, limit / pageSize))
        defer { try? autocheckpoint(1000) }
        return try body()
    }

    /// Copies the write-ahead log into the database and truncates it, when it has grown past
    /// `limit` bytes (after an import of thousands of articles, say).
    ///
    /// A process that opens the store after every other has gone rebuilds SQLite's WAL index by
    /// reading the whole log: a 500 MB log left by a large import made every later command read
    /// 500 MB (`show` took a second at 50,000 articles, 20 ms once the log was truncated). The
    /// CLI calls this as each command ends. It takes the store's lock, as every checkpoint does
    /// (see README, "Durability and writers"), and gives up quietly when another process holds
    /// it: that process's own end will truncate the log.
    public func truncateWAL(ifLargerThan limit: Int = 4 << 20) throws {
        guard let path else { return }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "-wal")
        guard let size = (attributes?[.size] as? NSNumber)?.intValue, size > limit else { return }
        func checkpoint() throws {
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        }
        guard let lock else { return try checkpoint() }
        do {
            try lock.withLock(timeout: 0, storePath: path, checkpoint)
        } catch StoreError.locked {
            return
        }
    }
}
