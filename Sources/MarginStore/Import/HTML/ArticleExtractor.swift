import Foundation

/// Reads one article out of a parsed page: metadata from structured data first (JSON-LD, OpenGraph,
/// `<meta>`, `<time>`, `rel=canonical`, `<html lang>`), the text from `ContentScorer`, and refuses pages
/// that are not an article (a section front, an error page) with a sentence saying so.
struct ArticleExtractor {
    let document: DOMNode
    let meta: PageMetadata
    /// Where the page was fetched from, if it was: resolves a relative canonical link, and is the URL
    /// when the page names none.
    let pageURL: URL?

    init(document: DOMNode, pageURL: URL?) {
        self.document = document
        self.meta = PageMetadata(document: document)
        self.pageURL = pageURL
    }

    func extract() throws(ImportError) -> ImportedArticle {
        let headline = headlineNode()
        let title = self.title(headline: headline)
        let byline = self.byline()
        let body = meta.body ?? meta.html ?? document
        let scorer = ContentScorer(body: body, headline: headline, title: title ?? "", byline: byline)
        let content = scorer.extract()
        var paragraphs = content.paragraphs
        let structured = meta.structured

        // The page's JSON-LD articleBody: the text when the markup has little (pages rendered by script),
        // and the lead when the markup's text starts later than it.
        if let articleBody = structured.articleBody.map(Self.paragraphs(ofPlainText:)), !articleBody.isEmpty {
            let domLength = paragraphs.reduce(0) { $0 + $1.count }
            let jsonLength = articleBody.reduce(0) { $0 + $1.count }
            if domLength < 200 || Double(domLength) < Double(jsonLength) * 0.5 {
                paragraphs = articleBody
            } else {
                paragraphs = Self.restoreLead(paragraphs, from: articleBody)
            }
        }
        if paragraphs.isEmpty, !structured.liveUpdates.isEmpty {
            paragraphs = structured.liveUpdates.flatMap(Self.paragraphs(ofPlainText:))
        }

        try refuseIfNotAnArticle(paragraphs: paragraphs, content: content, title: title)

        var source = meta.meta["og:site_name"] ?? structured.publisher ?? meta.meta["application-name"]
        var finalByline = byline
        if let name = byline {
            let split = Agencies.split(byline: name)
            finalByline = split.byline
            source = source ?? split.source
        }
        var captions: [String] = []
        for caption in content.captions where !captions.contains(caption) { captions.append(caption) }
        return try ArticleImporter.finish(
            ImportedArticle(
                url: url(),
                title: title ?? "",
                byline: finalByline,
                source: source,
                publishedAt: published(),
                language: language(),
                body: paragraphs.joined(separator: "\n\n"),
                caption: captions.isEmpty ? nil : captions.joined(separator: " ")
            ),
            location: nil
        )
    }

    // MARK: - Not an article

    private func refuseIfNotAnArticle(paragraphs: [String], content: ContentScorer.Result, title: String?)
        throws(ImportError)
    {
        let structured = meta.structured
        let ogType = meta.meta["og:type"]?.lowercased()
        let articleSignals =
            structured.isArticle || ogType == "article" || meta.meta["article:published_time"] != nil
            || document.first("body")?.descendants(where: { $0.attribute("itemprop") == "articleBody" }).isEmpty == false
        let good = paragraphs.filter { $0.count >= 80 && ContentScorer.endsSentence($0) }
        let length = paragraphs.reduce(0) { $0 + $1.count }
        let heading = [title, meta.pageTitle, meta.headings.first?.normalizedText].compactMap { $0 }.joined(separator: " ")
        if Self.looksLikeErrorPage(heading), good.count < 3 {
            throw ImportError(
                "the page is an error page (\"\(Self.shorten(meta.pageTitle ?? title ?? "not found"))\"), not an "
                    + "article; check the URL or save the article's own page")
        }
        if length == 0 {
            throw ImportError(
                "empty article: no body text found on the page; if it shows its text only after running scripts, "
                    + "save it from the browser once it has loaded")
        }
        let listingTypes: Set<String> = ["collectionpage", "itemlist", "searchresultspage", "profilepage"]
        let isListing =
            !structured.isArticle && !structured.allTypes.isDisjoint(with: listingTypes)
            || content.linkedHeadings >= 4 && good.count < content.linkedHeadings * 2
            || content.linkDensity > 0.5
        // Many links and no story text at all: a page of navigation.
        let links = (meta.body ?? document).descendants(where: { $0.name == "a" }).count
        if !articleSignals, isListing || (good.isEmpty && length < 200 && links >= 10) {
            throw ImportError(
                "the page is not an article (it looks like a section front or a list of links: "
                    + "\(good.count) paragraph\(good.count == 1 ? "" : "s") of story text); import an article's own page")
        }
    }

