import Foundation
import MarginStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// What a person sees on a real terminal of 80 columns (a pty from `script`), against what a
// script reads from a pipe: widths, colour, progress, escaped control characters.

let longTitle = "Talks on the alliance, the North's missiles and trade continue in Seoul as ministers meet "
    + "for a second day of negotiations"

@Suite(.enabled(if: scriptTool != nil, "the script command is missing: skipped"))
struct TerminalTests {
    /// A store with a long-titled article, annotated, tagged, noted.
    static func busyStore() throws -> (Sandbox, article: String) {
        let sandbox = try Sandbox.initialized()
        let id = try sandbox.importArticle(
            title: longTitle, body: punctuatedBody + " The harbour minister spoke for a long time about everything.")
        _ = try sandbox.highlight(id, "The Archbishop of Canterbury spoke first", "--note", String(repeating: "a long note ", count: 12))
        _ = sandbox.margin("tag", id, "alliance", "north-korea", "diplomacy", "trade-talks", "seoul")
        return (sandbox, id)
    }

    @Test(arguments: [["list"], ["search", "harbour"], ["log"], ["annotations"], ["show", "ID"], ["status"]])
    func noLineWrapsOnAnEightyColumnTerminalAndPipedOutputIsWhole(args: [String]) throws {
        let (sandbox, id) = try Self.busyStore()
        let args = args.map { $0 == "ID" ? id : $0 }

        let (status, screen) = try onTerminal(args, store: sandbox.store)
        let piped = sandbox.margin(args)

        #expect(status == 0, "\(screen)")
        let lines = visibleLines(screen)
        #expect(lines.allSatisfy { columnsOf($0) <= 80 }, "\(lines.filter { columnsOf($0) > 80 })")
        #expect(!piped.stdout.contains("\u{1B}"))
        if ["list", "search"].contains(args[0]) {
            #expect(lines.contains { $0.hasSuffix("…") })
            #expect(piped.stdout.contains(longTitle))
        }
    }

    @Test func importLinesFitTheTerminal() throws {
        let sandbox = try Sandbox.initialized()
        try JSONSerialization.data(withJSONObject: (1...5).map {
            ["title": longTitle + " \($0)", "body": "Body \($0).", "url": "https://news.example/\($0)"]
        }).write(to: sandbox.folder.appendingPathComponent("many.json"))

        let (status, screen) = try onTerminal(["import", sandbox.path("many.json")], store: sandbox.store)

        #expect(status == 0, "\(screen)")
        #expect(visibleLines(screen).allSatisfy { columnsOf($0) <= 80 })
    }

    @Test func matchesAndHighlightsAreColouredOnATerminalOnlyAndNeverWithNoColor() throws {
        let (sandbox, id) = try Self.busyStore()

        let search = try onTerminal(["search", "harbour"], store: sandbox.store).screen
        let show = try onTerminal(["show", id], store: sandbox.store).screen
        let plain = try onTerminal(["search", "harbour"], store: sandbox.store, env: ["NO_COLOR": "1"]).screen
        let piped = sandbox.margin("search", "harbour").stdout

        #expect(search.contains("\u{1B}[1;31mharbour\u{1B}[0m"))
        #expect(!search.contains("«"))
        #expect(show.contains("\u{1B}[30;43mThe Archbishop"))
        #expect(!plain.contains("\u{1B}[") && plain.contains("«harbour»"))
        #expect(!piped.contains("\u{1B}") && piped.contains("«harbour»"))
    }

