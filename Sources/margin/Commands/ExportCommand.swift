import ArgumentParser
import Foundation
import MarginStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export articles and annotations: json (canonical), markdown, w3c (Web Annotation JSON-LD) or hypothesis (its API JSON, UTF-16 offsets).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "json, markdown, w3c or hypothesis.") var format = "json"
    @Option(help: "Write to this file instead of stdout (written whole or not at all).") var output: String?
    @Argument(help: "Only these articles (ids or unique prefixes).") var articles: [String] = []

    func validate() throws {
        guard ["json", "markdown", "w3c", "hypothesis"].contains(format) else {
            if let near = Suggestions.nearest(format, among: ["json", "markdown", "w3c", "hypothesis"]) {
                throw ValidationError("unknown export format '\(format)'; did you mean \(near)?")
            }
            throw ValidationError("unknown export format '\(format)'; use json, markdown, w3c or hypothesis")
        }
    }

    func run() throws {
        let store = try global.openStore()
        let ids = try articles.map { try store.resolve($0, kinds: [.article]).id }
        let chosen = ids.isEmpty ? nil : ids
        // To a file: into a temporary one beside it, renamed over it once whole.
        var file: (handle: FileHandle, temporary: URL, final: URL)?
        if let output {
            let final = URL(fileURLWithPath: GlobalOptions.expand(output))
            let temporary = final.deletingLastPathComponent()
                .appendingPathComponent(".\(final.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporary.path)
            else {
                let reason = String(cString: strerror(errno))
                throw CLIError(message: "margin: cannot write \(output): \(reason)", code: ExitStatus.failure)
            }
            file = (handle, temporary, final)
        }
        func sink(_ data: Data) throws {
            guard let file else { return Output.bytes(data) }
            do {
                try file.handle.write(contentsOf: data)
            } catch {
                throw CLIError(message: "margin: cannot write \(output ?? ""): \(Self.reason(error))", code: ExitStatus.failure)
            }
        }
        var counts = (articles: 0, annotations: 0)
        do {
            switch format {
            case "markdown":
                counts = try store.exportMarkdown(articleIDs: chosen, to: sink)
            case "w3c", "hypothesis":
                // Each annotation names its article: only those articles are read.
                let annotations = try store.annotations().filter { chosen?.contains($0.articleID) ?? true }
                let selected = try Set(annotations.map(\.articleID)).sorted().map { try store.article($0) }
                counts = (selected.count, annotations.count)
                try sink(format == "w3c"
                    ? try W3CExporter.export(articles: selected, annotations: annotations)
                    : try HypothesisExporter.export(articles: selected, annotations: annotations))
            default:
                counts = try store.exportJSON(articleIDs: chosen, to: sink)
            }
            if let file {
                try file.handle.synchronize()
                try file.handle.close()
                guard rename(file.temporary.path, file.final.path) == 0 else {
                    throw CLIError(message: "margin: cannot write \(output ?? ""): \(String(cString: strerror(errno)))",
                                   code: ExitStatus.failure)
                }
            }
        } catch {
            if let file { try? FileManager.default.removeItem(at: file.temporary) }
            if let error = error as? CLIError { throw error }
            if file != nil {
                throw CLIError(message: "margin: cannot write \(output ?? ""): \(Self.reason(error))", code: ExitStatus.failure)
            }
            throw error
        }
        guard let output else { return }
        Output.note("wrote \(count(counts.articles, "article")), \(count(counts.annotations, "annotation")) to \(output)")
    }

    /// The system's sentence for a failed write (no such folder, permission denied, disk full).
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}