    static func looksLikeErrorPage(_ text: String) -> Bool {
        let lower = text.lowercased()
        return [
            "page not found", "not found", "404", "no encontrada", "no encontramos", "introuvable", "n'existe pas",
            "nicht gefunden", "existiert nicht", "non trovata", "does not exist", "doesn't exist", "cannot be found",
            "can't be found", "no longer available", "error 404", "página no existe",
        ].contains(where: lower.contains)
    }

    private static func shorten(_ text: String) -> String {
        text.count <= 60 ? text : String(text.prefix(57)) + "…"
    }

    // MARK: - Title

    /// The page's headline element: the `<h1>` that matches the structured headline, else the first one in
    /// the article's container, else the first one that is not just the site's name.
    func headlineNode() -> DOMNode? {
        let structured = [meta.structured.headline, meta.meta["og:title"], meta.meta["twitter:title"], meta.pageTitle]
            .compactMap { $0 }.map(TextTools.looseKey).filter { !$0.isEmpty }
        let visible = meta.headings.filter { heading in
            !heading.normalizedText.isEmpty
                && heading.closest({ ["nav", "footer", "aside"].contains($0.name) || $0.attribute("hidden") != nil }) == nil
        }
        for heading in visible {
            let key = TextTools.looseKey(heading.normalizedText)
            if key.count >= 8, structured.contains(where: { $0 == key || $0.contains(key) || key.contains($0) }) {
                return heading
            }
        }
        let sites = siteKeys()
        if let inArticle = visible.first(where: { $0.closest({ $0.name == "article" || $0.name == "main" }) != nil }) {
            return inArticle
        }
        if let first = visible.first(where: { heading in
            let key = TextTools.looseKey(heading.normalizedText)
            return !sites.contains(key) && heading.normalizedText.split(separator: " ").count >= 3
        }) {
            return first
        }
        // No <h1>: an <h2> or <h3> that is the page's title (older templates title posts so).
        guard !structured.isEmpty, let body = meta.body else { return nil }
        return body.descendants(where: { ["h2", "h3"].contains($0.name) }).first { heading in
            let key = TextTools.looseKey(heading.normalizedText)
            return key.count >= 12 && heading.closest({ ["nav", "footer", "aside", "li", "a"].contains($0.name) }) == nil
                && heading.first("a") == nil && structured.contains(where: { $0 == key || $0.hasPrefix(key) })
        }
    }

