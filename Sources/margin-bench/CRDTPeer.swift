import Foundation
import MarginStore


struct CRDTResult: Codable {
    var writeSeconds: Double
    var syncSeconds: Double
    var syncBytes: Int
    var noopBytes: Int
    var noopMs: Double
    var oneBytes: Int
    var oneMs: Double
    var peakMemoryMB: Double
    var pycrdtVersion: String

    enum CodingKeys: String, CodingKey {
        case writeSeconds = "write_seconds", syncSeconds = "sync_seconds", syncBytes = "sync_bytes",
             noopBytes = "noop_bytes", noopMs = "noop_ms", oneBytes = "one_bytes", oneMs = "one_ms",
             peakMemoryMB = "peak_memory_mb", pycrdtVersion = "pycrdt_version"
    }
}

func runCRDT(script: String, workload: Workload, ids: [String], dir: URL) throws -> CRDTResult? {
    var articles: [[String: Any]] = []
    for a in workload.articles {
        articles.append(["id": a.id, "url": a.url, "title": a.title, "source": a.source, "published_at": a.publishedAt,
                         "language": "en", "body": a.body, "content_hash": ArticleIdentity.sha256Hex(a.body)])
    }
    var annotations: [[String: Any]] = []
    for (n, a) in workload.annotations.enumerated() {
        let target = try TextAnchor.target(in: workload.articles[a.article].body, start: a.start, end: a.end)
        annotations.append(["id": ids[n], "article_id": workload.articles[a.article].id, "motivation": "commenting",
                            "exact": target.exact, "prefix": target.prefix, "suffix": target.suffix, "start": a.start,
                            "end": a.end, "note": a.note, "tags": a.tags, "author": "bench"])
    }
    let edits: [[String: Any]] = workload.edits.map { e in
        e.note.map { ["annotation": ids[e.annotation], "note": $0] } ?? ["annotation": ids[e.annotation], "tag": e.tag]
    }
    let input = dir.appendingPathComponent("crdt-workload.json")
    try JSONSerialization.data(withJSONObject: ["articles": articles, "annotations": annotations, "edits": edits,
                                                "article_batch": articleBatch, "annotation_batch": annotationBatch])
        .write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, input.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        note("the pycrdt peer did not run (exit \(process.terminationStatus)); its row is left out")
        return nil
    }
    return try JSONDecoder().decode(CRDTResult.self, from: data)
}

