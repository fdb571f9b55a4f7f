import ArgumentParser
import Foundation
import MarginStore

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import articles: plain-text wire stories, Markdown, HTML, JSON, CSV (url,date,title,text).",
        discussion: """
            FILE may be a path, a glob ('news/*.html') or - for standard input. The format comes from \
            the extension, else from the content; --format overrides. All files are read and checked \
            first, then imported in one transaction: a bad file writes nothing. Importing an article \
            again records nothing unless it changed; a changed body is a new revision.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The format of every FILE: \(ImportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String?
    @Argument(help: "Files, globs or - for stdin.")
    var files: [String]

    func validate() throws {
        if let format, ImportFormat(rawValue: format) == nil {
            throw ValidationError(
                "unknown format '\(format)'; use one of \(ImportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if files.isEmpty { throw ValidationError("give at least one file, glob or - for stdin") }
    }

    func run() throws {
        let forced = format.flatMap(ImportFormat.init(rawValue:))
        var parsed: [(file: String, article: ImportedArticle)] = []
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
