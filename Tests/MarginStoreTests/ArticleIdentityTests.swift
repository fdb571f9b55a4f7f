import Foundation
import Testing

@testable import MarginStore

@Suite("Article identity")
struct ArticleIdentityTests {
    // MARK: SHA-256

    @Test(
        "SHA-256 matches the FIPS 180-4 vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (
                "The quick brown fox jumps over the lazy dog",
                "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
            ),
        ]
    )
    func sha256MatchesStandardVectors(input: String, digest: String) {
        #expect(ArticleIdentity.sha256Hex(input) == digest)
    }

    @Test func sha256OfOneMillionAs() {
        let digest = Hashing.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(ArticleIdentity.hex(digest) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256IsTheSameWhenFedInPieces() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = Hashing.Hasher()
        var start = 0
        for size in [0, 1, 63, 64, 65, 7, 300] {
            hasher.update(Array(bytes[start..<start + size]))
            start += size
        }
        hasher.update(Array(bytes[start...]))
        #expect(hasher.finalize() == Hashing.sha256(bytes))
    }

    @Test("SHA-256 pads correctly around the block boundary", arguments: [55, 56, 63, 64, 119, 120])
    func sha256PadsAroundBlockBoundary(length: Int) {
        // Vectors from Python hashlib for 'a' * length.
        let expected = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
        ]
        #expect(ArticleIdentity.sha256Hex(String(repeating: "a", count: length)) == expected[length])
    }

    // MARK: Canonical URL

    @Test(
        "Variants of one URL canonicalise to the same form",
        arguments: [
            // scheme and host case, http vs https
            ("HTTPS://EN.Wikinews.ORG/wiki/Foo", "https://en.wikinews.org/wiki/Foo"),
            ("http://en.wikinews.org/wiki/Foo", "https://en.wikinews.org/wiki/Foo"),
            // www.
            ("https://www.example.com/news/1", "https://example.com/news/1"),
            ("http://WWW.Example.com/news/1", "https://example.com/news/1"),
            // default ports
            ("http://example.com:80/news/1", "https://example.com/news/1"),
            ("https://example.com:443/news/1", "https://example.com/news/1"),
            ("https://example.com:/news/1", "https://example.com/news/1"),
            // fragment
            ("https://example.com/news/1#comments", "https://example.com/news/1"),
            ("https://example.com/news/1?id=3#section?x=1", "https://example.com/news/1?id=3"),
            // tracking parameters
            ("https://example.com/news/1?utm_source=rss&utm_medium=feed", "https://example.com/news/1"),
            ("https://example.com/news/1?UTM_Campaign=x&fbclid=abc", "https://example.com/news/1"),
            ("https://example.com/a?id=7&gclid=1&ref=hn&smid=tw&ocid=x&_ga=2.1", "https://example.com/a?id=7"),
            (
                "https://example.com/a?__twitter_impression=true&at_medium=x&at_campaign=y&spm=1",
                "https://example.com/a"
            ),
            // parameter order, empty query, empty parameters
            ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
            ("https://example.com/a?a=1&&b=2&", "https://example.com/a?a=1&b=2"),
            ("https://example.com/a?", "https://example.com/a"),
            // trailing slash, duplicate slashes, empty path
            ("https://example.com/news/1/", "https://example.com/news/1"),
            ("https://en.wikinews.org//wiki/X", "https://en.wikinews.org/wiki/X"),
            ("https://example.com//news///1//", "https://example.com/news/1"),
            ("https://example.com", "https://example.com/"),
            ("https://example.com/", "https://example.com/"),
            ("https://example.com?id=1", "https://example.com/?id=1"),
            // percent-encoding
            ("https://example.com/%7Euser/%61rticle", "https://example.com/~user/article"),
            ("https://example.com/a%2fb%3a", "https://example.com/a%2Fb%3A"),
            ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
            ("https://example.com/café", "https://example.com/caf%C3%A9"),
            ("https://example.com/a b", "https://example.com/a%20b"),
            ("https://example.com/100%", "https://example.com/100%25"),
            ("https://example.com/s?q=%e2%82%ac&x=%41", "https://example.com/s?q=%E2%82%AC&x=A"),
            // user info, trailing dot, surrounding whitespace
            ("https://user:pass@example.com/a", "https://example.com/a"),
            ("https://example.com./a", "https://example.com/a"),
            ("  https://example.com/a\n", "https://example.com/a"),
        ]
    )
    func variantsCanonicaliseToTheSameForm(input: String, canonical: String) {
        #expect(ArticleIdentity.canonicalURL(input) == canonical)
    }

    @Test(
        "Different articles keep different canonical URLs",
        arguments: [
            ("https://example.com/news/1", "https://example.com/news/2"),
            ("https://example.com/news?id=1", "https://example.com/news?id=2"),
            ("https://example.com/news", "https://example.com/News"),
            ("https://example.com/a", "https://example.org/a"),
            ("https://example.com/a", "https://m.example.com/a"),
            ("https://example.com/a", "https://news.example.com/a"),
            ("https://example.com:8080/a", "https://example.com/a"),
            ("http://example.com:443/a", "https://example.com/a"),
            ("https://example.com/a%2Fb", "https://example.com/a/b"),
            ("https://example.com/a?x", "https://example.com/a?x="),
            ("https://example.com/a?q=a+b", "https://example.com/a?q=a%20b"),
            ("https://example.com/a?id=1&id=2", "https://example.com/a?id=1"),
            ("https://example.com/a?reference=1", "https://example.com/a"),
            ("https://example.com/index.html", "https://example.com/"),
        ]
    )
    func differentArticlesStayDifferent(first: String, second: String) throws {
        let one = try #require(ArticleIdentity.canonicalURL(first))
        let two = try #require(ArticleIdentity.canonicalURL(second))
        #expect(one != two)
    }

    @Test func wwwIsKeptWhenItIsTheWholeDomain() {
        #expect(ArticleIdentity.canonicalURL("https://www.com/a") == "https://www.com/a")
    }

    @Test func mobileHostPrefixIsKept() {
        #expect(ArticleIdentity.canonicalURL("https://M.Example.com/a") == "https://m.example.com/a")
    }

    @Test func ipv6HostKeepsItsBracketsAndPort() {
        #expect(ArticleIdentity.canonicalURL("http://[::1]:8080/a/") == "https://[::1]:8080/a")
        #expect(ArticleIdentity.canonicalURL("http://[::1]:80/a") == "https://[::1]/a")
    }

    @Test func repeatedParametersSortByValue() {
        #expect(
            ArticleIdentity.canonicalURL("https://example.com/a?tag=b&tag=a&tag")
                == "https://example.com/a?tag&tag=a&tag=b"
        )
    }

    @Test(
        "Strings that are not http(s) URLs have no canonical form",
        arguments: [
            "", "example.com/news/1", "www.example.com", "ftp://example.com/a", "mailto:someone@example.com",
            "file:///etc/hosts", "https:/example.com/a", "https://", "https:///a", "https://exa mple.com/a",
            "https://example.com:port/a", "https://example.com:99999/a", "https://[::1/a", "javascript:alert(1)",
            "not a url",
        ]
    )
    func nonHTTPStringsHaveNoCanonicalForm(input: String) {
        #expect(ArticleIdentity.canonicalURL(input) == nil)
    }

    @Test func canonicalisationIsIdempotent() throws {
        let inputs = [
            "HTTP://www.Example.com:80//a//b/?utm_source=x&z=1&a=%7e#top",
            "https://example.com/caf%c3%a9?q=%e2%82%ac",
            "https://example.com/100%",
        ]
        for input in inputs {
            let once = try #require(ArticleIdentity.canonicalURL(input))
            #expect(ArticleIdentity.canonicalURL(once) == once)
        }
    }

    // MARK: Normalised text

    @Test(
        "Normalised text ignores typographic noise",
        arguments: [
            ("  Hello,\n\tWorld  ", "hello, world"),
            ("It\u{2019}s \u{201C}fine\u{201D}", "it's \"fine\""),
            ("1990\u{2013}2000 \u{2014} a\u{2010}b \u{2212}3", "1990-2000 - a-b -3"),
            ("Caf\u{65}\u{301}", "caf\u{e9}"),
            ("non\u{A0}breaking\u{2003}space\u{3000}here", "non breaking space here"),
            ("ÉCOLE", "école"),
            ("line one\r\n\r\nline two", "line one line two"),
            ("", ""),
            (" \n\t ", ""),
        ]
    )
    func normalizedTextIgnoresTypographicNoise(input: String, normalized: String) {
        let result = ArticleIdentity.normalizedText(input)
        #expect(Array(result.unicodeScalars) == Array(normalized.unicodeScalars))
    }

    // MARK: Ids

    @Test func idIsFromTheCanonicalURLWhenThereIsOne() {
        let id = ArticleIdentity.id(url: "https://example.com/a", title: "T", body: "B")
        #expect(id == String(ArticleIdentity.sha256Hex("url\nhttps://example.com/a").prefix(32)))
        #expect(id.count == 32)
        #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func idIgnoresTitleAndBodyWhenThereIsAURL() {
        let first = ArticleIdentity.id(url: "http://www.example.com/a/?utm_source=x", title: "Old", body: "v1")
        let second = ArticleIdentity.id(url: "https://example.com/a", title: "New", body: "v2, corrected")
        #expect(first == second)
    }

    @Test func idIsFromNormalisedTitleAndBodyWithoutAURL() {
        let id = ArticleIdentity.id(url: nil, title: "  A \u{201C}Title\u{201D}", body: "Body\n\ntext")
        #expect(id == String(ArticleIdentity.sha256Hex("text\na \"title\"\nbody text").prefix(32)))
        #expect(id == ArticleIdentity.id(url: nil, title: "a \"title\"", body: "BODY TEXT"))
    }

    @Test func idFallsBackToTextWhenTheURLIsNotHTTP() {
        #expect(
            ArticleIdentity.id(url: "ftp://example.com/a", title: "T", body: "B")
                == ArticleIdentity.id(url: nil, title: "T", body: "B")
        )
    }

    @Test func idKeepsTitleAndBodyApart() {
        // The separator stops text moving between title and body from colliding.
        #expect(
            ArticleIdentity.id(url: nil, title: "a b", body: "c")
                != ArticleIdentity.id(url: nil, title: "a", body: "b c")
        )
    }

    @Test func urlAndTextIdsNeverCollide() {
        #expect(
            ArticleIdentity.id(url: "https://example.com/", title: "", body: "")
                != ArticleIdentity.id(url: nil, title: "https://example.com/", body: "")
        )
    }

    @Test func differentTextsHaveDifferentIds() {
        #expect(
            ArticleIdentity.id(url: nil, title: "Storm hits coast", body: "Winds of 100 km/h.")
                != ArticleIdentity.id(url: nil, title: "Storm hits coast", body: "Winds of 120 km/h.")
        )
    }
}

@Suite struct UUIDv7Tests {
    @Test func idsAreVersion7TimeOrderedAndDistinct() throws {
        let pattern = #"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"#
        let early = Date(timeIntervalSince1970: 1_700_000_000)
        let ids = (0..<2_000).map { UUIDv7.make(now: early.addingTimeInterval(Double($0 / 100))) }
        for id in ids { #expect(id.range(of: pattern, options: .regularExpression) != nil, "\(id) is not a UUIDv7") }
        #expect(Set(ids).count == ids.count)
        // The first 48 bits are the milliseconds: later ids sort after earlier ones.
        #expect(ids[0].prefix(13) == "018bcfe5-6800")
        #expect(ids[1_999].prefix(8) > ids[0].prefix(8) || ids[1_999].prefix(13) > ids[0].prefix(13))
        // The random bits vary in every position they cover.
        for position in [15, 16, 17, 20, 21, 22, 24, 30, 35] {
            let characters = Set(ids.map { Array($0)[position] })
            #expect(characters.count > 4, "position \(position) hardly varies: \(characters)")
        }
    }
}
