import Foundation
import GRDB
import Logging

/// The one door to a Margin replica: owns the database, migrates it, and runs every read and write.
///
/// Durability, chosen on purpose:
/// - WAL journal (DatabasePool): readers never block the writer, and a crash leaves either the
///   whole last transaction or none of it.
/// - `synchronous = FULL`: a commit is on disk before it returns, so a change we acknowledge
///   (to the user, or to a peer over sync) survives kill -9 and power loss alike.
/// - Writes run in `BEGIN IMMEDIATE` transactions (GRDB's default for a writer), so a write
///   takes the write lock up front instead of failing half-way on SQLITE_BUSY.
/// - One writer connection per process (DatabasePool), and a flock on `<store>.lock` around
///   every write across processes (see `ProcessLock`): SQLite 3.40's WAL has a documented bug
///   (fixed in 3.51.3) that needs two connections writing or checkpointing at once.
/// - busy timeout 10 s for readers meeting a checkpoint; foreign keys on (GRDB default).
public final class Store: Sendable {
    /// The database file, or nil for an in-memory store.
    public let path: String?
    /// This replica's id (derived from its signing key, made at init) and name.
    public let replicaID: String
    public let replicaName: String
    /// This replica's id before protocol 2 (a UUID), whose history it signed when the store upgraded.
    public let legacyReplicaID: String?
    /// The signing key, the id, and the old id: what every write transaction needs.
    let identity: Identity
    /// How far ahead of our clock a received change may be stamped before it is refused.
    public let maxClockSkew: TimeInterval
    /// How long a write waits for another process holding the store.
    public let lockTimeout: TimeInterval
    let writer: any DatabaseWriter
    let lock: ProcessLock?
    let clock: @Sendable () -> Date

    /// This replica's clock (the wall clock unless `Options.clock` says otherwise).
    public var now: Date { clock() }
    let logger: Logger

    /// The newest store schema this program understands.
    public static let schemaVersion = Migrations.embedded.count

    /// Who this replica is when it writes.
    struct Identity: Sendable {
        var replicaID: String
        var legacyReplicaID: String?
        var key: ReplicaKey
    }

    private init(
        path: String?, writer: any DatabaseWriter, lock: ProcessLock?, identity: Identity, replicaName: String,
        options: Options
    ) {
        self.path = path
        self.writer = writer
        self.lock = lock
        self.identity = identity
        self.replicaID = identity.replicaID
        self.legacyReplicaID = identity.legacyReplicaID
        self.replicaName = replicaName
        self.maxClockSkew = options.maxClockSkew
        self.lockTimeout = options.lockTimeout
        self.clock = options.clock
        self.logger = Logger(label: "margin.store")
    }

    /// Settings a caller may change; the defaults suit the CLI.
    public struct Options: Sendable {
        public var maxClockSkew: TimeInterval = ChangeLimits.maxClockSkew
        public var lockTimeout: TimeInterval = 10
        public var clock: @Sendable () -> Date = { Date() }
        public init() {}
    }

