import Foundation

/// Reads the articles of a CSV file or a JSON array one at a time, from a file read in chunks: memory
/// follows the largest article, not the file (a 40 MB JSON of a million articles is read in a few MB).
///
/// Other formats hold one article and are read whole (`ArticleImporter.parse`). A JSON file that is not an
/// array (`{"articles": […]}` or one object) is read whole up to `wholeFileLimit`, and refused past it.
public final class ArticleStream {
    /// One article's record may not exceed this (a row or an array element).
    public static let recordLimit = 64 << 20
    /// A JSON file that is not a top-level array is read whole; past this it is refused.
    public static let wholeFileLimit = 64 << 20

    private let handle: FileHandle
    private let format: ImportFormat
    private let name: String
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEOF = false
    private var started = false
    private var finished = false
    private var index = 0
    private var line = 1
    // CSV
    private var columns: (title: Int, text: Int, url: Int?, date: Int?)?
    // JSON read whole
    private var pending: [ImportedArticle] = []
    /// How many articles the stream has handed out.
    public private(set) var count = 0

    /// Opens a stream over `handle`.
    /// - Parameters:
    ///   - handle: The file, positioned at its start.
    ///   - format: `.csv` or `.json`.
    ///   - name: The file's name, for messages.
    public init(handle: FileHandle, format: ImportFormat, name: String) {
        precondition(format == .csv || format == .json, "only CSV and JSON stream")
        self.handle = handle
        self.format = format
        self.name = name
    }

    /// Whether `format` is read by a stream rather than whole.
    public static func streams(_ format: ImportFormat) -> Bool { format == .csv || format == .json }

    /// The next article, or `nil` at the end of the file.
    /// - Throws: `ImportError` naming the row or index of the article that is malformed, or the limit it passes.
    public func next() throws(ImportError) -> ImportedArticle? {
        guard !finished else { return nil }
        let article: ImportedArticle?
        switch format {
        case .csv: article = try nextCSV()
        default: article = try nextJSON()
        }
        if let article {
            count += 1
            return article
        }
        finished = true
        if count == 0 { throw ImportError("\(name) holds no articles") }
        return nil
    }

    // MARK: - Buffer

    /// Reads another chunk; false at the end of the file.
    private func fill() -> Bool {
        guard !atEOF else { return false }
        if position > 0 {
            buffer.removeSubrange(0..<position)
            position = 0
        }
        let chunk = handle.readData(ofLength: 1 << 20)
        if chunk.isEmpty {
            atEOF = true
            return false
        }
        buffer.append(contentsOf: chunk)
        return true
    }

    // MARK: - CSV

    private func nextCSV() throws(ImportError) -> ImportedArticle? {
        if !started {
            started = true
            // A byte-order mark before the header.
            while buffer.count < 3, fill() {}
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
            guard let header = try record() else {
                throw ImportError("CSV is empty; expected a header row url,date,title,text and one row per article")
            }
            let names = header.fields.map { String(decoding: $0, as: UTF8.self).trimmed().lowercased() }
            func column(_ name: String, required: Bool) throws(ImportError) -> Int? {
                if let index = names.firstIndex(of: name) { return index }
                if required { throw ImportError("CSV is missing the column '\(name)' (expected url,date,title,text)") }
                return nil
            }
            columns = (try column("title", required: true)!, try column("text", required: true)!,
                       try column("url", required: false), try column("date", required: false))
        }
        guard let columns else { return nil }
        if ready.isEmpty, readyError == nil { readChunk(columns) }
        if let article = ready.popLast() { return article }
        if let error = readyError {
            finished = true
            throw error
        }
        if index == 0 { throw ImportError("CSV has a header but no article rows") }
        return nil
    }

    /// Articles read ahead, in reverse order (the next one last), then the error that stopped the
    /// reading, if any.
    private var ready: [ImportedArticle] = []
    private var readyError: ImportError?

