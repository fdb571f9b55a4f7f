import ArgumentParser
import Foundation
import MarginStore

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Settle a conflict; the settlement syncs like any edit.",
        discussion: """
            --keep mine keeps the value written on this replica, --keep theirs the other one, and any \
            other text is the new value (a note's merged text, say). For a delete conflict: --keep delete \
            or --keep edit, or mine/theirs when this replica made one of the two sides.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Conflict id or unique prefix (see `margin conflicts`).") var conflict: String
    @Option(help: "mine, theirs, or the value to keep (delete|edit for a delete conflict).") var keep: String

    func run() throws {
        let store = try global.openStore()
        let id = try store.resolve(conflict, kinds: [.conflict]).id
        let info = try store.conflict(id)
        let resolution: Resolution = keep == "mine" ? .mine : keep == "theirs" ? .theirs : .value(keep)
        try store.resolve(conflictRef: id, keep: resolution)
        if output.json {
            struct Resolved: Encodable { var id, kind, entity, entity_id, field, keep: String }
            return try Output.json(Resolved(id: id, kind: info.kind.rawValue, entity: info.entity.rawValue,
                                            entity_id: info.entityID, field: info.field, keep: keep))
        }
        let what = info.kind == .delete ? "the delete conflict" : "the conflict on \(TerminalText.escaped(info.field))"
        Output.line("resolved \(Output.short(id)), \(what) of \(info.entity.rawValue) \(Output.short(info.entityID)): "
            + "kept \(TerminalText.escaped(keep))")
    }
}
