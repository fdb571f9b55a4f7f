import Foundation
import MarginStore

enum Output {
    /// Prints a value as pretty, key-sorted JSON on stdout.
    static func json<T: Encodable>(_ value: T) throws {
        let data = try CanonicalJSON.encode(value, prettyPrinted: true)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// The store whose ids `short` abbreviates; set when a command opens it.
    nonisolated(unsafe) static var store: Store?
    nonisolated(unsafe) private static var abbreviations: [String: String]?

    /// A short id for text output: the shortest unique prefix (at least 8 characters), computed
    /// on first use, so after the command's writes.
    static func short(_ id: String) -> String {
        if abbreviations == nil { abbreviations = (try? store?.abbreviations()) ?? [:] }
        return abbreviations?[id] ?? String(id.prefix(8))
    }

    static var isTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    static func progress(_ text: String) {
        guard stderrIsTerminal else { return }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
