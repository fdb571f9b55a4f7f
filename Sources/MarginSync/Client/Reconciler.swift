import Foundation
import MarginStore

/// What one exchange with a remote did.
public struct SyncReport: Codable, Sendable, Equatable {
    public var remote: String
    /// Changes the remote had not held, sent by us.
    public var sent = 0
    /// Changes we had not held, received from the remote.
    public var received = 0
    /// Conflicts that appeared here while applying what we received.
    public var conflicts = 0
    /// HTTP requests made (each one round trip).
    public var requests = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    /// The remote's version vector at the end.
    public var remoteVector = VersionVector()

    public init(remote: String) { self.remote = remote }
}

/// Push and pull between a store and a remote, page by page.
///
/// Every page is applied atomically on the receiving side and acknowledged with the receiver's
/// vector, so an interrupted sync resumes where the last acknowledged page ended: the next run
/// starts from both vectors and nothing held is sent again. A sync with nothing to do is one
/// request: `GET /v1/changes` answers no changes and the remote's vector, which says there is
/// nothing to push.
public struct Reconciler: Sendable {
    public let store: Store
    public let client: SyncClient
    /// Changes per request, kept within 1...`SyncProtocol.maxBatch` when used.
    public var pageSize: Int
    /// Attempts per request for temporary failures (network, 5xx), with exponential backoff.
    public var attempts: Int
    /// Seconds before the first retry; each further retry waits twice as long (plus up to 25% jitter).
    public var backoff: Double
    public var progress: (@Sendable (String) -> Void)?
    /// Called with the running report after every page applied here or acknowledged by the
    /// remote, so a caller can say how far a sync that later fails got.
    public var onPage: (@Sendable (SyncReport) -> Void)?

    public init(store: Store, client: SyncClient, pageSize: Int = SyncProtocol.defaultPageSize, attempts: Int = 4,
                backoff: Double = 0.25, progress: (@Sendable (String) -> Void)? = nil) {
        self.store = store
        self.client = client
        self.pageSize = pageSize
        self.attempts = attempts
        self.backoff = backoff
        self.progress = progress
    }

    /// Exchanges changes with the remote.
    /// - Throws: `SyncError` (network, auth, protocol) or `StoreError` (a refused batch, a busy store).
    public func run(remote: String, push: Bool = true, pull: Bool = true) async throws -> SyncReport {
        var report = SyncReport(remote: remote)
        let remoteName = remote
        // A page the protocol allows: 0 would trap in `Store.changes`, and more than `maxBatch`
        // is refused by the server (400 on a pull, 413 on a push).
        let pageSize = min(max(self.pageSize, 1), SyncProtocol.maxBatch)
        let before = client.stats
        var remoteVector: VersionVector? = nil
        // Origins left out after an equivocation: the honest history of the others goes on.
        var excluded: [String: String] = [:]
        /// Origins a members-only hub refused (not bound to a token there), left out of the push.
        var strangers: [String: String] = [:]
        if pull {
            while true {
                var position = PullPosition(
                    vector: try store.versionVector(), heads: try store.heads(digits: PullPosition.headDigits))
                // An excluded origin is asked for from past its end: the remote sends none of it.
                for origin in excluded.keys {
                    position.vector[origin] = Int64.max
                    position.heads[origin] = nil
                }
                let page: ChangesResponse
                do {
                    page = try await retrying { try await client.changes(after: position, limit: pageSize) }
                } catch SyncError.refused(_, "equivocation", let message, let origin?, let seq) where excluded[origin] == nil {
                    excluded[origin] = equivocation(origin: origin, seq: seq, message: message, remote: remoteName)
                    continue
                }
                remoteVector = page.vector
                if !page.runs.isEmpty {
                    do {
                        let applied = try store.apply(page.runs, via: remote)
                        report.received += applied.applied
                        report.conflicts += applied.conflicts
                        progress?("received \(report.received) changes")
                        onPage?(report)
                    } catch StoreError.clockSkew(let origin, let ahead, let limit) {
                        throw clockAdvice(received: origin, aheadBy: ahead, limit: limit)
                    } catch let error as StoreError {
                        guard case .equivocation(let origin, _, _) = error, excluded[origin] == nil else { throw error }
                        excluded[origin] = error.description
                        continue
                    }
                }
                if !page.more { break }
            }
        }
        if push {
            var remote: VersionVector
            if let remoteVector { remote = remoteVector } else { remote = try await retrying { try await client.vector() } }
            var lastGap: VersionVector? = nil
            while true {
                let page = try store.runs(
                    after: remote, limit: pageSize, excluding: Set(excluded.keys).union(strangers.keys))
                if page.runs.isEmpty { break }
                do {
                    let answer = try await retrying { try await client.push(page.runs) }
                    report.sent += answer.applied
                    remote = answer.vector
                    progress?("sent \(report.sent) changes")
                    onPage?(report)
                } catch SyncError.gap(let vector) {
                    // The remote moved (or restarted from an older copy): resend from its vector.
                    guard vector != lastGap else { throw SyncError.gap(vector: vector) }
                    lastGap = vector
                    remote = vector
                } catch SyncError.refused(_, "equivocation", let message, let origin?, let seq) where excluded[origin] == nil {
                    excluded[origin] = equivocation(origin: origin, seq: seq, message: message, remote: remoteName)
                } catch SyncError.refused(403, "not_member", let message, let origin?, _)
                    where strangers[origin] == nil && origin != store.replicaID
                {
                    // A members-only hub takes none of that origin's runs: the others still go.
                    strangers[origin] = message
                } catch SyncError.refused(422, "clock_skew", let message, let origin, _)
                    where origin == store.replicaID || origin == store.legacyReplicaID
                {
                    throw ownClockAdvice(message)
                }
            }
            remoteVector = remote
        }
        if excluded.isEmpty, let (origin, message) = strangers.sorted(by: { $0.key < $1.key }).first {
            // Everything else went through; what the hub would not take is still a failure.
            throw SyncError.refused(status: 403, code: "not_member", message: message, origin: origin)
        }
        if let (_, message) = excluded.sorted(by: { $0.key < $1.key }).first {
            // Everything else went through; the refusal is still a failure to report.
            throw SyncError.refused(status: 409, code: "equivocation", message: message, origin: excluded.keys.sorted().first)
        }
        let after = client.stats
        report.requests = after.requests - before.requests
        report.bytesSent = after.bytesSent - before.bytesSent
        report.bytesReceived = after.bytesReceived - before.bytesReceived
        report.remoteVector = remoteVector ?? VersionVector()
        return report
    }

