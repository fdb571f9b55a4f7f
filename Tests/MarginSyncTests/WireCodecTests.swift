import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MarginStore
import NIOCore
import Testing

@testable import MarginSync

/// The hand-written codec of the hot bodies (`WireEncoder`, `WireDecoder`) against Foundation's
/// JSONEncoder/JSONDecoder, which it replaced: same values both ways, same bytes where the formats
/// agree, and the same answers to bad bodies.
@Suite("Wire codec vs Foundation's coders")
struct WireCodecTests {
    // MARK: Both directions

    @Test func encoderOutputDecodesWithFoundationToTheSameChanges() throws {
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        for _ in 0..<300 {
            let push = PushRequest(changes: Generate.changes(&random))
            let decoded = try JSONDecoder().decode(PushRequest.self, from: Data(WireEncoder.encode(push)))
            #expect(try Exactly.same(decoded.changes, push.changes), "seed \(seed)")
            #expect(decoded.protocol == push.protocol && decoded.schema == push.schema)

            let page = Generate.page(&random)
            let answer = try JSONDecoder().decode(ChangesResponse.self, from: Data(WireEncoder.encode(page)))
            #expect(try Exactly.same(answer.changes, page.changes), "seed \(seed)")
            #expect(answer.more == page.more && answer.vector == page.vector && answer.protocol == page.protocol)
        }
    }

    @Test func foundationOutputDecodesOnTheFastPathToTheSameChanges() throws {
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        for _ in 0..<300 {
            let push = PushRequest(changes: Generate.changes(&random))
            let data = try WireJSON.encoder().encode(push)
            // The fast path takes it (it does not decline to JSONDecoder), and reads the same values.
            let decoded = try #require(data.withUnsafeBytes { WireDecoder.push($0) }, "seed \(seed)")
            #expect(try Exactly.same(decoded.changes, push.changes), "seed \(seed)")

            let page = Generate.page(&random)
            let pageData = try WireJSON.encoder().encode(page)
            let answer = try #require(pageData.withUnsafeBytes { WireDecoder.changesResponse($0) }, "seed \(seed)")
            #expect(try Exactly.same(answer.changes, page.changes), "seed \(seed)")
            #expect(answer.more == page.more && answer.vector == page.vector && answer.schema == page.schema)
        }
    }

