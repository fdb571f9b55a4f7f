import Foundation

/// The kinds of entity a change can write.
public enum EntityKind: String, Codable, Sendable, CaseIterable {
    case article, annotation, replica
}

/// A change's identity: the replica it was made on and its sequence number there.
public struct Dot: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var origin: String
    public var seq: Int64

    public init(origin: String, seq: Int64) {
        self.origin = origin
        self.seq = seq
    }

    public var description: String { "\(origin):\(seq)" }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.origin, lhs.seq) < (rhs.origin, rhs.seq)
    }

    /// Encoded as `[origin, seq]`.
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        origin = try c.decode(String.self)
        seq = try c.decode(Int64.self)
        guard c.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a dot is [origin, seq], nothing more")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(origin)
        try c.encode(seq)
    }
}

/// Per origin, the highest sequence number held (every lower one is held too).
public struct VersionVector: Hashable, Codable, Sendable, CustomStringConvertible {
    public var seqs: [String: Int64]

    public init(_ seqs: [String: Int64] = [:]) { self.seqs = seqs }

    public subscript(origin: String) -> Int64 {
        get { seqs[origin] ?? 0 }
        set { seqs[origin] = newValue }
    }

    /// True when every change `other` holds is held here too.
    public func includes(_ other: VersionVector) -> Bool {
        other.seqs.allSatisfy { self[$0.key] >= $0.value }
    }

    public func contains(_ dot: Dot) -> Bool { self[dot.origin] >= dot.seq }

    /// Total number of changes the vector stands for.
    public var total: Int64 { seqs.values.reduce(0, +) }

    public var description: String {
        seqs.keys.sorted().map { "\($0.prefix(8)):\(seqs[$0]!)" }.joined(separator: " ")
    }

    public init(from decoder: any Decoder) throws {
        seqs = try decoder.singleValueContainer().decode([String: Int64].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(seqs)
    }

    var json: JSONValue { .object(seqs.mapValues { .int($0) }) }
}

/// One field of a change: its new value, and the writes of that field the author could see.
public struct FieldWrite: Sendable, Hashable {
    public var field: String
    public var value: JSONValue
    /// The dots of the writes to this field of this entity that the author could see when
    /// writing (usually one; several when the write settles a conflict; none for a first write).
    public var supersedes: [Dot]

    public init(field: String, value: JSONValue, supersedes: [Dot] = []) {
        self.field = field
        self.value = value
        self.supersedes = supersedes
    }
}

/// One change: writes of one or more fields of one entity, made together by one replica.
///
/// Its dot `(origin, seq)` names every write it holds; a later write supersedes it field by
/// field (`FieldWrite.supersedes`), so one change can be live in one field and superseded in
/// another. Changes travel in runs (`Run`), which carry the origin and the seqs.
public struct Change: Sendable, Hashable {
    public var origin: String
    public var seq: Int64
    public var hlc: HLC
    public var entity: EntityKind
    public var entityID: String
    /// The fields written, in field order, each at most once.
    public var writes: [FieldWrite]
    /// For deletes: the author's version vector, so an edit the delete had not seen is told apart.
    public var context: VersionVector?

    public init(
        origin: String, seq: Int64, hlc: HLC, entity: EntityKind, entityID: String, writes: [FieldWrite],
        context: VersionVector? = nil
    ) {
        self.origin = origin
        self.seq = seq
        self.hlc = hlc
        self.entity = entity
        self.entityID = entityID
        self.writes = writes
        self.context = context
    }

    /// A change of one field.
    public init(
        origin: String, seq: Int64, hlc: HLC, entity: EntityKind, entityID: String, field: String,
        value: JSONValue, supersedes: [Dot] = [], context: VersionVector? = nil
    ) {
        self.init(
            origin: origin, seq: seq, hlc: hlc, entity: entity, entityID: entityID,
            writes: [FieldWrite(field: field, value: value, supersedes: supersedes)], context: context)
    }

    public var dot: Dot { Dot(origin: origin, seq: seq) }

    /// The write of `field`, if this change writes it.
    public func write(of field: String) -> FieldWrite? { writes.first { $0.field == field } }
}
