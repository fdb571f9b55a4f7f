import ArgumentParser
import Foundation
import MarginStore

struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "List conflicts: concurrent edits the merge kept side by side.",
        discussion: """
            A value conflict lists every value written at once to one field; * marks the one shown \
            now. A delete conflict lists the delete and the edits made elsewhere that it had not seen \
            (nothing else). Each ends with the `margin resolve` line that settles it.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let conflicts = try store.conflicts()
        if output.json {
            struct Version: Encodable {
                var origin: String
                @Null var origin_name: String?
                var seq: Int64
                var time, field: String
                var value: JSONValue
                var shown, mine: Bool
            }
            struct Conflict: Encodable {
                var id, kind, entity, entity_id, field: String
                var versions: [Version]
            }
            return try Output.json(conflicts.map { c in
                Conflict(
                    id: c.id, kind: c.kind.rawValue, entity: c.entity.rawValue, entity_id: c.entityID, field: c.field,
                    versions: c.versions.map {
                        Version(origin: $0.origin, origin_name: $0.originName, seq: $0.seq, time: $0.time,
                                field: $0.field, value: $0.value, shown: $0.shown, mine: $0.mine)
                    })
            })
        }
        if conflicts.isEmpty { return Output.note("no conflicts") }
        let ids = try ShortIDs(store, conflicts.flatMap { [$0.id, $0.entityID] })
        for (n, c) in conflicts.enumerated() {
            if n > 0 { Output.line() }
            func who(_ v: ConflictInfo.Version) -> String {
                TerminalText.escaped(v.originName ?? Store.shortID(v.origin, length: 8)) + (v.mine ? " (this replica)" : "")
            }
            let deletes = c.versions.filter { $0.field == "deleted" }
            let edits = c.versions.filter { $0.field != "deleted" }
            if c.kind == .delete {
                let deleters = Set(deletes.map(who)).sorted().joined(separator: ", ")
                let editors = Set(edits.map(who)).sorted().joined(separator: ", ")
                Output.row("\(ids(c.id))  \(c.entity.rawValue) \(ids(c.entityID)): deleted by \(deleters) "
                    + "while \(editors) edited it")
                for v in deletes { Output.row("  * \(who(v)) at \(v.time): deleted") }
                for v in edits {
                    Output.row("    \(who(v)) at \(v.time): \(TerminalText.escaped(v.field)) = \(LogCommand.clip(v.value))")
                }
                var keep = "--keep delete|edit"
                if deletes.contains(where: \.mine) != edits.contains(where: \.mine) {
                    keep += " (mine: \(deletes.contains(where: \.mine) ? "delete" : "edit"))"
                }
                Output.row("  settle: margin resolve \(ids(c.id)) \(keep)")
            } else {
                Output.row("\(ids(c.id))  \(c.entity.rawValue) \(ids(c.entityID)) \(TerminalText.escaped(c.field)): "
                    + "\(count(c.versions.count, "value")) written at once")
                for v in c.versions {
                    Output.row("  \(v.shown ? "*" : " ") \(who(v)) at \(v.time): \(LogCommand.clip(v.value))")
                }
                let mine = c.versions.contains(where: \.mine)
                Output.row("  settle: margin resolve \(ids(c.id)) --keep \(mine ? "mine|theirs|VALUE" : "VALUE")")
            }
        }
    }
}
