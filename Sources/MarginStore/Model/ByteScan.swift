import Foundation

/// Scans of UTF-8 bytes eight at a time (SWAR: one 64-bit word holds eight bytes), for the passes
/// that run over every article body: JSON escaping, counting code points, finding line breaks.
///
/// Each test says exactly whether some byte of the word matches; the bytes are then looked at one
/// by one only in a word that has one.
enum ByteScan {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `pointer`, in any alignment.
    @inline(__always)
    static func word(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self)
    }

    /// Whether some byte of `word` is zero.
    @inline(__always)
    static func hasZero(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highBits != 0
    }

    /// Whether some byte of `word` is `byte`.
    @inline(__always)
    static func has(_ word: UInt64, _ byte: UInt8) -> Bool {
        hasZero(word ^ (ones &* UInt64(byte)))
    }

    /// Whether some byte of `word` is below `bound` (at most 128).
    @inline(__always)
    static func hasLess(_ word: UInt64, than bound: UInt8) -> Bool {
        (word &- ones &* UInt64(bound)) & ~word & highBits != 0
    }

    /// Whether some byte of `word` must be escaped in a JSON string: a control character, `"` or `\`.
    @inline(__always)
    static func needsJSONEscape(_ word: UInt64) -> Bool {
        hasLess(word, than: 0x20) || has(word, 0x22) || has(word, 0x5C)
    }

    /// The number of code points in `bytes` (well-formed UTF-8): the bytes that are not
    /// continuation bytes (`10xxxxxx`).
    static func scalarCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let count = bytes.count
        var continuations = 0
        var i = 0
        while i + 8 <= count {
            let w = word(base + i)
            // Bit 7 set and bit 6 clear, in each byte.
            continuations += (w & ~(w << 1) & highBits).nonzeroBitCount
            i += 8
        }
        while i < count {
            if base[i] & 0xC0 == 0x80 { continuations += 1 }
            i += 1
        }
        return count - continuations
    }

    /// The index of the first `byte` in `bytes` at or after `start`, else `bytes.count`.
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress, start < bytes.count,
              let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return bytes.count }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }
}
