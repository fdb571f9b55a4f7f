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
/// or "2021-03-17 09:15"; the whole line must be one.
struct Dateline {
    /// "2021-03-17T09:15" when the line gives a time, else "2021-03-17".
    var iso: String
    /// The name after "By", if the line carries one.
    var byline: String?

    init?(_ line: String) {
        let line = line.trimmed()
        guard line.count <= 160 else { return nil }
        let regex =
            #/
            (?i)^
            (?:(?:published|updated|posted|date|dateline)\s*:?\s*)?
            (?:(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?\.?,?\s+)?
            (?:
                (?<month1>[a-z]{3,9})\.?\s+(?<day1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?<year1>\d{4})
              | (?<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?<month2>[a-z]{3,9})\.?,?\s+(?<year2>\d{4})
              | (?<year3>\d{4})[-/.](?<month3>\d{1,2})[-/.](?<day3>\d{1,2})
            )
            (?:
                (?:\s*[-–—,|]\s*|\s+at\s+|\s+|T)
                (?<hour>\d{1,2}):(?<minute>\d{2})(?::\d{2})?
                (?:\s*(?<ampm>[ap])\.?m\.?)?
                (?:\s*\(?(?:KST|JST|UTC|GMT|EST|EDT|CST|CDT|PST|PDT|CET|CEST|BST|ET|PT)\)?)?
            )?
            (?:\s*[-–—|,]?\s*by\s+(?<by>\S.*?))?
            \s*$
            /#
        guard let match = try? regex.wholeMatch(in: line) else { return nil }
        let out = match.output
        let year: Int?
        let month: Int?
        let day: Int?
        if let y = out.year1, let m = out.month1, let d = out.day1 {
            (year, month, day) = (Int(y), Dateline.month(named: String(m)), Int(d))
        } else if let y = out.year2, let m = out.month2, let d = out.day2 {
            (year, month, day) = (Int(y), Dateline.month(named: String(m)), Int(d))
        } else if let y = out.year3, let m = out.month3, let d = out.day3 {
            (year, month, day) = (Int(y), Int(m), Int(d))
        } else {
            return nil
        }
        guard let year, let month, let day, (1...12).contains(month),
            (1...Dateline.days(in: month, of: year)).contains(day)
        else { return nil }
        var iso = String(format: "%04d-%02d-%02d", year, month, day)
        if let h = out.hour, let m = out.minute, var hour = Int(h), let minute = Int(m) {
            if let ampm = out.ampm {
                guard (1...12).contains(hour) else { return nil }
                hour = hour % 12 + (ampm.lowercased() == "p" ? 12 : 0)
            }
            guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
            iso += String(format: "T%02d:%02d", hour, minute)
        }
        self.iso = iso
        self.byline = out.by.map { String($0).trimmed() }
    }

    /// The name in a line like "By John Smith" or "By John Smith, Reuters"; `nil` for anything else.
    static func byline(_ line: String) -> String? {
        let line = line.trimmed()
        guard line.count <= 100, let match = try? #/(?i)^by\s+(?<name>\S.*)$/#.wholeMatch(in: line) else { return nil }
        let name = String(match.output.name).trimmed()
        // "By the time …" opens a sentence, not a byline: names are capitalised and short.
        guard name.first?.isUppercase == true, name.split(separator: " ").count <= 8, name.hasSuffix(".") == false
        else { return nil }
        return name
    }

    /// Normalises a date string from a feed or front matter: ISO 8601 passes through (a space before the time
    /// becomes "T"); a dateline-style date becomes ISO; anything else is `nil`.
    static func iso(from text: String?) -> String? {
        guard let text = text?.trimmed(), text.isEmpty == false else { return nil }
        let isoPattern = #/\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/#
        if (try? isoPattern.wholeMatch(in: text)) != nil {
            var characters = Array(text)
            if characters.count > 10 { characters[10] = "T" }
            return String(characters)
        }
        return Dateline(text)?.iso
    }

    static func month(named name: String) -> Int? {
        let names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let lower = name.lowercased()
        guard lower.count >= 3 else { return nil }
        let full = [
            "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december",
        ]
        if let i = full.firstIndex(of: lower) { return i + 1 }
        if lower == "sept" { return 9 }
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
