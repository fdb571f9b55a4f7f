import Foundation

/// Reads articles from RFC 4180 CSV with a header row naming the columns `url`, `date`, `title` and `text`
/// (in any order; other columns are ignored; `url` and `date` may be missing).
///
/// Wikinews exports start each text with a dateline ("Friday, January 4, 2019"): a first line that is only
/// a date is dropped from the body (and gives the date when the `date` column is empty).
enum CSVImporter {
    static func parse(_ text: String) throws(ImportError) -> [ImportedArticle] {
        var records = try records(text)
        guard records.isEmpty == false else {
            throw ImportError("CSV is empty; expected a header row url,date,title,text and one row per article")
        }
        let header = records.removeFirst()
        let columns = header.fields.map { $0.trimmed().lowercased() }
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
        for record in records {
            // A blank line between records is not an article.
            if record.fields.count == 1, record.fields[0].trimmed().isEmpty { continue }
            row += 1
            func field(_ index: Int?) -> String? {
                guard let index, index < record.fields.count else { return nil }
                return record.fields[index]
            }
            let location = "CSV row \(row) (line \(record.line))"
            var (body, datelineDate) = dropDateline(field(textColumn) ?? "")
            body = ArticleImporter.normalizeBody(body)
            let date = Dateline.iso(from: field(dateColumn)) ?? datelineDate
            articles.append(
                try ArticleImporter.finish(
                    ImportedArticle(
                        url: field(urlColumn), title: field(titleColumn) ?? "", publishedAt: date, body: body),
                    location: location
                )
            )
        }
        guard articles.isEmpty == false else { throw ImportError("CSV has a header but no article rows") }
        return articles
    }

    /// Removes a first non-blank line that is only a date; returns the rest and that date.
    private static func dropDateline(_ text: String) -> (body: String, date: String?) {
        let lines = ArticleImporter.normalizeLineEndings(text).split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.firstIndex(where: { $0.trimmed().isEmpty == false }),
            let dateline = Dateline(lines[first].trimmed()), dateline.byline == nil
        else { return (text, nil) }
        return (lines[(first + 1)...].joined(separator: "\n"), dateline.iso)
    }

    struct Record {
        var fields: [String]
        /// The 1-based line the record starts on, for messages.
        var line: Int
    }

    /// Splits CSV into records: quoted fields may hold commas, doubled quotes and line breaks;
    /// records end with LF or CRLF (the text arrives with CRLF already normalised to LF).
    static func records(_ text: String) throws(ImportError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quoteLine = 1
        var atFieldStart = true
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            atFieldStart = true
        }
        func endRecord() {
            endField()
            records.append(Record(fields: fields, line: recordLine))
            fields = []
        }

        while let scalar = pending ?? scalars.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    let next = scalars.next()
                    if next == "\"" {
                        field.append("\"")
                    } else {
                        inQuotes = false
                        pending = next
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where atFieldStart:
                inQuotes = true
                quoteLine = line
                field = String.UnicodeScalarView()  // only spaces so far
                atFieldStart = false
            case ",":
                endField()
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            case "\r":
                break  // a lone CR was normalised away; tolerate one anyway
            default:
                // Spaces before an opening quote are tolerated; anything else makes the field unquoted.
                if !(atFieldStart && scalar == " ") { atFieldStart = false }
                field.append(scalar)
            }
        }
        if inQuotes {
            throw ImportError(
                "CSV has an unterminated quoted field starting on line \(quoteLine); close the quote with \"")
        }
        if fields.isEmpty == false || field.isEmpty == false { endRecord() }
        return records
    }
}
