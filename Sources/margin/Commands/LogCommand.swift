import ArgumentParser
import Foundation
import MarginStore

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The change log, newest first: who changed what and when.",
        discussion: """
            Page with --limit and --offset: `margin log --limit 20 --offset 20` is the second page.
            On a hub, `margin log --deliveries` lists the pushes it answered: when, with which token, \
            which origins and seqs, and whether they were applied or refused (and why).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "At most this many changes (at least 1).") var limit = 50
    @Option(help: "Skip this many changes first (for the next page).") var offset = 0
    @Flag(help: "The pushes this store answered as a server (`margin serve`), newest first, instead of changes.")
    var deliveries = false
    @Argument(help: "Only the changes of this article or annotation.") var id: String?

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit is at least 1") }
        if offset < 0 { throw ValidationError("--offset is 0 or more") }
        if deliveries && id != nil { throw ValidationError("--deliveries lists pushes, not the changes of one id") }
    }

    func run() throws {
        let store = try global.openStore()
        if deliveries { return try showDeliveries(store) }
        let entityID = try id.map { try store.resolve($0, kinds: [.article, .annotation], includeDeleted: true).id }
        var entries = try store.log(entityID: entityID, limit: limit + 1, offset: offset)
        let more = entries.count > limit
        entries = Array(entries.prefix(limit))
        if output.json {
            struct Entry: Encodable {
                var origin: String
                @Null var origin_name: String?
                var seq: Int64
                var hlc: Int64
                var time, entity, entity_id, field: String
                var value: JSONValue
                @Null var previous: JSONValue?
                var signed: Bool
            }
            return try Output.json(entries.map {
                Entry(origin: $0.origin, origin_name: $0.originName, seq: $0.seq, hlc: $0.hlc.rawValue, time: $0.time,
                      entity: $0.entity.rawValue, entity_id: $0.entityID, field: $0.field, value: $0.value,
                      previous: $0.previous, signed: $0.signed)
            })
        }
        if entries.isEmpty { return Output.note(offset > 0 ? "no more changes" : "no changes") }
        let ids = try ShortIDs(store, entries.map(\.entityID))
        for e in entries {
            let who = TerminalText.escaped(e.originName ?? Store.shortID(e.origin, length: 8))
            var change = Self.clip(e.value)
            if let previous = e.previous { change = "\(Self.clip(previous)) → \(change)" }
            // Protocol-1 history of another replica: nobody signed it, so who wrote it is unproven.
            let unsigned = e.signed ? "" : "  (unsigned)"
            Output.row("\(e.time)  \(who)#\(e.seq)  \(e.entity.rawValue) \(ids(e.entityID)) "
                + "\(TerminalText.escaped(e.field)): \(change)\(unsigned)")
        }
        if more { Output.note("more changes follow: `margin log --offset \(offset + entries.count)`") }
    }

    func showDeliveries(_ store: Store) throws {
        var list = try store.deliveries(limit: limit + 1, offset: offset)
        let more = list.count > limit
        list = Array(list.prefix(limit))
        if output.json {
            struct Range: Encodable { var origin: String; var first, last: Int64 }
            struct Entry: Encodable {
                var at: String
                @Null var token: String?
                var ranges: [Range]
                var runs, changes, applied: Int
                var result: String
                @Null var message: String?
            }
            return try Output.json(list.map {
                Entry(at: $0.at, token: $0.token, ranges: $0.ranges.map { Range(origin: $0.origin, first: $0.first, last: $0.last) },
                      runs: $0.runs, changes: $0.changes, applied: $0.applied, result: $0.result, message: $0.message)
            })
        }
        if list.isEmpty { return Output.note(offset > 0 ? "no more deliveries" : "no deliveries: nothing was pushed to this store") }
        for d in list {
            // Consecutive runs of one origin shown as one range.
            var merged: [(String, Int64, Int64)] = []
            for r in d.ranges {
                if let last = merged.last, last.0 == r.origin, last.2 + 1 == r.first { merged[merged.count - 1].2 = r.last }
                else { merged.append((r.origin, r.first, r.last)) }
            }
            let ranges = merged.map { "\(Store.shortID($0.0, length: 8))#\($0.1)…\($0.2)" }.joined(separator: " ")
            let token = TerminalText.escaped(d.token ?? "(no token)")
            let outcome = d.result == "ok" ? "applied \(d.applied) of \(d.changes)" : "refused \(d.result)"
            Output.row("\(d.at)  \(token)  \(outcome)  \(ranges)")
        }
        if more { Output.note("more deliveries follow: `margin log --deliveries --offset \(offset + list.count)`") }
    }

    /// A value on one line, at most 60 characters, control characters escaped.
    static func clip(_ value: JSONValue) -> String {
        let text = TerminalText.escaped(value.canonical.replacingOccurrences(of: "\\n", with: " "))
        return text.count > 60 ? String(text.prefix(57)) + "…\"" : text
    }
}
