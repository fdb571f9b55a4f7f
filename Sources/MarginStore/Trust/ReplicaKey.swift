import Crypto
import Foundation

/// A replica's signing key: an Ed25519 key pair made at `margin init`. The private half stays in
/// the store's `meta` table and never syncs; the public half travels with every run the replica
/// signs, and the replica's id is derived from it (`ReplicaIdentity.id(publicKey:)`).
public struct ReplicaKey: Sendable {
    private let privateKey: Curve25519.Signing.PrivateKey

    /// A new random key pair.
    public init() {
        privateKey = Curve25519.Signing.PrivateKey()
    }

    /// The key pair stored as its 32-byte seed.
    /// - Throws: when `seed` is not 32 bytes.
    public init(seed: [UInt8]) throws {
        privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// The 32-byte seed the store keeps.
    public var seed: [UInt8] { Array(privateKey.rawRepresentation) }

    /// The 32-byte public key.
    public var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    /// The replica id this key stands for.
    public var replicaID: String { ReplicaIdentity.id(publicKey: publicKey) }

    /// Signs a run: Ed25519 over the domain tag and the run's SHA-256 (`ReplicaIdentity.signedMessage`).
    public func sign(runHash: [UInt8]) -> [UInt8] {
        // Ed25519 signing in swift-crypto does not fail for a valid key and a message in memory.
        (try? Array(privateKey.signature(for: ReplicaIdentity.signedMessage(runHash: runHash)))) ?? []
    }
}

/// How replica ids, keys and signatures fit together (protocol 2).
public enum ReplicaIdentity {
    /// Characters of a key-derived id (RFC 4648 base32, lowercase).
    static let base32Alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    /// Length of a key-derived id: 26 base32 characters, 130 bits of SHA-256.
    public static let idLength = 26

    /// The id of the replica whose public key is `publicKey`: the first 130 bits of
    /// SHA-256("margin/replica-id/v2\n" + key), in lowercase base32. Finding another key with a
    /// given id takes about 2^130 tries, so nobody can sign as a replica without its private key.
    public static func id(publicKey: [UInt8]) -> String {
        let digest = Hashing.sha256(Array("margin/replica-id/v2\n".utf8) + publicKey)
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in digest {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5, out.count < idLength {
                out.append(base32Alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
            if out.count == idLength { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for an id of the key-derived shape. Any other id (a protocol-1 UUID) is a legacy id,
    /// bound to its key by the first signed run a receiver holds of it.
    public static func isKeyDerived(_ id: String) -> Bool {
        id.utf8.count == idLength && id.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x32...0x37).contains($0) }
    }

    /// True for an id a replica can have: key-derived, or the UUID of a replica made before
    /// protocol 2 (lowercase, as those were made).
    public static func isReplicaID(_ id: String) -> Bool {
        if isKeyDerived(id) { return true }
        let bytes = Array(id.utf8)
        guard bytes.count == 36 else { return false }
        for (i, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) else { return false }
            }
        }
        return true
    }

    /// What a run's signature signs: a domain tag, so a signature made for a run can be taken for
    /// nothing else, and the run's SHA-256.
    public static func signedMessage(runHash: [UInt8]) -> [UInt8] {
        Array("margin/run/v2\n".utf8) + runHash
    }

    /// True when `signature` is `publicKey`'s signature of the run whose SHA-256 is `runHash`.
    public static func verify(signature: [UInt8], runHash: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: signedMessage(runHash: runHash))
    }
}