    /// Scans the next records (up to 256, or 1 MiB of fields, always at least one), then makes their
    /// articles on the cores at hand: the text passes are most of the reading. The articles come out
    /// in file order, and the error is the one a record-by-record read meets first: a bad row before
    /// the records after it, a row that cannot be scanned after the rows before it.
    private func readChunk(_ columns: (title: Int, text: Int, url: Int?, date: Int?)) {
        var records: [(fields: [[UInt8]], location: String)] = []
        var bytes = 0
        var scanError: ImportError?
        do {
            while records.count < 256, bytes < 1 << 20, let record = try record() {
                // A blank line between records is not an article.
                if record.fields.count == 1, record.fields[0].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                index += 1
                records.append((record.fields, "CSV row \(index) (line \(record.line))"))
                bytes += record.fields.reduce(0) { $0 + $1.count }
            }
        } catch {
            scanError = error
        }
        let scanned = records
        var results = [Result<ImportedArticle, ImportError>?](repeating: nil, count: scanned.count)
        results.withUnsafeMutableBufferPointer { out in
            let out = UncheckedBuffer(out)
            DispatchQueue.concurrentPerform(iterations: scanned.count) { i in
                let record = scanned[i]
                func field(_ column: Int?) -> String? {
                    guard let column, column < record.fields.count else { return nil }
                    return String(decoding: record.fields[column], as: UTF8.self)
                }
                out.buffer[i] = Result { () throws(ImportError) in
                    try CSVImporter.article(
                        title: field(columns.title), text: field(columns.text), url: field(columns.url),
                        date: field(columns.date), location: record.location)
                }
            }
        }
        ready.reserveCapacity(results.count)
        for result in results {
            switch result! {
            case .success(let article): ready.append(article)
            case .failure(let error):
                readyError = error
                ready.reverse()
                return
            }
        }
        readyError = scanError
        ready.reverse()
    }

    /// Distinct elements written from several threads at once.
    private struct UncheckedBuffer<Element>: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Element>
        init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
    }

    /// One RFC 4180 record: fields as bytes (quotes removed, doubled quotes undone).
    private func record() throws(ImportError) -> (fields: [[UInt8]], line: Int)? {
        while true {
            if let (fields, end, lines) = try CSVImporter.scanRecord(buffer, from: position, atEOF: atEOF, line: line) {
                let start = line
                position = end
                line += lines
                return (fields, start)
            }
            if buffer.count - position > Self.recordLimit {
                throw ImportError(
                    "\(name): CSV row \(index + 1) (line \(line)) is larger than \(Self.recordLimit >> 20) MiB; "
                        + "split it or check for an unterminated quote")
            }
            if !fill() {
                if position >= buffer.count { return nil }
                // At the end of the file: whatever is left is the last record (or an unterminated quote).
                atEOF = true
                if let (fields, end, lines) = try CSVImporter.scanRecord(buffer, from: position, atEOF: true, line: line) {
                    let start = line
                    position = end
                    line += lines
                    return (fields, start)
                }
                return nil
            }
        }
    }

    // MARK: - JSON

    private func nextJSON() throws(ImportError) -> ImportedArticle? {
        if !started {
            started = true
            while true {
                skipWhitespaceAndBOM()
                if position < buffer.count || !fill() { break }
            }
            guard position < buffer.count else { throw ImportError("\(name) holds no articles") }
            if buffer[position] != UInt8(ascii: "[") {
                // Not an array: read whole, within the limit.
                while fill() {
                    if buffer.count > Self.wholeFileLimit {
                        throw ImportError(
                            "\(name) is a JSON object over \(Self.wholeFileLimit >> 20) MiB; give the articles as a "
                                + "top-level array ([{…}, {…}]), which is read one article at a time")
                    }
                }
                let text = String(decoding: buffer[position...], as: UTF8.self)
                pending = try JSONImporter.parse(text).reversed()
                buffer = []
                position = 0
            } else {
                position += 1
            }
        }
        if !pending.isEmpty || buffer.isEmpty && atEOF { return pending.popLast() }
        // Inside the array: the next element, or the closing bracket.
        while true {
            skipWhitespace()
            if position < buffer.count { break }
            if !fill() { throw ImportError("\(name): the JSON array is not closed; the file may be cut short") }
        }
        if buffer[position] == UInt8(ascii: "]") {
            position += 1
            if index == 0 { throw ImportError("JSON array holds no articles") }
            return nil
        }
        if index > 0 {
            guard buffer[position] == UInt8(ascii: ",") else {
                throw ImportError("\(name): invalid JSON after the article at index \(index - 1); expected , or ]")
            }
            position += 1
        }
        var end: Int?
        while true {
            end = JSONImporter.elementEnd(buffer, from: position)
            if end != nil { break }
            if buffer.count - position > Self.recordLimit {
                throw ImportError("\(name): the JSON article at index \(index) is larger than \(Self.recordLimit >> 20) MiB")
            }
            if !fill() { throw ImportError("\(name): the JSON article at index \(index) is cut short") }
        }
        let slice = Data(buffer[position..<end!])
        position = end!
        let location = "JSON article at index \(index)"
        index += 1
        return try JSONImporter.article(data: slice, location: location)
    }

    private func skipWhitespace() {
        while position < buffer.count, [0x20, 0x09, 0x0A, 0x0D].contains(buffer[position]) { position += 1 }
    }

    private func skipWhitespaceAndBOM() {
        if buffer.count - position >= 3, buffer[position] == 0xEF, buffer[position + 1] == 0xBB,
            buffer[position + 2] == 0xBF
        {
            position += 3
        }
        skipWhitespace()
    }
}
