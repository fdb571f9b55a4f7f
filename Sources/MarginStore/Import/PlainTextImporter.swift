import Foundation

/// Reads a plain-text wire story, as copied from a news site:
///
/// ```
/// From                                   ← share-widget chrome, dropped
/// Send to
///
/// Blinken arrives in S. Korea for talks  ← headline
///
/// March 17, 2021 - 09:15 By Yonhap       ← dateline: date, time, byline
/// US Secretary … in Tokyo. (Reuters-Yonhap)   ← photo caption, kept out of the body
/// US Secretary of State Antony Blinken arrived …   ← body
/// ```
///
/// Without a dateline, the first line is the title and the rest is the body.
enum PlainTextImporter {
    static func parse(_ text: String) throws(ImportError) -> ImportedArticle {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0.trimmingTrailingWhitespace())
        }
        var index = 0

        func skipBlankLines() {
            while index < lines.count, lines[index].trimmed().isEmpty { index += 1 }
        }

        // Share-widget chrome sits above the headline; below it, such words are part of the story.
        skipBlankLines()
        while index < lines.count, isChrome(lines[index]) || lines[index].trimmed().isEmpty { index += 1 }
        guard index < lines.count else { throw ImportError("empty article: no title or body text") }
        let title = lines[index]
        index += 1

        // The header block under the headline: a dateline and/or a "By …" line, in either order.
        var publishedAt: String? = nil
        var byline: String? = nil
        var source: String? = nil
        var sawHeader = false
        while true {
            let mark = index
            skipBlankLines()
            guard index < lines.count else { break }
            let line = lines[index].trimmed()
            if publishedAt == nil, let dateline = Dateline(line) {
                publishedAt = dateline.iso
                if let by = dateline.byline { (byline, source) = Agencies.split(byline: by) }
            } else if byline == nil, let by = Dateline.byline(line) {
                (byline, source) = Agencies.split(byline: by)
            } else {
                index = mark
                break
            }
            sawHeader = true
            index += 1
        }

        // A photo caption directly under the header, recognised by its closing photo credit.
        var caption: String? = nil
        if sawHeader {
            let mark = index
            skipBlankLines()
            if index < lines.count, isCaption(lines[index]),
                lines[(index + 1)...].contains(where: { $0.trimmed().isEmpty == false })
            {
                caption = lines[index]
                index += 1
            } else {
                index = mark
            }
        }

        let body = lines[index...].joined(separator: "\n")
        return try ArticleImporter.finish(
            ImportedArticle(
                title: title, byline: byline, source: source, publishedAt: publishedAt, body: body, caption: caption),
            location: nil
        )
    }

    /// Words share widgets leave above a headline when a page is copied as text.
    private static let chromeLines: Set<String> = [
        "from", "send to", "share", "share this", "share this article", "share on facebook", "share on twitter",
        "print", "print this", "print article", "email", "e-mail", "mail", "tweet", "facebook", "twitter", "x",
        "linkedin", "whatsapp", "kakaotalk", "kakao story", "band", "copy", "copy link", "copy url", "link",
        "listen", "listen to this article", "font size", "a a", "a+ a-", "text size", "save", "bookmark",
        "comments", "more", "close", "menu", "advertisement", "scroll down", "go to top", "top",
    ]

    static func isChrome(_ line: String) -> Bool {
        let key = line.trimmed().lowercased()
        guard key.count <= 40 else { return false }
        return chromeLines.contains(key)
    }

    /// A caption is a line ending in a parenthesised photo credit: "(Reuters-Yonhap)", "(AP Photo/Ahn Young-joon)",
    /// "(Yonhap)", "(Getty Images)". Captions are short; a long paragraph is a story, whatever its end.
    static func isCaption(_ line: String) -> Bool {
        let line = line.trimmed()
        guard line.count <= 600, line.hasSuffix(")"), let open = line.lastIndex(of: "(") else { return false }
        let credit = line[line.index(after: open)..<line.index(before: line.endIndex)].trimmed()
        guard credit.isEmpty == false, credit.count <= 80, credit.first?.isUppercase == true else { return false }
        let lower = credit.lowercased()
        let photoWords = ["photo", "courtesy", "getty", "image", "pool", "file", "screenshot", "captured", "handout"]
        let words = Set(credit.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { $0.lowercased() })
        let namesAgency = Agencies.all.contains { agency in
            agency.contains(" ") ? lower.contains(agency.lowercased()) : words.contains(agency.lowercased())
        }
        return namesAgency || credit.contains("/") || photoWords.contains(where: lower.contains)
    }
}

/// A dateline such as "March 17, 2021 - 09:15 By Yonhap", "Friday, January 4, 2019", "17 March 2021 14:05 KST"
/// or "2021-03-17 09:15"; the whole line must be one. Read by a hand-written scanner (it runs on the first
/// line of every imported row).
struct Dateline {
    /// "2021-03-17T09:15" when the line gives a time, else "2021-03-17".
    var iso: String
    /// The name after "By", if the line carries one.
    var byline: String?

