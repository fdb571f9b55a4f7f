import Foundation
import GRDB
import Hummingbird
import Logging
import MarginStore
import MarginSync


func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

func grouped(_ n: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: n.rounded())) ?? String(Int(n))
}

func benchmark(_ options: BenchOptions) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("margin-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    var figures: [String: Double] = [:]
    var rows: [(String, String, String, String, String)] = []  // measure, Margin, baseline, ratio, target
    var targets: [String: Bool] = [:]

    let loadAtStart = loadAverage()
    let workload = Workload(options: options)
    figures["articles"] = Double(workload.articles.count)
    figures["annotations"] = Double(workload.annotations.count)
    figures["edits"] = Double(workload.edits.count)
    note("workload: \(workload.articles.count) articles (\(workload.corpusUsed ? "recombined wikinews" : "generated text")), "
         + "\(workload.annotations.count) annotations, \(workload.edits.count) edits")

    // 1. Local writes.
    let source = try Store.create(at: path("source.sqlite"), name: "source")
    var changes: [SignedRun] = []
    var ids: [String] = []
    if options.applyOnly {
        (_, ids) = try marginWrites(source, workload)
    } else {
        note("1/5 local writes: plain SQLite, then Margin")
        let plain = try plainWrites(path: path("plain.sqlite"), workload)
        let margin: WriteTimes
        (margin, ids) = try marginWrites(source, workload)
        for (name, m, p) in [("import articles", margin.importSeconds, plain.importSeconds),
                             ("annotate", margin.annotateSeconds, plain.annotateSeconds),
                             ("edits (1 transaction each)", margin.editSeconds, plain.editSeconds)] {
            rows.append(("local write: \(name), s", format(m), format(p), format(m / p) + "×", ""))
        }
        let ratio = margin.total / plain.total
        targets["local_write_ratio"] = ratio <= 1.5
        rows.append(("**local write: total, s**", format(margin.total), format(plain.total), format(ratio) + "×", "≤ 1.5×"))
        figures["write_margin_import_s"] = margin.importSeconds
        figures["write_margin_annotate_s"] = margin.annotateSeconds
        figures["write_margin_edits_s"] = margin.editSeconds
        figures["write_margin_total_s"] = margin.total
        figures["write_plain_import_s"] = plain.importSeconds
        figures["write_plain_annotate_s"] = plain.annotateSeconds
        figures["write_plain_edits_s"] = plain.editSeconds
        figures["write_plain_total_s"] = plain.total
        figures["write_ratio"] = ratio
    }
    changes = try allChanges(source)
    let changeTotal = changes.reduce(0) { $0 + $1.count }
    let fieldWrites = try changes.reduce(0) { $0 + (try $1.decoded().changes.reduce(0) { $0 + $1.writes.count }) }
    let runBytes = changes.reduce(0) { $0 + $1.body.count }
    figures["changes"] = Double(changeTotal)
    figures["field_writes"] = Double(fieldWrites)
    figures["runs"] = Double(changes.count)
    figures["run_bytes"] = Double(runBytes)

    // 1b. What checking authorship costs: every run's SHA-256 and Ed25519 signature, on one core.
    let verifyStart = ContinuousClock.now
    for run in changes {
        let hash = Hashing.sha256(run.body)
        guard let key = run.key, let signature = run.signature,
              ReplicaIdentity.verify(signature: signature, runHash: hash, publicKey: key)
        else { fail("a run of the bench's own store does not verify") }
    }
    let verifySeconds = seconds(verifyStart)
    figures["verify_seconds"] = verifySeconds
    figures["verify_runs_per_s"] = Double(changes.count) / verifySeconds
    figures["verify_mb_per_s"] = Double(runBytes) / 1e6 / verifySeconds

    // 2. Apply rate, in-process.
    note("2/5 applying \(changeTotal) changes in-process")
    let hubPath = path("hub.sqlite")
    let hub = try Store.create(at: hubPath, name: "hub")
    let cpuBefore = cpuSeconds()
    let applySeconds = try applyInProcess(hub, changes[...], batch: options.applyBatch)
    // Closed as a command leaves it (its log folded in), before a server process opens it.
    try hub.close()
    let applyCPU = cpuSeconds() - cpuBefore
    let applyRate = Double(fieldWrites) / applySeconds
    figures["apply_field_writes_per_s"] = applyRate
    figures["apply_cpu_seconds"] = applyCPU
    figures["apply_changes_per_cpu_s"] = Double(changeTotal) / applyCPU
    figures["apply_changes"] = Double(changeTotal)
    figures["apply_seconds"] = applySeconds
    figures["apply_changes_per_s"] = applyRate
    targets["apply_rate"] = applyRate >= 100_000
    if options.applyOnly {
        print("applied \(grouped(Double(fieldWrites))) field writes (\(changeTotal) changes) in \(format(applySeconds)) s: "
              + "\(grouped(applyRate)) field writes/s (\(format(applyCPU)) CPU s: "
              + "\(grouped(Double(fieldWrites) / applyCPU)) per CPU second)")
        return
    }
    rows.append(("**apply in-process (\(grouped(Double(fieldWrites))) field writes in \(grouped(Double(changeTotal))) changes, "
                 + "\(grouped(Double(changes.count))) runs), field writes/s**", grouped(applyRate), "", "", "≥ 100,000"))
    rows.append(("… per CPU second (\(format(applyCPU)) CPU s)", grouped(Double(fieldWrites) / applyCPU), "", "", ""))
    rows.append(("… of which checking signatures and hashes (\(grouped(Double(changes.count))) runs, "
                 + "\(format(Double(runBytes) / 1e6, 1)) MB), s", format(verifySeconds, 3), "", "", ""))
    rows.append(("verification: runs/s, MB/s hashed and checked (one core)",
                 "\(grouped(Double(changes.count) / verifySeconds)), \(grouped(Double(runBytes) / 1e6 / verifySeconds))", "", "", ""))

    // 2b. Apply over HTTP: the same batches pushed to a live server in this process.
    note("2/5 pushing \(changeTotal) changes over HTTP")
    let relay = try Store.create(at: path("relay.sqlite"), name: "relay")
    let ready = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "margin-bench.serve")
    quiet.logLevel = .critical  // cancelling the server at the end is not an error
    let app = SyncServer.buildApplication(store: relay, host: "127.0.0.1", port: 0, logger: quiet) { port in
        ready.continuation.yield(port)
    }
    let server = Task { try await app.runService() }
    var port = 0
    for await p in ready.stream { port = p; break }
    let pusher = SyncClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!, timeout: 300)
    let start = ContinuousClock.now
    for group in batches(changes[...], changes: options.applyBatch) {
        _ = try await pusher.push(group)
    }
    let httpSeconds = seconds(start)
    server.cancel()
    _ = await server.result
    figures["apply_http_seconds"] = httpSeconds
    figures["apply_http_field_writes_per_s"] = Double(fieldWrites) / httpSeconds
    figures["apply_http_bytes"] = Double(pusher.stats.bytesSent + pusher.stats.bytesReceived)
    rows.append(("apply over HTTP (POST /v1/changes, gzip, loopback), field writes/s",
                 grouped(Double(fieldWrites) / httpSeconds), "", "", ""))

    // 3. First sync of an empty laptop, hub and laptop in their own processes; a hub a tenth the
    // size shows whether the laptop's memory follows the store's size or the page size.
    note("3/5 first sync from a hub holding everything (separate processes)")
    let small = try Store.create(at: path("hub-small.sqlite"), name: "hub-small")
    let smallCount = max(1, changes.count / 10)
    _ = try applyInProcess(small, changes[..<smallCount], batch: options.applyBatch)
    try small.close()
    let hubServer = try ServerChild(store: hubPath)
    // Through a proxy that counts every byte on the socket, headers included.
    let hubProxy = try CountingProxy(upstream: hubServer.url.port!)
    let full = try firstSync(store: path("laptop.sqlite"), url: hubProxy.url, pageSize: options.pageSize)
    let wire = hubProxy.counts
    let wireBytes = wire.sent + wire.received
    let hubPeak = hubServer.peakMB
    let smallServer = try ServerChild(store: path("hub-small.sqlite"))
    let smallProxy = try CountingProxy(upstream: smallServer.url.port!)
    let tenth = try firstSync(store: path("laptop-small.sqlite"), url: smallProxy.url, pageSize: options.pageSize)
    let smallHubPeak = smallServer.peakMB
    let plainTotal = figures["write_plain_total_s"]!
    let firstRatio = full.seconds / plainTotal
    targets["first_sync_within_2x_plain"] = firstRatio <= 2
    // Bounded: the laptop's peak at full size stays within 1.5× its peak at a tenth of the size.
    targets["client_memory_bounded"] = full.peakMemoryMB <= tenth.peakMemoryMB * 1.5
    figures["first_sync_seconds"] = full.seconds
    figures["first_sync_changes"] = Double(full.received)
    figures["first_sync_changes_per_s"] = Double(full.received) / full.seconds
    figures["first_sync_requests"] = Double(full.requests)
    figures["first_sync_bytes"] = Double(wireBytes)
    figures["first_sync_body_bytes"] = Double(full.bytesSent + full.bytesReceived)
    figures["bytes_per_field_write"] = Double(wireBytes) / Double(fieldWrites)
    figures["first_sync_client_peak_mb"] = full.peakMemoryMB
    figures["first_sync_server_peak_mb"] = hubPeak
    figures["first_sync_ratio_to_plain_insert"] = firstRatio
    figures["first_sync_tenth_changes"] = Double(tenth.received)
    figures["first_sync_tenth_seconds"] = tenth.seconds
    figures["first_sync_tenth_client_peak_mb"] = tenth.peakMemoryMB
    figures["first_sync_tenth_server_peak_mb"] = smallHubPeak
    rows.append(("**first sync, s** (vs plain SQLite inserting the same rows)", format(full.seconds), format(plainTotal),
                 format(firstRatio) + "×", "≤ 2×"))
    rows.append(("first sync: changes/s, requests (page \(options.pageSize))",
                 "\(grouped(Double(full.received) / full.seconds)), \(full.requests)", "", "", ""))
    rows.append(("first sync: bytes on the wire (headers included), bytes per field write",
                 "\(grouped(Double(wireBytes))), \(format(Double(wireBytes) / Double(fieldWrites), 1))", "", "", ""))
    rows.append(("**first sync: peak memory, client / server, MB**",
                 "\(format(full.peakMemoryMB, 0)) / \(format(hubPeak, 0))", "", "", "client bounded"))
    rows.append(("… at a tenth of the size (\(grouped(Double(tenth.received))) changes), client / server, MB",
                 "\(format(tenth.peakMemoryMB, 0)) / \(format(smallHubPeak, 0))", "", "", ""))

    // 4. No-op and one-annotation syncs, at both sizes.
    note("4/5 no-op and one-annotation syncs")
    let runs = options.smoke ? 5 : 21
    let laptop = try Store.open(at: path("laptop.sqlite"))
    let (noop, one) = try await smallSyncs(laptop: laptop, proxy: hubProxy, runs: runs)
    let laptopSmall = try Store.open(at: path("laptop-small.sqlite"))
    let (noopSmall, oneSmall) = try await smallSyncs(laptop: laptopSmall, proxy: smallProxy, runs: runs)
    hubServer.stop()
    smallServer.stop()
    for (key, s) in [("noop", noop), ("one_annotation", one), ("noop_tenth", noopSmall), ("one_annotation_tenth", oneSmall)] {
        figures["\(key)_requests"] = Double(s.requests)
        figures["\(key)_bytes"] = Double(s.bytes)
        figures["\(key)_ms_median"] = s.ms
    }
    targets["noop_one_round_trip_under_1kb"] = noop.requests == 1 && noop.bytes < 1024
    // Independent of size: the full store's median within 2 ms or 1.5× of the tenth's.
    targets["noop_time_independent_of_size"] = noop.ms <= max(noopSmall.ms * 1.5, noopSmall.ms + 2)
    rows.append(("**no-op sync: requests, bytes both ways with headers, ms (median of \(runs))**",
                 "\(noop.requests), \(noop.bytes), \(format(noop.ms))", "", "", "1 round trip, < 1 KB"))
    rows.append(("… at a tenth of the size", "\(noopSmall.requests), \(noopSmall.bytes), \(format(noopSmall.ms))", "", "",
                 "same time"))
    rows.append(("one-annotation sync: requests, bytes, ms (median of \(runs))",
                 "\(one.requests), \(one.bytes), \(format(one.ms))", "", "", ""))
    rows.append(("… at a tenth of the size", "\(oneSmall.requests), \(oneSmall.bytes), \(format(oneSmall.ms))", "", "", ""))

    let equal = try Store.open(at: hubPath).exportJSON() == laptop.exportJSON()
    figures["stores_equal"] = equal ? 1 : 0

    // 5. The CRDT peer.
    if let script = options.crdtScript {
        note("5/5 the same records between two pycrdt documents")
        if let crdt = try runCRDT(script: script, workload: workload, ids: ids, dir: dir) {
            let marginWrite = figures["write_margin_total_s"]!
            figures["crdt_write_seconds"] = crdt.writeSeconds
            figures["crdt_sync_seconds"] = crdt.syncSeconds
            figures["crdt_sync_bytes"] = Double(crdt.syncBytes)
            figures["crdt_noop_bytes"] = Double(crdt.noopBytes)
            figures["crdt_noop_ms"] = crdt.noopMs
            figures["crdt_one_annotation_bytes"] = Double(crdt.oneBytes)
            figures["crdt_one_annotation_ms"] = crdt.oneMs
            figures["crdt_peak_mb"] = crdt.peakMemoryMB
            rows.append(("pycrdt \(crdt.pycrdtVersion): local write (in memory), s", format(marginWrite),
                         format(crdt.writeSeconds), format(marginWrite / crdt.writeSeconds) + "×", ""))
            rows.append(("pycrdt: first sync (one update, in memory, no disk), s", format(full.seconds),
                         format(crdt.syncSeconds), format(full.seconds / crdt.syncSeconds) + "×", ""))
            targets["first_sync_bytes_below_pycrdt"] = wireBytes < crdt.syncBytes
            rows.append(("**pycrdt: first sync bytes** (Margin: on the wire, headers included)", grouped(Double(wireBytes)),
                         grouped(Double(crdt.syncBytes)),
                         format(Double(wireBytes) / Double(max(crdt.syncBytes, 1))) + "×", "below pycrdt"))
            rows.append(("pycrdt: no-op sync bytes, ms", "\(noop.bytes), \(format(noop.ms))",
                         "\(crdt.noopBytes), \(format(crdt.noopMs, 3))", "", ""))
            rows.append(("pycrdt: one-annotation sync bytes, ms", "\(one.bytes), \(format(one.ms))",
                         "\(crdt.oneBytes), \(format(crdt.oneMs, 3))", "", ""))
        }
    } else {
        note("5/5 skipped: no --crdt-script")
    }

    print("workload: \(workload.articles.count) articles, \(workload.annotations.count) annotations, "
          + "\(workload.edits.count) edits = \(grouped(Double(fieldWrites))) field writes in \(grouped(Double(changeTotal))) changes; "
          + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAtStart) at the start, \(loadAverage()) at the end")
    print("")
    print("| measure | Margin | baseline | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows { print("| \(row.0) | \(row.1) | \(row.2) | \(row.3) | \(row.4) |") }
    print("")
    if options.smoke {
        print("smoke run: targets are judged at the default size only")
    } else {
        for key in targets.keys.sorted() { print("target \(key): \(targets[key]! ? "met" : "NOT met")") }
    }
    print("stores equal after sync: \(equal)")
    if let json = options.json {
        let object: [String: Any] = ["figures": figures, "targets": targets, "smoke": options.smoke,
                                     "corpus": workload.corpusUsed ? "wikinews (recombined)" : "generated"]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: URL(fileURLWithPath: json))
        print("figures written to \(json)")
    }
    if !equal { exit(1) }
}

