import MarginStore

/// Writes the hot bodies of the protocol (`PushRequest`, `ChangesResponse`) as JSON bytes, by hand.
///
/// The output is what `WireJSON.encoder()` (Foundation, sorted keys, slashes unescaped) writes for
/// the same value, byte for byte, with one difference: a change's `value` is written as its
/// canonical text (`JSONValue.canonical`, the form the change log stores), so a server can send
/// the stored text as it is (and a stored change's `supersedes` and `context` too). Canonical text
/// and Foundation differ only in how they write U+0008 and U+000C (`\u0008`, `\u000c` rather than
/// `\b`, `\f`) and in the order of object keys that are not in NFC: the same JSON either way.
/// A first sync spent most of its time in Foundation's coders (issue 7).
struct WireEncoder {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// `POST /v1/changes` body.
    static func encode(_ push: PushRequest) -> [UInt8] {
        var encoder = WireEncoder(capacity: push.changes.count * 256 + 64)
        encoder.raw("{\"changes\":[")
        for (i, change) in push.changes.enumerated() {
            if i > 0 { encoder.byte(UInt8(ascii: ",")) }
            encoder.change(change)
        }
        encoder.raw("],\"protocol\":")
        encoder.int(Int64(push.protocol))
        encoder.raw(",\"schema\":")
        encoder.int(Int64(push.schema))
        encoder.byte(UInt8(ascii: "}"))
        return encoder.bytes
    }

    /// A `POST /v1/changes` body of changes as the log stores them: their JSON columns are copied.
    static func encodePush(_ changes: [StoredChange]) -> [UInt8] {
        var encoder = WireEncoder(capacity: estimate(changes) + 64)
        encoder.raw("{\"changes\":[")
        encoder.storedChanges(changes)
        encoder.raw("],\"protocol\":")
        encoder.int(Int64(SyncProtocol.version))
        encoder.raw(",\"schema\":")
        encoder.int(Int64(SyncProtocol.changeSchema))
        encoder.byte(UInt8(ascii: "}"))
        return encoder.bytes
    }

    /// `GET /v1/changes` answer.
    static func encode(_ response: ChangesResponse) -> [UInt8] {
        var encoder = WireEncoder(capacity: response.changes.count * 256 + response.vector.seqs.count * 64 + 64)
        encoder.raw("{\"changes\":[")
        for (i, change) in response.changes.enumerated() {
            if i > 0 { encoder.byte(UInt8(ascii: ",")) }
            encoder.change(change)
        }
        encoder.changesResponseTail(
            more: response.more, protocol: response.protocol, schema: response.schema, vector: response.vector)
        return encoder.bytes
    }

    /// A `GET /v1/changes` answer over a page as the log stores it: its JSON columns are copied.
    static func encodeChangesResponse(_ page: StoredChangePage, vector: VersionVector) -> [UInt8] {
        var encoder = WireEncoder(capacity: estimate(page.changes) + vector.seqs.count * 64 + 64)
        encoder.raw("{\"changes\":[")
        encoder.storedChanges(page.changes)
        encoder.changesResponseTail(
            more: page.more, protocol: SyncProtocol.version, schema: SyncProtocol.changeSchema, vector: vector)
        return encoder.bytes
    }

    private static func estimate(_ changes: [StoredChange]) -> Int {
        changes.reduce(0) { $0 + $1.storedBytes }
    }

    private mutating func changesResponseTail(more: Bool, protocol: Int, schema: Int, vector: VersionVector) {
        raw("],\"more\":")
        raw(more ? "true" : "false")
        raw(",\"protocol\":")
        int(Int64(`protocol`))
        raw(",\"schema\":")
        int(Int64(schema))
        raw(",\"vector\":")
        self.vector(vector)
        byte(UInt8(ascii: "}"))
    }

    // MARK: Changes (keys in the order Foundation sorts them: by UTF-8 bytes)

    mutating func change(_ change: Change) {
        if let context = change.context {
            raw("{\"context\":")
            vector(context)
            byte(UInt8(ascii: ","))
        } else {
            byte(UInt8(ascii: "{"))
        }
        scalars(change.entity, change.entityID, change.field, change.hlc, change.origin, change.seq)
        raw(",\"supersedes\":[")
        for (i, dot) in change.supersedes.enumerated() {
            raw(i == 0 ? "[" : ",[")
            string(dot.origin)
            byte(UInt8(ascii: ","))
            int(dot.seq)
            byte(UInt8(ascii: "]"))
        }
        raw("],\"value\":")
        text(change.value.canonical)
        byte(UInt8(ascii: "}"))
    }

    private mutating func storedChanges(_ changes: [StoredChange]) {
        for (i, change) in changes.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            if let context = change.contextJSON {
                raw("{\"context\":")
                text(context)
                byte(UInt8(ascii: ","))
            } else {
                byte(UInt8(ascii: "{"))
            }
            scalars(change.entity, change.entityID, change.field, change.hlc, change.origin, change.seq)
            raw(",\"supersedes\":")
            text(change.supersedesJSON)
            raw(",\"value\":")
            text(change.valueJSON)
            byte(UInt8(ascii: "}"))
        }
    }

    /// The keys between `context` and `supersedes`, the same for both forms of a change.
    private mutating func scalars(
        _ entity: EntityKind, _ entityID: String, _ field: String, _ hlc: HLC, _ origin: String, _ seq: Int64
    ) {
        raw("\"entity\":")
        self.entity(entity)
        raw(",\"entity_id\":")
        string(entityID)
        raw(",\"field\":")
        string(field)
        raw(",\"hlc\":")
        int(hlc.rawValue)
        raw(",\"origin\":")
        string(origin)
        raw(",\"seq\":")
        int(seq)
    }

    private mutating func entity(_ kind: EntityKind) {
        switch kind {
        case .article: raw("\"article\"")
        case .annotation: raw("\"annotation\"")
        case .replica: raw("\"replica\"")
        }
    }

    mutating func vector(_ vector: VersionVector) {
        byte(UInt8(ascii: "{"))
        let origins = vector.seqs.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (i, origin) in origins.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            string(origin)
            byte(UInt8(ascii: ":"))
            int(vector.seqs[origin]!)
        }
        byte(UInt8(ascii: "}"))
    }

    // MARK: Scalars

    @inline(__always)
    private mutating func byte(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always)
    private mutating func raw(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// JSON text copied as it is.
    private mutating func text(_ json: String) {
        var json = json
        json.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A decimal integer, without going through `String`.
    mutating func int(_ value: Int64) {
        if value >= 0, value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = value.magnitude
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }

    /// A JSON string, escaped as Foundation's JSONEncoder escapes it (RFC 8259): `\"`, `\\`, the
    /// short forms `\b \f \n \r \t`, other control characters as `\u00XX`; `/` and everything
    /// from U+0020 up (U+2028 included) copied as UTF-8. Swift strings hold no lone surrogates.
    mutating func string(_ string: String) {
        var string = string
        bytes.append(UInt8(ascii: "\""))
        string.withUTF8 { utf8 in
            var mark = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if mark < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<i])) }
                mark = i + 1
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                case UInt8(ascii: "\n"): raw("\\n")
                case UInt8(ascii: "\r"): raw("\\r")
                case UInt8(ascii: "\t"): raw("\\t")
                default:
                    raw(byte < 0x10 ? "\\u000" : "\\u001")
                    bytes.append(Self.hex[Int(byte & 0xF)])
                }
            }
            if mark < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<utf8.count])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
