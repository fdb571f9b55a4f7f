import Foundation

/// Finds passages in an article body and describes them with W3C selectors.
///
/// Positions count Unicode code points (Unicode scalars), as the W3C TextPositionSelector does.
public enum TextAnchor {
    /// Code points of context kept before and after a quote.
    public static let contextLength = 32

    /// The target for the code points `start..<end` of `body`.
    /// - Throws: `StoreError.positionOutOfRange` when the span is empty or outside the body.
    public static func target(in body: String, start: Int, end: Int, revision: String? = nil) throws -> TextTarget {
        if start >= end {
            throw StoreError.invalidArgument(
                start == end ? "positions \(start)..<\(end) are an empty span; give --end greater than --start"
                    : "--end \(end) is before --start \(start); give --end greater than --start")
        }
        // Walks the scalars once, up to the end of the suffix (no copy of the body).
        let scalars = body.unicodeScalars
        guard start >= 0, end > start,
              let from = scalars.index(scalars.startIndex, offsetBy: start, limitedBy: scalars.endIndex),
              let to = scalars.index(from, offsetBy: end - start, limitedBy: scalars.endIndex)
        else {
            throw StoreError.positionOutOfRange(start: start, end: end, length: length(body))
        }
        let before = scalars.index(from, offsetBy: -min(start, contextLength))
        let after = scalars.index(to, offsetBy: contextLength, limitedBy: scalars.endIndex) ?? scalars.endIndex
        return TextTarget(
            exact: String(scalars[from..<to]), prefix: String(scalars[before..<from]), suffix: String(scalars[to..<after]),
            start: start, end: end, revision: revision)
    }

    /// The target for the one occurrence of `exact` in `body` that `prefix`/`suffix` single out.
    ///
    /// Typed text matches typographic text: straight quotes and apostrophes match curly ones,
    /// a hyphen matches a dash, a space matches any run of white space (a non-breaking space, a
    /// line break). The context may be given with or without the space at its boundary with the
    /// quote. The target's offsets and text are the body's own, as stored. When several places
    /// match only that way and one of them has exactly the typed characters, that one is meant.
    /// - Throws: `StoreError.quoteNotFound`, or `.ambiguousQuote` listing the occurrences.
    public static func target(
        in body: String, exact: String, prefix: String? = nil, suffix: String? = nil, revision: String? = nil,
        articleID: String = ""
    ) throws -> TextTarget {
        let exact = exact.precomposedStringWithCanonicalMapping
        guard !exact.isEmpty else { throw StoreError.invalidArgument("the quote is empty; give the text to highlight") }
        let scalars = Array(body.unicodeScalars)
        let text = NormalizedText(scalars[...])
        let needle = NormalizedText(Array(exact.unicodeScalars)[...]).values
        func normalized(_ s: String?) -> [UInt32] {
            guard let s else { return [] }
            return NormalizedText(Array(s.precomposedStringWithCanonicalMapping.unicodeScalars)[...]).values
        }
        // The boundary space is optional: compared without it on both sides.
        var before = normalized(prefix)
        while before.last == 0x20 { before.removeLast() }
        var after = normalized(suffix)
        while after.first == 0x20 { after.removeFirst() }
        let values = text.values
        var matching: [(start: Int, end: Int)] = []
        for n in occurrences(of: needle, in: values) {
            var b = n
            while b > 0, values[b - 1] == 0x20, !before.isEmpty { b -= 1 }
            guard b >= before.count, values[(b - before.count)..<b].elementsEqual(before) else { continue }
            var e = n + needle.count
            while e < values.count, values[e] == 0x20, !after.isEmpty { e += 1 }
            guard e + after.count <= values.count, values[e..<(e + after.count)].elementsEqual(after) else { continue }
            matching.append(text.originalSpan(n, n + needle.count))
        }
        if matching.count > 1 {
            // Typed exactly as it stands in one place only: that place.
            let typed = Array(exact.unicodeScalars)
            let verbatim = matching.filter { scalars[$0.start..<$0.end].elementsEqual(typed) }
            if verbatim.count == 1 { matching = verbatim }
        }
        if matching.isEmpty {
            throw StoreError.quoteNotFound(quote: exact, article: articleID)
        }
        if matching.count > 1 {
            let described = matching.prefix(10).map { span in
                let before = string(scalars[max(0, span.start - 20)..<span.start]).replacingOccurrences(of: "\n", with: " ")
                let after = string(scalars[span.end..<min(scalars.count, span.end + 20)])
                    .replacingOccurrences(of: "\n", with: " ")
                return "at \(span.start)..<\(span.end): …\(before)[\(string(scalars[span.start..<span.end]))]\(after)…"
            }
            throw StoreError.ambiguousQuote(quote: exact, occurrences: described)
        }
        return try target(in: body, start: matching[0].start, end: matching[0].end, revision: revision)
    }

    /// Start offsets of every occurrence of `needle` in `haystack`, overlapping ones included.
    static func occurrences(of needle: [UInt32], in haystack: [UInt32]) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var result: [Int] = []
        let first = needle[0]
        let last = haystack.count - needle.count
        var i = 0
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { result.append(i) }
            i += 1
        }
        return result
    }

    /// Start offsets (in code points) of every occurrence of `needle`, overlapping ones included.
    static func occurrences(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar]) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var result: [Int] = []
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { result.append(i) }
            i += 1
        }
        return result
    }

    static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// The code-point length of a string.
    /// The length of `s` in code points: the bytes of its UTF-8 that start a scalar.
    public static func length(_ s: String) -> Int {
        var s = s
        return s.withUTF8 { ByteScan.scalarCount($0) }
    }
}

/// Time-ordered random ids (UUID version 7), lowercase.
public enum UUIDv7 {
    public static func make(now: Date = Date()) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let ms = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        for i in 0..<6 { bytes[i] = UInt8((ms >> (8 * (5 - UInt64(i)))) & 0xFF) }
        var generator = SystemRandomNumberGenerator()
        let random = (generator.next(), generator.next())  // two reads of the system source, not ten
        for i in 6..<16 {
            let word = i < 14 ? random.0 : random.1
            bytes[i] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(i % 8)))
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
