import Foundation
import MarginStore

/// The Margin sync protocol, version 2: signed runs as JSON over HTTP under /v1
/// (Schema/sync-api.yaml), gzip both ways.
public enum SyncProtocol {
    /// The protocol version; a client and a server that differ refuse each other with a clear error.
    public static let version = 2
    /// The version of the change vocabulary (entities and fields) carried in changes.
    public static let changeSchema = 1
    /// Headers every request and response carries.
    public static let versionHeader = "Margin-Protocol"
    public static let schemaHeader = "Margin-Schema"
    /// The most changes one request may carry or ask for.
    public static let maxBatch = ChangeLimits.maxBatch
    /// The largest request body a server accepts (decompressed).
    public static let maxBodyBytes = ChangeLimits.maxBodyBytes
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

/// `GET /v1/changes?after=…&limit=N`: the runs the caller lacks, and the server's vector.
/// Encoded and decoded by `WireCodec` (run bodies travel byte for byte as signed).
public struct ChangesResponse: Sendable {
    public var `protocol`: Int
    public var runs: [SignedRun]
    public var more: Bool
    public var vector: VersionVector

    public init(runs: [SignedRun], more: Bool, vector: VersionVector) {
        self.protocol = SyncProtocol.version
        self.runs = runs
        self.more = more
        self.vector = vector
    }

    /// Number of changes in the runs.
    public var changeCount: Int { runs.reduce(0) { $0 + $1.count } }
}

/// `POST /v1/changes` body (see `WireCodec`).
public struct PushRequest: Sendable {
    public var `protocol`: Int
    public var runs: [SignedRun]

    public init(runs: [SignedRun]) {
        self.protocol = SyncProtocol.version
        self.runs = runs
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
    /// The origin a refusal names (`forged_run`, `equivocation`, `not_causal`, `clock_skew`).
    public var origin: String?
    /// The seq a refusal names, with `origin`.
    public var seq: Int64?

    public init(
        code: String, error: String, protocol: Int, vector: VersionVector? = nil, origin: String? = nil, seq: Int64? = nil
    ) {
        self.code = code
        self.error = error
        self.protocol = `protocol`
        self.vector = vector
        self.origin = origin
        self.seq = seq
    }
}

/// Where a puller stands: its version vector and, per origin, the start of the hash of the last
/// run it holds, so a server holding other changes under the same seqs (two stores writing as
/// one replica) notices even when both are at the same seq.
public struct PullPosition: Sendable, Equatable {
    public var vector: VersionVector
    /// Origin → the first 8 hex digits of the SHA-256 of the held run that ends at its seq.
    public var heads: [String: String]

    public init(vector: VersionVector, heads: [String: String] = [:]) {
        self.vector = vector
        self.heads = heads
    }

    /// Hex digits of a head sent: 32 bits tell two histories apart (this guards against
    /// accidents, such as a copied store; a forger is stopped by signatures, not by this).
    public static let headDigits = 8

    /// The compact query form `origin:seq[:head],…` used by `GET /v1/changes?after=`.
    public var queryValue: String {
        vector.seqs.keys.sorted().map { origin in
            "\(origin):\(vector.seqs[origin]!)" + (heads[origin].map { ":\($0)" } ?? "")
        }.joined(separator: ",")
    }

    /// Parses the compact query form; nil when malformed.
    public init?(queryValue: String) {
        self.init(vector: VersionVector())
        guard !queryValue.isEmpty else { return }
        for part in queryValue.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2 || pieces.count == 3, ReplicaIdentity.isReplicaID(String(pieces[0])),
                  let seq = Int64(pieces[1]), seq >= 0
            else { return nil }
            let origin = String(pieces[0])
            if pieces.count == 3 {
                let head = pieces[2]
                guard head.count == Self.headDigits, head.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
                else { return nil }
            }
            // An origin named twice: the lower seq (asking for more is harmless), with its head.
            if vector.seqs[origin] != nil, vector[origin] <= seq { continue }
            vector[origin] = seq
            heads[origin] = pieces.count == 3 ? String(pieces[2]) : nil
        }
    }
}

extension VersionVector {
    /// The compact query form `origin:seq,origin:seq`.
    public var queryValue: String { PullPosition(vector: self).queryValue }

    /// Parses the compact query form (heads, if any, are dropped); nil when malformed.
    public init?(queryValue: String) {
        guard let position = PullPosition(queryValue: queryValue) else { return nil }
        self = position.vector
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
