import Foundation
import GRDB

/// A bearer token this replica accepts when serving (only its name and date: the token is never stored).
public struct TokenInfo: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: String
    /// A read-only token may pull, digest and verify; its push is refused.
    public var readOnly: Bool = false
    /// The origins whose runs were pushed with this token, with the key that signed them.
    public var origins: [TokenOrigin] = []
    /// The replicas bound to this token (`margin token bind`): its members.
    public var members: [String] = []
}

/// An origin whose runs a token delivered.
public struct TokenOrigin: Codable, Sendable, Equatable {
    public var origin: String
    /// The Ed25519 public key of its runs, base64; nil for unsigned protocol-1 history.
    public var key: String?
    public var firstAt: String
    public var lastAt: String
}

/// What a presented token is allowed.
public struct TokenGrant: Sendable, Equatable {
    public var name: String
    public var readOnly: Bool
}

/// One push a hub answered, as `margin log --deliveries` shows it.
public struct Delivery: Codable, Sendable, Equatable {
    public struct Range: Codable, Sendable, Equatable {
        public var origin: String
        public var first: Int64
        public var last: Int64

        public init(origin: String, first: Int64, last: Int64) {
            self.origin = origin
            self.first = first
            self.last = last
        }
    }

    public var at: String
    /// The token's name; nil on a server without tokens.
    public var token: String?
    public var ranges: [Range]
    public var runs: Int
    public var changes: Int
    public var applied: Int
    /// "ok", or the refusal's code (forged_run, equivocation, gap, …).
    public var result: String
    public var message: String?

    public init(
        at: String, token: String?, ranges: [Range], runs: Int, changes: Int, applied: Int, result: String,
        message: String?
    ) {
        self.at = at
        self.token = token
        self.ranges = ranges
        self.runs = runs
        self.changes = changes
        self.applied = applied
        self.result = result
        self.message = message
    }
}

/// A peer this replica syncs with.
public struct RemoteInfo: Codable, Sendable, Equatable {
    public var name: String
    public var url: String
    /// The environment variable that holds the bearer token, if any.
    public var tokenEnv: String?
    /// The remote's version vector as of the last exchange.
    public var knownVector: VersionVector?
    public var lastSyncAt: String?
    public var lastError: String?
}

extension Store {
    /// Runs a write of local-only tables (tokens, remotes) under the cross-process lock.
    func writeLocal<T>(_ body: (Database) throws -> T) throws -> T {
        func transaction() throws -> T { try writer.write(body) }
        guard let lock else { return try transaction() }
        return try lock.withLock(timeout: lockTimeout, storePath: path ?? "", transaction)
    }

    // MARK: Tokens

