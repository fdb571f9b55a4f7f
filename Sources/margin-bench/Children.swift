import Foundation
import GRDB
import Hummingbird
import Logging
import MarginStore
import MarginSync


func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct Child {
    let process: Process
    let output: Pipe

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath())
        process.arguments = arguments
        output = Pipe()
        process.standardOutput = output
        try process.run()
    }

    /// The first line the child prints.
    func readLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let data = output.fileHandleForReading.readData(ofLength: 1)
            if data.isEmpty || data.first == UInt8(ascii: "\n") { break }
            bytes += data
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func finish() -> Data {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}

/// A `margin-bench serve` child: the hub, in its own process.
struct ServerChild {
    let child: Child
    let url: URL

    init(store: String) throws {
        child = try Child(["serve", "--store", store])
        let line = child.readLine()
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5)) else {
            fail("the serving child did not start (said \(line.debugDescription))")
        }
        url = URL(string: "http://127.0.0.1:\(port)")!
    }

    var peakMB: Double { peakMemoryMB(pid: String(child.process.processIdentifier)) }

    func stop() {
        child.process.terminate()
        _ = child.finish()
    }
}

struct PullResult: Codable {
    var seconds: Double
    var received: Int
    var requests: Int
    var bytesSent: Int
    var bytesReceived: Int
    var peakMemoryMB: Double
}

/// First sync of a new, empty replica from `url`, in a `margin-bench pull` child.
func firstSync(store: String, url: URL, pageSize: Int) throws -> PullResult {
    let child = try Child(["pull", "--store", store, "--url", url.absoluteString, "--page-size", String(pageSize)])
    let data = child.finish()
    guard child.process.terminationStatus == 0, let result = try? JSONDecoder().decode(PullResult.self, from: data) else {
        fail("the pulling child failed (exit \(child.process.terminationStatus))")
    }
    return result
}

func serveRole(store path: String) async throws {
    let store = try Store.open(at: path)
    let app = SyncServer.buildApplication(store: store, host: "127.0.0.1", port: 0) { port in
        FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
    }
    try await app.runService()
}

func pullRole(store path: String, url text: String, pageSize: Int) async throws {
    guard let url = URL(string: text) else { fail("pull needs a URL, not \(text)") }
    let store = try Store.create(at: path, name: "laptop")
    let reconciler = Reconciler(store: store, client: SyncClient(baseURL: url, timeout: 300), pageSize: pageSize)
    let start = ContinuousClock.now
    let report = try await reconciler.run(remote: "hub")
    let result = PullResult(
        seconds: seconds(start), received: report.received, requests: report.requests, bytesSent: report.bytesSent,
        bytesReceived: report.bytesReceived, peakMemoryMB: peakMemoryMB())
    // As `margin pull` does when it ends: the log folded into the store (not timed).
    try store.close()
    FileHandle.standardOutput.write(try JSONEncoder().encode(result))
}

