import Foundation
import Testing

// `Scripts/nightly-merge --fetch`: feeds are fetched before the sync (skipped, not an error, when the
// store has no remotes), and a feed that is down counts like an unreachable remote (75).

@Suite struct NightlyFetchTests {
    @Test(.timeLimit(.minutes(1)))
    func theNightlyScriptFetchesFeedsFirstAndAFeedThatIsDownIsTemporary() throws {
        // Given a store with no remotes,
        let sandbox = try Sandbox()
        let store = sandbox.path("laptop.sqlite")
        #expect(margin(store, "init", "--name", "laptop").status == 0)
        let script = packageRoot.appendingPathComponent("Scripts/nightly-merge")
        let log = sandbox.path("state/nightly.log")
        func nightly() -> (CLIResult, String) {
            var environment = ProcessInfo.processInfo.environment
            environment["MARGIN_STORE"] = nil
            environment["XDG_STATE_HOME"] = sandbox.path("xdg-state")
            let result = runProcess(script, ["--store", store, "--log", log, "--margin", marginBinary.path, "--fetch"],
                                    environment: environment)
            return (result, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }

        // When it runs with no feeds followed, the fetch does nothing and the run succeeds.
        let (quiet, text) = nightly()
        #expect(quiet.status == 0, "\(text)")
        #expect(text.contains("feed fetch exited 0") && text.contains("no remotes: sync skipped"), "\(text)")
        let fetchLine = try #require(text.range(of: "feed fetch exited"))
        let syncLine = try #require(text.range(of: "sync skipped"))
        #expect(fetchLine.lowerBound < syncLine.lowerBound, "the fetch runs before the sync")

        // When a followed feed's host refuses connections (its row is added as `feed add` would, since
        // add checks the feed), the run exits 75.
        try recordFeed(store, url: "http://127.0.0.1:1/feed.xml")
        let (down, later) = nightly()
        #expect(down.status == 75, "\(later)")
        #expect(later.contains("feed fetch exited 75") && later.contains("\"unreachable\""), "\(later)")
        #expect(later.hasSuffix("done: exit 75\n"), "\(later)")
    }

    /// Inserts a followed feed with the sqlite3 shell (CI installs it).
    func recordFeed(_ store: String, url: String) throws {
        let sql = "INSERT INTO feed(url, title, added_at) VALUES ('\(url)', 'Down', '2024-01-01T00:00:00Z');"
        let result = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["sqlite3", store, sql],
                                environment: ProcessInfo.processInfo.environment)
        try #require(result.status == 0, "sqlite3: \(result.stderr)")
    }
}
