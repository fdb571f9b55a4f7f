// margin-bench: measures Margin's sync path on a synthetic workload. Run it through Scripts/bench
// (release build). Prints a table and, with --json FILE, writes the figures.
//
// usage: margin-bench [--annotations N] [--page-size N] [--json FILE]
import Foundation
import Hummingbird
import MarginStore
import MarginSync

struct Options {
    var annotations = 10_000
    var pageSize = SyncProtocol.defaultPageSize
    var json: String?
    /// Only the in-process apply (for profiling).
    var applyOnly = false

    init(_ arguments: [String]) {
        var i = 0
        while i < arguments.count {
            let next = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--annotations": annotations = Int(next) ?? annotations; i += 1
            case "--page-size": pageSize = Int(next) ?? pageSize; i += 1
            case "--json": json = next; i += 1
            case "--apply-only": applyOnly = true
            default:
                FileHandle.standardError.write(Data("margin-bench: unknown argument \(arguments[i])\n".utf8))
                exit(64)
            }
            i += 1
        }
    }
}

/// Changes that a replica `origin` would make: articles, then annotations with notes and tags.
func workload(origin: String, annotations: Int) -> [Change] {
    var changes: [Change] = []
    var seq: Int64 = 0
    var hlc = HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000)
    func add(_ entity: EntityKind, _ id: String, _ field: String, _ value: JSONValue) {
        seq += 1
        hlc = HLC(rawValue: hlc.rawValue + 1)
        changes.append(Change(origin: origin, seq: seq, hlc: hlc, entity: entity, entityID: id, field: field, value: value))
    }
    add(.replica, origin, "name", .string("bench-origin"))
    let articles = max(1, annotations / 5)
    let body = (0..<8).map { "Paragraph \($0) of a long news story about budgets, ministers and weather." }
        .joined(separator: "\n\n")
    var articleIDs: [String] = []
    for n in 0..<articles {
        let id = ArticleIdentity.id(url: "https://bench.example/story/\(n)", title: "", body: "")
        articleIDs.append(id)
        add(.article, id, "url", .string("https://bench.example/story/\(n)"))
        add(.article, id, "title", .string("Story \(n)"))
        add(.article, id, "source", .string("Bench"))
        add(.article, id, "body", .string("Story \(n). " + body))
    }
    for n in 0..<annotations {
        let id = String(format: "00000000-0000-7000-8000-%012x", n)
        add(.annotation, id, "article", .string(articleIDs[n % articles]))
        add(.annotation, id, "motivation", .string("commenting"))
        add(.annotation, id, "target", .object([
            "exact": .string("budgets"), "prefix": .string("story about "), "suffix": .string(", ministers"),
            "start": .int(40), "end": .int(47),
        ]))
        add(.annotation, id, "author", .string("bench-origin"))
        add(.annotation, id, "note", .string("Note \(n): check the figures against last year's."))
        add(.annotation, id, "tag/t\(n % 20)", .bool(true))
    }
    return changes
}

func seconds(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func peakMemoryMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-bench-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: dir) }
let hub = try Store.create(at: dir.appendingPathComponent("hub.sqlite").path, name: "hub")
let laptop = try Store.create(at: dir.appendingPathComponent("laptop.sqlite").path, name: "laptop")

let changes = workload(origin: "bench-origin-0000-0000-000000000000", annotations: options.annotations)
var results: [String: Double] = ["annotations": Double(options.annotations), "changes": Double(changes.count)]

// 1. In-process apply into the hub, in batches of 5,000 (one transaction each).
var start = ContinuousClock.now
for batch in stride(from: 0, to: changes.count, by: 5_000) {
    _ = try hub.apply(Array(changes[batch..<min(changes.count, batch + 5_000)]))
}
results["apply_seconds"] = seconds(start)
results["apply_changes_per_second"] = Double(changes.count) / results["apply_seconds"]!
if options.applyOnly {
    print("applied \(changes.count) changes: \(Int(results["apply_changes_per_second"]!)) changes/s")
    exit(0)
}

// 2. First sync of an empty laptop from the hub over loopback.
let ready = AsyncStream<Int>.makeStream()
let app = SyncServer.buildApplication(store: hub, host: "127.0.0.1", port: 0) { port in ready.continuation.yield(port) }
let server = Task { try await app.runService() }
var port = 0
for await p in ready.stream { port = p; break }
let client = SyncClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
let reconciler = Reconciler(store: laptop, client: client, pageSize: options.pageSize)
start = ContinuousClock.now
let first = try await reconciler.run(remote: "hub")
results["first_sync_seconds"] = seconds(start)
results["first_sync_changes"] = Double(first.received)
results["first_sync_changes_per_second"] = Double(first.received) / results["first_sync_seconds"]!
results["first_sync_requests"] = Double(first.requests)
results["first_sync_bytes"] = Double(first.bytesSent + first.bytesReceived)
results["process_peak_memory_mb"] = peakMemoryMB()

// 3. No-op syncs: median of 21.
var times: [Double] = []
var noop = SyncReport(remote: "hub")
for _ in 0..<21 {
    start = ContinuousClock.now
    noop = try await reconciler.run(remote: "hub")
    times.append(seconds(start))
}
results["noop_sync_ms_median"] = times.sorted()[times.count / 2] * 1000
results["noop_sync_requests"] = Double(noop.requests)
results["noop_sync_bytes"] = Double(noop.bytesSent + noop.bytesReceived)

// 4. One new annotation, pushed.
_ = try laptop.importArticles([ImportedArticle(url: "https://bench.example/one", title: "One", body: "One small story.")])
_ = try laptop.highlight(articleRef: ArticleIdentity.id(url: "https://bench.example/one", title: "", body: ""),
                         anchor: .quote(exact: "small", prefix: nil, suffix: nil))
start = ContinuousClock.now
let one = try await reconciler.run(remote: "hub")
results["one_annotation_sync_ms"] = seconds(start) * 1000
results["one_annotation_sync_requests"] = Double(one.requests)
results["one_annotation_sync_bytes"] = Double(one.bytesSent + one.bytesReceived)
server.cancel()
_ = await server.result

let equal = try hub.exportJSON() == laptop.exportJSON()
print("figure".padding(toLength: 34, withPad: " ", startingAt: 0) + "value")
for key in results.keys.sorted() {
    print(key.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%.1f", results[key]!))
}
print("stores equal after sync: \(equal)")
if let path = options.json {
    let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted])
    try data.write(to: URL(fileURLWithPath: path))
}
exit(equal ? 0 : 1)
