import Foundation

/// Exports annotations as W3C Web Annotation JSON-LD (https://www.w3.org/TR/annotation-model/).
///
/// The output is deterministic: the same articles and annotations give the same bytes, in whatever
/// order they are passed. Every annotation meets the MUSTs of the W3C conformance schemas.
public enum W3CExporter {
    /// The JSON-LD context every exported object names.
    public static let context = "http://www.w3.org/ns/anno.jsonld"

    /// The collection's human-readable label.
    public static let collectionLabel = "Margin export"

    /// Exports every annotation as one AnnotationCollection whose `first` page holds them all.
    ///
    /// - Parameters:
    ///   - articles: The articles the annotations point at; an annotation whose article is missing
    ///     still exports, with a `urn:margin:article:` source.
    ///   - annotations: The annotations to export, in any order.
    ///   - generator: The name of the software recorded as each annotation's `generator`.
    /// - Returns: Pretty-printed JSON-LD with sorted keys.
    /// - Throws: `EncodingError` if encoding fails.
    public static func export(
        articles: [Article], annotations: [Annotation], generator: String = "margin"
    ) throws -> Data {
        try CanonicalJSON.encode(
            collection(articles: articles, annotations: annotations, generator: generator),
            prettyPrinted: true
        )
    }

    /// Builds the AnnotationCollection that `export` encodes.
    ///
    /// Annotations are ordered by article id, then start position, then end position, then id. The
    /// collection and page ids are UUIDs derived from a SHA-256 of the items, so the same content
    /// always has the same ids and different content different ones.
    /// - Parameters:
    ///   - articles: The articles the annotations point at.
    ///   - annotations: The annotations to export, in any order.
    ///   - generator: The name of the software recorded as each annotation's `generator`.
    /// - Returns: The collection, with `first` omitted when there is nothing to export.
    /// - Throws: `EncodingError` if the items cannot be encoded for hashing.
    public static func collection(
        articles: [Article], annotations: [Annotation], generator: String = "margin"
    ) throws -> AnnotationCollection {
        var articlesByID: [String: Article] = [:]
        for article in articles {
            // Two revisions of one article: keep the newest, whatever the input order.
            if let known = articlesByID[article.id],
                (known.updatedAt, known.contentHash) >= (article.updatedAt, article.contentHash)
            {
                continue
            }
            articlesByID[article.id] = article
        }
        let items = annotations.sorted(by: exportOrder).map { annotation in
            webAnnotation(annotation, article: articlesByID[annotation.articleID], generator: generator)
        }
        let digest = Hashing.sha256([UInt8](try CanonicalJSON.encode(items)))
        return AnnotationCollection(
            context: context,
            id: "urn:uuid:" + uuidString(fromBytes: digest[0..<16]),
            type: "AnnotationCollection",
            label: collectionLabel,
            total: items.count,
            first: items.isEmpty
                ? nil
                : AnnotationPage(
                    id: "urn:uuid:" + uuidString(fromBytes: digest[16..<32]), type: "AnnotationPage", startIndex: 0,
                    items: items
                )
        )
    }

    /// One annotation as a W3C Web Annotation.
    ///
    /// - Parameters:
    ///   - annotation: The annotation to convert.
    ///   - article: The article it points at; its URL becomes the target's source.
    ///   - generator: The name of the software recorded as `generator`.
    /// - Returns: The Web Annotation; encode it with `CanonicalJSON` for stable bytes.
    public static func annotationObject(
        _ annotation: Annotation, article: Article, generator: String = "margin"
    ) -> WebAnnotation {
        webAnnotation(annotation, article: article, generator: generator)
    }

    // MARK: - Mapping

    static func exportOrder(_ lhs: Annotation, _ rhs: Annotation) -> Bool {
        (lhs.articleID, lhs.target.start, lhs.target.end, lhs.id, lhs.updatedAt.rawValue)
            < (rhs.articleID, rhs.target.start, rhs.target.end, rhs.id, rhs.updatedAt.rawValue)
    }

