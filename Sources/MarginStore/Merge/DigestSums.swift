import Foundation
import GRDB
import GRDBSQLite

/// The canonical line of a replicated row, what its kind's digest sums (Store+Digest.swift).
enum DigestLine {
    /// A row's values as a canonical JSON array (text as is, integers, NULL as null).
    static func row(_ values: [DatabaseValue]) -> [UInt8] {
        var out: [UInt8] = []
        // Room for the text as it is (a body is kilobytes), so the line is not copied as it grows.
        out.reserveCapacity(values.reduce(16) { size, value in
            if case .string(let s) = value.storage { return size + s.utf8.count + 24 }
            return size + 24
        })
        out.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch value.storage {
            case .null: out.append(contentsOf: "null".utf8)
            case .int64(let n): JSONValue.writeInt(n, into: &out)
            case .double(let d): JSONValue.writeString(String(d), into: &out)
            case .string(let s): JSONValue.writeString(s, into: &out)
            case .blob(let b): JSONValue.writeString(b.base64EncodedString(), into: &out)
            }
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// A run's line: its origin, seqs and hash (which covers every byte of its changes).
    static func run(origin: String, first: Int64, last: Int64, hash: [UInt8]) -> [UInt8] {
        row([origin.databaseValue, first.databaseValue, last.databaseValue, Hashing.hex(hash).databaseValue])
    }
}

/// A 256-bit sum of SHA-256 values, modulo 2^256: a digest of a set that does not depend on the
/// order its members came in, and from which a member can be taken out again.
struct SetSum: Equatable {
    /// Big-endian 64-bit limbs.
    private var limbs: [UInt64] = [0, 0, 0, 0]

    init() {}

    init(bytes: [UInt8]) {
        guard bytes.count == 32 else { return }
        limbs = (0..<4).map { i in bytes[i * 8..<i * 8 + 8].reduce(0) { $0 << 8 | UInt64($1) } }
    }

    var bytes: [UInt8] { limbs.flatMap { limb in (0..<8).map { UInt8(truncatingIfNeeded: limb >> (56 - 8 * $0)) } } }

    mutating func add(_ hash: [UInt8]) {
        let other = SetSum(bytes: hash).limbs
        var carry: UInt64 = 0
        for i in stride(from: 3, through: 0, by: -1) {
            let (a, o1) = limbs[i].addingReportingOverflow(other[i])
            let (b, o2) = a.addingReportingOverflow(carry)
            limbs[i] = b
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
    }

    mutating func subtract(_ hash: [UInt8]) {
        let other = SetSum(bytes: hash).limbs
        var borrow: UInt64 = 0
        for i in stride(from: 3, through: 0, by: -1) {
            let (a, o1) = limbs[i].subtractingReportingOverflow(other[i])
            let (b, o2) = a.subtractingReportingOverflow(borrow)
            limbs[i] = b
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
    }
}

/// The `digest` table as one transaction changes it: per kind, the set sum and the count.
struct DigestSums {
    static let kinds = ["changes", "articles", "annotations", "tags", "conflicts", "replicas"]

    private var sums: [String: SetSum] = [:]
    private var counts: [String: Int] = [:]
    private var loaded = false
    private var changed = false

    private mutating func load(_ statements: Statements) throws {
        guard !loaded else { return }
        loaded = true
        try statements.each("SELECT kind, sum, count FROM digest", []) { row in
            let kind = Statements.text(row, 0)
            sums[kind] = SetSum(bytes: Statements.blob(row, 1) ?? [])
            counts[kind] = Int(sqlite3_column_int64(row, 2))
        }
    }

    /// Counts a row's line into its kind (`count`: how many it stands for; a run counts its changes).
    mutating func add(_ kind: String, line: [UInt8], count: Int = 1, _ statements: Statements) throws {
        try add(kind, hash: Hashing.sha256(line), count: count, statements)
    }

    mutating func add(_ kind: String, hash: [UInt8], count: Int = 1, _ statements: Statements) throws {
        try load(statements)
        sums[kind, default: SetSum()].add(hash)
        counts[kind, default: 0] += count
        changed = true
    }

    /// Takes a row's line out of its kind.
    mutating func remove(_ kind: String, line: [UInt8], count: Int = 1, _ statements: Statements) throws {
        try remove(kind, hash: Hashing.sha256(line), count: count, statements)
    }

    mutating func remove(_ kind: String, hash: [UInt8], count: Int = 1, _ statements: Statements) throws {
        try load(statements)
        sums[kind, default: SetSum()].subtract(hash)
        counts[kind, default: 0] -= count
        changed = true
    }

    mutating func save(_ statements: Statements) throws {
        guard changed else { return }
        for (kind, sum) in sums {
            try statements.run(
                "INSERT INTO digest(kind, sum, count) VALUES (?, ?, ?) ON CONFLICT(kind) DO UPDATE SET sum = excluded.sum, count = excluded.count",
                [.text(kind), .blob(sum.bytes), .int(Int64(counts[kind] ?? 0))])
        }
        changed = false
    }
}
