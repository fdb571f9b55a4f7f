import Foundation

/// A live write of a field, as an entity's state keeps it: its dot in this store's origin numbers
/// and, for a true/false field (tags, `deleted`), its value.
struct LiveDot: Hashable {
    /// The origin's `origin.num` in this store.
    var origin: Int64
    var seq: Int64
    /// The written value was `true` (read for tags, where any live `true` keeps the tag).
    var flag: Bool
}

/// The merge state of one entity: per field, the writes no held write of that field supersedes
/// (a multi-value register per field). Stored in the entity's row (`state` column) in a compact
/// binary form; the values of a field with one live write are in the row's columns, those of a
/// field with several in `live_value`.
struct EntityState: Equatable {
    var fields: [String: [LiveDot]] = [:]

    init() {}

    /// The live writes of `field` (none when it was never written).
    subscript(field: String) -> [LiveDot] {
        get { fields[field] ?? [] }
        set { fields[field] = newValue }
    }

    // Encoding: varint field count, then per field in byte order: varint name length, the name's
    // UTF-8, varint dot count, then per dot varint origin, varint seq, one byte flag.

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.count * 16)
        Self.varint(UInt64(fields.count), into: &out)
        for field in fields.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let dots = fields[field]!
            Self.varint(UInt64(field.utf8.count), into: &out)
            out.append(contentsOf: field.utf8)
            Self.varint(UInt64(dots.count), into: &out)
            for dot in dots {
                Self.varint(UInt64(dot.origin), into: &out)
                Self.varint(UInt64(dot.seq), into: &out)
                out.append(dot.flag ? 1 : 0)
            }
        }
        return out
    }

    /// Reads a state written by `encoded()`.
    /// - Throws: `RunError` when the bytes are not a state (a damaged store).
    init(decoding bytes: UnsafeRawBufferPointer) throws {
        var index = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
                guard shift < 64 else { break }
            }
            throw RunError("a stored entity state is damaged")
        }
        let count = try varint()
        for _ in 0..<count {
            let length = Int(try varint())
            guard index + length <= bytes.count else { throw RunError("a stored entity state is damaged") }
            let field = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<index + length]), as: UTF8.self)
            index += length
            let n = try varint()
            var dots: [LiveDot] = []
            dots.reserveCapacity(Int(n))
            for _ in 0..<n {
                let origin = Int64(try varint())
                let seq = Int64(try varint())
                guard index < bytes.count else { throw RunError("a stored entity state is damaged") }
                dots.append(LiveDot(origin: origin, seq: seq, flag: bytes[index] != 0))
                index += 1
            }
            fields[field] = dots
        }
    }

    private static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }
}