    static func webAnnotation(_ annotation: Annotation, article: Article?, generator: String) -> WebAnnotation {
        var bodies: [TextualBody] = []
        if let note = annotation.note, !note.isEmpty {
            // A highlight with a note stays a highlight; the note body says it is a comment.
            bodies.append(TextualBody(type: "TextualBody", value: note, format: "text/plain", purpose: "commenting"))
        }
        for tag in annotation.tags {
            bodies.append(TextualBody(type: "TextualBody", value: tag, format: nil, purpose: "tagging"))
        }
        return WebAnnotation(
            context: context,
            id: annotationURI(annotation.id),
            type: "Annotation",
            motivation: annotation.motivation.rawValue,
            created: annotation.createdAt.iso8601,
            modified: annotation.updatedAt.iso8601,
            creator: Agent(id: nil, type: "Person", name: annotation.author),
            generator: Agent(id: "urn:margin:software:" + urnSegment(generator), type: "Software", name: generator),
            body: bodies.isEmpty ? nil : bodies,
            target: Target(
                source: article.flatMap { $0.url.flatMap(uriString) }
                    ?? "urn:margin:article:" + urnSegment(annotation.articleID),
                selector: selectors(currentTarget(annotation, article: article))
            )
        )
    }

    /// The selectors as they apply to the article's current body: a re-anchored annotation exports
    /// where its passage is now; an orphan keeps the selectors it was made with (nothing is lost,
    /// and an importer will find it orphaned too).
    static func currentTarget(_ annotation: Annotation, article: Article?) -> TextTarget {
        guard case .anchored(let p)? = annotation.anchor, let article,
            p.start != annotation.target.start || p.end != annotation.target.end
                || annotation.target.revision != article.contentHash,
            let current = try? TextAnchor.target(in: article.body, start: p.start, end: p.end, revision: article.contentHash)
        else { return annotation.target }
        return current
    }

    static func selectors(_ target: TextTarget) -> [Selector] {
        var selectors: [Selector] = []
        let position = target.start >= 0 && target.end >= target.start
        if !target.exact.isEmpty || !position {
            selectors.append(
                Selector(
                    type: "TextQuoteSelector",
                    exact: target.exact,
                    prefix: target.prefix.isEmpty ? nil : target.prefix,
                    suffix: target.suffix.isEmpty ? nil : target.suffix
                )
            )
        }
        if position {
            selectors.append(Selector(type: "TextPositionSelector", start: target.start, end: target.end))
        }
        return selectors
    }

