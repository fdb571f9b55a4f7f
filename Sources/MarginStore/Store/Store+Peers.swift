import Foundation
import GRDB

/// A bearer token this replica accepts when serving (only its name and date: the token is never stored).
public struct TokenInfo: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: String
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
    public func createToken(name: String) throws -> String {
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
            try db.execute(sql: "INSERT INTO token(name, hash, created_at) VALUES (?, ?, ?)",
                           arguments: [name, ArticleIdentity.sha256Hex(token), HLC(milliseconds: Int64(clock().timeIntervalSince1970 * 1000)).iso8601])
        }
        return token
    }

    /// The tokens this replica accepts, by name.
    public func tokens() throws -> [TokenInfo] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, created_at FROM token ORDER BY name").map {
                TokenInfo(name: $0["name"], createdAt: $0["created_at"])
            }
        }
    }

    /// Revokes a token: the next request that presents it is refused.
    public func revokeToken(name: String) throws {
        try writeLocal { db in
            try db.execute(sql: "DELETE FROM token WHERE name = ?", arguments: [name])
            if db.changesCount == 0 {
                throw StoreError.invalidArgument("no token is named \(name); see `margin token list`")
            }
        }
    }

    /// The name of the token `presented` matches, or nil. Compares SHA-256 digests in constant
    /// time, against every stored token, so timing tells nothing about which bytes matched.
    public func authenticate(token presented: String) throws -> String? {
        let digest = Array(ArticleIdentity.sha256Hex(presented).utf8)
        let stored = try read { db in try Row.fetchAll(db, sql: "SELECT name, hash FROM token") }
        var match: String? = nil
        for row in stored {
            let hash = Array((row["hash"] as String).utf8)
            var difference: UInt8 = hash.count == digest.count ? 0 : 1
            for (a, b) in zip(hash, digest) { difference |= a ^ b }
            if difference == 0 { match = row["name"] }
        }
        return match
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
