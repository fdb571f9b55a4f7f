import ArgumentParser

/// `--json` for commands that print records.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (a stable shape, see README) instead of text.")
    var json = false
}

/// `--limit`/`--offset` for listings that page.
struct PageOptions: ParsableArguments {
    @Option(help: "At most this many results (at least 1).") var limit: Int?
    @Option(help: "Skip this many results first (for the next page).") var offset = 0

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit is at least 1 (leave it out for every result)") }
        if offset < 0 { throw ValidationError("--offset is 0 or more") }
    }
}
