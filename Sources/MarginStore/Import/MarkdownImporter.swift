import Foundation

/// Reads a Markdown article: optional YAML-style front matter (`title`, `url`, `date`, `author`, `source`,
/// `language`), a title from the front matter or the first `# ` heading, and a body stripped to plain text.
///
/// The body keeps the text a reader sees: emphasis markers, link targets, images and HTML tags go;
/// headings become paragraphs of their own; list items stay one per line; soft-wrapped lines of a
/// paragraph are joined with a space, as a Markdown renderer would.
enum MarkdownImporter {
    static func parse(_ text: String) throws(ImportError) -> ImportedArticle {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let meta = frontMatter(&lines)

        var blocks = blocks(of: lines)
        var title = meta["title"]
        if let heading = blocks.firstIndex(where: { $0.headingLevel == 1 }) {
            let text = blocks[heading].text
            // The front matter's title usually repeats as the first heading: keep it once.
            if title == nil || ArticleImporter.normalizeLine(title ?? "") == ArticleImporter.normalizeLine(text) {
                title = text
                blocks.remove(at: heading)
            }
        }
        if title == nil, let first = blocks.first {
            // No heading at all: read it like plain text, first line as the title.
            var lines = first.text.split(separator: "\n", maxSplits: 1).map(String.init)
            title = lines.removeFirst()
            if lines.isEmpty { blocks.removeFirst() } else { blocks[0].text = lines[0] }
        }

        return try ArticleImporter.finish(
            ImportedArticle(
                url: meta["url"],
                title: title ?? "",
                byline: meta["author"],
                source: meta["source"],
                publishedAt: Dateline.iso(from: meta["date"]),
                language: meta["language"],
                body: blocks.map(\.text).joined(separator: "\n\n"),
                caption: meta["caption"]
            ),
            location: nil
        )
    }

    // MARK: - Front matter

    /// Keys a front matter may spell in several ways, mapped to one name each.
    private static let metaKeys: [String: String] = [
        "title": "title", "headline": "title",
        "url": "url", "link": "url", "canonical": "url", "canonical_url": "url", "permalink": "url",
        "date": "date", "published": "date", "published_at": "date", "publishedat": "date", "pubdate": "date",
        "author": "author", "authors": "author", "byline": "author",
        "source": "source", "publisher": "source", "site": "source",
        "language": "language", "lang": "language", "locale": "language",
        "caption": "caption",
    ]

    /// Removes a leading `---` … `---` block from `lines` and returns its recognised keys.
    /// Not a YAML parser: `key: value` lines, quoted or not, and `- item` lists under a key.
    private static func frontMatter(_ lines: inout [String]) -> [String: String] {
        guard lines.first?.trimmingTrailingWhitespace() == "---",
            let end = lines.indices.dropFirst().first(where: {
                let line = lines[$0].trimmingTrailingWhitespace()
                return line == "---" || line == "..."
            })
        else { return [:] }

        var meta: [String: String] = [:]
        var listKey: String? = nil
        for line in lines[1..<end] {
            let trimmed = line.trimmed()
            if trimmed.hasPrefix("- "), let key = listKey {
                let item = unquote(String(trimmed.dropFirst(2)))
                meta[key] = meta[key].map { "\($0), \(item)" } ?? item
                continue
            }
            guard let colon = line.firstIndex(of: ":"), line.first?.isWhitespace == false else { continue }
            let rawKey = line[..<colon].trimmed().lowercased()
            let value = unquote(line[line.index(after: colon)...].trimmed())
            guard let key = metaKeys[rawKey], meta[key] == nil else {
                listKey = nil
                continue
            }
            if value.isEmpty {
                listKey = key
            } else if value.hasPrefix("[") && value.hasSuffix("]") {
                meta[key] = value.dropFirst().dropLast().split(separator: ",").map { unquote($0.trimmed()) }
                    .joined(separator: ", ")
                listKey = nil
            } else {
                meta[key] = value
                listKey = nil
            }
        }
        lines.removeSubrange(0...end)
        return meta
    }

