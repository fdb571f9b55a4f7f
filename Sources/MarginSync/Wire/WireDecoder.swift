import Foundation
import MarginStore

extension WireJSON {
    /// Decodes a `POST /v1/changes` body.
    ///
    /// A hand-written reader takes the bodies Margin sends; whatever it is not sure of goes to
    /// `JSONDecoder`, which then decides, so every refusal (malformed JSON, a wrong type, a missing
    /// field, nesting past 512 levels, invalid UTF-8, a number out of range) is the
    /// `DecodingError` it always was, and the server answers the same 400 with the same message.
    /// - Throws: what `JSONDecoder().decode(PushRequest.self, from:)` throws.
    static func decodePush(_ bytes: UnsafeRawBufferPointer) throws -> PushRequest {
        if let push = WireDecoder.push(bytes) { return push }
        return try decoder().decode(PushRequest.self, from: Data(bytes))
    }

    /// Decodes a `GET /v1/changes` answer, like `decodePush`.
    /// - Throws: what `JSONDecoder().decode(ChangesResponse.self, from:)` throws.
    static func decodeChangesResponse(_ data: Data) throws -> ChangesResponse {
        let fast = data.withUnsafeBytes { WireDecoder.changesResponse($0) }
        if let fast { return fast }
        return try decoder().decode(ChangesResponse.self, from: data)
    }
}

/// Reads `PushRequest` and `ChangesResponse` bodies from UTF-8 bytes, by hand.
///
/// It reads exactly the JSON that Margin's encoders write and other well-formed JSON of the same
/// shape (any whitespace, any key order, escapes in strings), and produces the values
/// `JSONDecoder` would. It declines — returns nil, and the caller asks `JSONDecoder` — on
/// everything else: malformed JSON, a wrong type, a missing, repeated, unknown or escaped key, a
/// number that is not a plain integer within Int64 (Foundation takes `1.0` or `1e2` for an
/// integer), a lone surrogate, invalid UTF-8, nesting deeper than `maxDepth`. Declining is always
/// safe, so there is no second copy of Foundation's error messages to keep in step.
struct WireDecoder {
    /// Deepest nesting of a change's value taken here; deeper values go to JSONDecoder (its limit is
    /// 512 levels for the whole body).
    static let maxDepth = 64

    /// The reader declines: JSONDecoder reads the body instead.
    struct Declined: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    /// Reused for strings with escapes.
    private var scratch: [UInt8] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The push `bytes` holds, or nil when JSONDecoder should read it.
    static func push(_ bytes: UnsafeRawBufferPointer) -> PushRequest? {
        read(bytes) { reader in try reader.push() }
    }

    /// The page `bytes` holds, or nil when JSONDecoder should read it.
    static func changesResponse(_ bytes: UnsafeRawBufferPointer) -> ChangesResponse? {
        read(bytes) { reader in try reader.changesResponse() }
    }

    private static func read<T>(_ raw: UnsafeRawBufferPointer, _ body: (inout WireDecoder) throws -> T) -> T? {
        raw.withMemoryRebound(to: UInt8.self) { bytes in
            var reader = WireDecoder(bytes)
            do {
                reader.skipSpace()
                let value = try body(&reader)
                reader.skipSpace()
                return reader.index == reader.bytes.count ? value : nil
            } catch {
                return nil
            }
        }
    }

    // MARK: Bodies

    private mutating func push() throws -> PushRequest {
        var changes: [Change]?
        var version: Int?
        var schema: Int?
        guard try openObject() else { throw Declined() }
        repeat {
            let key = try self.key()
            if matches(key, "changes"), changes == nil {
                changes = try changeList()
            } else if matches(key, "protocol"), version == nil {
                version = Int(try int64())
            } else if matches(key, "schema"), schema == nil {
                schema = Int(try int64())
            } else {
                throw Declined()
            }
        } while try nextMember()
        guard let changes, let version, let schema else { throw Declined() }
        var push = PushRequest(changes: changes)
        push.protocol = version
        push.schema = schema
        return push
    }

    private mutating func changesResponse() throws -> ChangesResponse {
        var changes: [Change]?
        var more: Bool?
        var version: Int?
        var schema: Int?
        var vector: VersionVector?
        guard try openObject() else { throw Declined() }
        repeat {
            let key = try self.key()
            if matches(key, "changes"), changes == nil {
                changes = try changeList()
            } else if matches(key, "more"), more == nil {
                more = try bool()
            } else if matches(key, "protocol"), version == nil {
                version = Int(try int64())
            } else if matches(key, "schema"), schema == nil {
                schema = Int(try int64())
            } else if matches(key, "vector"), vector == nil {
                vector = try versionVector()
            } else {
                throw Declined()
            }
        } while try nextMember()
        guard let changes, let more, let version, let schema, let vector else { throw Declined() }
        return ChangesResponse(protocol: version, schema: schema, changes: changes, more: more, vector: vector)
    }

