import ArgumentParser
import Foundation
import MarginStore

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import articles (plain-text wire stories, Markdown, HTML, JSON, CSV) or annotations (W3C JSON-LD, Hypothesis JSON).",
        discussion: """
            FILE may be a path, a glob ('news/*.html') or - for standard input. The format comes from \
            the extension, else from the content; --format overrides. All files are read and checked \
            first, then imported in one transaction: a bad file writes nothing. Importing an article \
            again records nothing unless it changed; a changed body is a new revision, and the \
            article's annotations are re-anchored (see `margin reanchor`, `margin orphans`). \
            Annotation files (W3C Web Annotation JSON-LD, e.g. `margin export --format w3c`, or the \
            Hypothesis API's JSON) are anchored by their selectors in articles already in the store, \
            matched by URL; Hypothesis's UTF-16 offsets are converted to code points.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The format of every FILE: \(Self.formatNames).")
    var format: String?
    @Argument(help: "Files, globs or - for stdin.")
    var files: [String]

    static var formatNames: String {
        (ImportFormat.allCases.map(\.rawValue) + ["w3c", "hypothesis"]).joined(separator: ", ")
    }

    func validate() throws {
        if let format, ImportFormat(rawValue: format) == nil, AnnotationImporter.Format(rawValue: format) == nil {
            throw ValidationError("unknown format '\(format)'; use one of \(Self.formatNames)")
        }
        if files.isEmpty { throw ValidationError("give at least one file, glob or - for stdin") }
    }

    func run() throws {
        let forced = format.flatMap(ImportFormat.init(rawValue:))
        let forcedAnnotations = format.flatMap(AnnotationImporter.Format.init(rawValue:))
        var parsed: [(file: String, article: ImportedArticle)] = []
        var annotations: [(file: String, annotation: ImportedAnnotation)] = []
        for path in try Self.expand(files) {
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw CLIError(message: "margin: \(path): no such file", code: ExitStatus.failure)
                }
                guard !isDirectory.boolValue else {
                    throw CLIError(message: "margin: \(path) is a directory; give files or a glob like '\(path)/*'",
                                   code: ExitStatus.failure)
                }
                guard let contents = FileManager.default.contents(atPath: path) else {
                    throw CLIError(message: "margin: \(path): cannot read the file (permission denied?)",
                                   code: ExitStatus.failure)
                }
                data = contents
            }
            let name = path == "-" ? nil : path
            if let annotationFormat = forcedAnnotations ?? (forced == nil ? AnnotationImporter.detect(data) : nil) {
                do {
                    for item in try AnnotationImporter.parse(data, format: annotationFormat) {
                        annotations.append((path, item))
                    }
                } catch {
                    throw CLIError(message: "margin: \(path): \((error as? ImportError)?.message ?? "\(error)")", code: ExitStatus.dataError)
                }
                continue
            }
            guard let kind = forced ?? ArticleImporter.detectFormat(filename: name, data: data) else {
                throw CLIError(
                    message: "margin: \(path): unknown format; use --format "
                        + ImportFormat.allCases.map(\.rawValue).joined(separator: "|"),
                    code: ExitStatus.dataError)
            }
            do {
                for article in try ArticleImporter.parse(data, format: kind, filename: name) {
                    parsed.append((path, article))
                }
            } catch {
                throw CLIError(message: "margin: \(path): \(error.message)", code: ExitStatus.dataError)
            }
        }
        if parsed.count > 200 { Output.progress("importing \(parsed.count) articles…\n") }
        let store = try global.openStore()
        if !annotations.isEmpty {
            guard parsed.isEmpty else {
                throw CLIError(
                    message: "margin: import articles and annotation files in two commands (articles first)",
                    code: ExitStatus.usage)
            }
            return try importAnnotations(annotations, into: store)
        }
        let outcomes = try store.importArticles(parsed.map(\.article))
        if output.json {
            struct Row: Encodable {
                var id, title, status, file: String
                var changes: Int
            }
            try Output.json(zip(parsed, outcomes).map {
                Row(id: $1.id, title: $1.title, status: $1.status.rawValue, file: $0.file, changes: $1.changes)
            })
        } else {
            for outcome in outcomes {
                print("\(outcome.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                    + "\(Output.short(outcome.id))  \(outcome.title)")
            }
            let created = outcomes.filter { $0.status == .created }.count
            if outcomes.count > 1 {
                print("\(outcomes.count) articles: \(created) new, "
                    + "\(outcomes.filter { $0.status == .updated || $0.status == .restored }.count) updated, "
                    + "\(outcomes.filter { $0.status == .unchanged }.count) unchanged")
            }
        }
    }

    func importAnnotations(_ items: [(file: String, annotation: ImportedAnnotation)], into store: Store) throws {
        let outcomes = try store.importAnnotations(items.map(\.annotation))
        if output.json {
            struct Row: Encodable {
                var status, file, source: String
                var id, article_id, message: String?
            }
            return try Output.json(zip(items, outcomes).map {
                Row(status: $1.status.rawValue, file: $0.file, source: $0.annotation.source, id: $1.id,
                    article_id: $1.articleID, message: $1.message)
            })
        }
        for (item, outcome) in zip(items, outcomes) {
            var line = "\(outcome.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
                + (outcome.id.map(Output.short) ?? "-") + "  \"\(item.annotation.exact ?? "")\""
            if let message = outcome.message { line += "  (\(message))" }
            print(line)
        }
        var counts: [AnnotationImportOutcome.Status: Int] = [:]
        for outcome in outcomes { counts[outcome.status, default: 0] += 1 }
        print("\(outcomes.count) annotations: \(counts[.created] ?? 0) anchored, \(counts[.orphaned] ?? 0) orphaned, "
            + "\(counts[.unchanged] ?? 0) unchanged, \(counts[.skipped] ?? 0) skipped")
    }

    /// Expands globs the shell left alone; a pattern that matches nothing is an error.
    static func expand(_ patterns: [String]) throws -> [String] {
        var out: [String] = []
        for pattern in patterns {
            guard pattern != "-", pattern.contains(where: { "*?[".contains($0) }),
                  !FileManager.default.fileExists(atPath: pattern)
            else {
                out.append(pattern)
                continue
            }
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(pattern, 0, nil, &result) == 0, result.gl_pathc > 0 else {
                throw CLIError(message: "margin: no file matches \(pattern)", code: ExitStatus.failure)
            }
            for i in 0..<Int(result.gl_pathc) {
                if let p = result.gl_pathv[i] { out.append(String(cString: p)) }
            }
        }
        return out
    }
}
