import Foundation
import MarginStore
import MarginSync

#if canImport(Glibc)
import Glibc
#endif

/// What commands over remotes share: choosing the remotes, their clients and tokens, and how a
/// failure reads and exits.
enum Remotes {
    /// The remotes a command names: one by name, every one with `all`, or the only one.
    static func choose(_ store: Store, names: [String], all: Bool) throws -> [RemoteInfo] {
        let known = try store.remotes()
        if all {
            if known.isEmpty {
                throw CLIError(message: "margin: no remotes; add one with `margin remote add NAME URL`", code: ExitStatus.usage)
            }
            return known
        } else if let name = names.first {
            return [try store.remote(named: name)]
        } else if known.count == 1 {
            return known
        }
        throw CLIError(
            message: known.isEmpty
                ? "margin: no remotes; add one with `margin remote add NAME URL`"
                : "margin: name a remote (\(known.map(\.name).joined(separator: ", "))) or use --all",
            code: ExitStatus.usage)
    }

    /// A client for `remote`, with its token. A host name that does not exist (a typo) is a
    /// failure to fix, not a network problem to wait out.
    static func client(for remote: RemoteInfo) throws -> SyncClient {
        guard let url = URL(string: remote.url), let host = url.host, !host.isEmpty else {
            throw CLIError(
                message: "margin: remote \(remote.name) has the URL '\(remote.url)', which is not an http(s) URL; "
                    + "fix it with `margin remote rm \(remote.name)` and `margin remote add`", code: ExitStatus.failure)
        }
        try checkHostExists(host, remote: remote)
        return SyncClient(baseURL: url, token: try token(for: remote))
    }

    /// getaddrinfo's "no such name" (not "try again") for a host that is not an address.
    static func checkHostExists(_ host: String, remote: RemoteInfo) throws {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare.allSatisfy({ $0.isNumber || $0 == "." }) || bare.contains(":") { return }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(bare, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        if status == EAI_NONAME {
            throw CLIError(
                message: "margin: no host is named '\(bare)' (\(remote.url)); check the URL "
                    + "(`margin remote list`)", code: ExitStatus.failure)
        }
    }

    /// The bearer token from the remote's environment variable: trimmed of the newline that
    /// `$(cat file)` or an editor leaves, so a token is never silently dropped from the request.
    static func token(for remote: RemoteInfo) throws -> String? {
        guard let variable = remote.tokenEnv else { return nil }
        let raw = ProcessInfo.processInfo.environment[variable] ?? ""
        let token = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw CLIError(
                message: "margin: remote \(remote.name) takes its token from $\(variable), which is "
                    + (raw.isEmpty ? "not set" : "blank") + "; export \(variable)=TOKEN", code: ExitStatus.auth)
        }
        guard token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw CLIError(
                message: "margin: the token in $\(variable) holds a space or a character a token never has; "
                    + "set it to the token `margin token create` printed", code: ExitStatus.auth)
        }
        return token
    }

    static func exitCode(for error: any Error) -> Int32 {
        switch error {
        case let error as SyncError:
            switch error {
            case .unauthorized: return ExitStatus.auth
            case .refused(403, _, _, _, _): return ExitStatus.auth
            case .protocolMismatch: return ExitStatus.failure
            default: return error.isTemporary ? ExitStatus.temporary : ExitStatus.failure
            }
        case let error as CLIError: return error.code
        case let error as StoreError:
            if case .locked = error { return ExitStatus.locked }
            return ExitStatus.failure
        default: return ExitStatus.failure
        }
    }

    /// The sentence of a failure, without the `margin: ` of a CLIError.
    static func sentence(for error: any Error) -> String {
        var text = (error as? CLIError)?.message ?? "\(error)"
        if text.hasPrefix("margin: ") { text.removeFirst(8) }
        return text
    }

    /// The `outcome` word of a failed exchange.
    static func outcomeName(_ code: Int32) -> String {
        switch code {
        case ExitStatus.temporary: return "unreachable"
        case ExitStatus.auth: return "auth"
        case ExitStatus.locked: return "locked"
        default: return "failed"
        }
    }

    /// A byte count for people: 362 bytes, 1.9 kB, 120.7 MB.
    static func bytes(_ n: Int) -> String {
        if n < 1_000 { return count(n, "byte") }
        if n < 1_000_000 { return String(format: "%.1f kB", Double(n) / 1_000) }
        return String(format: "%.1f MB", Double(n) / 1_000_000)
    }
}