    @Test func controlCharactersFromStoredTextAreEscapedOnTheTerminalAndExactInJSON() throws {
        let sandbox = try Sandbox.initialized()
        let hostile = "Clear\u{1B}[2J title\u{1B}]0;pwned\u{07} and \u{202E}reversed"
        let id = try sandbox.importArticle(title: hostile, body: "A body with a bell\u{07} and a carriage\rreturn.")

        for args in [["list"], ["show", id], ["search", "body"]] {
            let screen = try onTerminal(args, store: sandbox.store, env: ["NO_COLOR": "1"]).screen
            #expect(!screen.contains("\u{1B}[2J") && !screen.contains("\u{1B}]0;") && !screen.contains("\u{07}"),
                    "\(args)")
            #expect(!screen.contains("\u{202E}"), "\(args)")
            #expect(screen.contains("\\033[2J") || args[0] != "list", "\(args): \(screen)")
        }
        #expect(try sandbox.json(ArticleShape.self, "show", id).title == hostile)
        #expect(try sandbox.json(ArticleShape.self, "show", id).body?.contains("\u{07}") == true)
    }

    @Test func aFailingSyncShowsOneLineThatFitsAndLeavesNoProgressBehind() throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        _ = sandbox.margin("remote", "add", "hub", "http://127.0.0.1:\(closedPort())")

        let (status, screen) = try onTerminal(["sync"], store: sandbox.store)

        #expect(status == 75, "\(screen)")
        let lines = visibleLines(screen).filter { !$0.isEmpty }
        // The error, in lines that fit (wrapped at words), and nothing of the progress it replaced.
        #expect(lines.first?.hasPrefix("margin: hub: cannot reach") == true, "\(lines)")
        #expect(lines.allSatisfy { columnsOf($0) <= 80 && !$0.contains("retrying") }, "\(lines)")
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("  ") })
        // Every rewrite of the progress line fits and erases what a longer one left.
        let rewrites = screen.components(separatedBy: "\r").filter { $0.hasSuffix("\u{1B}[K") }
        #expect(!rewrites.isEmpty)
        for piece in rewrites { #expect(columnsOf(piece) < 80, "\(piece)") }
        #expect(screen.contains("\r\u{1B}[Kmargin: hub:"))  // cleared before the error
    }

    @Test func quietLeavesOutNotes() throws {
        let (sandbox, _) = try Self.busyStore()
        let loud = try onTerminal(["list", "--tag", "nothing"], store: sandbox.store, env: ["NO_COLOR": "1"])
        let quiet = try onTerminal(["--quiet", "list", "--tag", "nothing"], store: sandbox.store, env: ["NO_COLOR": "1"])
        #expect(loud.screen.contains("margin: no article has the tag nothing"))
        #expect(quiet.status == 0 && quiet.screen.isEmpty, "\(quiet.screen)")
    }
}

struct OutputErrorTests {
    /// Runs margin with stdout on `path` (a device such as /dev/full).
    static func run(_ args: [String], store: String, stdoutPath: String) throws -> CLIResult {
        let process = Process()
        process.executableURL = marginBinary
        process.arguments = ["--store", store] + args
        let out = try #require(FileHandle(forWritingAtPath: stdoutPath))
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("margin-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "margin \(args) died of signal \(process.terminationStatus)")
        return (process.terminationStatus, "", String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full: skipped"),
          arguments: [["export"], ["list"], ["show", "964c"], ["log", "--json"]])
    func aFullDiskIsAnErrorMessageAndExitOneNotACrash(args: [String]) throws {
        let sandbox = try Sandbox.initialized()
        _ = try sandbox.importSeed()
        let result = try Self.run(args, store: sandbox.store, stdoutPath: "/dev/full")
        #expect(result.status == 1)
        #expect(result.stderr == "margin: cannot write the output: No space left on device\n")
    }

    @Test(.enabled(if: findOnPath("bash") != nil, "bash is missing: skipped"))
    func aClosedPipeEndsQuietlyAsGitDoes() throws {
        let sandbox = try Sandbox.initialized()
        let body = (1...4000).map { "Paragraph \($0) of a very long story about the harbour." }.joined(separator: "\n\n")
        let id = try sandbox.importArticle(title: "Long", body: body)
        let command = "\(shellQuoted(marginBinary.path)) --store \(shellQuoted(sandbox.store)) show \(id) | head -c 10 "
            + ">/dev/null; echo \"status ${PIPESTATUS[0]}\""
        let result = runProcess(try #require(findOnPath("bash")), ["-c", command])
        #expect(result.stdout == "status 141\n")  // SIGPIPE, as git log | head
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test func aNULInANoteIsRefusedAndWritesNothing() throws {
        let sandbox = try Sandbox.initialized()
        let article = try sandbox.importSeed()
        let a = try sandbox.highlight(article, "cause a stink")
        let before = try sandbox.changeCount()

        let result = sandbox.margin("note", a.id, "-", stdin: "before\u{0}after")

        #expect(result.status == 65)
        #expect(result.stderr.contains("holds a NUL character"))
        #expect(try sandbox.changeCount() == before)
    }
}