    func title(headline: DOMNode?) -> String? {
        let h1 = headline.map(\.normalizedText).flatMap { $0.isEmpty ? nil : $0 }
        let structured = [meta.structured.headline, meta.meta["og:title"], meta.meta["twitter:title"]]
            .compactMap { $0 }.map(stripSite).first { !$0.isEmpty }
        if let structured {
            guard let h1 else { return structured }
            let s = TextTools.looseKey(structured)
            let h = TextTools.looseKey(h1)
            // The structured title with the site's or a section's name around it, or cut short: the headline.
            if s != h, s.contains(h), h1.split(separator: " ").count >= 3 { return h1 }
            if structured.hasSuffix("…") || structured.hasSuffix("..."), h.hasPrefix(String(s.prefix(max(0, s.count - 3)))) {
                return h1
            }
            return structured
        }
        let page = meta.pageTitle.map(stripSite)
        if let h1 {
            if let page, TextTools.looseKey(page).contains(TextTools.looseKey(h1)) || page.isEmpty { return h1 }
            if page == nil { return h1 }
            return h1.split(separator: " ").count >= 3 ? h1 : page
        }
        // No site name to strip and no headline element: Readability's reading of a hierarchical title, the
        // part before the last separator when it reads as a headline.
        if var page, !page.isEmpty {
            for separator in Self.separators {
                guard let range = page.range(of: separator, options: .backwards) else { continue }
                let head = page[..<range.lowerBound]
                if head.split(separator: " ").count >= 3, head.count > page[range.upperBound...].count {
                    page = String(head)
                }
                break
            }
            return page
        }
        return nil
    }

    private static let separators = [" | ", " - ", " – ", " — ", " :: ", " · ", " • ", " » ", " / ", " ‹ ", " › "]

    /// The title without the site's name before or after it ("Headline - The New York Times").
    func stripSite(_ title: String) -> String {
        var title = TextTools.collapseWhitespace(title)
        let sites = siteKeys()
        func isSite(_ part: Substring) -> Bool {
            let key = TextTools.looseKey(String(part))
            guard !key.isEmpty else { return true }
            if sites.contains(where: { $0 == key || ($0.count >= 4 && key.contains($0)) || (key.count >= 4 && $0.contains(key)) }) {
                return true
            }
            let lower = part.lowercased()
            return lower.hasSuffix(".com") || lower.hasSuffix(".co.uk") || lower.hasSuffix(".org")
                || lower.hasSuffix(".net") || lower.hasSuffix(".de") || lower.hasSuffix(".fr")
        }
        for _ in 0..<3 {
            var changed = false
            for separator in Self.separators {
                guard let range = title.range(of: separator, options: .backwards) else { continue }
                let tail = title[range.upperBound...]
                if isSite(tail), title[..<range.lowerBound].count >= 8 {
                    title = String(title[..<range.lowerBound])
                    changed = true
                    break
                }
                if let first = title.range(of: separator) {
                    let head = title[..<first.lowerBound]
                    if isSite(head), title[first.upperBound...].count >= 8 {
                        title = String(title[first.upperBound...])
                        changed = true
                        break
                    }
                }
            }
            if !changed { break }
        }
        return title.trimmingCharacters(in: .whitespaces)
    }

    /// Loose keys of the site's names: `og:site_name`, the publisher, `application-name`, and the host's
    /// main label ("nytimes" for www.nytimes.com).
    func siteKeys() -> Set<String> {
        var names = [meta.meta["og:site_name"], meta.structured.publisher, meta.meta["application-name"],
                     meta.meta["twitter:site"].map { $0.replacingOccurrences(of: "@", with: "") }]
            .compactMap { $0 }
        for link in [meta.canonical, meta.meta["og:url"], pageURL?.absoluteString].compactMap({ $0 }) {
            if let host = URL(string: link)?.host?.lowercased() {
                let labels = host.split(separator: ".").filter { !["www", "m", "amp", "edition", "com", "co", "uk", "org", "net"].contains($0) }
                if let main = labels.first { names.append(String(main)) }
            }
        }
        return Set(names.map(TextTools.looseKey).filter { !$0.isEmpty })
    }

    // MARK: - Byline

