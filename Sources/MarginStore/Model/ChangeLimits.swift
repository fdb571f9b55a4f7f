import Foundation

/// The limits every change and run must keep: protocol constants (protocol 2), checked with the
/// same numbers when a change is written locally and when a run is received, so a replica can
/// never hold a change that a peer will refuse forever.
public enum ChangeLimits {
    /// Replica ids, entity ids: 1 to 128 bytes.
    public static let maxIDLength = 128
    /// Field names: 1 to 200 bytes.
    public static let maxFieldLength = 200
    /// One value, as canonical JSON: at most 4 MiB (an article body is the largest).
    public static let maxValueBytes = 4 * 1024 * 1024
    /// Levels of nesting of one value (a scalar is 1). JSON readers stop at 64 levels in all, so a
    /// value travels inside a run inside a page with room to spare.
    public static let maxValueNesting = 32
    /// Fields one change writes.
    public static let maxFields = 256
    /// Dots one field write supersedes.
    public static let maxSupersedes = 1_000
    /// Other origins one run names (in supersedes and delete contexts).
    public static let maxRefs = 4_096
    /// Changes in one run.
    public static let maxRunChanges = 5_000
    /// Bytes of one run's body. A transaction that writes more is signed as several runs (still
    /// one transaction), so a run always fits a page and a page always fits a request.
    public static let maxRunBytes = 6 * 1024 * 1024
    /// The most bytes of runs one page carries (a pull's answer or a push); a page holds at least
    /// one run, and a run is at most `maxRunBytes`, so a page stays under `maxBodyBytes`.
    public static let maxPageBytes = 8 * 1024 * 1024
    /// The largest request or response body, decompressed.
    public static let maxBodyBytes = 16 * 1024 * 1024
    /// The most changes one request may carry or ask for.
    public static let maxBatch = 5_000
    /// Seconds a change's clock may run ahead of the receiver's before it is refused, by default.
    /// A replica may accept more (`MARGIN_MAX_CLOCK_SKEW`), never less when it serves others: a hub
    /// stricter than this would refuse changes every laptop accepts.
    public static let maxClockSkew: Double = 300

    /// Bytes allowed in replica ids (origins travel in query strings as `origin:seq,…`).
    static let isOriginByte: [Bool] = (0..<256).map { byte in
        let b = UInt8(byte)
        return (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b)
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// True for a well-formed replica id: 1 to 128 characters from A-Z, a-z, 0-9, '.', '_', '-'.
    public static func isValidOrigin(_ origin: String) -> Bool {
        !origin.isEmpty && origin.utf8.count <= maxIDLength && origin.utf8.allSatisfy { isOriginByte[Int($0)] }
    }
}