    init?(_ line: String) {
        let line = line.trimmed()
        guard line.utf8.count <= 160 || line.utf8.count <= 480 && line.count <= 160, let first = line.utf8.first,
            ByteScanner.isLetter(first) || ByteScanner.isDigit(first)
        else { return nil }
        var scanner = ByteScanner(line)

        // (published|updated|posted|date|dateline)\s*:?\s*
        let mark = scanner.position
        if let word = scanner.letters(), ["published", "updated", "posted", "date", "dateline"].contains(word) {
            scanner.skipSpaces()
            _ = scanner.take(":")
            scanner.skipSpaces()
        } else {
            scanner.position = mark
        }
        // A weekday: "Friday, ", "Fri. "
        let beforeWeekday = scanner.position
        if let word = scanner.letters(), Self.weekday(word) {
            _ = scanner.take(".")
            _ = scanner.take(",")
            if scanner.skipSpaces() == 0 { scanner.position = beforeWeekday }
        } else {
            scanner.position = beforeWeekday
        }
        guard let (year, month, day) = Self.date(&scanner), (1...12).contains(month),
            (1...Self.days(in: month, of: year)).contains(day)
        else { return nil }
        var iso = DateText.padded(year, 4) + "-" + DateText.padded(month, 2) + "-" + DateText.padded(day, 2)

        // An optional time after a separator.
        let beforeTime = scanner.position
        if let (hour, minute) = Self.time(&scanner) {
            guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
            iso += "T" + DateText.padded(hour, 2) + ":" + DateText.padded(minute, 2)
        } else {
            scanner.position = beforeTime
        }

        // An optional "By NAME" to the end.
        var byline: String? = nil
        let beforeBy = scanner.position
        scanner.skipSpaces()
        if Self.takeDash(&scanner) || scanner.take("|") || scanner.take(",") { scanner.skipSpaces() }
        if scanner.take(word: "by"), scanner.skipSpaces() > 0, !scanner.atEnd {
            byline = String(decoding: scanner.bytes[scanner.position...], as: UTF8.self).trimmed()
            scanner.position = scanner.bytes.count
        } else {
            scanner.position = beforeBy
        }
        scanner.skipSpaces()
        guard scanner.atEnd else { return nil }
        self.iso = iso
        self.byline = byline
    }

