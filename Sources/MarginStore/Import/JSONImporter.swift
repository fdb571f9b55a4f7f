import Foundation

/// Reads articles from JSON: one object, an array of objects, or `{"articles": [...]}`.
///
/// Keys: `title`, `url`, `body` | `text` | `content`, `byline` | `author`, `source`,
/// `published_at` | `publishedAt` | `date`, `language` | `lang`, `caption`. An author may be a string,
/// an array of names or an object with a `name`; a body that is HTML is read as HTML.
enum JSONImporter {
    static func parse(_ text: String) throws(ImportError) -> [ImportedArticle] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw ImportError("invalid JSON (\(reason(error))); expected an article object or an array of them")
        }

        if let object = root as? [String: Any] {
            if let articles = object["articles"] as? [Any], object["title"] == nil {
                return try parseArray(articles)
            }
            return [try article(object, location: nil)]
        }
        if let array = root as? [Any] {
            guard array.isEmpty == false else { throw ImportError("JSON array holds no articles") }
            return try parseArray(array)
        }
        throw ImportError("JSON holds a \(kind(root)), not an article object or an array of them")
    }

    private static func parseArray(_ array: [Any]) throws(ImportError) -> [ImportedArticle] {
        var articles: [ImportedArticle] = []
        for (index, element) in array.enumerated() {
            let location = "JSON article at index \(index)"
            guard let object = element as? [String: Any] else {
                throw ImportError("\(location) is a \(kind(element)), not an object")
            }
            articles.append(try article(object, location: location))
        }
        return articles
    }

    /// One array element, as bytes, read as an article.
    static func article(data: Data, location: String) throws(ImportError) -> ImportedArticle {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw ImportError("\(location) is invalid JSON (\(reason(error)))")
        }
        guard let object = value as? [String: Any] else { throw ImportError("\(location) is a \(kind(value)), not an object") }
        return try article(object, location: location)
    }

    /// The index just after the JSON value starting at `start` (after whitespace), or `nil` when the buffer
    /// ends inside it. Strings and escapes are followed; nesting is counted.
    static func elementEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        var depth = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == 0x5C {
                    index += 2
                    continue
                }
                if byte == 0x22 { inString = false }
                index += 1
                if !inString, depth == 0 { return index }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                if depth == 0 { return index }
                depth -= 1
                if depth == 0 { return index + 1 }
            case 0x2C where depth == 0:
                return index
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private static func article(_ object: [String: Any], location: String?) throws(ImportError) -> ImportedArticle {
        let place = location ?? "JSON article"
        func string(_ keys: [String]) throws(ImportError) -> String? {
            for key in keys {
                guard let value = object[key], !(value is NSNull) else { continue }
                if let text = value as? String { return text }
                if let number = value as? NSNumber, key != "title" { return number.stringValue }
                throw ImportError("\(place): '\(key)' must be a string, not a \(kind(value))")
            }
            return nil
        }
        /// "Jane Doe", ["Jane Doe", "John Roe"], {"name": "Jane Doe"} or [{"name": …}].
        func names(_ keys: [String]) throws(ImportError) -> String? {
            for key in keys {
                guard let value = object[key], !(value is NSNull) else { continue }
                let items = (value as? [Any]) ?? [value]
                var names: [String] = []
                for item in items {
                    if let name = item as? String {
                        names.append(name)
                    } else if let name = (item as? [String: Any])?["name"] as? String {
                        names.append(name)
                    } else {
                        throw ImportError(
                            "\(place): '\(key)' must be a name, a list of names or an object with a 'name'")
                    }
                }
                return names.joined(separator: ", ")
            }
            return nil
        }

        guard let title = try string(["title", "headline"]) else {
            throw ImportError("\(place) has no 'title'")
        }
        guard var body = try string(["body", "text", "content"]) else {
            throw ImportError("\(place) has no 'body' or 'text'")
        }
        if looksLikeHTML(body) { body = HTMLImporter.plainText(fromFragment: body) }

        let byline = try names(["byline", "author", "authors"])
        var source = try names(["source", "publisher"])
        if source == nil, let byline { source = Agencies.split(byline: byline).source }
        let published = try string(["published_at", "publishedAt", "published", "date"])
        let publishedAt = Dateline.iso(from: published)

        return try ArticleImporter.finish(
            ImportedArticle(
                url: try string(["url", "link", "canonical_url"]),
                title: title,
                byline: byline,
                source: source,
                publishedAt: publishedAt,
                language: try string(["language", "lang"]),
                body: body,
                caption: try string(["caption"])
            ),
            location: location
        )
    }

    /// A body of paragraphs in tags, as feeds' `content` often is.
    private static func looksLikeHTML(_ text: String) -> Bool {
        var scanner = ByteScanner(text)
        let tags = ["p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote"]
        while let open = scanner.bytes[scanner.position...].firstIndex(of: UInt8(ascii: "<")) {
            scanner.position = open + 1
            let start = scanner.position
            for tag in tags {
                scanner.position = start
                guard scanner.take(word: tag), let next = scanner.peek else { continue }
                if next == UInt8(ascii: ">") || next == UInt8(ascii: "/") || next == 0x20 || next == 0x09 || next == 0x0A {
                    return true
                }
            }
            scanner.position = start
        }
        return false
    }

    private static func kind(_ value: Any) -> String {
        switch value {
        case is String: "string"
        case is NSNull: "null"
        case is [Any]: "array"
        case is [String: Any]: "object"
        case is NSNumber: "number"
        default: "value"
        }
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo["NSDebugDescription"] as? String { return detail }
        return nsError.localizedDescription
    }
}