    func byline() -> String? {
        let structuredAuthors = meta.structured.authors.map(Self.cleanByline).filter { !$0.isEmpty }
        if !structuredAuthors.isEmpty { return Self.join(unique(structuredAuthors)) }
        let metaAuthors = meta.metaAuthors.filter { !$0.lowercased().hasPrefix("http") }.map(Self.cleanByline)
            .filter { !$0.isEmpty && $0.count <= 120 }
        if !metaAuthors.isEmpty { return Self.join(unique(metaAuthors)) }
        for node in meta.bylineNodes {
            guard node.closest({ ["nav", "footer", "aside", "li"].contains($0.name) }) == nil else { continue }
            // Links to author pages name the authors exactly.
            let links = node.descendants(where: { $0.name == "a" }).map(\.normalizedText).map(Self.cleanByline)
                .filter { !$0.isEmpty && $0.count <= 60 && $0.first?.isUppercase == true }
            if !links.isEmpty, links.count <= 6 { return Self.join(unique(links)) }
            let text = Self.cleanByline(Self.firstLine(node))
            if !text.isEmpty, text.count <= 100 { return text }
        }
        return authorLinkByline()
    }

    /// Links to author pages (`/author/…`, `/staff/…`, `/by/…`, `/people/…`, `/profiles/…`) outside the
    /// page's chrome: their texts are the names.
    private func authorLinkByline() -> String? {
        guard let body = meta.body else { return nil }
        let paths = ["/author/", "/authors/", "/staff/", "/by/", "/people/", "/profile/", "/profiles/", "/writers/",
                     "/reporter/", "/reporters/", "/journalist/", "/autor/", "/auteur/", "/signataires/"]
        let links = body.descendants(where: { link in
            guard link.name == "a", let href = link.attribute("href")?.lowercased() else { return false }
            return paths.contains(where: href.contains)
        }).filter { link in
            link.closest({ ["nav", "footer", "aside", "header", "li"].contains($0.name) && $0.closest({ $0.name == "article" }) == nil
                || ContentScorer.strongNegative.contains(where: $0.classAndID.contains) }) == nil
        }
        let names = unique(links.map(\.normalizedText).map(Self.cleanByline).filter { name in
            !name.isEmpty && name.count <= 60 && name.first?.isUppercase == true && name.split(separator: " ").count <= 5
        })
        guard !names.isEmpty, names.count <= 4 else { return nil }
        return Self.join(names)
    }

    /// The first line of an element's text as it shows: `<br>` and blocks break lines ("By Jane Doe<br>Staff
    /// Writer" is "By Jane Doe").
    static func firstLine(_ node: DOMNode) -> String {
        var text = ""
        var stack: [DOMNode] = [node]
        while let current = stack.popLast() {
            if current.kind == .text {
                text += current.text
            } else if current.name == "br" {
                text += "\n"
            } else if current !== node, ContentScorer.blockTags.contains(current.name) {
                stack.append(DOMNode(kind: .element, name: "br"))
                stack.append(contentsOf: current.children.reversed())
                text += "\n"
            } else {
                stack.append(contentsOf: current.children.reversed())
            }
        }
        for line in text.split(separator: "\n") {
            let collapsed = TextTools.collapseWhitespace(String(line))
            if !cleanByline(collapsed).isEmpty, !["by", "von", "por", "par"].contains(collapsed.lowercased()) {
                return collapsed
            }
        }
        return TextTools.collapseWhitespace(text)
    }

