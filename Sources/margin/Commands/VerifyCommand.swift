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
    struct Row: Encodable {
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
        var differing_kinds: [String]?
        var vectors_equal: Bool?
        /// Changes the remote holds that this replica lacks, and the other way round.
        var local_lacks, remote_lacks: Int64?
        var local, remote_state: Side?
        var error: String?
    }

    func run() async throws {
        let store = try global.openStore()
        let remotes = try Exchange.chooseRemotes(store, names: remote.map { [$0] } ?? [], all: all)
        let (digest, vector) = try store.digestAndVector()
        var rows: [Row] = []
        var worst = ExitStatus.success
        for remote in remotes {
            var row: Row
            do {
                let client = SyncClient(baseURL: URL(string: remote.url)!, token: try Exchange.token(for: remote))
                let theirs = try await client.digest()
                let kinds = digest.differences(from: theirs.digest)
                let localLacks = Self.lacking(vector, from: theirs.vector)
                let remoteLacks = Self.lacking(theirs.vector, from: vector)
                let equal = kinds.isEmpty && vector == theirs.vector
                let code = equal ? ExitStatus.success : ExitStatus.differs
                row = Row(
                    remote: remote.name, equal: equal, outcome: equal ? "equal" : "differs", exit_code: code,
                    differing_kinds: kinds, vectors_equal: vector == theirs.vector, local_lacks: localLacks,
                    remote_lacks: remoteLacks, local: .init(kinds: digest.kinds, counts: digest.counts, vector: vector),
                    remote_state: .init(kinds: theirs.kinds, counts: theirs.counts, vector: theirs.vector))
                if !output.json { print(Self.sentence(remote: remote.name, row: row, counts: digest.counts)) }
            } catch {
                let code = Exchange.exitCode(for: error)
                let text = (error as? CLIError)?.message.replacingOccurrences(of: "margin: ", with: "") ?? "\(error)"
                row = Row(remote: remote.name, equal: false, outcome: Exchange.outcomeName(code), exit_code: code,
                          error: text)
                FileHandle.standardError.write(Data("margin: \(remote.name): \(text)\n".utf8))
            }
            worst = ExitStatus.worst(worst, row.exit_code)
            rows.append(row)
        }
        if output.json { try Output.json(rows) }
        if worst != ExitStatus.success { throw CLIError(message: "", code: worst) }
    }

    /// How many changes `other` holds that `vector` lacks.
    static func lacking(_ vector: VersionVector, from other: VersionVector) -> Int64 {
        other.seqs.reduce(0) { $0 + max(0, $1.value - vector[$1.key]) }
    }

    static func sentence(remote: String, row: Row, counts: [String: Int]) -> String {
        if row.equal {
            let summary = ["changes", "articles", "annotations", "tags", "conflicts"]
                .map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
            return "\(remote): equal (\(summary))"
        }
        var parts = ["\(remote): differs in \((row.differing_kinds ?? []).joined(separator: ", "))"]
        let localLacks = row.local_lacks ?? 0, remoteLacks = row.remote_lacks ?? 0
        if localLacks > 0 || remoteLacks > 0 {
            parts.append("this replica lacks \(localLacks) changes and \(remote) lacks \(remoteLacks); "
                + "run `margin sync \(remote)` and verify again")
        } else {
            parts.append("both hold the same changes but their states differ: a bug; "
                + "please report it with `margin verify \(remote) --json`")
        }
        return parts.joined(separator: "; ")
    }
}
