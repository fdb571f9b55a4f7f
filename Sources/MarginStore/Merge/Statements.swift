import Foundation
import GRDB
import GRDBSQLite

/// The merge engine's statements, compiled once per connection (GRDB's statement cache) and run
/// on SQLite's C API: binding through StatementArguments and reading through Row was most of the
/// engine's cost when it wrote one row per field.
///
/// Text binds with its full UTF-8 length (U+0000 is refused before anything reaches here) and is
/// read back with its length.
final class Statements {
    let db: Database
    private var cache: [String: OpaquePointer] = [:]

    init(db: Database) { self.db = db }

    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// The compiled statement for `sql`.
    func statement(_ sql: String) throws -> OpaquePointer {
        if let statement = cache[sql] { return statement }
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        cache[sql] = statement
        return statement
    }

    /// A value to bind.
    enum Value {
        case null
        case int(Int64)
        case double(Double)
        case text(String)
        case blob([UInt8])

        init(_ value: DatabaseValue) {
            switch value.storage {
            case .null: self = .null
            case .int64(let i): self = .int(i)
            case .double(let d): self = .double(d)
            case .string(let s): self = .text(s)
            case .blob(let data): self = .blob(Array(data))
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: CInt, _ value: DatabaseValue) {
        switch value.storage {
        case .null: sqlite3_bind_null(statement, index)
        case .int64(let i): sqlite3_bind_int64(statement, index, i)
        case .double(let d): sqlite3_bind_double(statement, index, d)
        case .string(let s): bind(statement, index, s)
        case .blob(let data):
            _ = data.withUnsafeBytes {
                sqlite3_bind_blob(statement, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), CInt($0.count), transient)
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: CInt, _ value: Value) {
        switch value {
        case .null: sqlite3_bind_null(statement, index)
        case .int(let i): sqlite3_bind_int64(statement, index, i)
        case .double(let d): sqlite3_bind_double(statement, index, d)
        case .text(let text): bind(statement, index, text)
        case .blob(let bytes): bind(statement, index, bytes)
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: CInt, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else {
                sqlite3_bind_text(statement, index, "", 0, transient)
                return
            }
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(statement, index, $0, CInt(bytes.count), transient)
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: CInt, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            // A zero-length blob binds as an empty blob, not NULL.
            _ = sqlite3_bind_blob(statement, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), CInt(buffer.count), transient)
        }
    }

    func error(_ code: CInt, _ sql: String) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }

    /// Runs `sql` with `values` bound, for its effect.
    func run(_ sql: String, _ values: [Value]) throws {
        let statement = try self.statement(sql)
        for (i, value) in values.enumerated() { Self.bind(statement, CInt(i + 1), value) }
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, sql) }
    }

    /// Runs `sql` with `values` bound; `read` reads each row where it stands.
    func each(_ sql: String, _ values: [Value], read: (OpaquePointer) throws -> Void) throws {
        let statement = try self.statement(sql)
        for (i, value) in values.enumerated() { Self.bind(statement, CInt(i + 1), value) }
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, sql) }
            try read(statement)
        }
    }

    /// True when `sql` returns a row.
    func exists(_ sql: String, _ values: [Value]) throws -> Bool {
        var found = false
        try each(sql, values) { _ in found = true }
        return found
    }

    static func text(_ statement: OpaquePointer, _ column: CInt) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    static func optionalText(_ statement: OpaquePointer, _ column: CInt) -> String? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : text(statement, column)
    }

    static func blob(_ statement: OpaquePointer, _ column: CInt) -> [UInt8]? {
        guard sqlite3_column_type(statement, column) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Calls `body` with the column's bytes in place (valid only inside `body`).
    static func withBlob<T>(_ statement: OpaquePointer, _ column: CInt, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let count = Int(sqlite3_column_bytes(statement, column))
        let pointer = sqlite3_column_blob(statement, column)
        return try body(UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count))
    }

    static func value(_ statement: OpaquePointer, _ column: CInt) -> DatabaseValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return sqlite3_column_int64(statement, column).databaseValue
        case SQLITE_FLOAT: return sqlite3_column_double(statement, column).databaseValue
        case SQLITE_BLOB: return Data(blob(statement, column) ?? []).databaseValue
        default: return text(statement, column).databaseValue
        }
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(db.sqliteConnection!) }
    var changesCount: Int { db.changesCount }
}
