import ArgumentParser

/// Checks of text read from standard input before it is written (arguments cannot hold a NUL:
/// the system passes them as C strings).
enum TextInput {
    /// Refuses a NUL character: SQLite's text functions and C strings end at one, so what the log
    /// keeps whole would show (and export) cut. Nothing is written.
    static func check(_ text: String, _ what: String) throws {
        guard text.utf8.contains(0) else { return }
        throw CLIError(
            message: "margin: \(what) holds a NUL character (\\0), which would cut the text where it is shown or "
                + "exported; remove it", code: ExitStatus.dataError)
    }
}
