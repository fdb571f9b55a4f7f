/// Text made safe and short for a terminal.
enum TerminalText {
    /// `text` with its control characters escaped, as `ls -b` and Git's quoted paths show them
    /// (`\033`, `\r`, `\b`…), so text that arrived from elsewhere (a title, a note, a replica's
    /// name) cannot move the cursor, clear the screen or set the window title. `--json` keeps the
    /// exact text. Newlines and tabs stay when `multiline` (a body, a note), else become spaces.
    static func escaped(_ text: String, multiline: Bool = false) -> String {
        // Most text has nothing to escape: one pass over its UTF-8 to tell.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x09:
                out.append(multiline ? scalar : " ")
            case 0x0D:
                out.append(contentsOf: "\\r".unicodeScalars)
            case 0x00..<0x20, 0x7F, 0x80..<0xA0:
                out.append(contentsOf: ("\\" + octal(scalar.value)).unicodeScalars)
            case 0x202A...0x202E, 0x2066...0x2069:
                // Bidirectional overrides reorder what follows on the screen (Trojan Source).
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            case 0x2028, 0x2029:
                out.append(multiline ? "\n" : " ")
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    private static func octal(_ value: UInt32) -> String {
        let digits = String(value, radix: 8)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// Columns `scalar` takes on a terminal: 0 for combining marks and joiners, 2 for East Asian
    /// wide and full-width characters and emoji, 1 otherwise.
    static func columns(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x300 { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if v == 0x200B || (0xFE00...0xFE0F).contains(v) { return 0 }
        switch v {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x2E80...0x303E,
             0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    /// Columns `text` takes (escape sequences of our own colours not counted).
    static func columns(_ text: String) -> Int {
        var total = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
                continue
            }
            if scalar == "\u{1B}" {
                inEscape = true
                continue
            }
            total += columns(scalar)
        }
        return total
    }

    /// `text` cut to `width` columns with `…` at the end when it is longer; whole when `width` is nil.
    static func cut(_ text: String, to width: Int?) -> String {
        guard let width, width > 1 else { return text }
        // ASCII that fits: as it is.
        if text.utf8.count <= width { return text }
        if columns(text) <= width { return text }
        var out = String.UnicodeScalarView()
        var used = 0
        var inEscape = false, coloured = false
        for scalar in text.unicodeScalars {
            // Our own colour sequences take no columns and are kept whole.
            if inEscape || scalar == "\u{1B}" {
                out.append(scalar)
                inEscape = scalar != "m"
                coloured = true
                continue
            }
            let w = columns(scalar)
            if used + w > width - 1 { break }
            out.append(scalar)
            used += w
        }
        if coloured { out.append(contentsOf: "\u{1B}[0m".unicodeScalars) }
        // A combining mark right after the cut would sit on the ellipsis: none follows, by construction.
        out.append("…")
        return String(out)
    }
}

extension Output {
    /// Text that arrived from elsewhere (a page's title, a feed's name) made safe for a terminal.
    static func terminalSafe(_ text: String) -> String { TerminalText.escaped(text) }
}
