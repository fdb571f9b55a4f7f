import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The character encoding of an HTML page, as a browser decides it: a byte-order mark first, then the
/// HTTP `Content-Type` charset, then `<meta charset>` (or `http-equiv`) in the first kilobytes, then
/// UTF-8 when the bytes are valid UTF-8, else Windows-1252.
enum HTMLCharset {
    /// Decodes `data` to text.
    /// - Parameters:
    ///   - data: The page's bytes.
    ///   - httpCharset: The `charset` parameter of the HTTP `Content-Type`, if the page was fetched.
    /// - Returns: The text and the encoding used (its label, lowercased).
    static func decode(_ data: Data, httpCharset: String? = nil) -> (text: String, encoding: String) {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            return (String(decoding: bytes.dropFirst(3), as: UTF8.self), "utf-8")
        }
        if bytes.starts(with: [0xFF, 0xFE]) {
            return (transcode(bytes.dropFirst(2), from: "UTF-16LE") ?? "", "utf-16le")
        }
        if bytes.starts(with: [0xFE, 0xFF]) {
            return (transcode(bytes.dropFirst(2), from: "UTF-16BE") ?? "", "utf-16be")
        }
        for label in [httpCharset, metaCharset(bytes)].compactMap({ $0 }) {
            let encoding = canonical(label)
            if encoding == "utf-8" {
                return (String(decoding: bytes, as: UTF8.self), encoding)
            }
            // A page that declares UTF-16 in a <meta> cannot be UTF-16 (the meta was readable as ASCII).
            if encoding.hasPrefix("utf-16") { continue }
            if let text = transcode(bytes[...], from: encoding) { return (text, encoding) }
        }
        if let text = String(bytes: bytes, encoding: .utf8) { return (text, "utf-8") }
        return (transcode(bytes[...], from: "windows-1252") ?? String(decoding: bytes, as: UTF8.self), "windows-1252")
    }

    /// The charset named by `<meta charset=…>` or `<meta http-equiv="Content-Type" content="…; charset=…">`
    /// in the first 4 KB (browsers look at 1 KB; pages with long heads put it later).
    static func metaCharset(_ bytes: [UInt8]) -> String? {
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self).lowercased()
        var searchFrom = head.startIndex
        while let meta = head.range(of: "<meta", range: searchFrom..<head.endIndex) {
            let end = head[meta.upperBound...].firstIndex(of: ">") ?? head.endIndex
            let tag = head[meta.upperBound..<end]
            if let charset = tag.range(of: "charset") {
                var rest = tag[charset.upperBound...].drop(while: { $0 == " " })
                if rest.first == "=" {
                    rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\"" || $0 == "'" })
                    let label = rest.prefix(while: { $0.isLetter || $0.isNumber || "-_:.".contains($0) })
                    if !label.isEmpty { return String(label) }
                }
            }
            searchFrom = end
        }
        return nil
    }

    /// The `charset` parameter of a `Content-Type` header value.
    static func charset(fromContentType value: String?) -> String? {
        guard let value else { return nil }
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "charset" {
                let label = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                return label.isEmpty ? nil : label
            }
        }
        return nil
    }

    /// WHATWG's reading of common labels: Latin-1 and ASCII mean Windows-1252, and so on.
    static func canonical(_ label: String) -> String {
        let label = label.trimmingCharacters(in: .whitespaces).lowercased()
        switch label {
        case "utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8": return "utf-8"
        case "latin1", "iso-8859-1", "iso8859-1", "iso_8859-1", "l1", "us-ascii", "ascii", "cp1252", "windows-1252",
            "x-cp1252", "cp819", "ibm819":
            return "windows-1252"
        case "shift_jis", "sjis", "x-sjis", "ms_kanji", "windows-31j", "cp932": return "cp932"
        case "gb2312", "gbk", "x-gbk", "chinese", "csgb2312": return "gbk"
        case "euc-kr", "ks_c_5601-1987", "windows-949", "cp949": return "cp949"
        default: return label
        }
    }

    /// Converts `bytes` from `encoding` to a string with iconv; `nil` when iconv does not know the encoding.
    /// Bytes invalid in the encoding become U+FFFD rather than ending the conversion.
    static func transcode(_ bytes: ArraySlice<UInt8>, from encoding: String) -> String? {
        let converter = iconv_open("UTF-8", encoding)
        guard converter != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(converter) }
        var input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity(input.count * 2 + 16)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        while offset < input.count {
            var inLeft = input.count - offset
            var outLeft = chunk.count
            let result: Int = input.withUnsafeMutableBufferPointer { inBuffer in
                chunk.withUnsafeMutableBufferPointer { outBuffer in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress! + offset)
                        .assumingMemoryBound(to: CChar.self)
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)
                    return iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                }
            }
            let consumed = (input.count - offset) - inLeft
            output.append(contentsOf: chunk[0..<(chunk.count - outLeft)])
            offset += consumed
            if result == -1 {
                switch errno {
                case E2BIG: continue
                case EILSEQ, EINVAL:
                    output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    offset += 1
                default: return nil
                }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
