import ArgumentParser
import Foundation
import MarginStore

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Full-text search over titles, bodies and notes, best first.",
        discussion: """
            Plain words find what they say, whatever their punctuation: margin search U.S. don't \
            2019-01-04 finds articles with all three. Query syntax when you want it: "a phrase", \
            AND, OR, NOT (in capitals), ( ), a prefix with *, and title:, body: or note: before a \
            word, phrase or group (title:Pelosi, note:"follow up"). Exit status 0 when something \
            matched, 1 when nothing did (as grep does; nothing is printed on stdout).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "At most this many results (at least 1).") var limit = 20
    @Option(help: "Skip this many results first (for the next page).") var offset = 0
    @Argument(help: "Words to find, or a query (see above).") var query: [String]

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit is at least 1") }
        if offset < 0 { throw ValidationError("--offset is 0 or more") }
        if query.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("give the words to search for")
        }
    }

    func run() throws {
        let store = try global.openStore()
        let text = query.joined(separator: " ")
        let page = try store.search(text, limit: limit, offset: offset)
        if output.json {
            struct Hit: Encodable {
                var kind, article_id, title, snippet: String
                @Null var annotation_id: String?
                var rank: Double
            }
            try Output.json(page.hits.map {
                Hit(kind: $0.kind.rawValue, article_id: $0.articleID, title: $0.title, snippet: $0.snippet,
                    annotation_id: $0.annotationID, rank: $0.rank)
            })
        } else {
            let ids = try ShortIDs(store, page.hits.flatMap { [$0.articleID] + ($0.annotationID.map { [$0] } ?? []) })
            for hit in page.hits {
                let id = hit.annotationID.map { "note " + ids($0) } ?? ids(hit.articleID)
                Output.row("\(id)  \(TerminalText.escaped(hit.title))")
                Output.row("    " + TerminalText.escaped(hit.snippet), colour: Self.colourMatches)
            }
        }
        if page.hits.isEmpty {
            Output.note(offset > 0 ? "no more matches for \(text)" : "no matches for \(text)")
            throw CLIError(message: "", code: ExitStatus.failure)
        }
        if page.more {
            Output.note("more matches follow: `margin search --offset \(offset + page.hits.count)` with the same words")
        }
    }

    /// On a colour terminal the «matches» are coloured instead of bracketed; piped, the brackets stay.
    static func colourMatches(_ line: String) -> String {
        guard Terminal.stdoutColour else { return line }
        var out = ""
        var open = false
        for c in line {
            switch c {
            case "«":
                out += "\u{1B}[\(Colour.match.rawValue)m"
                open = true
            case "»":
                out += "\u{1B}[0m"
                open = false
            default: out.append(c)
            }
        }
        return open ? out + "\u{1B}[0m" : out
    }
}