    private func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0.lowercased()).inserted }
    }

    static func join(_ names: [String]) -> String {
        switch names.count {
        case 0: return ""
        case 1: return names[0]
        case 2: return names[0] + " and " + names[1]
        default: return names.dropLast().joined(separator: ", ") + " and " + names.last!
        }
    }

    /// "By Jane Doe" → "Jane Doe"; "Von …", "Por …", "Par …" likewise; dates and "Updated …" after the name go.
    static func cleanByline(_ raw: String) -> String {
        var text = TextTools.collapseWhitespace(raw)
        let prefixes = ["posted by ", "written by ", "words by ", "reporting by ", "story by ", "by:", "by ", "von ",
                        "por ", "par ", "door ", "di ", "de ", "av ", "text: ", "texto: ", "autor: "]
        var stripped = true
        while stripped {
            stripped = false
            for prefix in prefixes where text.lowercased().hasPrefix(prefix) {
                let rest = text.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
                guard let first = rest.first, first.isUppercase || first.isNumber == false && first.isLetter else { continue }
                text = rest
                stripped = true
            }
        }
        for marker in [" Updated ", " Published ", " Actualizado ", " Publicado ", " Mis à jour ", " Publié ",
                       " Aktualisiert ", " | ", " Posted ", " on ", " · "] {
            if let range = text.range(of: marker) { text = String(text[..<range.lowerBound]) }
        }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: " ,;|·•—–-"))
    }

    // MARK: - Date, language, URL

    func published() -> String? {
        let structured = meta.structured.datePublished
        let metas = ["article:published_time", "og:published_time", "datepublished", "parsely-pub-date", "pubdate",
                     "publishdate", "publish-date", "article.published", "dc.date.issued", "dc.date", "dcterms.created",
                     "date", "sailthru.date", "cxenseparse:recs:publishtime", "article:modified_time"]
            .compactMap { meta.meta[$0] }
        let times = meta.times.sorted { a, b in
            // <time itemprop=datePublished> or pubdate first, then those inside an article.
            rank(a) < rank(b)
        }.compactMap { $0.attribute("datetime") }
        for candidate in [structured].compactMap({ $0 }) + metas + times {
            if let iso = DateText.iso(from: candidate) { return iso }
        }
        return nil
    }

    private func rank(_ time: DOMNode) -> Int {
        if time.attribute("itemprop") == "datePublished" || time.attribute("pubdate") != nil { return 0 }
        if time.closest({ $0.name == "article" }) != nil { return 1 }
        return 2
    }

    func language() -> String? {
        let raw = meta.htmlLanguage ?? meta.structured.language ?? meta.meta["content-language"]
            ?? meta.meta["og:locale"] ?? meta.meta["dc.language"]
        guard let raw else { return nil }
        let tag = raw.replacingOccurrences(of: "_", with: "-").trimmingCharacters(in: .whitespaces)
        return tag.isEmpty ? nil : tag
    }

    /// The canonical link, else `og:url`, else the JSON-LD url, else the URL fetched; relative links are
    /// resolved against the page's URL, and only http(s) URLs count.
    func url() -> String? {
        let candidates = [meta.canonical, meta.meta["og:url"], meta.structured.url].compactMap { $0 }
        for candidate in candidates {
            let resolved = pageURL.flatMap { URL(string: candidate, relativeTo: $0)?.absoluteURL } ?? URL(string: candidate)
            if let resolved, let scheme = resolved.scheme?.lowercased(), scheme == "http" || scheme == "https",
                resolved.host?.isEmpty == false
            {
                return resolved.absoluteString
            }
        }
        return pageURL?.absoluteString
    }

    // MARK: - Plain-text bodies

    /// Paragraphs of a JSON-LD articleBody: blank lines or single line breaks separate them.
    static func paragraphs(ofPlainText text: String) -> [String] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\u{2029}" })
            .map { TextTools.collapseWhitespace(String($0)) }
            .filter { !$0.isEmpty }
    }

    /// Prepends the articleBody's opening paragraphs when the markup's text begins further into it.
    static func restoreLead(_ paragraphs: [String], from articleBody: [String]) -> [String] {
        guard let first = paragraphs.first else { return articleBody }
        let firstKey = TextTools.looseKey(first)
        let leadKey = TextTools.looseKey(articleBody[0])
        guard !leadKey.isEmpty, !firstKey.isEmpty else { return paragraphs }
        let bodyKey = TextTools.looseKey(paragraphs.prefix(3).joined())
        if bodyKey.contains(String(leadKey.prefix(80))) { return paragraphs }
        // Where does the markup's first paragraph start in the articleBody?
        guard let index = articleBody.firstIndex(where: { TextTools.looseKey($0).hasPrefix(String(firstKey.prefix(60))) }),
            index > 0, index <= 3
        else { return paragraphs }
        return Array(articleBody[..<index]) + paragraphs
    }
}
