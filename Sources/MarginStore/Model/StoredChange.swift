import Foundation

/// A change as the change log holds it: its JSON columns (value, supersedes, context) left as the
/// canonical text they were stored as.
///
/// A server answering a pull writes that text to the wire as it is, instead of parsing every value
/// into a `JSONValue` only to encode it again.
public struct StoredChange: Sendable, Hashable {
    public var origin: String
    public var seq: Int64
    public var hlc: HLC
    public var entity: EntityKind
    public var entityID: String
    public var field: String
    /// The value as canonical JSON (`JSONValue.canonical`).
    public var valueJSON: String
    /// The superseded dots as canonical JSON: `[["origin",seq],…]`.
    public var supersedesJSON: String
    /// For deletes, the author's version vector as canonical JSON: `{"origin":seq,…}`.
    public var contextJSON: String?

    public init(
        origin: String, seq: Int64, hlc: HLC, entity: EntityKind, entityID: String, field: String,
        valueJSON: String, supersedesJSON: String, contextJSON: String? = nil
    ) {
        self.origin = origin
        self.seq = seq
        self.hlc = hlc
        self.entity = entity
        self.entityID = entityID
        self.field = field
        self.valueJSON = valueJSON
        self.supersedesJSON = supersedesJSON
        self.contextJSON = contextJSON
    }

    public var dot: Dot { Dot(origin: origin, seq: seq) }

    /// About the bytes this change takes on the wire: its text plus the keys and punctuation
    /// around it (what a page's byte budget counts).
    public var storedBytes: Int {
        origin.utf8.count + entityID.utf8.count + field.utf8.count + valueJSON.utf8.count
            + supersedesJSON.utf8.count + (contextJSON?.utf8.count ?? 0) + 160
    }

    /// The change with its JSON columns parsed.
    /// - Throws: `JSONValue.ParseError` or `DecodingError` when a column is not the JSON it should be.
    public func decoded() throws -> Change {
        Change(
            origin: origin, seq: seq, hlc: hlc, entity: entity, entityID: entityID, field: field,
            value: try JSONValue.parse(valueJSON), supersedes: try WriteContext.decodeDots(supersedesJSON),
            context: try contextJSON.map { try JSONDecoder().decode(VersionVector.self, from: Data($0.utf8)) })
    }
}
