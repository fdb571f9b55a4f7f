import ArgumentParser
import Foundation
import MarginStore

struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "List conflicts: concurrent edits the merge kept side by side.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try global.openStore()
        let conflicts = try store.conflicts()
        if output.json {
            struct Version: Encodable {
                var origin: String
                var origin_name: String?
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
        if conflicts.isEmpty { print("no conflicts") }
        for c in conflicts {
            let what = c.kind == .delete ? "deleted here or there while edited elsewhere" : "field \(c.field)"
            print("\(Output.short(c.id))  \(c.entity.rawValue) \(Output.short(c.entityID))  \(what)")
            for v in c.versions {
                let who = (v.originName ?? String(v.origin.prefix(8))) + (v.mine ? " (mine)" : "")
                let marker = v.shown ? "*" : " "
                print("  \(marker) \(who) at \(v.time): \(v.field) = \(LogCommand.clip(v.value))")
            }
        }
    }
}

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Settle a conflict; the settlement syncs like any edit.",
        discussion: """
            --keep mine keeps the value written on this replica, --keep theirs the other one, and any \
            other text is the new value (a note's merged text, say). For a delete conflict: --keep delete \
            or --keep edit (or mine/theirs when this replica made one side).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Conflict id or unique prefix (see `margin conflicts`).") var conflict: String
    @Option(help: "mine, theirs, or the value to keep.") var keep: String

    func run() throws {
        let store = try global.openStore()
        let resolution: Resolution = keep == "mine" ? .mine : keep == "theirs" ? .theirs : .value(keep)
        try store.resolve(conflictRef: conflict, keep: resolution)
        print("resolved \(conflict)")
    }
}