    @Test func encoderWritesFoundationsBytesWhereTheFormatsAgree() throws {
        // Values are written in canonical form: it writes U+0008 and U+000C as \u0008, \u000c
        // where Foundation writes \b, \f, and sorts keys that are not NFC otherwise. Values here
        // avoid both; every other string (origins, ids, fields) takes them all.
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        for _ in 0..<300 {
            let push = PushRequest(changes: Generate.changes(&random, foundationValues: true))
            #expect(WireEncoder.encode(push) == Array(try WireJSON.encoder().encode(push)), "seed \(seed)")
            let page = Generate.page(&random, foundationValues: true)
            #expect(WireEncoder.encode(page) == Array(try WireJSON.encoder().encode(page)), "seed \(seed)")
        }
        // And the one difference, spelled out.
        let change = Change(origin: "a", seq: 1, hlc: HLC(rawValue: 1), entity: .article, entityID: "\u{8}",
                            field: "f", value: .string("\u{8}\u{C}"))
        #expect(String(decoding: WireEncoder.encode(PushRequest(changes: [change])), as: UTF8.self) == #"""
            {"changes":[{"entity":"article","entity_id":"\b","field":"f","hlc":1,"origin":"a","seq":1,\#
            "supersedes":[],"value":"\u0008\u000c"}],"protocol":1,"schema":1}
            """#)
    }

    @Test func storedChangesGoOutAsTheirParsedFormWould() throws {
        // Given a store with notes full of escapes, tags, and a delete (a change with a context),
        let store = try Store.inMemory(name: "hub")
        let article = try SyncFixtures.importStory(into: store)
        let notes = ["\"quoted\" \\ back/slash\n\ttab \u{1}\u{8}\u{C}\u{1F}", "😀 e\u{301} 日本 \u{2028}", ""]
        for (i, note) in notes.enumerated() {
            let annotation = try store.highlight(
                articleRef: article, anchor: .position(start: i * 10, end: i * 10 + 5), note: note, tags: ["t\(i)"])
            if i == 0 { try store.remove(ref: annotation.id) }
        }
        let vector = try store.versionVector()
        // When a page is encoded from the stored text and from the parsed changes,
        let stored = try store.storedChanges(after: VersionVector(), limit: 1_000)
        let parsed = try store.changes(after: VersionVector(), limit: 1_000)
        #expect(stored.changes.contains { $0.contextJSON != nil })
        let raw = WireEncoder.encodeChangesResponse(stored, vector: vector)
        let fresh = WireEncoder.encode(ChangesResponse(
            protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema, changes: parsed.changes,
            more: parsed.more, vector: vector))
        // Then the bytes are the same, and both coders read them back to the stored changes.
        #expect(raw == fresh)
        let decoded = try JSONDecoder().decode(ChangesResponse.self, from: Data(raw))
        #expect(try Exactly.same(decoded.changes, parsed.changes))
        let fast = try #require(raw.withUnsafeBytes { WireDecoder.changesResponse($0) })
        #expect(try Exactly.same(fast.changes, parsed.changes) && fast.vector == vector && !fast.more)
        #expect(try Exactly.same(
            JSONDecoder().decode(PushRequest.self, from: Data(WireEncoder.encodePush(stored.changes))).changes,
            parsed.changes))
    }

    @Test("a hand-written body is read as Foundation reads it", arguments: OddPush.all)
    func oddBodyIsReadAsFoundationReadsIt(_ odd: OddPush) throws {
        let body = Array(odd.body.utf8)
        let fast = body.withUnsafeBytes { WireDecoder.push($0) }
        #expect((fast != nil) == odd.fast, "\(odd.what): the fast path \(fast == nil ? "declined" : "took it")")
        let foundation = Result { try JSONDecoder().decode(PushRequest.self, from: Data(body)) }
        let ours = Result { try body.withUnsafeBytes { try WireJSON.decodePush($0) } }
        switch (ours, foundation) {
        case (.success(let a), .success(let b)):
            #expect(try Exactly.same(a.changes, b.changes) && a.protocol == b.protocol, "\(odd.what)")
        case (.failure(let a), .failure(let b)): #expect(Self.message(a) == Self.message(b), "\(odd.what)")
        default: Issue.record("\(odd.what): one decoder refused what the other took")
        }
    }

    // MARK: Bad bodies

    @Test func aMangledBodyIsReadAsFoundationReadsIt() throws {
        // Given valid bodies mangled at random (cut, a byte changed, inserted or dropped, a number
        // made a float, a key repeated), when the fast path takes one, Foundation takes it too and
        // reads the same; when it declines, the answer is Foundation's own.
        let seed = SeededRandom.seed()
        var random = SeededRandom(seed: seed)
        var taken = 0
        var refused = 0
        for _ in 0..<1_000 {
            let push = PushRequest(changes: Generate.changes(&random))
            var body = Array(try WireJSON.encoder().encode(push))
            Generate.mangle(&body, &random)
            let foundation = Result { try JSONDecoder().decode(PushRequest.self, from: Data(body)) }
            if let fast = body.withUnsafeBytes({ WireDecoder.push($0) }) {
                taken += 1
                let expected = try #require(try? foundation.get(), "seed \(seed): taken here, refused by Foundation: \(String(decoding: body, as: UTF8.self))")
                #expect(try Exactly.same(fast.changes, expected.changes), "seed \(seed)")
                #expect(fast.protocol == expected.protocol && fast.schema == expected.schema)
            }
            let ours = Result { try body.withUnsafeBytes { try WireJSON.decodePush($0) } }
            switch (ours, foundation) {
            case (.success(let a), .success(let b)): #expect(try Exactly.same(a.changes, b.changes), "seed \(seed)")
            case (.failure(let a), .failure(let b)):
                refused += 1
                #expect(Self.message(a) == Self.message(b), "seed \(seed)")
            default: Issue.record("seed \(seed): one decoder refused what the other took")
            }
        }
        #expect(taken > 0 && refused > 0, "seed \(seed): \(taken) taken, \(refused) refused")
    }

    @Test("a bad push is answered with Foundation's status and message", arguments: BadPush.all)
    func badPushIsAnsweredAsBefore(_ bad: BadPush) async throws {
        let store = try Store.inMemory(name: "hub")
        let app = Application(router: SyncServer.buildRouter(store: store))
        let response = try await app.test(.router) { client in
            try await client.execute(uri: "/v1/changes", method: .post, body: ByteBuffer(bytes: bad.body))
        }
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body.readableBytesView))
        #expect(response.status.code == bad.status, "\(bad)")
        #expect(error.error == bad.message, "\(bad)")
        #expect(error.code == bad.code, "\(bad)")
        #expect(try store.counts().changes == 1, "\(bad): nothing is written")
    }

    static func message(_ error: any Error) -> String {
        (error as? DecodingError).map(SyncAPI.describe) ?? "not a DecodingError: \(error)"
    }
}

/// A push body that is refused, and the answer it gets (the same as with JSONDecoder alone).
struct BadPush: Sendable, CustomTestStringConvertible {
    var what: String
    var body: [UInt8]
    var status: Int
    var code: String
    var message: String

    var testDescription: String { what }

    static let valid = #"{"protocol":1,"schema":1,"changes":[{"origin":"a","seq":1,"hlc":1,"entity":"article","entity_id":"x","field":"title","value":"v","supersedes":[]}]}"#

    static func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func change(_ replace: String, with replacement: String) -> [UInt8] {
        body(valid.replacingOccurrences(of: replace, with: replacement))
    }

    static let all: [BadPush] = [
        BadPush(what: "a truncated body", body: Array(body(valid).prefix(60)), status: 400, code: "bad_request",
                message: "the body is not a valid push: malformed JSON"),
        BadPush(what: "an empty body", body: [], status: 400, code: "bad_request",
                message: "the body is not a valid push: malformed JSON"),
        BadPush(what: "protocol as a string", body: body(#"{"protocol":"1","schema":1,"changes":[]}"#), status: 400,
                code: "bad_request", message: "the body is not a valid push: protocol should be Int"),
        BadPush(what: "changes as an object", body: body(#"{"protocol":1,"schema":1,"changes":{"origin":5}}"#),
                status: 400, code: "bad_request", message: "the body is not a valid push: changes should be Array<Any>"),
        BadPush(what: "an origin as a number", body: change(#""origin":"a""#, with: #""origin":5"#), status: 400,
                code: "bad_request", message: "the body is not a valid push: changes[0].origin should be String"),
        BadPush(what: "a missing seq", body: change(#""seq":1,"#, with: ""), status: 400, code: "bad_request",
                message: "the body is not a valid push: changes[0].seq is missing"),
        BadPush(what: "seq as a float", body: change(#""seq":1,"#, with: #""seq":1.5,"#), status: 400,
                code: "bad_request", message: "the body is not a valid push: malformed JSON"),
        BadPush(what: "seq past Int64", body: change(#""seq":1,"#, with: #""seq":9223372036854775808,"#),
                status: 400, code: "bad_request", message: "the body is not a valid push: malformed JSON"),
        BadPush(what: "a value past Int64", body: change(#""value":"v""#, with: #""value":-9223372036854775809"#),
                status: 400, code: "bad_request", message: "the body is not a valid push: changes[0].value is invalid"),
        BadPush(what: "an unknown entity", body: change(#""article""#, with: #""robot""#), status: 400,
                code: "bad_request", message: "the body is not a valid push: changes[0].entity is invalid"),
        BadPush(what: "a dot of three", body: change(#""supersedes":[]"#, with: #""supersedes":[["b",1,2]]"#),
                status: 400, code: "bad_request",
                message: "the body is not a valid push: changes[0].supersedes[0][2] is invalid"),
        BadPush(what: "a value nested 600 deep",
                body: change(#""value":"v""#, with: #""value":"# + String(repeating: "[", count: 600)
                    + String(repeating: "]", count: 600)),
                status: 400, code: "bad_request", message: "the body is not a valid push: malformed JSON"),
        BadPush(what: "invalid UTF-8 in a value", body: change(#""value":"v""#, with: #""value":"\#u{FFFF}""#)
                    .map { $0 == 0xEF ? 0xC0 : $0 },
                status: 400, code: "bad_request", message: "the body is not a valid push: changes[0].value is invalid"),
        BadPush(what: "a lone surrogate", body: change(#""value":"v""#, with: #""value":"\ud800""#), status: 400,
                code: "bad_request", message: "the body is not a valid push: changes[0].value is invalid"),
        BadPush(what: "a raw control character", body: change(#""value":"v""#, with: "\"value\":\"\u{1}\""),
                status: 400, code: "bad_request", message: "the body is not a valid push: changes[0].value is invalid"),
        BadPush(what: "protocol 2", body: change(#""protocol":1"#, with: #""protocol":2"#), status: 400,
                code: "protocol_mismatch",
                message: "this server speaks Margin protocol 1 (change schema 1) but the push says 2 (1); "
                    + "upgrade the older side"),
    ]
}

/// A push body written by hand, and whether the fast path takes it (else JSONDecoder reads it).
struct OddPush: Sendable, CustomTestStringConvertible {
    var what: String
    var body: String
    var fast: Bool

    var testDescription: String { what }

    static func change(_ members: String) -> String {
        #"{"changes":[{"origin":"a","seq":1,"hlc":1,"entity":"article","entity_id":"x","field":"f","supersedes":[],"#
            + members + #"}],"protocol":1,"schema":1}"#
    }

    static let all: [OddPush] = [
        OddPush(what: "no changes", body: #"{"changes":[],"protocol":1,"schema":1}"#, fast: true),
        OddPush(what: "whitespace everywhere, keys in another order, escapes, a null context", body: #"""
             	{ "schema" : 1 ,
             "changes" : [ { "value" : { "b" : [ true , false , null , -5 , { } , [ ] ] ,
             "a" : "\u00e9\/\ud83d\ude00\b\f\n\r\t\"\\\u0000" } , "context" : null ,
             "supersedes" : [ [ "b" , 2 ] , [ "c" , 3 ] ] , "field" : "f" , "entity_id" : "x" , "entity" : "replica" ,
             "hlc" : 9223372036854775807 , "seq" : -9223372036854775808 , "origin" : "a" } ] , "protocol" : 2 }

            """#, fast: true),
        OddPush(what: "a context", body: change(#""value":"v","context":{"a":1,"b":0}"#), fast: true),
        OddPush(what: "a value nested 64 deep",
                body: change(#""value":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64)),
                fast: true),
        OddPush(what: "a value nested 65 deep",
                body: change(#""value":"# + String(repeating: "[", count: 65) + String(repeating: "]", count: 65)),
                fast: false),
        OddPush(what: "a value 1.0", body: change(#""value":1.0"#), fast: false),
        OddPush(what: "a value 1e2", body: change(#""value":1e2"#), fast: false),
        OddPush(what: "a value -0", body: change(#""value":-0"#), fast: false),
        OddPush(what: "a value 01", body: change(#""value":01"#), fast: false),
        OddPush(what: "an unknown key", body: change(#""value":"v","extra":{"x":[1.5e3,"\ud800"]}"#), fast: false),
        OddPush(what: "an escaped key", body: change(#""v\u0061lue":"v""#), fast: false),
        OddPush(what: "a repeated key", body: change(#""value":"v","value":"w""#), fast: false),
        OddPush(what: "a repeated key in a value", body: change(#""value":{"a":1,"a":2}"#), fast: false),
        OddPush(what: "keys Swift holds equal in a value", body: change(#""value":{"\u00e9":1,"e\u0301":2}"#),
                fast: false),
        OddPush(what: "a repeated origin in a context", body: change(#""value":1,"context":{"a":1,"a":2}"#),
                fast: false),
        OddPush(what: "a byte order mark", body: "\u{FEFF}" + change(#""value":"v""#), fast: false),
        OddPush(what: "a missing value", body: change(#""context":null"#), fast: false),
        OddPush(what: "a null value", body: change(#""value":null"#), fast: true),
        OddPush(what: "trailing text", body: change(#""value":"v""#) + " x", fast: false),
    ]
}

// MARK: - Support

/// Exact equality: `==` on strings is canonical equivalence ("é" == "e\u{301}"), so changes are
/// compared by their Foundation encoding, which copies every string's UTF-8 as it is.
enum Exactly {
    static func same(_ a: [Change], _ b: [Change]) throws -> Bool {
        let encoder = WireJSON.encoder()
        return try encoder.encode(a) == encoder.encode(b)
    }
}

/// Random changes with awkward text and values.
enum Generate {
    /// Pieces of strings: escapes, controls, slashes, combining marks, emoji, noncharacters.
    static let pieces: [String] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{8}", "\u{C}", "\u{1F}",
        "\u{7F}", "é", "e\u{301}", "日本", "😀", "👩‍👩‍👧", "\u{2028}", "\u{FEFF}", "\u{FFFF}", "\u{10FFFF}", "\\u0041",
        "-", ".", "_", "{", "}", "[", "]", ":", ",",
    ]
    /// The same without what the canonical form writes otherwise than Foundation.
    static let foundationPieces = pieces.filter { !["\u{8}", "\u{C}", "e\u{301}"].contains($0) }

    static func text(_ random: inout SeededRandom, _ pieces: [String] = pieces, max: Int = 8) -> String {
        (0..<Int.random(in: 0...max, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    static func int(_ random: inout SeededRandom) -> Int64 {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return [Int64.min, Int64.max, 0, -1, 1, 9, 10, -10].randomElement(using: &random)!
        case 1: return Int64.random(in: -100...100, using: &random)
        default: return Int64.random(in: Int64.min...Int64.max, using: &random)
        }
    }

    static func value(_ random: inout SeededRandom, foundation: Bool, depth: Int = 0) -> JSONValue {
        let pieces = foundation ? foundationPieces : self.pieces
        switch Int.random(in: 0..<(depth >= 3 ? 4 : 6), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(int(&random))
        case 3: return .string(text(&random, pieces, max: 12))
        case 4: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in value(&random, foundation: foundation, depth: depth + 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<4, using: &random) {
                object[text(&random, pieces, max: 3)] = value(&random, foundation: foundation, depth: depth + 1)
            }
            return .object(object)
        }
    }

    static func vector(_ random: inout SeededRandom) -> VersionVector {
        var vector = VersionVector()
        for _ in 0..<Int.random(in: 0..<4, using: &random) { vector[text(&random, max: 4)] = int(&random) }
        return vector
    }

    static func change(_ random: inout SeededRandom, foundationValues: Bool = false) -> Change {
        Change(
            origin: Bool.random(using: &random) ? uuid(&random) : text(&random),
            seq: int(&random), hlc: HLC(rawValue: int(&random)), entity: EntityKind.allCases.randomElement(using: &random)!,
            entityID: text(&random), field: text(&random, max: 3),
            value: value(&random, foundation: foundationValues),
            supersedes: (0..<Int.random(in: 0..<3, using: &random)).map { _ in
                Dot(origin: text(&random, max: 4), seq: int(&random))
            },
            context: Bool.random(using: &random) ? vector(&random) : nil)
    }

    /// A replica id's shape, from the seeded generator.
    static func uuid(_ random: inout SeededRandom) -> String {
        let hex = Array("0123456789abcdef")
        return String((0..<32).map { _ in hex.randomElement(using: &random)! })
    }

    static func changes(_ random: inout SeededRandom, foundationValues: Bool = false) -> [Change] {
        (0..<Int.random(in: 0..<6, using: &random)).map { _ in change(&random, foundationValues: foundationValues) }
    }

    static func page(_ random: inout SeededRandom, foundationValues: Bool = false) -> ChangesResponse {
        ChangesResponse(
            protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema,
            changes: changes(&random, foundationValues: foundationValues), more: Bool.random(using: &random),
            vector: vector(&random))
    }

    /// Breaks or bends a JSON body in one random way.
    static func mangle(_ body: inout [UInt8], _ random: inout SeededRandom) {
        guard !body.isEmpty else { return }
        let at = Int.random(in: 0..<body.count, using: &random)
        let junk: [UInt8] = Array(" \t\r\n{}[],:\"\\-0123456789.eEtrufalsn".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF]
        switch Int.random(in: 0..<7, using: &random) {
        case 0: body.removeSubrange(at...)
        case 1: body[at] = junk.randomElement(using: &random)!
        case 2: body.insert(junk.randomElement(using: &random)!, at: at)
        case 3: body.remove(at: at)
        case 4:
            // A number made a float or given an exponent.
            if let digit = body[at...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                body.insert(contentsOf: Array([".0", "e0", ".5", "E+1"].randomElement(using: &random)!.utf8), at: digit + 1)
            }
        case 5:
            // A key of a change repeated (JSONDecoder keeps one of them).
            if let brace = body[at...].firstIndex(of: UInt8(ascii: "{")), brace > 0 {
                body.insert(contentsOf: Array(#""seq":7,"#.utf8), at: brace + 1)
            }
        default:
            // Whitespace where it is allowed, or an unknown key.
            if let comma = body[at...].firstIndex(of: UInt8(ascii: ",")) {
                body.insert(contentsOf: Array([" \n\t", #""extra":[1,{"a":null}],"#].randomElement(using: &random)!.utf8),
                            at: comma + 1)
            }
        }
    }
}
