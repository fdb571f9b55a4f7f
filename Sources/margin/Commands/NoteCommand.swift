import ArgumentParser
import Foundation
import MarginStore

struct NoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Set the note of an annotation (an empty TEXT removes it).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Annotation id or unique prefix.") var annotation: String
    @Argument(help: "The note text; - reads it from stdin.") var text: String

    func run() throws {
        var body = text
        if text == "-" {
            guard let read = String(data: FileHandle.standardInput.readDataToEndOfFile(), encoding: .utf8) else {
                throw CLIError(message: "margin: the note on stdin is not UTF-8 text", code: ExitStatus.dataError)
            }
            try TextInput.check(read, "the note on stdin")
            body = read
        }
        let store = try global.openStore()
        let updated = try store.setNote(annotationRef: annotation, text: body)
        if output.json { return try Output.json(AnnotationJSON(updated)) }
        Output.line("\(updated.id)  note \(updated.note == nil ? "removed" : "set")")
    }
}
