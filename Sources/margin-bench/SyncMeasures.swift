import Foundation
import GRDB
import Hummingbird
import Logging
import MarginStore
import MarginSync


struct SmallSync {
    var requests = 0
    var bytes = 0
    var ms = 0.0
}

/// No-op syncs (median of `runs`), then one new annotation pushed each time (median of `runs`).
func smallSyncs(laptop: Store, proxy: CountingProxy, runs: Int) async throws -> (noop: SmallSync, one: SmallSync) {
    let client = SyncClient(baseURL: proxy.url)
    let reconciler = Reconciler(store: laptop, client: client)
    _ = try await reconciler.run(remote: "hub")  // settle
    var noop = SmallSync()
    var times: [Double] = []
    for _ in 0..<runs {
        proxy.reset()
        let start = ContinuousClock.now
        let report = try await reconciler.run(remote: "hub")
        times.append(seconds(start) * 1000)
        let counts = proxy.counts
        noop = SmallSync(requests: report.requests, bytes: counts.sent + counts.received, ms: 0)
    }
    noop.ms = median(times)
    let url = "https://news.bench.margin.invalid/one-more"
    _ = try laptop.importArticles([ImportedArticle(url: url, title: "One more", body: "One small story about the weather.")])
    _ = try await reconciler.run(remote: "hub")
    let article = ArticleIdentity.id(url: ArticleIdentity.canonicalURL(url), title: "", body: "")
    var one = SmallSync()
    times = []
    for n in 0..<runs {
        _ = try laptop.highlight(articleRef: article, anchor: .position(start: 4 + n % 5, end: 9 + n % 5), note: "n\(n)")
        proxy.reset()
        let start = ContinuousClock.now
        let report = try await reconciler.run(remote: "hub")
        times.append(seconds(start) * 1000)
        let counts = proxy.counts
        one = SmallSync(requests: report.requests, bytes: counts.sent + counts.received, ms: 0)
    }
    one.ms = median(times)
    return (noop, one)
}

/// All of a store's runs, as a peer would pull them.
func allChanges(_ store: Store) throws -> [SignedRun] {
    var out: [SignedRun] = []
    var vector = VersionVector()
    while true {
        let page = try store.runs(after: vector, limit: SyncProtocol.maxBatch)
        for run in page.runs { vector[run.origin] = max(vector[run.origin], run.last) }
        out += page.runs
        if !page.more { break }
    }
    return out
}

/// Runs in batches of about `changes` changes.
func batches(_ runs: ArraySlice<SignedRun>, changes: Int) -> [[SignedRun]] {
    var out: [[SignedRun]] = []
    var current: [SignedRun] = []
    var count = 0
    for run in runs {
        if !current.isEmpty, count + run.count > changes {
            out.append(current)
            current = []
            count = 0
        }
        current.append(run)
        count += run.count
    }
    if !current.isEmpty { out.append(current) }
    return out
}

func applyInProcess(_ store: Store, _ runs: ArraySlice<SignedRun>, batch: Int) throws -> Double {
    let start = ContinuousClock.now
    for group in batches(runs, changes: batch) {
        _ = try store.apply(group)
    }
    return seconds(start)
}