    /// `urn:uuid:` for a UUID id (the normal case), else an opaque Margin URN.
    static func annotationURI(_ id: String) -> String {
        if let uuid = UUID(uuidString: id) {
            return "urn:uuid:" + uuid.uuidString.lowercased()
        }
        return "urn:margin:annotation:" + urnSegment(id)
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func urnSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// The URL as an RFC 3986 URI: characters a URI may not hold are percent-encoded (as UTF-8).
    ///
    /// - Returns: `nil` when the text has no scheme, so it cannot name a resource on its own.
    static func uriString(_ url: String) -> String? {
        let text = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex else { return nil }
        // RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let letters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        let schemeCharacters = letters.union("0123456789+-.".utf8)
        let scheme = text[..<colon].utf8
        guard let first = scheme.first, letters.contains(first), scheme.allSatisfy(schemeCharacters.contains)
        else { return nil }

        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?@!$&'()*+,;=".utf8)
        let hex = Set("0123456789ABCDEFabcdef".utf8)
        let bytes = Array(text.utf8)
        var seenFragment = false
        var result = ""
        for (index, byte) in bytes.enumerated() {
            let keep: Bool
            switch byte {
            case UInt8(ascii: "%"):
                keep = index + 2 < bytes.count && hex.contains(bytes[index + 1]) && hex.contains(bytes[index + 2])
            case UInt8(ascii: "#"):
                keep = !seenFragment
                seenFragment = true
            default:
                keep = allowed.contains(byte)
            }
            if keep {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    /// An RFC 9562 version 8 UUID made from 16 bytes of a digest.
    static func uuidString(fromBytes digest: ArraySlice<UInt8>) -> String {
        var bytes = Array(digest)
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
        return uuid.uuidString.lowercased()
    }
}

// MARK: - JSON-LD shapes

extension W3CExporter {
    /// A W3C Web Annotation.
    public struct WebAnnotation: Codable, Sendable, Equatable {
        /// Always `http://www.w3.org/ns/anno.jsonld`.
        public var context: String
        /// `urn:uuid:<annotation id>`.
        public var id: String
        /// Always `Annotation`.
        public var type: String
        /// highlighting, commenting, tagging or bookmarking.
        public var motivation: String
        /// `xsd:dateTime`, UTC.
        public var created: String
        /// `xsd:dateTime`, UTC.
        public var modified: String
        /// The replica name that made the annotation.
        public var creator: Agent
        /// The software that wrote the export.
        public var generator: Agent
        /// The note (purpose commenting) and one body per tag (purpose tagging); `nil` when neither exists.
        public var body: [TextualBody]?
        /// The article and the passage in it.
        public var target: Target

        enum CodingKeys: String, CodingKey {
            case context = "@context"
            case id, type, motivation, created, modified, creator, generator, body, target
        }
    }

    /// A person or piece of software.
    public struct Agent: Codable, Sendable, Equatable {
        /// An IRI for the agent, when it has one.
        public var id: String?
        /// Person, Organization or Software.
        public var type: String
        /// The agent's name.
        public var name: String
    }

    /// Text embedded in the annotation: a note or a tag.
    public struct TextualBody: Codable, Sendable, Equatable {
        /// Always `TextualBody`.
        public var type: String
        /// The note's text or the tag.
        public var value: String
        /// The media type of `value`, for notes.
        public var format: String?
        /// commenting or tagging.
        public var purpose: String?
    }

    /// A specific resource: the article and the selectors that find the passage in it.
    public struct Target: Codable, Sendable, Equatable {
        /// The article's URL, or `urn:margin:article:<id>` when it has none.
        public var source: String
        /// Equivalent ways to find the passage: a TextQuoteSelector, then a TextPositionSelector.
        public var selector: [Selector]
    }

    /// A TextQuoteSelector (exact, prefix, suffix) or a TextPositionSelector (start, end in code points).
    public struct Selector: Codable, Sendable, Equatable {
        /// TextQuoteSelector or TextPositionSelector.
        public var type: String
        /// The quoted text.
        public var exact: String?
        /// Text just before the quote; omitted when empty.
        public var prefix: String?
        /// Text just after the quote; omitted when empty.
        public var suffix: String?
        /// Start offset in Unicode code points.
        public var start: Int?
        /// End offset (exclusive) in Unicode code points.
        public var end: Int?

        init(
            type: String, exact: String? = nil, prefix: String? = nil, suffix: String? = nil,
            start: Int? = nil, end: Int? = nil
        ) {
            self.type = type
            self.exact = exact
            self.prefix = prefix
            self.suffix = suffix
            self.start = start
            self.end = end
        }
    }

    /// An ordered collection of annotations.
    public struct AnnotationCollection: Codable, Sendable, Equatable {
        /// Always `http://www.w3.org/ns/anno.jsonld`.
        public var context: String
        /// `urn:uuid:` with a UUID derived from the content.
        public var id: String
        /// Always `AnnotationCollection`.
        public var type: String
        /// A human-readable label.
        public var label: String
        /// The number of annotations.
        public var total: Int
        /// The single page holding every annotation; `nil` when there are none.
        public var first: AnnotationPage?

        enum CodingKeys: String, CodingKey {
            case context = "@context"
            case id, type, label, total, first
        }
    }

    /// A page of a collection.
    public struct AnnotationPage: Codable, Sendable, Equatable {
        /// `urn:uuid:` with a UUID derived from the content.
        public var id: String
        /// Always `AnnotationPage`.
        public var type: String
        /// The index of the first item in the collection.
        public var startIndex: Int
        /// The annotations.
        public var items: [WebAnnotation]
    }
}

