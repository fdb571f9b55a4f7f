import Foundation
import MarginStore

/// The Margin sync protocol, version 1: JSON over HTTP under /v1 (Schema/sync-api.yaml).
public enum SyncProtocol {
    /// The protocol version; a client and a server that differ refuse each other with a clear error.
    public static let version = 1
    /// The version of the change vocabulary (entities and fields) carried in changes.
    public static let changeSchema = 1
    /// Headers every request and response carries.
    public static let versionHeader = "Margin-Protocol"
    public static let schemaHeader = "Margin-Schema"
    /// The most changes one request may carry or ask for.
    public static let maxBatch = 5_000
    /// The largest request body a server accepts.
    public static let maxBodyBytes = 16 * 1024 * 1024
    /// The default page size of a sync.
    public static let defaultPageSize = 1_000
}

/// `GET /v1/health`.
public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var `protocol`: Int
    public var schema: Int
    public var replicaID: String
    public var replicaName: String

    enum CodingKeys: String, CodingKey {
        case status, `protocol`, schema, replicaID = "replica_id", replicaName = "replica_name"
    }
}

/// `GET /v1/vector`.
public struct VectorResponse: Codable, Sendable, Equatable {
    public var `protocol`: Int
    public var schema: Int
    public var vector: VersionVector
}

/// `GET /v1/digest`: digests of the replicated state per kind, their row counts, and the vector,
/// all read in one transaction. Two replicas that hold the same changes answer the same digests.
public struct DigestResponse: Codable, Sendable, Equatable {
    public var `protocol`: Int
    public var schema: Int
    /// Kind (changes, articles, annotations, tags, conflicts, replicas) → SHA-256 hex.
    public var kinds: [String: String]
    /// Kind → rows.
    public var counts: [String: Int]
    public var vector: VersionVector

    public init(digest: StateDigest, vector: VersionVector) {
        self.protocol = SyncProtocol.version
        self.schema = SyncProtocol.changeSchema
        self.kinds = digest.kinds
        self.counts = digest.counts
        self.vector = vector
    }

    /// The digest part, to compare with a local `StateDigest`.
    public var digest: StateDigest { StateDigest(kinds: kinds, counts: counts) }
}

/// `GET /v1/changes?after=…&limit=N`: the changes the caller lacks, and the server's vector.
public struct ChangesResponse: Codable, Sendable {
    public var `protocol`: Int
    public var schema: Int
    public var changes: [Change]
    public var more: Bool
    public var vector: VersionVector
}

/// `POST /v1/changes` body.
public struct PushRequest: Codable, Sendable {
    public var `protocol`: Int
    public var schema: Int
    public var changes: [Change]

    public init(changes: [Change]) {
        self.protocol = SyncProtocol.version
        self.schema = SyncProtocol.changeSchema
        self.changes = changes
    }
}

/// `POST /v1/changes` answer.
public struct PushResponse: Codable, Sendable, Equatable {
    public var `protocol`: Int
    public var schema: Int
    public var applied: Int
    public var duplicates: Int
    public var conflicts: Int
    public var vector: VersionVector
}

/// Every 4xx and 5xx answer.
public struct ErrorResponse: Codable, Sendable, Equatable {
    /// A stable word: bad_request, unauthorized, too_large, gap, clock_skew, protocol_mismatch, …
    public var code: String
    /// One sentence a person can act on.
    public var error: String
    public var `protocol`: Int
    /// The server's vector, with `gap`: resend from here.
    public var vector: VersionVector?
}

extension VersionVector {
    /// The compact query form `origin:seq,origin:seq` used by `GET /v1/changes?after=`.
    public var queryValue: String {
        seqs.keys.sorted().map { "\($0):\(seqs[$0]!)" }.joined(separator: ",")
    }

    /// Parses the compact query form; nil when malformed.
    public init?(queryValue: String) {
        self.init()
        guard !queryValue.isEmpty else { return }
        for part in queryValue.split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = part.lastIndex(of: ":"), let seq = Int64(part[part.index(after: colon)...]), seq >= 0,
                  colon > part.startIndex, part[..<colon].utf8.count <= Store.Limits.maxIDLength
            else { return nil }
            self[String(part[..<colon])] = seq
        }
    }
}

/// JSON coders shared by the client and the server.
enum WireJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder { JSONDecoder() }
}