    /// Creates a new store at `path` (its folder too) with a new replica identity.
    /// - Throws: `StoreError.alreadyInitialized` when a Margin store is already there.
    public static func create(at path: String, name: String, options: Options = Options()) throws -> Store {
        let name = try validatedName(name)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) {
            let existing = try open(at: path, options: options)
            throw StoreError.alreadyInitialized(path: path, name: existing.replicaName)
        }
        let lock = try ProcessLock(path: path + ".lock")
        let pool = try lock.withLock(timeout: options.lockTimeout, storePath: path) {
            let pool = try fullSync(DatabasePool(path: path, configuration: configuration()))
            try Migrations.migrator.migrate(pool)
            try pool.write { db in try initializeIdentity(db, name: name, clock: options.clock) }
            return pool
        }
        return try load(path: path, writer: pool, lock: lock, options: options)
    }

    /// Opens the store at `path`.
    /// - Throws: `StoreError.notInitialized` when there is none, `.notAMarginStore`, `.newerSchema`.
    public static func open(at path: String, options: Options = Options()) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.notInitialized(path: path) }
        try checkHeader(path: path)
        // Check the file read-only first: opening a pool would switch someone else's database to WAL.
        do {
            var readOnly = Configuration()
            readOnly.readonly = true
            let probe = try DatabaseQueue(path: path, configuration: readOnly)
            try probe.read { db in try checkSchema(db, path: path) }
            try probe.close()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw StoreError.notAMarginStore(path: path)
        }
        let lock = try ProcessLock(path: path + ".lock")
        let pool = try fullSync(DatabasePool(path: path, configuration: configuration()))
        if try pool.read({ db in try !Migrations.migrator.hasCompletedMigrations(db) }) {
            try lock.withLock(timeout: options.lockTimeout, storePath: path) {
                try Migrations.migrator.migrate(pool)
            }
        }
        return try load(path: path, writer: pool, lock: lock, options: options)
    }

    /// A store in memory, for tests and benchmarks.
    /// - Parameter key: the replica's signing key (its id follows from it); a new one when nil.
    public static func inMemory(name: String = "test", key: ReplicaKey? = nil, options: Options = Options()) throws
        -> Store
    {
        let queue = try DatabaseQueue(configuration: configuration())
        try Migrations.migrator.migrate(queue)
        try queue.write { db in
            try initializeIdentity(db, name: name, clock: options.clock, key: key)
        }
        return try load(path: nil, writer: queue, lock: nil, options: options)
    }

    private static func configuration() -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    /// `pool` with its writer connection at `synchronous = FULL`. GRDB sets NORMAL on the writer when
    /// it switches a pool to WAL, after `prepareDatabase` has run, so the setting is made again here:
    /// with NORMAL a commit is not synced, and a power cut may lose the last commits acknowledged.
    private static func fullSync(_ pool: DatabasePool) throws -> DatabasePool {
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        return pool
    }

    /// Refuses files that are not SQLite before GRDB touches them.
    private static func checkHeader(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError.invalidArgument("cannot read \(path): permission denied or not a file")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { throw StoreError.notAMarginStore(path: path) }
        if header != Data("SQLite format 3\0".utf8) { throw StoreError.notAMarginStore(path: path) }
    }

    private static func checkSchema(_ db: Database, path: String) throws {
        guard try db.tableExists("grdb_migrations") else { throw StoreError.notAMarginStore(path: path) }
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        let known = Set(Migrations.embedded.map(\.name))
        guard applied.contains(where: { known.contains($0) }) else { throw StoreError.notAMarginStore(path: path) }
        if try Migrations.migrator.hasBeenSuperseded(db) {
            let found = applied.compactMap { Int($0.prefix(4)) }.max() ?? 0
            throw StoreError.newerSchema(path: path, found: found, supported: schemaVersion)
        }
    }

    private static func validatedName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 64, !trimmed.contains(where: { $0.isNewline }) else {
            throw StoreError.invalidArgument("a replica name is 1 to 64 characters on one line, like laptop-a")
        }
        return trimmed
    }

    /// Makes this replica's key pair and id, and announces its name as its first change.
    /// - Parameter key: a given key (tests that need a known id); else a new random one.
    private static func initializeIdentity(
        _ db: Database, name: String, clock: @escaping @Sendable () -> Date, key: ReplicaKey? = nil
    ) throws {
        let key = key ?? ReplicaKey()
        let identity = Identity(replicaID: key.replicaID, legacyReplicaID: nil, key: key)
        try db.execute(
            sql: """
                INSERT INTO meta(key, value) VALUES ('replica_id', ?), ('replica_name', ?), ('hlc', '0'), ('signing_key', ?)
                """,
            arguments: [identity.replicaID, name, Hashing.hex(key.seed)])
        // The replica announces its name as a change, so every peer can show who wrote what.
        var context = try WriteContext(db: db, identity: identity, clock: clock)
        try context.write(.replica, identity.replicaID, "name", .string(name))
        try context.finish()
    }

    static func readIdentity(_ db: Database) throws -> (identity: Identity, name: String)? {
        let meta = try Dictionary(
            Row.fetchAll(db, sql: "SELECT key, value FROM meta").map { ($0[0] as String, $0[1] as String) },
            uniquingKeysWith: { a, _ in a })
        guard let id = meta["replica_id"], let name = meta["replica_name"], let seedHex = meta["signing_key"],
              let seed = Hashing.bytes(hex: seedHex), let key = try? ReplicaKey(seed: seed)
        else { return nil }
        return (Identity(replicaID: id, legacyReplicaID: meta["legacy_replica_id"], key: key), name)
    }

    private static func load(
        path: String?, writer: any DatabaseWriter, lock: ProcessLock?, options: Options
    ) throws -> Store {
        guard let (identity, name) = try writer.read({ db in try readIdentity(db) }) else {
            throw StoreError.notAMarginStore(path: path ?? ":memory:")
        }
        return Store(path: path, writer: writer, lock: lock, identity: identity, replicaName: name, options: options)
    }

    /// Runs `body` in one write transaction, under the cross-process lock: all of it commits or none.
    func write<T>(_ body: (inout WriteContext) throws -> T) throws -> T {
        func transaction() throws -> T {
            try writer.write { db in
                var context = try WriteContext(db: db, identity: identity, clock: clock)
                let result = try body(&context)
                try context.finish()
                return result
            }
        }
        guard let lock else { return try transaction() }
        return try lock.withLock(timeout: lockTimeout, storePath: path ?? "", transaction)
    }

    /// Closes the store's connections. The last one to close folds the write-ahead log into the
    /// database file, so a store at rest is one file (a copy of `store.sqlite` alone is complete).
    public func close() throws {
        if path != nil {
            // Folded in under the store's lock, so no other process writes meanwhile. Passive: it
            // never waits for another process's readers (a `serve` reading keeps what it needs).
            try lock?.withLock(timeout: 1, storePath: path ?? "") {
                _ = try writer.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }
        try writer.close()
    }

    /// Runs `body` with a read-only, consistent view of the store.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.read(body)
    }
}