    private mutating func changeList() throws -> [Change] {
        var changes: [Change] = []
        guard try openArray() else { return changes }
        repeat { changes.append(try change()) } while try nextElement()
        return changes
    }

    private mutating func change() throws -> Change {
        var origin: String?
        var seq: Int64?
        var hlc: Int64?
        var entity: EntityKind?
        var entityID: String?
        var field: String?
        var value: JSONValue?
        var supersedes: [Dot]?
        var context: VersionVector??
        guard try openObject() else { throw Declined() }
        repeat {
            let key = try self.key()
            // By length first: most keys are told apart without comparing bytes.
            switch key.count {
            case 3 where matches(key, "seq") && seq == nil: seq = try int64()
            case 3 where matches(key, "hlc") && hlc == nil: hlc = try int64()
            case 5 where matches(key, "field") && field == nil: field = try string()
            case 5 where matches(key, "value") && value == nil: value = try self.value(depth: 0)
            case 6 where matches(key, "origin") && origin == nil: origin = try string()
            case 6 where matches(key, "entity") && entity == nil: entity = try entityKind()
            case 7 where matches(key, "context") && context == nil: context = try optionalVector()
            case 9 where matches(key, "entity_id") && entityID == nil: entityID = try string()
            case 10 where matches(key, "supersedes") && supersedes == nil: supersedes = try dots()
            default: throw Declined()
            }
        } while try nextMember()
        guard let origin, let seq, let hlc, let entity, let entityID, let field, let value, let supersedes else {
            throw Declined()
        }
        return Change(
            origin: origin, seq: seq, hlc: HLC(rawValue: hlc), entity: entity, entityID: entityID, field: field,
            value: value, supersedes: supersedes, context: context ?? nil)
    }

