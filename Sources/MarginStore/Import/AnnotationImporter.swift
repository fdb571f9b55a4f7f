import Foundation

/// An annotation read from another tool's export, before it is anchored in an article of the store.
public struct ImportedAnnotation: Sendable, Equatable {
    /// Where it came from, for ids and messages: "w3c" or "hypothesis".
    public var origin: String
    /// The id in the source (a `urn:uuid:` for Margin's own export, Hypothesis's id, …).
    public var sourceID: String? = nil
    /// The annotated document: an article URL, or `urn:margin:article:ID`.
    public var source: String
    public var exact: String? = nil
    public var prefix: String? = nil
    public var suffix: String? = nil
    /// TextPositionSelector, already in Unicode code points when `positionsInUTF16` is false.
    public var start: Int? = nil
    public var end: Int? = nil
    /// True when start/end count UTF-16 code units (Hypothesis, browsers): converted against the
    /// body when anchored.
    public var positionsInUTF16: Bool
    public var motivation: Motivation? = nil
    public var note: String? = nil
    public var tags: [String] = []
    public var author: String? = nil
}

/// Reads W3C Web Annotation JSON-LD (an Annotation, an AnnotationPage, an AnnotationCollection
/// with its pages, or an array of annotations) and Hypothesis API JSON (`{"rows": […]}`, an array
/// of rows, or one row).
public enum AnnotationImporter {
    public enum Format: String, Sendable { case w3c, hypothesis }

    /// The annotation format of a JSON document, if it is one; nil for an article file.
    public static func detect(_ data: Data) -> Format? {
        guard let json = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else { return nil }
        func format(of object: JSONValue) -> Format? {
            guard case .object(let o) = object else { return nil }
            if let type = o["type"]?.stringValue,
                ["Annotation", "AnnotationPage", "AnnotationCollection"].contains(type)
            {
                return .w3c
            }
            if o["@context"] != nil, o["target"] != nil { return .w3c }
            if o["uri"] != nil, o["target"] != nil { return .hypothesis }
            if case .array(let rows)? = o["rows"], let first = rows.first { return format(of: first) ?? .hypothesis }
            return nil
        }
        if case .array(let items) = json {
            guard let first = items.first else { return nil }
            return format(of: first)
        }
        return format(of: json)
    }

    /// The annotations of a document in `format`.
    /// - Throws: `ImportError.malformed` naming what is wrong (and where).
    public static func parse(_ data: Data, format: Format) throws -> [ImportedAnnotation] {
        let json: JSONValue
        do {
            json = try JSONValue.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw ImportError("not valid JSON (\(error))")
        }
        var items: [JSONValue] = []
        switch format {
        case .w3c:
            func collect(_ value: JSONValue) {
                switch value {
                case .array(let values): values.forEach(collect)
                case .object(let o):
                    switch o["type"]?.stringValue {
                    case "AnnotationCollection":
                        if let first = o["first"] { collect(first) }
                    case "AnnotationPage":
                        if let page = o["items"] { collect(page) }
                        if case .object? = o["next"], let next = o["next"] { collect(next) }
                    default: items.append(value)
                    }
                default: break
                }
            }
            collect(json)
        case .hypothesis:
            if case .object(let o) = json, case .array(let rows)? = o["rows"] {
                items = rows
            } else if case .array(let rows) = json {
                items = rows
            } else {
                items = [json]
            }
        }
        return try items.enumerated().map { index, item in
            do {
                return try format == .w3c ? w3c(item) : hypothesis(item)
            } catch let error as ImportError {
                throw ImportError("annotation \(index + 1): \(error.message)")
            }
        }
    }

    // MARK: W3C

