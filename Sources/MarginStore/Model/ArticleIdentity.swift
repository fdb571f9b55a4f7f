import Foundation

/// Deterministic article ids, so that two replicas importing the same story agree on one article.
///
/// Everything here is pure and platform-independent: URL canonicalisation is done by hand on the
/// UTF-8 bytes rather than through `URLComponents`, whose parsing differs between Foundation
/// versions, and SHA-256 is computed in-process because Linux has no CryptoKit.
public enum ArticleIdentity {
    /// Query parameters that only track how a reader arrived; they never name a different article.
    ///
    /// Compared case-insensitively; `trackingParameterPrefixes` covers whole families.
    static let trackingParameters: Set<String> = [
        "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga",
        "ref", "ref_src", "cmpid", "ocid", "smid", "sr_share", "spm", "s_cid",
        "__twitter_impression", "at_medium", "at_campaign",
    ]

    /// Prefixes of tracking query parameters (`utm_source`, `utm_medium`, ...).
    static let trackingParameterPrefixes: [String] = ["utm_"]

    /// Canonical form of an article URL, or nil when the string is not an http(s) URL.
    ///
    /// The canonical form is `https://host[:port]/path[?query]` with: scheme and host lowercased,
    /// `http` folded into `https`, a leading `www.` and any user info dropped, default ports
    /// (80 for http, 443 for https) dropped, the fragment dropped, duplicate slashes in the path
    /// collapsed and a trailing slash removed (except for the root), tracking query parameters
    /// removed and the rest sorted, an empty query dropped, and percent-encoding normalised
    /// (unreserved characters decoded, other escapes uppercased, raw non-ASCII bytes encoded).
    /// A mobile `m.` host prefix is kept: it may serve a different page.
    /// - Parameter string: A URL as found in a feed, a page or on the command line.
    /// - Returns: The canonical URL, or nil when `string` is not an http(s) URL with a host.
    public static func canonicalURL(_ string: String) -> String? {
        // Nothing to trim when both ends are printable ASCII (the usual URL): Foundation is skipped.
        let plainEnds = string.utf8.first.map { $0 > 0x20 && $0 < 0x7F } == true
            && string.utf8.last.map { $0 > 0x20 && $0 < 0x7F } == true
        var rest = Substring(plainEnds ? string : string.trimmingCharacters(in: .whitespacesAndNewlines))
        // In ASCII text every character but CR LF is one byte, so the separators (none of them CR
        // or LF) are found on the bytes, at the same places as by characters.
        let ascii = rest.utf8.allSatisfy { $0 < 0x80 }
        guard let colon = first(":", in: rest, ascii: ascii) else { return nil }
        let scheme = rest[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        rest = rest[rest.index(after: colon)...]
        guard rest.hasPrefix("//") else { return nil }
        rest = rest.dropFirst(2)

        // Fragment first: a '?' or '/' inside it belongs to it.
        if let hash = first("#", in: rest, ascii: ascii) { rest = rest[..<hash] }
        var query: Substring?
        if let mark = first("?", in: rest, ascii: ascii) {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        let slash = first("/", in: rest, ascii: ascii) ?? rest.endIndex
        let authority = rest[..<slash]
        let path = rest[slash...]

        guard let hostAndPort = canonicalAuthority(authority, scheme: scheme, ascii: ascii) else { return nil }
        var result = "https://" + hostAndPort + canonicalPath(path)
        if let query, let canonical = canonicalQuery(query) {
            result += "?" + canonical
        }
        return result
    }

    /// The article id: 32 lowercase hex characters, the first 16 bytes of a SHA-256.
    ///
    /// The hash is over `"url\n" + canonicalURL(url)` when `url` is an http(s) URL, else over
    /// `"text\n" + normalizedText(title) + "\n" + normalizedText(body)`.
    /// - Parameters:
    ///   - url: The article's URL, if it has one.
    ///   - title: The headline.
    ///   - body: The plain-text body.
    /// - Returns: The id, the same on every replica for the same article.
    public static func id(url: String?, title: String, body: String) -> String {
        if let url, let canonical = canonicalURL(url) { return id(canonicalURL: canonical) }
        return String(sha256Hex("text\n" + normalizedText(title) + "\n" + normalizedText(body)).prefix(32))
    }

    /// The id of the article at a URL already in canonical form (`canonicalURL`).
    static func id(canonicalURL: String) -> String {
        String(sha256Hex("url\n" + canonicalURL).prefix(32))
    }

    /// Text in a form that ignores typographic noise: NFC, lowercased, typographic quotes and
    /// dashes folded to ASCII, every whitespace run collapsed to one space, trimmed.
    /// - Parameter s: Any text.
    /// - Returns: The normalised text.
    public static func normalizedText(_ s: String) -> String {
        let lowered = s.precomposedStringWithCanonicalMapping.lowercased()
        var scalars = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in lowered.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = true
                continue
            }
            if pendingSpace && !scalars.isEmpty { scalars.append(" ") }
            pendingSpace = false
            scalars.append(folded(scalar))
        }
        // Lowercasing can (rarely) leave a decomposed sequence behind; renormalise.
        return String(scalars).precomposedStringWithCanonicalMapping
    }

    /// SHA-256 of the UTF-8 bytes of `s`, as 64 lowercase hex characters.
    /// - Parameter s: Any text.
    /// - Returns: The hex digest.
    public static func sha256Hex(_ s: String) -> String {
        var s = s
        return hex(s.withUTF8 { Hashing.sha256(UnsafeRawBufferPointer($0)) })
    }

    // MARK: - Text

