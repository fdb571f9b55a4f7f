import Foundation

/// Reads an article from an HTML page with a small, tolerant tokenizer (no DOM, no dependencies).
///
/// Metadata comes from the usual places (Open Graph, `<link rel="canonical">`, `<meta name="author">`,
/// `<time datetime>`, `<html lang>`); the body is the paragraphs of the first `<article>`, else `<main>`,
/// else `<body>`, without page chrome (`<nav>`, `<header>`, `<footer>`, `<aside>`, scripts, forms).
enum HTMLImporter {
    static func parse(_ html: String) throws(ImportError) -> ImportedArticle {
        let tokens = tokenize(html)
        let meta = metadata(tokens)
        var content = body(tokens, skippingHeading: meta.title)

        // A page without <title> or og:title still has a headline: its first <h1>.
        var title = meta.title
        if title == nil, let h1 = meta.firstHeading {
            title = h1
            if content.paragraphs.first == h1 { content.paragraphs.removeFirst() }
        }
        var byline = meta.byline
        var source = meta.siteName
        if let name = byline {
            let split = Agencies.split(byline: name)
            byline = split.byline
            source = source ?? split.source
        }

        return try ArticleImporter.finish(
            ImportedArticle(
                url: meta.url,
                title: title ?? "",
                byline: byline,
                source: source,
                publishedAt: Dateline.iso(from: meta.published),
                language: meta.language,
                body: content.paragraphs.joined(separator: "\n\n"),
                caption: content.captions.isEmpty ? nil : content.captions.joined(separator: " ")
            ),
            location: nil
        )
    }

    /// Converts an HTML fragment (a JSON feed's `content`, say) to plain-text paragraphs.
    static func plainText(fromFragment html: String) -> String {
        body(tokenize(html), skippingHeading: nil).paragraphs.joined(separator: "\n\n")
    }

    // MARK: - Tokens

    enum Token: Equatable {
        case start(name: String, attributes: [String: String], selfClosing: Bool)
        case end(name: String)
        case text(String)

        var startName: String? {
            if case .start(let name, _, _) = self { return name }
            return nil
        }

        func attribute(_ name: String) -> String? {
            if case .start(_, let attributes, _) = self { return attributes[name] }
            return nil
        }
    }

    /// Elements whose content is raw text up to their end tag.
    private static let rawTextElements: Set<String> = ["script", "style", "textarea", "title", "xmp", "noscript"]