    private static func unquote(_ value: String) -> String {
        for quote in ["\"", "'"] where value.count >= 2 && value.hasPrefix(quote) && value.hasSuffix(quote) {
            let inner = String(value.dropFirst().dropLast())
            return quote == "'"
                ? inner.replacingOccurrences(of: "''", with: "'") : inner.replacingOccurrences(of: "\\\"", with: "\"")
        }
        return value
    }

    // MARK: - Blocks

    struct Block {
        var headingLevel: Int?
        var text: String
    }

    private enum Open {
        case none
        case paragraph([String])
        case list([String])
        case code(fence: String, lines: [String])
    }

    /// Splits the document into plain-text blocks, one per paragraph, heading, list or code block.
    static func blocks(of lines: [String]) -> [Block] {
        var blocks: [Block] = []
        var open = Open.none

        func flush() {
            switch open {
            case .none: break
            case .paragraph(let parts):
                let text = stripInline(parts.joined())
                if text.trimmed().isEmpty == false { blocks.append(Block(text: text)) }
            case .list(let items):
                blocks.append(Block(text: items.map { stripInline($0) }.joined(separator: "\n")))
            case .code(_, let lines):
                let text = lines.joined(separator: "\n")
                if text.trimmed().isEmpty == false { blocks.append(Block(text: text)) }
            }
            open = .none
        }

        for rawLine in lines {
            if case .code(let fence, var code) = open {
                if rawLine.trimmed().hasPrefix(fence) && rawLine.trimmed().allSatisfy({ $0 == fence.first }) {
                    flush()
                } else {
                    code.append(rawLine)
                    open = .code(fence: fence, lines: code)
                }
                continue
            }
            var line = rawLine
            // Block quotes read as their content.
            while let match = try? #/^\s{0,3}>\s?/#.prefixMatch(in: line) {
                line = String(line[match.range.upperBound...])
            }
            let trimmed = line.trimmed()

            if trimmed.isEmpty {
                flush()
            } else if let fence = try? #/^\s{0,3}(?<fence>`{3,}|~{3,})/#.prefixMatch(in: line) {
                flush()
                open = .code(fence: String(fence.output.fence), lines: [])
            } else if let heading = try? #/^\s{0,3}(?<marks>#{1,6})(?:\s+(?<text>.*?))?(?:\s+#+)?\s*$/#.wholeMatch(
                in: line)
            {
                flush()
                let text = stripInline(String(heading.output.text ?? ""))
                if text.trimmed().isEmpty == false {
                    blocks.append(Block(headingLevel: heading.output.marks.count, text: text))
                }
            } else if case .paragraph(let parts) = open, (try? #/^\s{0,3}(?:=+|-+)\s*$/#.wholeMatch(in: line)) != nil {
                // A setext underline turns the paragraph above it into a heading.
                let text = stripInline(parts.joined())
                open = .none
                blocks.append(Block(headingLevel: trimmed.hasPrefix("=") ? 1 : 2, text: text))
            } else if (try? #/^\s{0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$/#.wholeMatch(in: line)) != nil {
                flush()
            } else if (try? #/^\s{0,3}\[[^\]]+\]:\s*\S+.*$/#.wholeMatch(in: line)) != nil {
                continue  // a link reference definition renders as nothing
            } else if let item = try? #/^\s*(?<marker>[-*+]|\d{1,9}[.)])\s+(?<text>.*)$/#.wholeMatch(in: line) {
                let marker = item.output.marker
                let text = String(item.output.text)
                let entry = marker.first?.isNumber == true ? "\(marker) \(text)" : "• \(text)"
                if case .list(let items) = open {
                    open = .list(items + [entry])
                } else {
                    flush()
                    open = .list([entry])
                }
            } else if case .list(var items) = open, rawLine.first?.isWhitespace == true {
                // An indented line continues the last list item.
                items[items.count - 1] += " " + trimmed
                open = .list(items)
            } else {
                if case .list = open { flush() }
                var parts: [String] = []
                if case .paragraph(let existing) = open { parts = existing }
                if let last = parts.last, last.hasSuffix("\n") == false {
                    parts[parts.count - 1] = last + " "
                }
                // Two trailing spaces or a backslash make a hard line break.
                let hardBreak = line.hasSuffix("  ") || trimmed.hasSuffix("\\")
                let content = hardBreak && trimmed.hasSuffix("\\") ? String(trimmed.dropLast()) : trimmed
                parts.append(content + (hardBreak ? "\n" : ""))
                open = .paragraph(parts)
            }
        }
        flush()
        return blocks.map { Block(headingLevel: $0.headingLevel, text: $0.text.trimmed()) }
    }

    // MARK: - Inline markup

    /// Placeholders for backslash-escaped characters, so that `\*` survives emphasis stripping as `*`.
    private static let escapeBase: UInt32 = 0xF0000

    /// Strips inline Markdown to the text a reader sees.
    static func stripInline(_ text: String) -> String {
        // Code spans are literal: split them out first, strip only the text between them.
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "`") {
            let ticks = rest[open...].prefix(while: { $0 == "`" })
            let afterTicks = ticks.endIndex
            guard let close = rest[afterTicks...].range(of: String(ticks)) else { break }
            out += stripSpans(String(rest[..<open]))
            out += rest[afterTicks..<close.lowerBound].trimmed()
            rest = rest[close.upperBound...]
        }
        out += stripSpans(String(rest))
        return out
    }

    private static func stripSpans(_ text: String) -> String {
        // Protect escapes.
        var protected = ""
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if character == "\\", let next = iterator.next() {
                if next.isASCII, next.isPunctuation || next.isSymbol, let scalar = next.unicodeScalars.first,
                    let placeholder = Unicode.Scalar(escapeBase + scalar.value)
                {
                    protected.unicodeScalars.append(placeholder)
                } else {
                    protected.append(character)
                    protected.append(next)
                }
            } else {
                protected.append(character)
            }
        }

        var result = protected
        for (pattern, template) in inlineRules {
            var previous: String
            repeat {  // nested emphasis (**_x_**) needs more than one pass
                previous = result
                result = pattern.stringByReplacingMatches(
                    in: result, range: NSRange(result.startIndex..., in: result), withTemplate: template
                )
            } while result != previous
        }
        result = HTMLEntities.decodeEntities(result)

        var restored = String.UnicodeScalarView()
        for scalar in result.unicodeScalars {
            if scalar.value >= escapeBase, scalar.value < escapeBase + 128,
                let original = Unicode.Scalar(scalar.value - escapeBase)
            {
                restored.append(original)
            } else {
                restored.append(scalar)
            }
        }
        return String(restored)
    }

    /// Ordered: images before links (an image is a link with a "!"), links before emphasis.
    private static let inlineRules: [(NSRegularExpression, String)] = [
        (#"!\[[^\]]*\]\((?:[^()\s]|\([^()]*\))*(?:\s+"[^"]*")?\)"#, ""),
        (#"!\[[^\]]*\]\[[^\]]*\]"#, ""),
        (#"\[([^\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+"[^"]*")?\)"#, "$1"),
        (#"\[([^\]]+)\]\[[^\]]*\]"#, "$1"),
        (#"<((?:https?|ftp|mailto):[^<>\s]+)>"#, "$1"),
        (#"<([^<>@\s]+@[^<>\s]+\.[^<>\s]+)>"#, "$1"),
        (#"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"#, ""),
        (#"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"#, "$2"),
        (#"~~(?=\S)(.+?)(?<=\S)~~"#, "$1"),
        (#"\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*"#, "$1"),
        (#"(?<![\p{L}\p{N}_])_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?![\p{L}\p{N}_])"#, "$1"),
    ].map { pattern, template in
        (try! NSRegularExpression(pattern: pattern), template)
    }
}
