import Foundation

/// Dates as pages, feeds and files write them, read into ISO 8601 as precise as they were given.
///
/// Hand-written scanners over ASCII bytes: these run on every imported row, and a `Regex` here was most of
/// the CSV import's time.
enum DateText {
    /// ISO 8601 passes through (a space before the time becomes "T"); RFC 822 dates (RSS) become ISO with
    /// their offset; a dateline-style date ("March 17, 2021", "Friday, January 4, 2019 09:15") becomes ISO.
    /// - Returns: `nil` for anything else.
    /// `n` in decimal with zeros in front to `width` digits, as `%0*d` prints it (Foundation's
    /// `String(format:)` costs microseconds, and a dateline is read on every imported row).
    static func padded(_ n: Int, _ width: Int) -> String {
        let digits = String(n.magnitude)
        let sign = n < 0 ? "-" : ""
        let zeros = width - sign.count - digits.count
        return sign + (zeros > 0 ? String(repeating: "0", count: zeros) : "") + digits
    }

    static func iso(from text: String?) -> String? {
        guard let text = text?.trimmed(), !text.isEmpty else { return nil }
        if let iso = isoPassThrough(text) { return iso }
        if let rfc = rfc822(text) { return rfc }
        return Dateline(text)?.iso
    }

    /// `YYYY-MM-DD`, optionally `[T ]hh:mm[:ss[.fff]][Z|±hh[:]mm]`, whole.
    static func isoPassThrough(_ text: String) -> String? {
        var scanner = ByteScanner(text)
        guard scanner.digits(exactly: 4) != nil, scanner.take("-"), scanner.digits(exactly: 2) != nil, scanner.take("-"),
            scanner.digits(exactly: 2) != nil
        else { return nil }
        if scanner.atEnd { return text }
        guard scanner.take("T") || scanner.take("t") || scanner.take(" "), scanner.digits(exactly: 2) != nil,
            scanner.take(":"), scanner.digits(exactly: 2) != nil
        else { return nil }
        if scanner.take(":") {
            guard scanner.digits(exactly: 2) != nil else { return nil }
            if scanner.take(".") || scanner.take(",") {
                guard scanner.digits(atLeast: 1) != nil else { return nil }
            }
        }
        if scanner.take("Z") || scanner.take("z") {
        } else if scanner.take("+") || scanner.take("-") {
            guard scanner.digits(exactly: 2) != nil else { return nil }
            _ = scanner.take(":")
            guard scanner.digits(exactly: 2) != nil else { return nil }
        }
        guard scanner.atEnd else { return nil }
        var bytes = Array(text.utf8)
        bytes[10] = UInt8(ascii: "T")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `[Day, ]DD Mon YYYY hh:mm[:ss] (±hhmm|GMT|UT|EST…)` → `YYYY-MM-DDThh:mm[:ss](Z|±hh:mm)`.
    static func rfc822(_ text: String) -> String? {
        var scanner = ByteScanner(text)
        if let word = scanner.letters(), Dateline.weekday(word) {
            _ = scanner.take(",")
            scanner.skipSpaces()
        } else {
            scanner = ByteScanner(text)
        }
        guard let day = scanner.digits(atMost: 2), (scanner.skipSpaces() > 0 || scanner.take("-")),
            let monthName = scanner.letters(), let month = Dateline.month(named: monthName)
        else { return nil }
        guard scanner.skipSpaces() > 0 || scanner.take("-"), let yearText = scanner.digits(atLeast: 2) else { return nil }
        var year = yearText
        if yearText < 100 { year = yearText + (yearText < 50 ? 2000 : 1900) }
        guard (1...Dateline.days(in: month, of: year)).contains(day) else { return nil }
        let date = String(format: "%04d-%02d-%02d", year, month, day)
        guard scanner.skipSpaces() > 0 else { return scanner.atEnd ? date : nil }
        guard let hour = scanner.digits(exactly: 2), scanner.take(":"), let minute = scanner.digits(exactly: 2),
            hour < 24, minute < 60
        else { return nil }
        var time = String(format: "T%02d:%02d", hour, minute)
        if scanner.take(":") {
            guard let second = scanner.digits(exactly: 2), second < 61 else { return nil }
            time += String(format: ":%02d", second)
        }
        scanner.skipSpaces()
        if scanner.atEnd { return date + time }
        var zone = ""
        if scanner.take("+") || scanner.take("-") {
            let sign = scanner.previous == UInt8(ascii: "+") ? "+" : "-"
            guard let hhmm = scanner.digits(exactly: 4) else { return nil }
            zone = hhmm == 0 ? "Z" : String(format: "%@%02d:%02d", sign, hhmm / 100, hhmm % 100)
        } else if let name = scanner.letters() {
            let offsets: [String: Int] = [
                "gmt": 0, "ut": 0, "utc": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6,
                "pst": -8, "pdt": -7,
            ]
            guard let offset = offsets[name] else { return nil }
            zone = offset == 0 ? "Z" : String(format: "-%02d:00", -offset)
        }
        scanner.skipSpaces()
        return scanner.atEnd ? date + time + zone : nil
    }
}

/// A forward scanner over a string's UTF-8 bytes, ASCII letters compared case-insensitively.
struct ByteScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    init(bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    var previous: UInt8? { position > 0 ? bytes[position - 1] : nil }

    /// Takes one ASCII character if it is next.
    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(character.value) else { return false }
        position += 1
        return true
    }

    /// Takes `word` (lowercase ASCII) if it is next, whatever its case.
    mutating func take(word: String) -> Bool {
        let word = Array(word.utf8)
        guard position + word.count <= bytes.count else { return false }
        for (offset, byte) in word.enumerated() where Self.lower(bytes[position + offset]) != byte { return false }
        position += word.count
        return true
    }

    /// Skips spaces and tabs (and no-break spaces); returns how many bytes it skipped.
    @discardableResult
    mutating func skipSpaces() -> Int {
        let start = position
        while position < bytes.count {
            if bytes[position] == 0x20 || bytes[position] == 0x09 {
                position += 1
            } else if bytes[position] == 0xC2, position + 1 < bytes.count, bytes[position + 1] == 0xA0 {
                position += 2
            } else {
                break
            }
        }
        return position - start
    }

    /// ASCII letters, lowercased; `nil` (and nothing taken) when none is next.
    mutating func letters() -> String? {
        let start = position
        while position < bytes.count, Self.isLetter(bytes[position]) { position += 1 }
        guard position > start else { return nil }
        return String(decoding: bytes[start..<position].map(Self.lower), as: UTF8.self)
    }

    mutating func digits(exactly count: Int) -> Int? {
        digits(atLeast: count, atMost: count)
    }

    mutating func digits(atLeast minimum: Int = 1, atMost maximum: Int = 18) -> Int? {
        let start = position
        var value = 0
        while position < bytes.count, position - start < maximum, bytes[position] >= 0x30, bytes[position] <= 0x39 {
            value = value * 10 + Int(bytes[position] - 0x30)
            position += 1
        }
        if position - start < minimum {
            position = start
            return nil
        }
        return value
    }

    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func lower(_ byte: UInt8) -> UInt8 { isLetter(byte) ? byte | 0x20 : byte }
}
