import Foundation

/// HTML character references, for importers that meet them outside an HTML parser (Markdown).
enum HTMLEntities {
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