    private mutating func entityKind() throws -> EntityKind {
        // Raw values are plain ASCII: an escaped one is declined with the other escapes in keys.
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Declined() }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { throw Declined() }
        let text = start..<end
        index = end + 1
        if matches(text, "annotation") { return .annotation }
        if matches(text, "article") { return .article }
        if matches(text, "replica") { return .replica }
        throw Declined()
    }

    private mutating func dots() throws -> [Dot] {
        var dots: [Dot] = []
        guard try openArray() else { return dots }
        repeat {
            guard try openArray() else { throw Declined() }
            let origin = try string()
            guard try nextElement() else { throw Declined() }
            let seq = try int64()
            guard try !nextElement() else { throw Declined() }
            dots.append(Dot(origin: origin, seq: seq))
        } while try nextElement()
        return dots
    }

    private mutating func optionalVector() throws -> VersionVector? {
        if index < bytes.count, bytes[index] == UInt8(ascii: "n") {
            try literal("null")
            return nil
        }
        return try versionVector()
    }

    private mutating func versionVector() throws -> VersionVector {
        var seqs: [String: Int64] = [:]
        guard try openObject() else { return VersionVector(seqs) }
        repeat {
            let origin = try string()
            try colon()
            let count = seqs.count
            seqs[origin] = try int64()
            // A repeated key (or two that Swift holds equal): JSONDecoder decides which one counts.
            guard seqs.count > count else { throw Declined() }
        } while try nextMember()
        return VersionVector(seqs)
    }

    // MARK: JSON values

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth, index < bytes.count else { throw Declined() }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try int64())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "["):
            var items: [JSONValue] = []
            guard try openArray() else { return .array(items) }
            repeat { items.append(try value(depth: depth + 1)) } while try nextElement()
            return .array(items)
        case UInt8(ascii: "{"):
            var object: [String: JSONValue] = [:]
            guard try openObject() else { return .object(object) }
            repeat {
                let key = try string()
                try colon()
                let count = object.count
                object[key] = try value(depth: depth + 1)
                guard object.count > count else { throw Declined() }
            } while try nextMember()
            return .object(object)
        default:
            throw Declined()
        }
    }

    // MARK: Structure

    /// JSON whitespace (RFC 8259): space, tab, line feed, carriage return.
    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Reads `{`; true when a member follows, false after `}`.
    private mutating func openObject() throws -> Bool {
        try open(UInt8(ascii: "{"), UInt8(ascii: "}"))
    }

    /// Reads `[`; true when an element follows, false after `]`.
    private mutating func openArray() throws -> Bool {
        try open(UInt8(ascii: "["), UInt8(ascii: "]"))
    }

    private mutating func open(_ opening: UInt8, _ closing: UInt8) throws -> Bool {
        guard index < bytes.count, bytes[index] == opening else { throw Declined() }
        index += 1
        skipSpace()
        guard index < bytes.count else { throw Declined() }
        if bytes[index] == closing {
            index += 1
            return false
        }
        return true
    }

    /// After a member: true after `,` (another follows), false after `}`.
    private mutating func nextMember() throws -> Bool {
        try next(UInt8(ascii: "}"))
    }

    /// After an element: true after `,` (another follows), false after `]`.
    private mutating func nextElement() throws -> Bool {
        try next(UInt8(ascii: "]"))
    }

    private mutating func next(_ closing: UInt8) throws -> Bool {
        skipSpace()
        guard index < bytes.count else { throw Declined() }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            skipSpace()
            return true
        }
        guard bytes[index] == closing else { throw Declined() }
        index += 1
        return false
    }

    private mutating func colon() throws {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Declined() }
        index += 1
        skipSpace()
    }

    /// A key of the protocol and its colon: its bytes, which hold no escape.
    private mutating func key() throws -> Range<Int> {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Declined() }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            guard bytes[end] != UInt8(ascii: "\\") else { throw Declined() }
            end += 1
        }
        guard end < bytes.count else { throw Declined() }
        index = end + 1
        try colon()
        return start..<end
    }

    private func matches(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let text = literal.utf8Start
        for i in 0..<range.count where bytes[range.lowerBound + i] != text[i] { return false }
        return true
    }

    private mutating func literal(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Declined() }
        for i in 0..<count where bytes[index + i] != literal.utf8Start[i] { throw Declined() }
        index += count
    }

    // MARK: Scalars

    private mutating func bool() throws -> Bool {
        guard index < bytes.count else { throw Declined() }
        if bytes[index] == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    /// `-?(0|[1-9][0-9]*)` within Int64. What follows is checked by the caller, which takes only
    /// `,`, `]`, `}` or whitespace: so `1.5`, `1e3` and `01` are declined there.
    private mutating func int64() throws -> Int64 {
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
            throw Declined()
        }
        if bytes[index] == UInt8(ascii: "0") {
            // "-0" is an integer to JSONDecoder too, but rare enough to leave to it.
            guard !negative else { throw Declined() }
            index += 1
            return 0
        }
        var magnitude: UInt64 = 0
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            // 19 digits always fit in a UInt64; more are out of Int64's range.
            guard index - start < 19 else { throw Declined() }
            magnitude = magnitude &* 10 &+ UInt64(bytes[index] &- UInt8(ascii: "0"))
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw Declined() }
            return Int64(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw Declined() }
        return Int64(magnitude)
    }

    /// A string, its UTF-8 validated (JSONDecoder refuses invalid UTF-8; it is declined here).
    private mutating func string() throws -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Declined() }
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                guard let text else { throw Declined() }
                return text
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            // A raw control character is not JSON.
            guard byte >= 0x20 else { throw Declined() }
            index += 1
        }
        throw Declined()
    }

    /// The rest of a string from its first backslash, at `index`; `start` is just after its quote.
    private mutating func escapedString(from start: Int) throws -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                // Escapes make whole UTF-8 sequences, so the text is valid exactly when the raw
                // runs between them are.
                guard let text = String(validating: scratch, as: UTF8.self) else { throw Declined() }
                return text
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Declined() }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escaped)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                              bytes[index + 1] == UInt8(ascii: "u")
                        else { throw Declined() }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Declined() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw Declined()
                    }
                    appendUTF8(scalar)
                default:
                    throw Declined()
                }
            default:
                guard byte >= 0x20 else { throw Declined() }
                scratch.append(byte)
            }
        }
        throw Declined()
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw Declined() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Declined()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Appends a scalar (not a surrogate) as UTF-8.
    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(0xC0 | UInt8(scalar >> 6))
            scratch.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(0xE0 | UInt8(scalar >> 12))
            scratch.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            scratch.append(0x80 | UInt8(scalar & 0x3F))
        default:
            scratch.append(0xF0 | UInt8(scalar >> 18))
            scratch.append(0x80 | UInt8(scalar >> 12 & 0x3F))
            scratch.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            scratch.append(0x80 | UInt8(scalar & 0x3F))
        }
    }
}