    /// Makes a new bearer token named `name` and returns it; only its SHA-256 is stored.
    /// - Throws: `StoreError.invalidArgument` when the name is taken or malformed.
    public func createToken(name: String, readOnly: Bool = false) throws -> String {
        try Self.validateName(name, what: "token")
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = "mgn_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        try writeLocal { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM token WHERE name = ?", arguments: [name]) == true {
                throw StoreError.invalidArgument(
                    "a token named \(name) exists; revoke it first (`margin token revoke \(name)`) or pick another name")
            }
            try db.execute(sql: "INSERT INTO token(name, hash, created_at, read_only) VALUES (?, ?, ?, \(readOnly ? 1 : 0))",
                           arguments: [name, ArticleIdentity.sha256Hex(token), HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000)).iso8601])
        }
        return token
    }

    /// The tokens this replica accepts, by name.
    public func tokens() throws -> [TokenInfo] {
        try read { db in
            let origins = Dictionary(grouping: try Row.fetchAll(
                db, sql: "SELECT token, origin, key, first_at, last_at FROM token_origin ORDER BY token, first_at, origin")
            ) { $0["token"] as String }
            let members = Dictionary(grouping: try Row.fetchAll(
                db, sql: "SELECT token, origin FROM token_member ORDER BY token, bound_at, origin")
            ) { $0["token"] as String }
            return try Row.fetchAll(db, sql: "SELECT name, created_at, read_only FROM token ORDER BY name").map { row in
                let name: String = row["name"]
                return TokenInfo(
                    name: name, createdAt: row["created_at"], readOnly: row["read_only"],
                    origins: (origins[name] ?? []).map {
                        TokenOrigin(origin: $0["origin"], key: ($0["key"] as Data?)?.base64EncodedString(),
                                    firstAt: $0["first_at"], lastAt: $0["last_at"])
                    },
                    members: (members[name] ?? []).map { $0["origin"] })
            }
        }
    }

    /// Binds the replica `origin` to the token `name`: with `margin serve --members-only`, the hub
    /// accepts runs of `origin` (pushed with any token). A replica id is derived from its key, so
    /// this binds the key. Binding twice changes nothing.
    public func bindMember(token name: String, origin: String) throws {
        if UUID(uuidString: origin) != nil {
            throw StoreError.invalidArgument(
                "\(origin) is a protocol-1 replica id, which no key is bound to; bind the id that replica's "
                    + "`margin status` shows since its upgrade (26 letters and digits)")
        }
        guard ReplicaIdentity.isReplicaID(origin) else {
            throw StoreError.invalidArgument(
                "'\(origin)' is not a replica id; the laptop's `margin status` shows its id (26 letters and digits)")
        }
        try writeLocal { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM token WHERE name = ?", arguments: [name]) == true else {
                throw StoreError.invalidArgument("no token is named \(name); see `margin token list`")
            }
            try db.execute(
                sql: "INSERT INTO token_member(token, origin, bound_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [name, origin, HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000)).iso8601])
        }
    }

    /// Unbinds `origin` from the token `name`; an error names a binding that does not exist.
    public func unbindMember(token name: String, origin: String) throws {
        try writeLocal { db in
            try db.execute(sql: "DELETE FROM token_member WHERE token = ? AND origin = ?", arguments: [name, origin])
            if db.changesCount == 0 {
                throw StoreError.invalidArgument("\(origin) is not bound to a token named \(name); see `margin token list`")
            }
        }
    }

    /// The origins bound to tokens that exist: what `--members-only` accepts besides this replica.
    public func memberOrigins() throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT m.origin FROM token_member m JOIN token t ON t.name = m.token"))
        }
    }

    /// Revokes a token: the next request that presents it is refused.
    public func revokeToken(name: String) throws {
        try writeLocal { db in
            try db.execute(sql: "DELETE FROM token WHERE name = ?", arguments: [name])
            if db.changesCount == 0 {
                throw StoreError.invalidArgument("no token is named \(name); see `margin token list`")
            }
            // Its members are members no more (unless bound to another token).
            try db.execute(sql: "DELETE FROM token_member WHERE token = ?", arguments: [name])
        }
    }

    /// The name of the token `presented` matches, or nil. Compares SHA-256 digests in constant
    /// time, against every stored token, so timing tells nothing about which bytes matched.
    public func authenticate(token presented: String) throws -> String? {
        try grant(token: presented)?.name
    }

    /// The token `presented` matches and what it may do, or nil (see `authenticate(token:)`).
    public func grant(token presented: String) throws -> TokenGrant? {
        let digest = Array(ArticleIdentity.sha256Hex(presented).utf8)
        let stored = try read { db in try Row.fetchAll(db, sql: "SELECT name, hash, read_only FROM token") }
        var match: TokenGrant? = nil
        for row in stored {
            let hash = Array((row["hash"] as String).utf8)
            var difference: UInt8 = hash.count == digest.count ? 0 : 1
            for (a, b) in zip(hash, digest) { difference |= a ^ b }
            if difference == 0 { match = TokenGrant(name: row["name"], readOnly: row["read_only"]) }
        }
        return match
    }

    // MARK: Deliveries

    /// Records a push this replica answered as a server, and, when it was applied, the origins
    /// (and keys) its token delivered. Local-only: deliveries never sync.
    public func recordDelivery(_ delivery: Delivery, keys: [String: [UInt8]] = [:]) throws {
        let ranges = String(decoding: try JSONSerialization.data(
            withJSONObject: delivery.ranges.map { [$0.origin, $0.first, $0.last] as [Any] }), as: UTF8.self)
        try writeLocal { db in
            try db.execute(
                sql: """
                    INSERT INTO delivery(at, token, ranges, runs, changes, applied, result, message)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [delivery.at, delivery.token, ranges, delivery.runs, delivery.changes, delivery.applied,
                            delivery.result, delivery.message])
            guard let token = delivery.token, delivery.result == "ok" else { return }
            for origin in Set(delivery.ranges.map(\.origin)) {
                try db.execute(
                    sql: """
                        INSERT INTO token_origin(token, origin, key, first_at, last_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(token, origin) DO UPDATE SET last_at = excluded.last_at,
                            key = coalesce(excluded.key, token_origin.key)
                        """,
                    arguments: [token, origin, keys[origin].map { Data($0) }, delivery.at, delivery.at])
            }
        }
    }

    /// The pushes this replica answered as a server, newest first.
    public func deliveries(limit: Int = 100, offset: Int = 0) throws -> [Delivery] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM delivery ORDER BY num DESC LIMIT ? OFFSET ?", arguments: [limit, offset]
            ).map { row in
                let list = (try? JSONSerialization.jsonObject(with: Data((row["ranges"] as String).utf8))) as? [[Any]] ?? []
                let ranges = list.compactMap { item -> Delivery.Range? in
                    guard item.count == 3, let origin = item[0] as? String, let first = item[1] as? NSNumber,
                          let last = item[2] as? NSNumber else { return nil }
                    return Delivery.Range(origin: origin, first: first.int64Value, last: last.int64Value)
                }
                return Delivery(
                    at: row["at"], token: row["token"], ranges: ranges, runs: row["runs"], changes: row["changes"],
                    applied: row["applied"], result: row["result"], message: row["message"])
            }
        }
    }

    /// True when at least one token exists.
    public func hasTokens() throws -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM token LIMIT 1") ?? false }
    }

    // MARK: Remotes

    /// Adds a remote. The token, if any, stays in the environment variable `tokenEnv`.
    public func addRemote(name: String, url: String, tokenEnv: String?) throws {
        try Self.validateName(name, what: "remote")
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", parsed.host != nil
        else {
            throw StoreError.invalidArgument("'\(url)' is not an http(s) URL; give one like http://127.0.0.1:8421")
        }
        if let tokenEnv, tokenEnv.isEmpty || !tokenEnv.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw StoreError.invalidArgument("'\(tokenEnv)' is not an environment variable name")
        }
        try writeLocal { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM remote WHERE name = ?", arguments: [name]) == true {
                throw StoreError.invalidArgument("a remote named \(name) exists; remove it first with `margin remote rm \(name)`")
            }
            try db.execute(sql: "INSERT INTO remote(name, url, token_env) VALUES (?, ?, ?)",
                           arguments: [name, url.hasSuffix("/") ? String(url.dropLast()) : url, tokenEnv])
        }
    }

    public func remotes() throws -> [RemoteInfo] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM remote ORDER BY name").map { row in
                let vectorText: String? = row["known_vector"]
                return RemoteInfo(
                    name: row["name"], url: row["url"], tokenEnv: row["token_env"],
                    knownVector: try vectorText.map { try JSONDecoder().decode(VersionVector.self, from: Data($0.utf8)) },
                    lastSyncAt: row["last_sync_at"], lastError: row["last_error"])
            }
        }
    }

    public func remote(named name: String) throws -> RemoteInfo {
        guard let remote = try remotes().first(where: { $0.name == name }) else {
            throw StoreError.invalidArgument("no remote is named \(name); add it with `margin remote add \(name) URL`")
        }
        return remote
    }

    public func removeRemote(name: String) throws {
        try writeLocal { db in
            try db.execute(sql: "DELETE FROM remote WHERE name = ?", arguments: [name])
            if db.changesCount == 0 { throw StoreError.invalidArgument("no remote is named \(name); see `margin remote list`") }
        }
    }

    /// Records the outcome of an exchange with a remote.
    public func recordExchange(remote name: String, vector: VersionVector?, error: String?) throws {
        try writeLocal { db in
            let now = HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000)).iso8601
            if let vector {
                try db.execute(
                    sql: "UPDATE remote SET known_vector = ?, last_sync_at = ?, last_error = ? WHERE name = ?",
                    arguments: [vector.json.canonical, now, error, name])
            } else {
                try db.execute(sql: "UPDATE remote SET last_error = ? WHERE name = ?", arguments: [error, name])
            }
        }
    }

    /// Replica id → name, for every replica whose changes this one holds.
    public func replicaNames() throws -> [String: String] {
        try read { db in
            var names: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM replica") { names[row[0]] = row[1] }
            return names
        }
    }

    /// How many changes held here a peer at `vector` lacks.
    public func pendingCount(for vector: VersionVector) throws -> Int64 {
        try versionVector().seqs.reduce(0) { $0 + max(0, $1.value - vector[$1.key]) }
    }

    static func validateName(_ name: String, what: String) throws {
        guard !name.isEmpty, name.count <= 64,
              name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else {
            throw StoreError.invalidArgument("'\(name)' is not a \(what) name: use letters, digits, '-', '_' or '.'")
        }
    }
}