    /// Changes received from the remote are stamped ahead of this machine's clock. When the
    /// remote's own clock (its `Date`) is about as far ahead, this machine's clock is the one that
    /// is behind; otherwise the origin's is ahead.
    private func clockAdvice(received origin: String, aheadBy: Double, limit: Double) -> SyncError {
        let amount = StoreError.duration(aheadBy)
        // (How far the remote's clock is ahead of this replica's.)
        if let offset = client.remoteDate.map({ $0.timeIntervalSince(store.now) }), offset > limit / 2,
           offset > aheadBy - limit
        {
            return .clockSkew(
                "refused: changes from \(origin) are stamped \(amount) ahead of this machine's clock, and the remote's "
                    + "clock is \(StoreError.duration(offset)) ahead of it too: this machine's clock is behind; set it "
                    + "right (e.g. `timedatectl set-ntp true`), then sync again. Nothing was written.")
        }
        return .clockSkew(
            "refused: changes from \(origin) are stamped \(amount) ahead of this machine's clock (limit "
                + "\(StoreError.duration(limit))), while the remote's clock agrees with this one: the clock of replica "
                + "\(origin) runs ahead; fix it there. Nothing was written; to take them in now, pull with "
                + "MARGIN_MAX_CLOCK_SKEW above \(amount) (this machine's own clock is not moved by them).")
    }

    /// This replica's own changes were refused as stamped ahead of the remote's clock.
    private func ownClockAdvice(_ message: String) -> SyncError {
        if let offset = client.remoteDate.map({ $0.timeIntervalSince(store.now) }), offset < -60 {
            return .clockSkew(
                "refused: this machine's clock is \(StoreError.duration(-offset)) ahead of the remote's (its Date header), "
                    + "so the remote refuses the changes written here; fix this machine's clock. Changes written "
                    + "meanwhile keep their stamps and sync once real time reaches them (or serve the remote with "
                    + "MARGIN_MAX_CLOCK_SKEW above the skew). (\(message))")
        }
        return .refused(status: 422, code: "clock_skew", message: message, origin: store.replicaID)
    }

    /// Records an equivocation the remote found, and the sentence to report. When the origin is
    /// this replica, this store is a copy of another that wrote as the same replica.
    private func equivocation(origin: String, seq: Int64?, message: String, remote: String) -> String {
        try? store.recordEquivocation(origin: origin, seq: seq ?? 0, via: remote)
        let own = origin == store.replicaID || origin == store.legacyReplicaID
        return own ? StoreError.equivocation(origin: origin, seq: seq ?? 0, ownOrigin: true).description : message
    }

    /// Runs `body`, retrying temporary failures with exponential backoff (by default 0.25 s, 0.5 s,
    /// 1 s, …, each with up to 25% jitter so that replicas retrying a restarted hub spread out).
    /// A failed attempt leaves nothing behind: a page is applied only once fully received and
    /// decoded, and a push the server applied but whose answer was lost is skipped as duplicates
    /// when it is sent again.
    func retrying<T>(_ body: () async throws -> T) async throws -> T {
        var delay = max(backoff, 0)
        for attempt in 1... {
            do {
                return try await body()
            } catch let error as SyncError where error.isTemporary && attempt < attempts {
                var wait = delay * Double.random(in: 1...1.25)
                // A busy server's Retry-After is honoured (up to a minute), never undercut.
                if case .refused = error, let asked = client.retryAfter { wait = max(wait, min(asked, 60)) }
                progress?("retrying in \(String(format: "%.1f", wait)) s after: \(error)")
                try await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000))
                delay *= 2
            }
        }
        fatalError("unreachable")
    }
}
