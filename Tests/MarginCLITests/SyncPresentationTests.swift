import Foundation
import MarginStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// What sync, push, pull and conflicts say to a person, against a live `margin serve` on 127.0.0.1.

struct SyncPresentationTests {
    struct ConflictShape: Decodable {
        struct Version: Decodable {
            var origin_name: String?
            var field: String
            var mine, shown: Bool
        }

        var id, kind, entity_id: String
        var versions: [Version]
    }

    @Test(.timeLimit(.minutes(2)))
    func aTokenVariableWithATrailingNewlineStillSendsTheToken() throws {
        let sandbox = try Sandbox()
        let hub = sandbox.path("hub.sqlite"), laptop = sandbox.path("laptop.sqlite")
        _ = margin(hub, "init", "--name", "hub")
        let token = margin(hub, "token", "create", "laptop").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let served = try ServedStore(hub)
        defer { served.stop() }
        _ = margin(laptop, "init", "--name", "laptop")
        _ = margin(laptop, "remote", "add", "hub", served.url, "--token-env", "HUB_TOKEN")
        _ = margin(laptop, "import", seedStory.path)

        let result = margin(laptop, "sync", env: ["HUB_TOKEN": token + "\n"])
        let blank = margin(laptop, "sync", env: ["HUB_TOKEN": "\n"])

        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("hub: synced: sent "))
        #expect(result.stdout.range(of: #"\b1 [a-z]+s\b"#, options: .regularExpression) == nil, "\(result.stdout)")
        #expect(blank.status == 77 && blank.stderr.contains("$HUB_TOKEN, which is blank"))
    }

    /// This machine's resolver says `.invalid` names do not exist (RFC 6761), rather than that
    /// it cannot tell right now.
    static let resolverKnowsMissingNames: Bool = {
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo("no-such-host.invalid", nil, nil, &result)
        if let result { freeaddrinfo(result) }
        return status == EAI_NONAME
    }()

    @Test(.enabled(if: resolverKnowsMissingNames, "the resolver cannot tell a missing name here: skipped"))
    func aHostThatDoesNotExistIsAFailureToFixNotATemporaryOne() throws {
        let sandbox = try Sandbox.initialized()
        _ = sandbox.margin("remote", "add", "hub", "http://no-such-host.invalid:8421")

        let result = sandbox.margin("sync")

        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no host is named 'no-such-host.invalid'"))
        #expect(!result.stderr.contains("try again later"))
    }

    @Test(.timeLimit(.minutes(2)))
    func aDeleteConflictListsTheDeleteAndTheUnseenEditsOnlyAndKeepMineWorks() throws {
        let sandbox = try Sandbox()
        let hub = sandbox.path("hub.sqlite"), a = sandbox.path("a.sqlite"), b = sandbox.path("b.sqlite")
        _ = margin(hub, "init", "--name", "hub")
        let served = try ServedStore(hub)
        defer { served.stop() }
        for (store, name) in [(a, "laptop-a"), (b, "laptop-b")] {
            _ = margin(store, "init", "--name", name)
            _ = margin(store, "remote", "add", "hub", served.url)
        }
        let article = try #require(try marginJSON([ImportRow].self, a, "import", seedStory.path).value.first?.id)
        _ = margin(a, "sync")
        _ = margin(b, "sync")
        // a deletes the article while b, not having seen it, tags it.
        _ = margin(a, "rm", article)
        _ = margin(b, "tag", article, "keep-this")
        _ = margin(a, "sync")
        let pulled = margin(b, "sync")

        #expect(pulled.status == 2, "\(pulled.stderr)")
        let conflicts = try marginJSON([ConflictShape].self, b, "conflicts").value
        let conflict = try #require(conflicts.first { $0.kind == "delete" })
        #expect(conflict.entity_id == article)
        #expect(conflict.versions.map(\.field).sorted() == ["deleted", "tag/keep-this"])
        #expect(conflict.versions.first { $0.field == "deleted" }?.origin_name == "laptop-a")
        #expect(conflict.versions.first { $0.field != "deleted" }?.mine == true)
        let text = margin(b, "conflicts").stdout
        #expect(text.contains("deleted by laptop-a while laptop-b (this replica) edited it"), "\(text)")
        #expect(text.contains("--keep delete|edit (mine: edit)"))
        #expect(!text.contains("title ="))

        let resolved = margin(b, "resolve", String(conflict.id.prefix(8)), "--keep", "mine")

        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(margin(b, "list").stdout.contains("#keep-this"))
        #expect(try marginJSON([ConflictShape].self, b, "conflicts").value.isEmpty)
    }
}