    private static func folded(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x2035: "'"
        case 0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x2036: "\""
        case 0x2010...0x2015, 0x2212, 0xFE58, 0xFE63, 0xFF0D: "-"
        default: scalar
        }
    }

    // MARK: - URL parts

    /// `host[:port]`, lowercased, without user info, `www.` or a default port.
    private static func canonicalAuthority(_ authority: Substring, scheme: String, ascii: Bool) -> String? {
        var hostPort = authority
        if let at = last("@", in: hostPort, ascii: ascii) { hostPort = hostPort[hostPort.index(after: at)...] }

        var host: Substring
        var port: Substring?
        if hostPort.hasPrefix("[") {
            // IPv6 literal: the port, if any, follows the closing bracket.
            guard let close = first("]", in: hostPort, ascii: ascii) else { return nil }
            host = hostPort[...close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                port = after.dropFirst()
            }
        } else if let colon = last(":", in: hostPort, ascii: ascii) {
            host = hostPort[..<colon]
            port = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }

        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name.hasPrefix("www."), name.dropFirst(4).contains(".") { name.removeFirst(4) }
        guard !name.isEmpty, !name.hasPrefix("."),
            ascii
                ? name.utf8.allSatisfy({ !(0x09...0x0D).contains($0) && $0 != 0x20 && !forbiddenInHostBytes.contains($0) })
                : name.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && !forbiddenInHost.contains($0) })
        else { return nil }

        guard let port, !port.isEmpty else { return name }
        guard port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), port.count <= 5,
            let number = Int(port), number <= 65_535
        else { return nil }
        let isDefault = (scheme == "http" && number == 80) || (scheme == "https" && number == 443)
        return isDefault ? name : "\(name):\(number)"
    }

    /// The first `character` (ASCII, not CR or LF) in `text`: on the bytes when `text` is ASCII.
    private static func first(_ character: Unicode.Scalar, in text: Substring, ascii: Bool) -> Substring.Index? {
        ascii ? text.utf8.firstIndex(of: UInt8(character.value)) : text.firstIndex(of: Character(character))
    }

    /// The last `character` (ASCII, not CR or LF) in `text`: on the bytes when `text` is ASCII.
    private static func last(_ character: Unicode.Scalar, in text: Substring, ascii: Bool) -> Substring.Index? {
        ascii ? text.utf8.lastIndex(of: UInt8(character.value)) : text.lastIndex(of: Character(character))
    }

    private static let forbiddenInHost: Set<Unicode.Scalar> = [
        "/", "?", "#", "@", "\\", "<", ">", "\"", "^", "`", "{", "|", "}",
    ]

    /// `forbiddenInHost` as bytes, for ASCII hosts.
    private static let forbiddenInHostBytes: [UInt8] = forbiddenInHost.map { UInt8($0.value) }

    /// The path with duplicate slashes collapsed, no trailing slash unless it is the root, and
    /// percent-encoding normalised.
    private static func canonicalPath(_ path: Substring) -> String {
        var collapsed: [UInt8] = [UInt8(ascii: "/")]
        for byte in path.utf8 where !(byte == UInt8(ascii: "/") && collapsed.last == UInt8(ascii: "/")) {
            collapsed.append(byte)
        }
        if collapsed.count > 1, collapsed.last == UInt8(ascii: "/") { collapsed.removeLast() }
        return normalizedPercentEncoding(collapsed[...])
    }

    /// The query without tracking or empty parameters, sorted, or nil when nothing is left.
    private static func canonicalQuery(_ query: Substring) -> String? {
        var parameters: [(name: String, value: String?)] = []
        for piece in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let bytes = Array(piece)
            let name: String
            var value: String?
            if let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
                name = normalizedPercentEncoding(bytes[..<equals])
                value = normalizedPercentEncoding(bytes[(equals + 1)...])
            } else {
                name = normalizedPercentEncoding(bytes[...])
            }
            if isTracking(name) { continue }
            parameters.append((name, value))
        }
        guard !parameters.isEmpty else { return nil }
        // Byte order, not String order: String comparison is Unicode-aware and need not be
        // stable across standard-library versions. After normalisation everything is ASCII anyway.
        parameters.sort { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
            switch (lhs.value, rhs.value) {
            case (nil, nil), (_?, nil): return false
            case (nil, _?): return true
            case (let left?, let right?): return left.utf8.lexicographicallyPrecedes(right.utf8)
            }
        }
        return parameters.map { parameter in
            parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name
        }.joined(separator: "&")
    }

    private static func isTracking(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return trackingParameters.contains(lowered)
            || trackingParameterPrefixes.contains { lowered.hasPrefix($0) }
    }

    /// Decodes escapes of unreserved characters, uppercases the other escapes, and encodes raw
    /// bytes that may not appear in a URL (non-ASCII, controls, space, `"<>\^`{|}`, a stray `%`).
    private static func normalizedPercentEncoding(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%"), i + 2 < bytes.endIndex,
                let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2])
            {
                let decoded = high << 4 | low
                if isUnreserved(decoded) {
                    out.append(decoded)
                } else {
                    appendEscape(decoded, to: &out)
                }
                i += 3
                continue
            }
            if byte == UInt8(ascii: "%") || mustEscape(byte) {
                appendEscape(byte, to: &out)
            } else {
                out.append(byte)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func mustEscape(_ byte: UInt8) -> Bool {
        if byte <= 0x20 || byte >= 0x7F { return true }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "^"),
            UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
            return true
        default:
            return false
        }
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        @inline(__always) func digit(_ value: UInt8) -> UInt8 {
            value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
        }
        out.append(UInt8(ascii: "%"))
        out.append(digit(byte >> 4))
        out.append(digit(byte & 0x0F))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
