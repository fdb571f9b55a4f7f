import Foundation

/// Fast text passes the importers run on every article: whitespace, NFC, line endings.
///
/// They work on Unicode scalars or UTF-8 bytes, not on `Character`s (grapheme breaking is what made the
/// CSV import slow), and skip Foundation's normalisation when the text cannot change under it.
enum TextTools {
    /// Whether `scalar` is whitespace as `Character.isWhitespace` says (Unicode White_Space).
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Whitespace runs (no-break spaces included) become one space; the ends are trimmed.
    static func collapseWhitespace(_ text: String) -> String {
        // Most lines are collapsed already (single spaces between words): checked on the bytes, they
        // come back as they are.
        if text.utf8.withContiguousStorageIfAvailable({ isCollapsed($0) }) == true { return text }
        return collapseWhitespaceByScalars(text)
    }

    /// `collapseWhitespace` scalar by scalar, for any text.
    static func collapseWhitespaceByScalars(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if isWhitespace(scalar) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// True when `bytes` (UTF-8) hold no whitespace but single spaces between other characters:
    /// what `collapseWhitespace` would leave unchanged.
    static func isCollapsed(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        var afterSpace = true  // a space at the start is one to trim
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == 0x20 {
                    if afterSpace { return false }
                    afterSpace = true
                } else if (0x09...0x0D).contains(byte) {
                    return false
                } else {
                    afterSpace = false
                }
                index += 1
                continue
            }
            if whitespaceLength(bytes, index) > 0 { return false }
            afterSpace = false
            index += 1
            while index < count, bytes[index] & 0xC0 == 0x80 { index += 1 }
        }
        return !afterSpace || count == 0
    }

    /// The length of the UTF-8 form of a non-ASCII White_Space scalar at `index` (U+0085, U+00A0,
    /// U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), else 0.
    @inline(__always)
    private static func whitespaceLength(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Int {
        let count = bytes.count
        switch bytes[index] {
        case 0xC2:
            guard index + 1 < count else { return 0 }
            return bytes[index + 1] == 0x85 || bytes[index + 1] == 0xA0 ? 2 : 0
        case 0xE1:
            guard index + 2 < count else { return 0 }
            return bytes[index + 1] == 0x9A && bytes[index + 2] == 0x80 ? 3 : 0
        case 0xE2:
            guard index + 2 < count else { return 0 }
            let b = bytes[index + 1], c = bytes[index + 2]
            if b == 0x80 { return (0x80...0x8A).contains(c) || c == 0xA8 || c == 0xA9 || c == 0xAF ? 3 : 0 }
            return b == 0x81 && c == 0x9F ? 3 : 0
        case 0xE3:
            guard index + 2 < count else { return 0 }
            return bytes[index + 1] == 0x80 && bytes[index + 2] == 0x80 ? 3 : 0
        default:
            return 0
        }
    }

    /// NFC, skipping Foundation when no scalar of the text can change under normalisation.
    static func nfc(_ text: String) -> String {
        needsNormalization(text) ? text.precomposedStringWithCanonicalMapping : text
    }

    /// False when every scalar is one whose NFC quick-check is Yes and that never combines with a
    /// neighbour: below U+0300, general punctuation, currency signs, CJK ideographs, kana, Hangul
    /// syllables and the like. Anything else (combining marks, jamo, singletons) takes the slow path.
    static func needsNormalization(_ text: String) -> Bool {
        if let answer = text.utf8.withContiguousStorageIfAvailable({ needsNormalization($0) }) { return answer }
        return needsNormalizationByScalars(text)
    }

    /// `needsNormalization` scalar by scalar, for any text.
    static func needsNormalizationByScalars(_ text: String) -> Bool {
        for byte in text.utf8 where byte >= 0xCC {
            // Some scalar at or above U+0300: decide scalar by scalar.
            return text.unicodeScalars.contains { !isStable($0) }
        }
        return false
    }

    /// `needsNormalization` over UTF-8 bytes: only scalars of two bytes or more from U+0300 on are
    /// decoded (a lead byte from 0xCC), everything below is stable.
    private static func needsNormalization(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            let lead = bytes[index]
            guard lead >= 0xCC else {
                index += 1
                continue
            }
            // Well-formed UTF-8 (a Swift string): the continuation bytes are there.
            let value: UInt32
            if lead < 0xE0 {
                value = UInt32(lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
                index += 2
            } else if lead < 0xF0 {
                value = UInt32(lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F)
                index += 3
            } else {
                value = UInt32(lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12
                    | UInt32(bytes[index + 2] & 0x3F) << 6 | UInt32(bytes[index + 3] & 0x3F)
                index += 4
            }
            if !isStable(value) { return true }
        }
        return false
    }

    @inline(__always)
    private static func isStable(_ scalar: Unicode.Scalar) -> Bool {
        isStable(scalar.value)
    }

    @inline(__always)
    private static func isStable(_ value: UInt32) -> Bool {
        switch value {
        case 0..<0x300, 0x400...0x482, 0x48A...0x52F, 0x5D0...0x5EA, 0x621...0x64A, 0xE01...0xE30,
            0x2002...0x2027, 0x2030...0x205E, 0x391...0x3A9, 0x3B1...0x3C9, 0x20A0...0x20C0, 0x2100...0x2125, 0x2190...0x21FF,
            0x2200...0x2328, 0x232B...0x23FF, 0x2500...0x27FF, 0x3001...0x3029, 0x3030...0x303F,
            0x3041...0x3096, 0x309B...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3, 0xFF01...0xFF9D,
            0x1F300...0x1FAFF:
            true
        default:
            false
        }
    }

    /// `\r\n` and lone `\r` become `\n`.
    static func normalizeLineEndings(_ text: String) -> String {
        guard text.utf8.contains(13) else { return text }
        // "\r\n" is one Character in Swift, so replace it before lone "\r".
        return text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    }

    /// The body shape every importer returns: NFC, trailing whitespace trimmed from each line, runs of
    /// blank lines collapsed into one, no blank lines at either end. One pass over the UTF-8 bytes.
    static func normalizeBody(_ text: String) -> String {
        var text = text
        let out: [UInt8] = text.withUTF8 { bytes in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var pendingBlank = false
            var lineStart = 0
            var index = 0
            let count = bytes.count
            // Without a CR, each line ends at the next LF, found by memchr.
            let hasCR = ByteScan.firstIndex(of: 0x0D, in: bytes, from: 0) < count
            while index <= count {
                if !hasCR {
                    index = ByteScan.firstIndex(of: 0x0A, in: bytes, from: index)
                }
                let atEnd = index == count
                let byte: UInt8 = atEnd ? 0x0A : bytes[index]
                guard byte == 0x0A || byte == 0x0D else {
                    index += 1
                    continue
                }
                // The line is bytes[lineStart..<index], without its trailing whitespace.
                let end = trimmedEnd(bytes, from: lineStart, to: index)
                if end > lineStart {
                    if !out.isEmpty {
                        out.append(0x0A)
                        if pendingBlank { out.append(0x0A) }
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[lineStart..<end]))
                    pendingBlank = false
                } else if !out.isEmpty {
                    pendingBlank = true
                }
                // CRLF is one line break.
                if byte == 0x0D, index + 1 < count, bytes[index + 1] == 0x0A { index += 1 }
                index += 1
                lineStart = index
            }
            return out
        }
        return nfc(String(decoding: out, as: UTF8.self))
    }

    /// The end of `bytes[start..<end]` without trailing whitespace (the Unicode White_Space characters
    /// `Character.isWhitespace` knows, in their UTF-8 forms).
    @inline(__always)
    private static func trimmedEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var end = end
        while end > start {
            let last = bytes[end - 1]
            if last == 0x20 || (0x09...0x0D).contains(last) {
                end -= 1
                continue
            }
            // Multi-byte spaces end in a continuation byte.
            guard last >= 0x80 else { break }
            if end - start >= 2, bytes[end - 2] == 0xC2, last == 0xA0 || last == 0x85 {
                end -= 2
                continue
            }
            if end - start >= 3 {
                let a = bytes[end - 3], b = bytes[end - 2]
                let isSpace = (a == 0xE2 && b == 0x80 && ((0x80...0x8A).contains(last) || last == 0xA8 || last == 0xA9 || last == 0xAF))
                    || (a == 0xE2 && b == 0x81 && last == 0x9F) || (a == 0xE3 && b == 0x80 && last == 0x80)
                    || (a == 0xE1 && b == 0x9A && last == 0x80)
                if isSpace {
                    end -= 3
                    continue
                }
            }
            break
        }
        return end
    }

    /// A one-line field (title, byline, caption): whitespace runs collapsed, NFC.
    static func normalizeLine(_ text: String) -> String {
        nfc(collapseWhitespace(text))
    }

    /// Characters U+0080–U+009F as browsers read them in text: the Windows-1252 characters (`&#146;` is ’).
    static func mapC1Controls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if (0x80...0x9F).contains(scalar.value), let mapped = windows1252[scalar.value],
                let replacement = Unicode.Scalar(mapped)
            {
                out.append(replacement)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static let windows1252: [UInt32: UInt32] = [
        0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
        0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8E: 0x017D, 0x91: 0x2018,
        0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC,
        0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A, 0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
    ]

    /// Lowercased letters and digits only: for loose comparisons of titles and site names.
    static func looseKey(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars where scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
            out.append(scalar)
        }
        return String(out)
    }
}
