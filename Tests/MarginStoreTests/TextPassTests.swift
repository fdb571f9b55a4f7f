import Foundation
import Testing

@testable import MarginStore

// The passes every imported article goes through, made faster by reading UTF-8 bytes (eight at a
// time, or with memchr): each gives what the plain character or scalar version gives, on text made
// of the characters that decide it (spaces of every kind, quotes, controls, combining marks, emoji),
// at every length around the eight-byte words.

/// Random text from `alphabet`, `count` pieces long.
private func text(_ alphabet: [String], _ count: Int, _ random: inout SeededRandom) -> String {
    (0..<count).map { _ in alphabet.randomElement(using: &random)! }.joined()
}

private let spaces = [" ", "  ", "\t", "\n", "\r\n", "\u{0B}", "\u{85}", "\u{A0}", "\u{1680}", "\u{2003}", "\u{200A}",
                      "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}"]
private let letters = ["a", "Z", "7", ".", "é", "e\u{301}", "’", "“", "—", "日", "한", "😀", "\u{1F}", "\u{2000B}",
                       "\u{2030}", "\u{200B}", "\u{3099}", "Ω", "\u{2126}"]

@Suite("Text passes over bytes")
struct TextPassTests {
    @Test func collapsingWhitespaceOnBytesMatchesTheScalarPass() {
        var random = SeededRandom(seed: 11)
        for length in 0..<40 {
            for _ in 0..<100 {
                let line = text(letters + spaces, length, &random)
                #expect(TextTools.collapseWhitespace(line) == TextTools.collapseWhitespaceByScalars(line),
                        "\(Array(line.unicodeScalars))")
            }
        }
        for line in ["", " ", "a", "a b", " a", "a ", "a  b", "a\u{A0}b", "a\u{2009}b", "café au lait", "a\u{85}"] {
            #expect(TextTools.collapseWhitespace(line) == TextTools.collapseWhitespaceByScalars(line))
        }
    }

    @Test func theNormalizationCheckOnBytesMatchesTheScalarCheck() {
        var random = SeededRandom(seed: 12)
        for length in 0..<40 {
            for _ in 0..<100 {
                let body = text(letters + spaces, length, &random)
                #expect(TextTools.needsNormalization(body) == TextTools.needsNormalizationByScalars(body),
                        "\(Array(body.unicodeScalars))")
                // Text the check passes is NFC already.
                if !TextTools.needsNormalization(body) { #expect(body.precomposedStringWithCanonicalMapping == body) }
            }
        }
    }

    @Test func normalizingABodyFindsLinesWithAndWithoutCarriageReturns() {
        #expect(TextTools.normalizeBody("One.  \n\n\n Two.\t\nThree.\n") == "One.\n\n Two.\nThree.")
        #expect(TextTools.normalizeBody("One.  \r\n\r\n\r\n Two.\t\rThree.\r") == "One.\n\n Two.\nThree.")
        #expect(TextTools.normalizeBody("\n\nOnly\n\n") == "Only")
        #expect(TextTools.normalizeBody("") == "")
        var random = SeededRandom(seed: 13)
        for length in 0..<60 {
            let body = text(letters + ["\n", "\n\n", " \n", "\u{A0}\n", "  "], length, &random)
            // The same lines with CRLF give the same body (the other path of the scan).
            #expect(TextTools.normalizeBody(body) == TextTools.normalizeBody(body.replacingOccurrences(of: "\n", with: "\r\n")))
        }
    }

    @Test func escapingJSONStringsEightBytesAtATimeMatchesByteByByte() throws {
        func reference(_ s: String) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for byte in s.utf8 {
                switch byte {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case ..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
                default: out.append(byte)
                }
            }
            return out + [0x22]
        }
        var random = SeededRandom(seed: 14)
        let alphabet = letters + ["\"", "\\", "\n", "\r", "\t", "\u{01}", "\u{1F}", " ", "\u{7F}", "abcdefgh"]
        for length in 0..<50 {
            for _ in 0..<40 {
                let s = text(alphabet, length, &random)
                var out: [UInt8] = [0x41]
                JSONValue.writeString(s, into: &out)
                #expect(out == [0x41] + reference(s), "\(Array(s.unicodeScalars))")
                #expect(try JSONValue.parse(JSONValue.string(s).canonical) == .string(s))
            }
        }
    }

    @Test func countingCodePointsOnWordsMatchesTheScalarCount() {
        var random = SeededRandom(seed: 15)
        for length in 0..<50 {
            let s = text(letters + spaces, length, &random)
            #expect(TextAnchor.length(s) == s.unicodeScalars.count)
        }
    }

    @Test func zeroPaddedNumbersMatchPrintf() {
        for (n, width) in [(0, 2), (7, 2), (12, 2), (123, 2), (2019, 4), (19, 4), (0, 4), (-5, 3)] {
            #expect(DateText.padded(n, width) == String(format: "%0\(width)d", n))
        }
    }

    @Test func shortIDsAndUUIDLayoutsAreCutOnCharacters() {
        #expect(Store.shortID("0194c1a2-7b3c-7d4e-8f90-1234567890ab", length: 12) == "0194c1a27b3c")
        #expect(Store.shortID("6f4c6be9aa", length: 8) == "6f4c6be9")
        #expect(Store.shortID("é-ü", length: 1) == "é")
        #expect(Store.uuidForm("0194c1a27b3c7d4e8f901234567890ab") == "0194c1a2-7b3c-7d4e-8f90-1234567890ab")
        #expect(Store.uuidForm("0194c1a27b") == "0194c1a2-7b")
        #expect(Store.uuidForm("é1234567日abcdef") == "é1234567-日abc-def")
    }
}

@Suite("Canonical URLs of ASCII text")
struct CanonicalURLPathTests {
    /// An ASCII URL is read on its bytes; with a non-ASCII fragment (dropped) the same URL is read by
    /// characters: both give the same canonical form, or both none.
    @Test func asciiURLsCanonicaliseAsTheyDoByCharacters() {
        let schemes = ["http://", "HTTPS://", "https://", "ftp://", "https:/", "https:"]
        let hosts = ["Example.COM", "www.example.com", "user:pw@host.org", "[::1]:8080", "[::1]x", "host:443", "host:80",
                     "host:65536", "a b.com", "x\u{01}y.org", "x\ty.org", "host.", ".host", "", "h#st", "h@st@x.org", "www.com"]
        let paths = ["", "/", "/a//b/", "/%7euser", "/a b", "/%2f%41", "/é", "/<>", "//x"]
        let queries = ["", "?", "?b=2&a=1&utm_source=x", "?fbclid=3", "?a&a=&a=1", "?q=%41%zz"]
        var random = SeededRandom(seed: 16)
        for _ in 0..<2_000 {
            let url = [schemes, hosts, paths, queries].map { $0.randomElement(using: &random)! }.joined()
            let ascii = url.replacingOccurrences(of: "é", with: "e")
            #expect(ArticleIdentity.canonicalURL(ascii) == ArticleIdentity.canonicalURL(ascii + "#é"), "\(ascii)")
            #expect(ArticleIdentity.canonicalURL(" \(ascii)\n") == ArticleIdentity.canonicalURL(ascii + "#é"), "\(ascii)")
        }
    }
}
