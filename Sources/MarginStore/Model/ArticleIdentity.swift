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
        var rest = Substring(string.trimmingCharacters(in: .whitespacesAndNewlines))
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let scheme = rest[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        rest = rest[rest.index(after: colon)...]
        guard rest.hasPrefix("//") else { return nil }
        rest = rest.dropFirst(2)

        // Fragment first: a '?' or '/' inside it belongs to it.
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: Substring?
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = rest[slash...]

        guard let hostAndPort = canonicalAuthority(authority, scheme: scheme) else { return nil }
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
        hex(SHA256.hash(Array(s.utf8)))
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
    private static func canonicalAuthority(_ authority: Substring, scheme: String) -> String? {
        var hostPort = authority
        if let at = hostPort.lastIndex(of: "@") { hostPort = hostPort[hostPort.index(after: at)...] }

        var host: Substring
        var port: Substring?
        if hostPort.hasPrefix("[") {
            // IPv6 literal: the port, if any, follows the closing bracket.
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            host = hostPort[...close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                port = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            port = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }

        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name.hasPrefix("www."), name.dropFirst(4).contains(".") { name.removeFirst(4) }
        guard !name.isEmpty, !name.hasPrefix("."),
            name.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && !forbiddenInHost.contains($0) })
        else { return nil }

        guard let port, !port.isEmpty else { return name }
        guard port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), port.count <= 5,
            let number = Int(port), number <= 65_535
        else { return nil }
        let isDefault = (scheme == "http" && number == 80) || (scheme == "https" && number == 443)
        return isDefault ? name : "\(name):\(number)"
    }

    private static let forbiddenInHost: Set<Unicode.Scalar> = [
        "/", "?", "#", "@", "\\", "<", ">", "\"", "^", "`", "{", "|", "}",
    ]

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
        return Array(#""<>\^`{|}"#.utf8).contains(byte)
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        let digits = Array("0123456789ABCDEF".utf8)
        out.append(UInt8(ascii: "%"))
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
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

/// SHA-256 (FIPS 180-4), incremental. Linux Foundation has no CryptoKit, and ids must not depend
/// on the platform, so the digest is computed here.
struct SHA256 {
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    private var pending: [UInt8] = []
    private var byteCount: UInt64 = 0

    /// The digest of `bytes`, 32 bytes.
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Feeds more input.
    mutating func update(_ bytes: [UInt8]) {
        byteCount &+= UInt64(bytes.count)
        var start = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending += bytes[0..<take]
            start = take
            guard pending.count == 64 else { return }
            compress(pending[...])
            pending.removeAll(keepingCapacity: true)
        }
        while start + 64 <= bytes.count {
            compress(bytes[start..<start + 64])
            start += 64
        }
        pending += bytes[start...]
    }

    /// Pads, processes the last blocks and returns the 32-byte digest.
    mutating func finalize() -> [UInt8] {
        let bitLength = byteCount &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> shift)) }
        for start in stride(from: 0, to: tail.count, by: 64) { compress(tail[start..<start + 64]) }
        pending.removeAll()
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }

    private mutating func compress(_ block: ArraySlice<UInt8>) {
        var w = [UInt32](repeating: 0, count: 64)
        var i = block.startIndex
        for t in 0..<16 {
            w[t] =
                UInt32(block[i]) << 24 | UInt32(block[i + 1]) << 16 | UInt32(block[i + 2]) << 8 | UInt32(block[i + 3])
            i += 4
        }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
        for t in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let choice = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ choice &+ Self.k[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ majority
            (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        state[0] &+= a
        state[1] &+= b
        state[2] &+= c
        state[3] &+= d
        state[4] &+= e
        state[5] &+= f
        state[6] &+= g
        state[7] &+= h
    }

    private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x >> n) | (x << (32 - n))
    }
}
