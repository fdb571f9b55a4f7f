import Crypto
import Foundation

/// SHA-256 through swift-crypto, for ids, run hashes and digests.
public enum Hashing {
    /// The 32-byte SHA-256 of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        return Array(hasher.finalize())
    }

    /// The 32-byte SHA-256 of raw memory (a run body, without copying it).
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// SHA-256 fed piece by piece.
    public struct Hasher {
        private var state = SHA256()
        public init() {}
        public mutating func update(_ bytes: [UInt8]) { state.update(data: bytes) }
        public func finalize() -> [UInt8] { Array(state.finalize()) }
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        ArticleIdentity.hex(Array(bytes))
    }

    /// Bytes from lowercase or uppercase hex; nil when `text` is not hex of whole bytes.
    public static func bytes(hex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        func value(_ d: UInt8) -> UInt8? {
            switch d {
            case 0x30...0x39: return d - 0x30
            case 0x61...0x66: return d - 0x61 + 10
            case 0x41...0x46: return d - 0x41 + 10
            default: return nil
            }
        }
        var i = 0
        while i < digits.count {
            guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}