    static func w3c(_ item: JSONValue) throws -> ImportedAnnotation {
        guard case .object(let o) = item else { throw ImportError("an annotation must be a JSON object") }
        let target: JSONValue
        switch o["target"] {
        case .array(let targets)?:
            guard let first = targets.first else { throw ImportError("its target list is empty") }
            target = first
        case let value?: target = value
        case nil: throw ImportError("it has no target")
        }
        var result = ImportedAnnotation(
            origin: "w3c", sourceID: o["id"]?.stringValue, source: "", positionsInUTF16: false,
            motivation: (o["motivation"]?.stringValue).flatMap(Motivation.init(rawValue:)), tags: [],
            author: o["creator"]?["name"]?.stringValue ?? o["creator"]?.stringValue)
        switch target {
        case .string(let iri): result.source = iri
        case .object(let t):
            guard let source = t["source"]?.stringValue ?? t["id"]?.stringValue else {
                throw ImportError("its target has no source")
            }
            result.source = source
            try readSelectors(t["selector"], into: &result)
        default: throw ImportError("its target must be an IRI or an object")
        }
        var bodies: [JSONValue] = []
        if case .array(let list)? = o["body"] { bodies = list } else if let body = o["body"] { bodies = [body] }
        for body in bodies {
            guard let value = body["value"]?.stringValue ?? body.stringValue else { continue }
            if body["purpose"]?.stringValue == "tagging" {
                result.tags.append(value)
            } else if result.note == nil {
                result.note = value
            } else {
                result.note! += "\n\n" + value
            }
        }
        if let value = o["bodyValue"]?.stringValue { result.note = value }
        return result
    }

    static func readSelectors(_ value: JSONValue?, into result: inout ImportedAnnotation) throws {
        var selectors: [JSONValue] = []
        if case .array(let list)? = value { selectors = list } else if let value { selectors = [value] }
        for selector in selectors {
            switch selector["type"]?.stringValue {
            case "TextQuoteSelector":
                guard let exact = selector["exact"]?.stringValue, !exact.isEmpty else {
                    throw ImportError("a TextQuoteSelector without an exact quote")
                }
                result.exact = exact
                result.prefix = selector["prefix"]?.stringValue
                result.suffix = selector["suffix"]?.stringValue
            case "TextPositionSelector":
                guard let start = selector["start"]?.intValue, let end = selector["end"]?.intValue,
                    start >= 0, end >= start
                else {
                    throw ImportError("a TextPositionSelector needs integers 0 ≤ start ≤ end")
                }
                result.start = Int(start)
                result.end = Int(end)
            default:
                continue  // RangeSelector, XPath, CSS…: page structure Margin does not keep
            }
        }
        if result.exact == nil, result.start == nil {
            throw ImportError("no TextQuoteSelector or TextPositionSelector to anchor it by")
        }
    }

    // MARK: Hypothesis

    static func hypothesis(_ item: JSONValue) throws -> ImportedAnnotation {
        guard case .object(let o) = item else { throw ImportError("a row must be a JSON object") }
        var target: JSONValue?
        if case .array(let targets)? = o["target"] { target = targets.first } else { target = o["target"] }
        guard let source = target?["source"]?.stringValue ?? o["uri"]?.stringValue else {
            throw ImportError("it has no uri or target source")
        }
        var tags: [String] = []
        if case .array(let list)? = o["tags"] { tags = list.compactMap(\.stringValue) }
        let text = o["text"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        var user = o["user"]?.stringValue
        // "acct:name@hypothes.is" → "name"
        if let u = user, u.hasPrefix("acct:") { user = String(u.dropFirst(5).split(separator: "@").first ?? "") }
        var result = ImportedAnnotation(
            origin: "hypothesis", sourceID: o["id"]?.stringValue, source: source, positionsInUTF16: true,
            motivation: text == nil ? .highlighting : .commenting, note: text, tags: tags, author: user)
        try readSelectors(target?["selector"], into: &result)
        return result
    }

    // MARK: Offsets

    /// The code-point offset of UTF-16 offset `utf16` in `text` (clamped; a position inside a
    /// surrogate pair goes to the pair's start).
    public static func codePointOffset(utf16 offset: Int, in text: String) -> Int {
        var units = 0
        var points = 0
        for scalar in text.unicodeScalars {
            let width = scalar.utf16.count
            if units + width > offset { return points }
            units += width
            points += 1
        }
        return points
    }

    /// The UTF-16 offset of code-point offset `points` in `text` (clamped).
    public static func utf16Offset(codePoint offset: Int, in text: String) -> Int {
        var units = 0
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i >= offset { break }
            units += scalar.utf16.count
        }
        return units
    }
}