    /// month day, year | day month year | year-mm-dd
    private static func date(_ scanner: inout ByteScanner) -> (Int, Int, Int)? {
        let start = scanner.position
        // "March 17, 2021", "Mar. 17th 2021"
        if let name = scanner.letters(), (3...9).contains(name.count) {
            _ = scanner.take(".")
            if scanner.skipSpaces() > 0, let day = scanner.digits(atMost: 2) {
                _ = ordinal(&scanner)
                _ = scanner.take(",")
                if scanner.skipSpaces() > 0, let year = scanner.digits(exactly: 4) {
                    return month(named: name).map { (year, $0, day) } ?? (year, 0, day)
                }
            }
        }
        scanner.position = start
        // "17 March 2021", "4th Jan. 2019"
        if let day = scanner.digits(atMost: 2) {
            let afterDay = scanner.position
            _ = ordinal(&scanner)
            if scanner.skipSpaces() > 0, let name = scanner.letters(), (3...9).contains(name.count) {
                _ = scanner.take(".")
                _ = scanner.take(",")
                if scanner.skipSpaces() > 0, let year = scanner.digits(exactly: 4) {
                    return month(named: name).map { (year, $0, day) } ?? (year, 0, day)
                }
            }
            scanner.position = afterDay
        }
        scanner.position = start
        // "2021-03-17", "2021/3/17", "2021.03.17"
        if let year = scanner.digits(exactly: 4), let separator = scanner.peek,
            [UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(separator)
        {
            scanner.position += 1
            if let month = scanner.digits(atMost: 2), let second = scanner.peek,
                [UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(second)
            {
                scanner.position += 1
                if let day = scanner.digits(atMost: 2) { return (year, month, day) }
            }
        }
        return nil
    }

    private static func ordinal(_ scanner: inout ByteScanner) -> Bool {
        for suffix in ["st", "nd", "rd", "th"] where scanner.take(word: suffix) { return true }
        return false
    }

    /// (\s*[-–—,|]\s* | \s+at\s+ | \s+ | T) hh:mm[:ss] [\s*[ap].?m.?] [\s*(?ZONE)?]
    private static func time(_ scanner: inout ByteScanner) -> (Int, Int)? {
        let start = scanner.position
        let spaces = scanner.skipSpaces()
        if takeDash(&scanner) || scanner.take(",") || scanner.take("|") {
            scanner.skipSpaces()
        } else if spaces > 0 {
            let mark = scanner.position
            if !(scanner.take(word: "at") && scanner.skipSpaces() > 0) { scanner.position = mark }
        } else if !scanner.take("T") {
            scanner.position = start
            return nil
        }
        guard var hour = scanner.digits(atMost: 2), scanner.take(":"), let minute = scanner.digits(exactly: 2) else {
            scanner.position = start
            return nil
        }
        let afterMinute = scanner.position
        if scanner.take(":"), scanner.digits(exactly: 2) == nil { scanner.position = afterMinute }
        let beforeMeridiem = scanner.position
        scanner.skipSpaces()
        if let letter = scanner.peek.map(ByteScanner.lower), letter == UInt8(ascii: "a") || letter == UInt8(ascii: "p") {
            scanner.position += 1
            _ = scanner.take(".")
            if scanner.take(word: "m") {
                _ = scanner.take(".")
                guard (1...12).contains(hour) else { return (99, 99) }
                hour = hour % 12 + (letter == UInt8(ascii: "p") ? 12 : 0)
            } else {
                scanner.position = beforeMeridiem
            }
        } else {
            scanner.position = beforeMeridiem
        }
        let beforeZone = scanner.position
        scanner.skipSpaces()
        let parenthesis = scanner.take("(")
        if let zone = scanner.letters(),
            ["kst", "jst", "utc", "gmt", "est", "edt", "cst", "cdt", "pst", "pdt", "cet", "cest", "bst", "et", "pt"]
                .contains(zone)
        {
            if parenthesis { _ = scanner.take(")") }
        } else {
            scanner.position = beforeZone
        }
        return (hour, minute)
    }

    /// "-", "–" or "—".
    private static func takeDash(_ scanner: inout ByteScanner) -> Bool {
        if scanner.take("-") { return true }
        let bytes = scanner.bytes
        let p = scanner.position
        if p + 2 < bytes.count, bytes[p] == 0xE2, bytes[p + 1] == 0x80,
            bytes[p + 2] == 0x93 || bytes[p + 2] == 0x94
        {
            scanner.position += 3
            return true
        }
        return false
    }

    static func weekday(_ word: String) -> Bool {
        let stems = ["mon", "tue", "tues", "wed", "wednes", "thu", "thur", "thurs", "fri", "sat", "satur", "sun"]
        if stems.contains(word) { return true }
        return word.hasSuffix("day") && stems.contains(String(word.dropLast(3)))
    }

    /// The name in a line like "By John Smith" or "By John Smith, Reuters"; `nil` for anything else.
    static func byline(_ line: String) -> String? {
        let line = line.trimmed()
        guard line.count <= 100 else { return nil }
        var scanner = ByteScanner(line)
        guard scanner.take(word: "by"), scanner.skipSpaces() > 0, !scanner.atEnd else { return nil }
        let name = String(decoding: scanner.bytes[scanner.position...], as: UTF8.self).trimmed()
        // "By the time …" opens a sentence, not a byline: names are capitalised and short.
        guard name.first?.isUppercase == true, name.split(separator: " ").count <= 8, name.hasSuffix(".") == false
        else { return nil }
        return name
    }

    /// Normalises a date string from a feed or front matter (see `DateText.iso(from:)`).
    static func iso(from text: String?) -> String? {
        DateText.iso(from: text)
    }

    static func month(named name: String) -> Int? {
        let lower = name.lowercased()
        guard lower.count >= 3 else { return nil }
        let full = [
            "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december",
        ]
        if let i = full.firstIndex(of: lower) { return i + 1 }
        if lower == "sept" { return 9 }
        let names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        return names.firstIndex(of: lower).map { $0 + 1 }
    }

    static func days(in month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// News agencies and publishers recognised in bylines and photo credits.
enum Agencies {
    static let all: [String] = [
        "Yonhap", "Reuters", "AP", "Associated Press", "AFP", "Agence France-Presse", "EPA", "Kyodo", "Xinhua",
        "Bloomberg", "dpa", "ANSA", "EFE", "UPI", "PTI", "Bernama", "Anadolu", "TASS", "Interfax", "NHK", "KCNA",
        "BBC", "CNN", "Korea Herald", "Korea Times", "Korea JoongAng Daily", "Newsis", "News1", "Wikinews",
    ]

    /// Splits "Yonhap" into (byline "Yonhap", source "Yonhap"), "John Smith, Reuters" into ("John Smith", "Reuters"),
    /// and "John Smith" into ("John Smith", nil).
    static func split(byline: String) -> (byline: String, source: String?) {
        let name = byline.trimmed()
        if let agency = known(name) { return (agency, agency) }
        for separator in [",", " of ", " - ", " | ", "/"] {
            if let range = name.range(of: separator, options: .backwards) {
                let tail = name[range.upperBound...].trimmed()
                if let agency = known(tail) {
                    let person = name[..<range.lowerBound].trimmed()
                    return (person.isEmpty ? name : person, agency)
                }
            }
        }
        return (name, nil)
    }

    static func known(_ name: String) -> String? {
        all.first { $0.caseInsensitiveCompare(name) == .orderedSame }
    }
}
