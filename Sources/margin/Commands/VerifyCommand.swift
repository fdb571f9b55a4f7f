import ArgumentParser
import Foundation
import MarginStore
import MarginSync

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare this replica's state with a remote's, per kind: equal (exit 0) or not (exit 3).",
        discussion: """
            Compares digests of the replicated state (changes, articles, annotations, tags, conflicts, \
            replicas) and the version vectors with the remote's (`GET /v1/digest`), and names what differs. \
            Two replicas that hold the same changes have equal digests; right after a sync with nothing \
            written in between they should. Writes nothing.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Every remote, one after the other.") var all = false
    @Argument(help: "The remote (optional when there is only one).") var remote: String?

    func validate() throws {
        if all && remote != nil { throw ValidationError("give a remote or --all, not both") }
    }

    /// What `--json` prints per remote (fields are added, never renamed).
    struct Row: RemoteRow {
        struct Side: Encodable {
            var kinds: [String: String]
            var counts: [String: Int]
            var vector: VersionVector
        }

        var remote: String
        /// Both digests and both vectors are equal.
        var equal: Bool
        /// equal, differs, unreachable, auth, locked or failed.
        var outcome: String
        var exit_code: Int32
        /// The kinds whose digests differ.
        @Null var differing_kinds: [String]?
        @Null var vectors_equal: Bool?
        /// Changes the remote holds that this replica lacks, and the other way round.
        @Null var local_lacks: Int64?
        @Null var remote_lacks: Int64?
        @Null var local: Side?
        @Null var remote_state: Side?
        @Null var error: String?
    }

    func run() async throws {
        let store = try global.openStore()
        let remotes = try Remotes.choose(store, names: remote.map { [$0] } ?? [], all: all)
        let (digest, vector) = try store.digestAndVector()
        try await RemoteLoop.run(remotes, json: output.json) { remote in
            let theirs = try await Remotes.client(for: remote).digest()
            let kinds = digest.differences(from: theirs.digest)
            let equal = kinds.isEmpty && vector == theirs.vector
            let row = Row(
                remote: remote.name, equal: equal, outcome: equal ? "equal" : "differs",
                exit_code: equal ? ExitStatus.success : ExitStatus.differs, differing_kinds: kinds,
                vectors_equal: vector == theirs.vector, local_lacks: Self.lacking(vector, from: theirs.vector),
                remote_lacks: Self.lacking(theirs.vector, from: vector),
                local: .init(kinds: digest.kinds, counts: digest.counts, vector: vector),
                remote_state: .init(kinds: theirs.kinds, counts: theirs.counts, vector: theirs.vector))
            if !output.json { Output.row(Self.sentence(remote: remote.name, row: row, counts: digest.counts)) }
            return row
        } failed: { remote, code, text in
            Row(remote: remote.name, equal: false, outcome: Remotes.outcomeName(code), exit_code: code, error: text)
        }
    }

    /// How many changes `other` holds that `vector` lacks.
    static func lacking(_ vector: VersionVector, from other: VersionVector) -> Int64 {
        other.seqs.reduce(0) { $0 + max(0, $1.value - vector[$1.key]) }
    }

    static func sentence(remote: String, row: Row, counts: [String: Int]) -> String {
        if row.equal {
            let summary = ["change", "article", "annotation", "tag", "conflict"]
                .map { count(counts[$0 + "s"] ?? 0, $0) }.joined(separator: ", ")
            return "\(remote): \(Colour.green("equal")) (\(summary))"
        }
        var parts = ["\(remote): \(Colour.yellow("differs")) in \((row.differing_kinds ?? []).joined(separator: ", "))"]
        let localLacks = row.local_lacks ?? 0, remoteLacks = row.remote_lacks ?? 0
        if localLacks > 0 || remoteLacks > 0 {
            parts.append("this replica lacks \(count(localLacks, "change")) and \(remote) lacks \(count(remoteLacks, "change")); "
                + "run `margin sync \(remote)` and verify again")
        } else {
            parts.append("both hold the same changes but their states differ: a bug; "
                + "please report it with `margin verify \(remote) --json`")
        }
        return parts.joined(separator: "; ")
    }
}
