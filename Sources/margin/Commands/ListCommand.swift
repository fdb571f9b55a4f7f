import ArgumentParser
import Foundation
import MarginStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List articles, newest first.",
        discussion: """
            Each line: the id, the date, the title, [N] annotations (N orphaned when some lost their \
            passage in a correction; see `margin orphans`), and the tags. Page with --limit and --offset.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var page: PageOptions
    @Option(help: "Only articles with this tag (as written: tags are case-sensitive).") var tag: String?
    @Option(help: "Only articles from this source (case-insensitive).") var source: String?

    func run() throws {
        let store = try global.openStore()
        // One more than the page tells whether more follow.
        var articles = try store.articles(
            tag: tag.map(Self.tagName), source: source, limit: page.limit.map { $0 + 1 }, offset: page.offset)
        let more = page.limit.map { articles.count > $0 } ?? false
        if let limit = page.limit { articles = Array(articles.prefix(limit)) }
        if output.json { return try Output.json(articles.map { ArticleJSON($0) }) }
        if articles.isEmpty {
            let why = try tag.map { try Self.emptyTag($0, store) }
            return Output.note(why ?? (page.offset > 0 ? "no more articles" : "no articles"))
        }
        let ids = try ShortIDs(store, articles.map(\.id))
        let counts = try store.annotationCounts(articleIDs: articles.map(\.id))
        for article in articles {
            let date = article.publishedAt.map { String($0.prefix(10)) } ?? "----------"
            var line = "\(ids(article.id))  \(date)  \(TerminalText.escaped(article.title))"
            if let n = counts[article.id] {
                line += n.orphans > 0 ? "  [\(n.annotations), \(n.orphans) orphaned]" : "  [\(n.annotations)]"
            }
            if !article.tags.isEmpty { line += "  " + Self.tags(article.tags) }
            Output.row(line)
        }
        if more {
            Output.note("more articles follow: `margin list --offset \(page.offset + articles.count)`")
        }
    }

    /// `#tag #other`, escaped for a terminal; a tag with a space (made elsewhere) in quotes.
    static func tags(_ tags: [String]) -> String {
        tags.map { "#" + ($0.contains(" ") ? "\"\(TerminalText.escaped($0))\"" : TerminalText.escaped($0)) }
            .joined(separator: " ")
    }

    /// Tags typed on the command line hold no spaces: `#two words` could not be told from two tags.
    static func validateTyped(_ tags: [String]) throws {
        if let spaced = tags.first(where: { $0.trimmingCharacters(in: .whitespaces).contains(" ") }) {
            throw ValidationError("the tag '\(spaced)' holds a space; write it as '\(spaced.split(separator: " ").joined(separator: "-"))'")
        }
    }

    /// A tag as typed, without the `#` a listing shows before it.
    static func tagName(_ typed: String) -> String {
        typed.hasPrefix("#") ? String(typed.dropFirst()) : typed
    }

    /// Nothing has the tag: say which tags differ from it only in case, if any.
    static func emptyTag(_ tag: String, _ store: Store) throws -> String {
        let near = try store.tagNames().filter { $0.lowercased() == tagName(tag).lowercased() && $0 != tagName(tag) }
        if near.isEmpty { return "no article has the tag \(tag)" }
        return "no article has the tag \(tag) (tags are case-sensitive; there is \(near.map { "#\($0)" }.joined(separator: ", ")))"
    }
}