    /// Elements that never have content or an end tag.
    private static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    ]

    /// Splits HTML into start tags, end tags and text; comments, doctypes and processing instructions vanish.
    /// Never fails: a stray `<` is text, an unclosed tag or comment runs to the end.
    static func tokenize(_ html: String) -> [Token] {
        let bytes = Array(html.utf8)
        var tokens: [Token] = []
        var index = 0
        var textStart = 0

        func isLetter(_ byte: UInt8) -> Bool {
            (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
        }
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
        }
        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        func flushText(upTo end: Int) {
            if end > textStart { tokens.append(.text(string(textStart..<end))) }
        }
        func find(_ needle: String, from start: Int, caseInsensitive: Bool = false) -> Int? {
            let needle = Array(needle.utf8)
            guard needle.count <= bytes.count else { return nil }
            var i = start
            while i + needle.count <= bytes.count {
                var matched = true
                for j in 0..<needle.count {
                    let byte = caseInsensitive && isLetter(bytes[i + j]) ? bytes[i + j] | 0x20 : bytes[i + j]
                    if byte != needle[j] {
                        matched = false
                        break
                    }
                }
                if matched { return i }
                i += 1
            }
            return nil
        }
        func readName(_ i: inout Int) -> String {
            let start = i
            while i < bytes.count, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: ">"), bytes[i] != UInt8(ascii: "/") {
                i += 1
            }
            return string(start..<i).lowercased()
        }

        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<"), index + 1 < bytes.count else {
                index += 1
                continue
            }
            let next = bytes[index + 1]
            if next == UInt8(ascii: "!") || next == UInt8(ascii: "?") {
                flushText(upTo: index)
                if find("<!--", from: index) == index {
                    index = find("-->", from: index + 4).map { $0 + 3 } ?? bytes.count
                } else {
                    index = find(">", from: index).map { $0 + 1 } ?? bytes.count
                }
                textStart = index
            } else if next == UInt8(ascii: "/"), index + 2 < bytes.count, isLetter(bytes[index + 2]) {
                flushText(upTo: index)
                var i = index + 2
                let name = readName(&i)
                tokens.append(.end(name: name))
                index = find(">", from: i).map { $0 + 1 } ?? bytes.count
                textStart = index
            } else if isLetter(next) {
                flushText(upTo: index)
                var i = index + 1
                let name = readName(&i)
                var attributes: [String: String] = [:]
                var selfClosing = false
                while i < bytes.count {
                    while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                    guard i < bytes.count else { break }
                    if bytes[i] == UInt8(ascii: ">") {
                        i += 1
                        break
                    }
                    if bytes[i] == UInt8(ascii: "/") {
                        selfClosing = i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: ">")
                        i += 1
                        continue
                    }
                    let nameStart = i
                    while i < bytes.count, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: "="),
                        bytes[i] != UInt8(ascii: ">"),
                        !(bytes[i] == UInt8(ascii: "/") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: ">"))
                    {
                        i += 1
                    }
                    let attributeName = string(nameStart..<max(i, nameStart + 1)).lowercased()
                    if i == nameStart { i += 1 }  // a lone "=" or quote: skip it rather than loop
                    while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                    var value = ""
                    if i < bytes.count, bytes[i] == UInt8(ascii: "=") {
                        i += 1
                        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") {
                            let quote = bytes[i]
                            let valueStart = i + 1
                            i = valueStart
                            while i < bytes.count, bytes[i] != quote { i += 1 }
                            value = string(valueStart..<i)
                            i = min(i + 1, bytes.count)
                        } else {
                            let valueStart = i
                            while i < bytes.count, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: ">") { i += 1 }
                            value = string(valueStart..<i)
                        }
                    }
                    if attributes[attributeName] == nil { attributes[attributeName] = decodeEntities(value) }
                }
                tokens.append(.start(name: name, attributes: attributes, selfClosing: selfClosing))
                index = i
                textStart = index
                if rawTextElements.contains(name), !selfClosing {
                    let end = find("</\(name)", from: index, caseInsensitive: true) ?? bytes.count
                    flushText(upTo: end)
                    tokens.append(.end(name: name))
                    index = end < bytes.count ? (find(">", from: end).map { $0 + 1 } ?? bytes.count) : end
                    textStart = index
                }
            } else {
                index += 1
            }
        }
        flushText(upTo: bytes.count)
        return tokens
    }

    /// The index of the end token matching the start token at `start`, counting nested elements of the same name.
    static func matchingEnd(_ tokens: [Token], from start: Int) -> Int? {
        guard case .start(let name, _, let selfClosing) = tokens[start] else { return nil }
        if selfClosing || voidElements.contains(name) { return start }
        var depth = 0
        for index in (start + 1)..<tokens.count {
            switch tokens[index] {
            case .start(name, _, false): depth += 1
            case .end(name):
                if depth == 0 { return index }
                depth -= 1
            default: break
            }
        }
        return nil
    }

    /// The text of the element starting at `start`, whitespace collapsed.
    private static func textContent(_ tokens: [Token], from start: Int) -> String {
        let end = matchingEnd(tokens, from: start) ?? tokens.count
        var text = ""
        for token in tokens[start..<end] {
            if case .text(let raw) = token { text += raw }
        }
        return collapseWhitespace(decodeEntities(text)).trimmed()
    }

    // MARK: - Metadata

    struct Metadata {
        var title: String?
        var firstHeading: String?
        var url: String?
        var byline: String?
        var siteName: String?
        var published: String?
        var language: String?
    }

    private static func metadata(_ tokens: [Token]) -> Metadata {
        var meta = Metadata()
        var ogTitle: String?
        var pageTitle: String?
        var ogURL: String?
        var canonical: String?
        var metaAuthor: String?
        var relAuthor: String?
        var classByline: String?
        var publishedMeta: String?
        var timeDatetime: String?
        var ogLocale: String?

        for (index, token) in tokens.enumerated() {
            guard case .start(let name, let attributes, _) = token else { continue }
            switch name {
            case "html":
                meta.language = meta.language ?? attributes["lang"] ?? attributes["xml:lang"]
            case "meta":
                let key = (attributes["property"] ?? attributes["name"] ?? attributes["itemprop"] ?? "").lowercased()
                guard let content = attributes["content"]?.trimmed(), content.isEmpty == false else { continue }
                switch key {
                case "og:title": ogTitle = ogTitle ?? content
                case "og:url": ogURL = ogURL ?? content
                case "og:site_name": meta.siteName = meta.siteName ?? content
                case "og:locale": ogLocale = ogLocale ?? content
                case "author", "byline", "sailthru.author", "dc.creator":
                    metaAuthor = metaAuthor ?? content
                case "article:published_time", "datepublished", "date", "pubdate", "dc.date", "publishdate":
                    publishedMeta = publishedMeta ?? content
                default: break
                }
            case "link":
                let rel = (attributes["rel"] ?? "").lowercased().split(separator: " ")
                if rel.contains("canonical"), let href = attributes["href"] { canonical = canonical ?? href }
            case "title":
                pageTitle = pageTitle ?? textContent(tokens, from: index)
            case "h1":
                meta.firstHeading = meta.firstHeading ?? textContent(tokens, from: index)
            case "time":
                timeDatetime = timeDatetime ?? attributes["datetime"]
            default:
                break
            }
            if relAuthor == nil, (attributes["rel"] ?? "").lowercased().split(separator: " ").contains("author"),
                name != "link"
            {
                relAuthor = textContent(tokens, from: index)
            }
            if classByline == nil, isByline(attributes) {
                classByline = stripBy(textContent(tokens, from: index))
            }
        }

        meta.firstHeading = ArticleImporter.nonEmpty(meta.firstHeading)
        pageTitle = ArticleImporter.nonEmpty(pageTitle)
        // <title> often carries a site suffix ("Headline | Site"): the <h1> it contains is the clean headline.
        if let page = pageTitle, let h1 = meta.firstHeading, h1.count < page.count, page.contains(h1) {
            pageTitle = h1
        }
        meta.title = ArticleImporter.nonEmpty(ogTitle) ?? pageTitle ?? nil
        meta.url = ArticleImporter.nonEmpty(canonical) ?? ArticleImporter.nonEmpty(ogURL)
        meta.byline =
            ArticleImporter.nonEmpty(metaAuthor) ?? ArticleImporter.nonEmpty(relAuthor)
            ?? ArticleImporter.nonEmpty(classByline)
        meta.published = publishedMeta ?? timeDatetime
        if meta.language == nil, let locale = ogLocale {
            meta.language = locale.replacingOccurrences(of: "_", with: "-")
        }
        return meta
    }

    private static func isByline(_ attributes: [String: String]) -> Bool {
        (attributes["class"] ?? "").lowercased().contains("byline")
    }

    private static func stripBy(_ text: String) -> String {
        guard let match = try? #/(?i)^by[:\s]\s*/#.prefixMatch(in: text) else { return text }
        return String(text[match.range.upperBound...])
    }

    // MARK: - Body

    /// Page chrome, never part of an article's text.
    private static let droppedElements: Set<String> = [
        "script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "svg", "button",
        "iframe", "select", "textarea", "object", "canvas", "audio", "video", "map", "dialog", "head", "title",
    ]

    /// Elements that begin and end a paragraph of their own.
    private static let blockElements: Set<String> = [
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
        "section", "article", "main", "table", "thead", "tbody", "tfoot", "tr", "figure", "hr", "address",
        "details", "summary", "center", "body", "html", "caption", "fieldset", "legend", "hgroup",
    ]

    struct Content {
        var paragraphs: [String] = []
        var captions: [String] = []
    }

    private static func body(_ tokens: [Token], skippingHeading title: String?) -> Content {
        // The container: the first <article>, else <main>, else <body>, else the whole page.
        var range = 0..<tokens.count
        for name in ["article", "main", "body"] {
            if let start = tokens.firstIndex(where: { $0.startName == name }) {
                range = (start + 1)..<(matchingEnd(tokens, from: start) ?? tokens.count)
                break
            }
        }

        var content = Content()
        var current = ""
        var preDepth = 0
        var skippedHeading = false

        func flush() {
            let lines = current.split(separator: "\n").map { $0.trimmed() }.filter { $0.isEmpty == false }
            if lines.isEmpty == false { content.paragraphs.append(lines.joined(separator: "\n")) }
            current = ""
        }

        var index = range.lowerBound
        while index < range.upperBound {
            let token = tokens[index]
            index += 1
            switch token {
            case .start(let name, let attributes, let selfClosing):
                let special =
                    droppedElements.contains(name) || isByline(attributes) || attributes["hidden"] != nil
                    || name == "figcaption" || (name == "h1" && !skippedHeading && title != nil)
                let end = special ? matchingEnd(tokens, from: index - 1) : nil
                // An unclosed <header> would swallow the page: drop only elements that end.
                if let end, droppedElements.contains(name) || isByline(attributes) || attributes["hidden"] != nil {
                    index = end + 1
                    continue
                }
                if name == "figcaption", let end {
                    let caption = textContent(tokens, from: index - 1)
                    if caption.isEmpty == false { content.captions.append(caption) }
                    index = end + 1
                    continue
                }
                // The headline repeated at the top of the article is the title, not the body.
                if name == "h1", !skippedHeading, let title, let end,
                    ArticleImporter.normalizeLine(textContent(tokens, from: index - 1))
                        == ArticleImporter.normalizeLine(title)
                {
                    skippedHeading = true
                    index = end + 1
                    continue
                }
                if name == "br" {
                    current += "\n"
                } else if name == "td" || name == "th" {
                    current += " "
                } else if blockElements.contains(name) {
                    flush()
                    if name == "pre", !selfClosing { preDepth += 1 }
                }
            case .end(let name):
                if blockElements.contains(name) {
                    if name == "pre" {
                        // Preformatted text keeps its line breaks: flush it as-is.
                        preDepth = max(0, preDepth - 1)
                    }
                    flush()
                } else if name == "td" || name == "th" {
                    current += " "
                }
            case .text(let raw):
                let text = decodeEntities(raw).replacingOccurrences(of: "\u{00A0}", with: " ")
                current += preDepth > 0 ? text : collapseWhitespace(text)
            }
        }
        flush()
        return content
    }

    private static func collapseWhitespace(_ text: String) -> String {
        var out = ""
        var lastWasSpace = false
        for character in text {
            if character.isWhitespace && character != "\u{00A0}" {
                if !lastWasSpace { out.append(" ") }
                lastWasSpace = true
            } else {
                out.append(character)
                lastWasSpace = false
            }
        }
        return out
    }

    // MARK: - Entities

    /// Decodes named (common ones), decimal (`&#8217;`) and hexadecimal (`&#x2019;`) character references.
    /// Unknown names stay as written, as browsers leave them.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let decoded = decodeReference(after) {
                out.unicodeScalars.append(contentsOf: decoded.scalars)
                rest = after[decoded.end...]
            } else {
                out += "&"
                rest = after
            }
        }
        out += rest
        return out
    }

    /// Reads one reference after "&": `#123;`, `#x1F;`, `amp;` (the `;` optional for numbers).
    private static func decodeReference(_ text: Substring) -> (scalars: [Unicode.Scalar], end: Substring.Index)? {
        if text.first == "#" {
            var rest = text.dropFirst()
            let hex = rest.first == "x" || rest.first == "X"
            if hex { rest = rest.dropFirst() }
            let digits = rest.prefix(while: { hex ? $0.isHexDigit : $0.isASCII && $0.isNumber })
            guard digits.isEmpty == false, digits.count <= 8, var value = UInt32(digits, radix: hex ? 16 : 10) else {
                return nil
            }
            var end = digits.endIndex
            if end < text.endIndex, text[end] == ";" { end = text.index(after: end) }
            // As browsers do: C1 controls are Windows-1252 (&#146; is ’); the rest out of range is U+FFFD.
            if (0x80...0x9F).contains(value), let mapped = windows1252[value] { value = mapped }
            let scalar = (value == 0 ? nil : Unicode.Scalar(value)) ?? "\u{FFFD}"
            return ([scalar], end)
        }
        let name = text.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber) })
        guard name.isEmpty == false, name.endIndex < text.endIndex, text[name.endIndex] == ";",
            let scalar = namedEntities[String(name)]
        else { return nil }
        return (Array(scalar.unicodeScalars), text.index(after: name.endIndex))
    }

    private static let windows1252: [UInt32: UInt32] = [
        0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
        0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8E: 0x017D, 0x91: 0x2018,
        0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC,
        0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A, 0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
    ]

    private static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
        "ndash": "–", "mdash": "—", "lsquo": "‘", "rsquo": "’", "sbquo": "‚", "ldquo": "“", "rdquo": "”",
        "bdquo": "„", "laquo": "«", "raquo": "»", "lsaquo": "‹", "rsaquo": "›", "hellip": "…", "bull": "•",
        "middot": "·", "prime": "′", "Prime": "″", "dagger": "†", "Dagger": "‡", "permil": "‰",
        "copy": "©", "reg": "®", "trade": "™", "sect": "§", "para": "¶", "deg": "°", "plusmn": "±",
        "times": "×", "divide": "÷", "minus": "−", "frac12": "½", "frac14": "¼", "frac34": "¾",
        "sup1": "¹", "sup2": "²", "sup3": "³", "micro": "µ", "cent": "¢", "pound": "£", "yen": "¥",
        "euro": "€", "curren": "¤", "iexcl": "¡", "iquest": "¿", "shy": "\u{00AD}", "ordf": "ª", "ordm": "º",
        "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}", "zwnj": "\u{200C}", "zwj": "\u{200D}",
        "lrm": "\u{200E}", "rlm": "\u{200F}", "larr": "←", "rarr": "→", "uarr": "↑", "darr": "↓", "harr": "↔",
        "hearts": "♥", "star": "☆", "check": "✓", "acute": "´", "uml": "¨", "cedil": "¸", "macr": "¯",
        "Agrave": "À", "Aacute": "Á", "Acirc": "Â", "Atilde": "Ã", "Auml": "Ä", "Aring": "Å", "AElig": "Æ",
        "Ccedil": "Ç", "Egrave": "È", "Eacute": "É", "Ecirc": "Ê", "Euml": "Ë", "Igrave": "Ì", "Iacute": "Í",
        "Icirc": "Î", "Iuml": "Ï", "ETH": "Ð", "Ntilde": "Ñ", "Ograve": "Ò", "Oacute": "Ó", "Ocirc": "Ô",
        "Otilde": "Õ", "Ouml": "Ö", "Oslash": "Ø", "Ugrave": "Ù", "Uacute": "Ú", "Ucirc": "Û", "Uuml": "Ü",
        "Yacute": "Ý", "THORN": "Þ", "szlig": "ß", "agrave": "à", "aacute": "á", "acirc": "â", "atilde": "ã",
        "auml": "ä", "aring": "å", "aelig": "æ", "ccedil": "ç", "egrave": "è", "eacute": "é", "ecirc": "ê",
        "euml": "ë", "igrave": "ì", "iacute": "í", "icirc": "î", "iuml": "ï", "eth": "ð", "ntilde": "ñ",
        "ograve": "ò", "oacute": "ó", "ocirc": "ô", "otilde": "õ", "ouml": "ö", "oslash": "ø", "ugrave": "ù",
        "uacute": "ú", "ucirc": "û", "uuml": "ü", "yacute": "ý", "thorn": "þ", "yuml": "ÿ", "OElig": "Œ",
        "oelig": "œ", "Scaron": "Š", "scaron": "š", "Yuml": "Ÿ", "fnof": "ƒ", "circ": "ˆ", "tilde": "˜",
        "Alpha": "Α", "Beta": "Β", "Gamma": "Γ", "Delta": "Δ", "alpha": "α", "beta": "β", "gamma": "γ",
        "delta": "δ", "pi": "π", "mu": "μ", "sigma": "σ", "omega": "ω", "Omega": "Ω", "infin": "∞",
        "ne": "≠", "le": "≤", "ge": "≥", "asymp": "≈",
    ]
}
