import Foundation
import GRDB
import GRDBSQLite

/// The origins a store holds changes of (the `origin` table) as one transaction sees them: their
/// local numbers, held seqs (the version vector), keys and chain heads. Read once when a
/// transaction starts; what it changes is written back when it ends.
struct OriginTable {
    struct Entry {
        var num: Int64
        var id: String
        var seq: Int64
        var key: [UInt8]?
        var head: [UInt8]?
    }

    private(set) var entries: [Int64: Entry] = [:]
    private var numbers: [String: Int64] = [:]
    private var changed: Set<Int64> = []
    private var nextNum: Int64 = 1

    init(_ statements: Statements) throws {
        try statements.each("SELECT num, id, seq, key, head FROM origin", []) { row in
            let entry = Entry(
                num: sqlite3_column_int64(row, 0), id: Statements.text(row, 1), seq: sqlite3_column_int64(row, 2),
                key: Statements.blob(row, 3), head: Statements.blob(row, 4))
            entries[entry.num] = entry
            numbers[entry.id] = entry.num
            nextNum = max(nextNum, entry.num + 1)
        }
    }

    func num(_ id: String) -> Int64? { numbers[id] }

    func id(_ num: Int64) -> String { entries[num]?.id ?? "" }

    subscript(num: Int64) -> Entry {
        get { entries[num]! }
        set {
            entries[num] = newValue
            changed.insert(num)
        }
    }

    /// The number of `id`, added (holding nothing yet) when new.
    mutating func numbering(_ id: String) -> Int64 {
        if let num = numbers[id] { return num }
        let num = nextNum
        nextNum += 1
        numbers[id] = num
        entries[num] = Entry(num: num, id: id, seq: 0, key: nil, head: nil)
        changed.insert(num)
        return num
    }

    /// The highest seq held of `id`.
    func seq(_ id: String) -> Int64 { numbers[id].flatMap { entries[$0]?.seq } ?? 0 }

    func holds(_ dot: Dot) -> Bool { seq(dot.origin) >= dot.seq }

    /// The version vector (origins holding nothing left out).
    var vector: VersionVector {
        var vector = VersionVector()
        for entry in entries.values where entry.seq > 0 { vector[entry.id] = entry.seq }
        return vector
    }

    /// Writes back what changed.
    mutating func save(_ statements: Statements) throws {
        for num in changed.sorted() {
            let entry = entries[num]!
            try statements.run(
                """
                INSERT INTO origin(num, id, seq, key, head) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(num) DO UPDATE SET seq = excluded.seq, key = excluded.key, head = excluded.head
                """,
                [.int(num), .text(entry.id), .int(entry.seq), entry.key.map { .blob($0) } ?? .null,
                 entry.head.map { .blob($0) } ?? .null])
        }
        changed = []
    }
}
