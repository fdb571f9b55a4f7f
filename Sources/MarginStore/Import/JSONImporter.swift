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
        (try? #/(?i)<(p|br|div|h[1-6]|ul|ol|li|blockquote)(\s[^>]*)?/?>/#.firstMatch(in: text)) != nil
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
