import Foundation
import Testing

@testable import MarginStore

@Suite struct FeedParserTests {
    @Test func atomEntriesReadTheirContentLinksAndDates() throws {
        let atom = """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
              <title>Quay Notes</title><link href="https://quay.example/"/>
              <author><name>Feed Author</name></author>
              <entry><id>tag:quay.example,2024:1</id><title type="html">Tide &lt;em&gt;tables&lt;/em&gt; change</title>
                <link rel="alternate" href="/2024/tides"/><published>2024-03-04T10:15:00Z</published>
                <content type="html">&lt;p&gt;The harbour master has published new tide tables for the spring, with the highest tides expected in late March.&lt;/p&gt;&lt;figure&gt;&lt;img src="t.jpg"&gt;&lt;figcaption&gt;The quay at high water.&lt;/figcaption&gt;&lt;/figure&gt;&lt;p&gt;Second paragraph.&lt;/p&gt;</content></entry>
              <entry><id>tag:quay.example,2024:2</id><title>Only a summary</title><link href="https://quay.example/2024/summary"/>
                <updated>2024-03-05T08:00:00+01:00</updated><author><name>Ann Other</name></author>
                <summary>Short.</summary></entry>
              <entry><id>tag:quay.example,2024:3</id><title>XHTML body</title><link href="https://quay.example/x"/>
                <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inline <b>markup</b> survives as text, and the paragraph is long enough to count.</p></div></content></entry>
            </feed>
            """
        let feed = try FeedParser.parse(Data(atom.utf8), baseURL: URL(string: "https://quay.example/feed.atom"))
        #expect(feed.kind == .atom)
        #expect(feed.title == "Quay Notes")
        #expect(feed.entries.map(\.key) == ["tag:quay.example,2024:1", "tag:quay.example,2024:2", "tag:quay.example,2024:3"])
        let first = try #require(try FeedParser.article(from: feed.entries[0], in: feed))
        #expect(first.title == "Tide tables change")
        #expect(first.url == "https://quay.example/2024/tides")
        #expect(first.byline == "Feed Author")
        #expect(first.publishedAt == "2024-03-04T10:15:00Z")
        #expect(first.language == "en-GB")
        #expect(first.body == "The harbour master has published new tide tables for the spring, with the highest tides expected in late March.\n\nSecond paragraph.")
        #expect(first.caption == "The quay at high water.")
        #expect(try FeedParser.article(from: feed.entries[1], in: feed) == nil, "a summary is not the full text")
        #expect(feed.entries[1].publishedAt == "2024-03-05T08:00:00+01:00")
        let xhtml = try #require(try FeedParser.article(from: feed.entries[2], in: feed))
        #expect(xhtml.body.hasPrefix("Inline markup survives as text"))
    }

    @Test func rssReadsGuidsAuthorsAndRFC822Dates() throws {
        let rss = """
            <rss version="2.0"><channel><title>Wire</title><language>fr</language>
            <item><title>Un titre</title><guid isPermaLink="true">https://wire.example/a</guid>
            <author>desk@wire.example (Jeanne Durand)</author><pubDate>Tue, 05 Mar 2024 14:30:00 +0100</pubDate>
            <description>R\u{e9}sum\u{e9}</description></item>
            </channel></rss>
            """
        let feed = try FeedParser.parse(Data(rss.utf8))
        #expect(feed.kind == .rss)
        #expect(feed.entries.first?.link == "https://wire.example/a", "a permalink guid is the link")
        #expect(feed.entries.first?.publishedAt == "2024-03-05T14:30:00+01:00")
        #expect(feed.entries.first?.author == "desk@wire.example (Jeanne Durand)")
        #expect(feed.entries.first?.language == "fr")
    }

    @Test func rss1AndOPMLAreRead() throws {
        let rdf = """
            <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel><title>RDF feed</title></channel>
            <item><title>One</title><link>https://rdf.example/1</link></item>
            <item><title>Two</title><link>https://rdf.example/2</link></item></rdf:RDF>
            """
        #expect(try FeedParser.parse(Data(rdf.utf8)).entries.map(\.link) == ["https://rdf.example/1", "https://rdf.example/2"])
        let opml = """
            <opml version="2.0"><head><title>My feeds</title></head><body>
            <outline text="News"><outline text="Wire" type="rss" xmlUrl="https://wire.example/rss"/>
            <outline title="Quay" xmlUrl="https://quay.example/feed.atom"/></outline></body></opml>
            """
        let list = try FeedParser.parse(Data(opml.utf8))
        #expect(list.kind == .opml)
        #expect(list.subscriptions.map(\.url) == ["https://wire.example/rss", "https://quay.example/feed.atom"])
        #expect(list.subscriptions.map(\.title) == ["Wire", "Quay"])
    }

    @Test func notAFeedIsAClearError() {
        for text in ["<html><body>x</body></html>", "just words", ""] {
            #expect(throws: ImportError.self) { try FeedParser.parse(Data(text.utf8)) }
        }
    }

    @Test func externalEntitiesAreNotLoaded() throws {
        let rss = """
            <?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
            <rss version="2.0"><channel><title>&leak;</title><item><title>t</title><link>https://a.example/</link></item></channel></rss>
            """
        let feed = try FeedParser.parse(Data(rss.utf8))
        #expect(feed.title?.contains("root:") != true)
    }
}
