import Foundation

/// Reads articles from RFC 4180 CSV with a header row naming the columns `url`, `date`, `title` and `text`
/// (in any order; other columns are ignored; `url` and `date` may be missing).
///
/// Wikinews exports start each text with a dateline ("Friday, January 4, 2019"): a first line that is only
/// a date is dropped from the body (and gives the date when the `date` column is empty). Records are
/// scanned over UTF-8 bytes (`scanRecord`), which `ArticleStream` also uses to read large files in chunks.
enum CSVImporter {
    static func parse(_ text: String) throws(ImportError) -> [ImportedArticle] {
        let bytes = Array(text.utf8)
        var position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        func next() throws(ImportError) -> (fields: [[UInt8]], line: Int)? {
            guard position < bytes.count,
                let (fields, end, lines) = try scanRecord(bytes, from: position, atEOF: true, line: line)
            else { return nil }
            defer {
                position = end
                line += lines
            }
            return (fields, line)
        }
        guard let header = try next() else {
            throw ImportError("CSV is empty; expected a header row url,date,title,text and one row per article")
        }
        let columns = header.fields.map { String(decoding: $0, as: UTF8.self).trimmed().lowercased() }
        func column(_ name: String, required: Bool) throws(ImportError) -> Int? {
            if let index = columns.firstIndex(of: name) { return index }
            if required { throw ImportError("CSV is missing the column '\(name)' (expected url,date,title,text)") }
            return nil
        }
        let titleColumn = try column("title", required: true)!
        let textColumn = try column("text", required: true)!
        let urlColumn = try column("url", required: false)
        let dateColumn = try column("date", required: false)

        var articles: [ImportedArticle] = []
        var row = 0
        while let record = try next() {
            // A blank line between records is not an article.
            if record.fields.count == 1, record.fields[0].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            row += 1
            func field(_ index: Int?) -> String? {
                guard let index, index < record.fields.count else { return nil }
                return String(decoding: record.fields[index], as: UTF8.self)
            }
            articles.append(
                try article(title: field(titleColumn), text: field(textColumn), url: field(urlColumn),
                            date: field(dateColumn), location: "CSV row \(row) (line \(record.line))"))
        }
        guard articles.isEmpty == false else { throw ImportError("CSV has a header but no article rows") }
        return articles
    }

    /// One row as an article: the dateline dropped from the text, every field normalised.
    static func article(title: String?, text: String?, url: String?, date: String?, location: String)
        throws(ImportError) -> ImportedArticle
    {
        let (body, datelineDate) = dropDateline(text ?? "")
        let publishedAt = DateText.iso(from: date) ?? datelineDate
        return try ArticleImporter.finish(
            ImportedArticle(url: url, title: title ?? "", publishedAt: publishedAt, body: String(body)),
            location: location)
    }

    /// Removes a first non-blank line that is only a date; returns the rest and that date.
    static func dropDateline(_ text: String) -> (body: Substring, date: String?) {
        let utf8 = text.utf8
        var start = utf8.startIndex
        // Skip blank lines.
        while start < utf8.endIndex {
            guard let newline = utf8[start...].firstIndex(of: 0x0A) else { break }
            if utf8[start..<newline].allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                start = utf8.index(after: newline)
            } else {
                break
            }
        }
        let end = utf8[start...].firstIndex(of: 0x0A) ?? utf8.endIndex
        // A dateline is short: a long first line is the story's first paragraph.
        guard utf8.distance(from: start, to: end) <= 200 else { return (Substring(text), nil) }
        let first = String(Substring(utf8[start..<end]))
        guard let dateline = Dateline(first), dateline.byline == nil else { return (Substring(text), nil) }
        return (Substring(utf8[end...]), dateline.iso)
    }

    /// Scans one record starting at `start`: quoted fields may hold commas, doubled quotes and line breaks;
    /// a record ends with LF or CRLF.
    /// - Returns: The fields, the index after the record, and the line breaks it spanned; `nil` when the
    ///   buffer ends inside the record and more may come (`atEOF` false).
    /// - Throws: An unterminated quote at the end of the input.
    static func scanRecord(_ bytes: [UInt8], from start: Int, atEOF: Bool, line: Int) throws(ImportError)
        -> (fields: [[UInt8]], end: Int, lines: Int)?
    {
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var index = start
        var lines = 0
        var inQuotes = false
        var quoteLine = line
        var atFieldStart = true
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if inQuotes {
                if byte == 0x22 {
                    if index + 1 < count {
                        if bytes[index + 1] == 0x22 {
                            field.append(0x22)
                            index += 2
                            continue
                        }
                        inQuotes = false
                        index += 1
                        continue
                    }
                    // A quote at the end of the buffer: doubled or closing, the next chunk says.
                    if !atEOF { return nil }
                    inQuotes = false
                    index += 1
                    continue
                }
                if byte == 0x0A { lines += 1 }
                // Runs of plain bytes inside quotes, copied at once.
                var run = index + 1
                bytes.withUnsafeBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    while run + 8 <= count {
                        let word = ByteScan.word(base + run)
                        if ByteScan.has(word, 0x22) || ByteScan.has(word, 0x0A) { break }
                        run += 8
                    }
                }
                while run < count, bytes[run] != 0x22, bytes[run] != 0x0A { run += 1 }
                field.append(contentsOf: bytes[index..<run])
                index = run
                continue
            }
            switch byte {
            case 0x22 where atFieldStart:
                inQuotes = true
                quoteLine = line + lines
                field.removeAll(keepingCapacity: true)  // only spaces so far
                atFieldStart = false
                index += 1
            case 0x2C:
                fields.append(field)
                field = []
                atFieldStart = true
                index += 1
            case 0x0A:
                fields.append(field)
                return (fields, index + 1, lines + 1)
            case 0x0D:
                index += 1  // CRLF, or a lone CR: not part of a field
            default:
                // Spaces before an opening quote are tolerated; anything else makes the field unquoted.
                if !(atFieldStart && byte == 0x20) { atFieldStart = false }
                field.append(byte)
                index += 1
            }
        }
        guard atEOF else { return nil }
        if inQuotes {
            throw ImportError(
                "CSV has an unterminated quoted field starting on line \(quoteLine); close the quote with \"")
        }
        if index == start { return nil }
        fields.append(field)
        return (fields, index, lines)
    }
}
