import Foundation
import MarginStore

/// Writes and reads the sync bodies that carry runs: `POST /v1/changes` and its `GET` answer.
///
/// A run travels as `{"origin":ID,"first":SEQ,"last":SEQ,"key":B64,"sig":B64,"run":BODY}`, where
/// BODY is the run's canonical JSON exactly as its author signed it: the encoder copies the stored
/// bytes, and the decoder hands the same bytes on (never a re-encoding), so every receiver checks
/// the signature over what the author wrote. `key` and `sig` are absent for an unsigned run
/// (protocol-1 history). The one JSON reader (`JSONReader`) reads these bodies and run bodies alike.
public enum WireCodec {
    /// Why a body is not what the protocol says: a sentence for a 400.
    public struct Malformed: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// A run of the right shape that breaks a rule of the protocol no schema can state (first and
    /// last out of order or too far apart, a key without its signature): a sentence for a 422.
    public struct InvalidRun: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    // MARK: Encoding

    public static func encode(_ push: PushRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(push.runs.reduce(256) { $0 + $1.body.count + 256 })
        out.append(contentsOf: #"{"protocol":"#.utf8)
        JSONValue.writeInt(Int64(push.protocol), into: &out)
        out.append(contentsOf: #","runs":"#.utf8)
        runs(push.runs, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func encode(_ page: ChangesResponse) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(page.runs.reduce(256) { $0 + $1.body.count + 256 })
        out.append(contentsOf: #"{"protocol":"#.utf8)
        JSONValue.writeInt(Int64(page.protocol), into: &out)
        out.append(contentsOf: #","more":"#.utf8)
        out.append(contentsOf: (page.more ? "true" : "false").utf8)
        out.append(contentsOf: #","vector":"#.utf8)
        vector(page.vector, into: &out)
        out.append(contentsOf: #","runs":"#.utf8)
        runs(page.runs, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func runs(_ runs: [SignedRun], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, run) in runs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"origin":"#.utf8)
            JSONValue.writeString(run.origin, into: &out)
            out.append(contentsOf: #","first":"#.utf8)
            JSONValue.writeInt(run.first, into: &out)
            out.append(contentsOf: #","last":"#.utf8)
            JSONValue.writeInt(run.last, into: &out)
            if let key = run.key, let signature = run.signature {
                out.append(contentsOf: #","key":""#.utf8)
                out.append(contentsOf: Data(key).base64EncodedString().utf8)
                out.append(contentsOf: #"","sig":""#.utf8)
                out.append(contentsOf: Data(signature).base64EncodedString().utf8)
                out.append(UInt8(ascii: "\""))
            }
            out.append(contentsOf: #","run":"#.utf8)
            out.append(contentsOf: run.body)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    static func vector(_ vector: VersionVector, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, origin) in vector.seqs.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(origin, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONValue.writeInt(vector.seqs[origin]!, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    // MARK: Decoding

    /// Reads a `POST /v1/changes` body.
    /// - Throws: `Malformed` naming what is wrong.
    public static func decodePush(_ bytes: UnsafeRawBufferPointer) throws -> PushRequest {
        var reader = JSONReader(bytes)
        var version: Int64?
        var runs: [SignedRun]?
        do {
            try reader.beginObject()
            var first = true
            while let key = try reader.nextKey(first: first) {
                first = false
                switch key {
                case "protocol": version = try reader.readIntegral()
                case "runs": runs = try readRuns(&reader)
                default: _ = try reader.skipValue()
                }
            }
            try reader.expectEnd()
        } catch let error as JSONReader.Error {
            throw Malformed(reason: "the body is not a valid push: \(error)")
        }
        guard let version else { throw Malformed(reason: "the body is not a valid push: protocol is missing") }
        var push = PushRequest(runs: runs ?? [])
        push.protocol = Int(clamping: version)
        guard runs != nil || push.protocol != SyncProtocol.version else {
            throw Malformed(reason: "the body is not a valid push: runs is missing")
        }
        return push
    }

    /// Reads a `GET /v1/changes` answer.
    /// - Throws: `Malformed` naming what is wrong.
    public static func decodeChangesResponse(_ bytes: UnsafeRawBufferPointer) throws -> ChangesResponse {
        var reader = JSONReader(bytes)
        var version: Int64?
        var runs: [SignedRun]?
        var more: Bool?
        var vector: VersionVector?
        do {
            try reader.beginObject()
            var first = true
            while let key = try reader.nextKey(first: first) {
                first = false
                switch key {
                case "protocol": version = try reader.readIntegral()
                case "runs": runs = try readRuns(&reader)
                case "more": more = try reader.readBool()
                case "vector": vector = try readVector(&reader)
                default: _ = try reader.skipValue()
                }
            }
            try reader.expectEnd()
        } catch let error as JSONReader.Error {
            throw Malformed(reason: "the page is not valid: \(error)")
        }
        guard let version, let runs, let more, let vector else {
            throw Malformed(reason: "the page is not valid: protocol, runs, more and vector are required")
        }
        var page = ChangesResponse(runs: runs, more: more, vector: vector)
        page.protocol = Int(clamping: version)
        return page
    }

    private static func readRuns(_ reader: inout JSONReader) throws -> [SignedRun] {
        var runs: [SignedRun] = []
        try reader.beginArray()
        var first = true
        while try reader.nextElement(first: first) {
            first = false
            guard runs.count < ChangeLimits.maxBatch else { throw reader.fail("more than \(ChangeLimits.maxBatch) runs") }
            runs.append(try readRun(&reader))
        }
        return runs
    }

    private static func readRun(_ reader: inout JSONReader) throws -> SignedRun {
        var origin: String?
        var firstSeq: Int64?
        var last: Int64?
        var key: [UInt8]?
        var signature: [UInt8]?
        var body: Range<Int>?
        try reader.beginObject()
        var first = true
        while let name = try reader.nextKey(first: first) {
            first = false
            switch name {
            case "origin": origin = try reader.readString()
            case "first": firstSeq = try reader.readIntegral()
            case "last": last = try reader.readIntegral()
            case "key":
                guard let bytes = Data(base64Encoded: try reader.readString()), bytes.count == 32 else {
                    throw reader.fail("a run's key is the base64 of a 32-byte Ed25519 public key")
                }
                key = Array(bytes)
            case "sig":
                guard let bytes = Data(base64Encoded: try reader.readString()), bytes.count == 64 else {
                    throw reader.fail("a run's sig is the base64 of a 64-byte Ed25519 signature")
                }
                signature = Array(bytes)
            case "run":
                guard reader.peek() == UInt8(ascii: "{") else { throw reader.fail("a run's run is its body, an object") }
                body = try reader.skipValue(depth: 2)
            default: _ = try reader.skipValue()
            }
        }
        guard let origin, let firstSeq, let last, let body else {
            throw reader.fail("a run is {origin, first, last, key, sig, run}")
        }
        guard firstSeq >= 1, last >= 1 else { throw reader.fail("a run's first and last are 1 or more") }
        guard (key == nil) == (signature == nil) else {
            throw InvalidRun(reason: "a run of \(origin) has both key and sig, or neither")
        }
        guard last >= firstSeq, last - firstSeq < Int64(ChangeLimits.maxRunChanges) else {
            throw InvalidRun(reason: "a run of \(origin) must have first <= last, at most \(ChangeLimits.maxRunChanges) changes")
        }
        let bytes = Array(UnsafeRawBufferPointer(rebasing: reader.bytes[body]))
        return SignedRun(
            origin: origin, first: firstSeq, last: last, body: bytes, hash: [], key: key, signature: signature)
    }

    private static func readVector(_ reader: inout JSONReader) throws -> VersionVector {
        var vector = VersionVector()
        try reader.beginObject()
        var first = true
        while let origin = try reader.nextKey(first: first) {
            first = false
            let seq = try reader.readIntegral()
            guard seq >= 0 else { throw reader.fail("a vector's seqs are 0 or more") }
            vector[origin] = seq
        }
        return vector
    }
}
