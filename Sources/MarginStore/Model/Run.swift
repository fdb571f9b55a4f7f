import Foundation

/// A run: consecutive changes of one origin, the unit Margin signs, stores and ships (protocol 2).
///
/// A replica makes one run per local transaction (more when a transaction writes more than
/// `ChangeLimits.maxRunBytes`), signs it, and chains it to its previous run by hash. Relays keep
/// and forward a run's body bytes exactly as received, so every receiver checks the author's
/// signature over the same bytes.
///
/// The body is canonical JSON (Schema/sync-api.yaml, `RunBody`):
///
///     {"v":2,"origin":ID,"first":SEQ,"prev":HEX,"refs":[ID,…],"changes":[CHANGE,…]}
///     CHANGE = [HLC, ENTITY, ENTITY_ID, {FIELD: VALUE, …}]
///            | [HLC, ENTITY, ENTITY_ID, {FIELD: VALUE, …}, {FIELD: [DOT, …], …}]
///            | [HLC, ENTITY, ENTITY_ID, {FIELD: VALUE, …}, {FIELD: [DOT, …], …}, [DOT, …]]
///     DOT = [REF, SEQ]
///
/// The i-th change has seq `first + i`. `prev` is the hex SHA-256 of the body of the origin's
/// run that ends at `first - 1` ("" when `first` is 1). Fields are in byte order; the fifth
/// element lists, per field, the dots it supersedes; the sixth, only for deletes, the author's
/// version vector as dots. REF 0 is the run's own origin, REF i is `refs[i-1]`.
public struct Run: Sendable, Hashable {
    public var origin: String
    public var first: Int64
    /// SHA-256 of the previous run's body (empty for a run starting at seq 1).
    public var prev: [UInt8]
    public var changes: [Change]

    public init(origin: String, first: Int64, prev: [UInt8], changes: [Change]) {
        self.origin = origin
        self.first = first
        self.prev = prev
        self.changes = changes
    }

    /// The last seq.
    public var last: Int64 { first + Int64(changes.count) - 1 }
}

/// A run as stored and shipped: its body bytes (what the hash and the signature cover) and, for a
/// signed run, the author's public key and signature.
public struct SignedRun: Sendable, Hashable {
    public var origin: String
    public var first: Int64
    public var last: Int64
    /// The run's body, canonical JSON (see `Run`).
    public var body: [UInt8]
    /// SHA-256 of `body`.
    public var hash: [UInt8]
    /// The Ed25519 public key of the author; nil for an unsigned run (protocol-1 history).
    public var key: [UInt8]?
    /// The Ed25519 signature of `ReplicaIdentity.signedMessage(runHash: hash)`.
    public var signature: [UInt8]?

    public init(
        origin: String, first: Int64, last: Int64, body: [UInt8], hash: [UInt8], key: [UInt8]?, signature: [UInt8]?
    ) {
        self.origin = origin
        self.first = first
        self.last = last
        self.body = body
        self.hash = hash
        self.key = key
        self.signature = signature
    }

    /// Number of changes.
    public var count: Int { Int(last - first + 1) }

    public var isSigned: Bool { signature != nil }

    /// Parses and checks the body (see `RunCodec.decode`).
    public func decoded() throws -> Run { try RunCodec.decode(body) }
}

/// Why a run was refused: what is wrong, and with which change.
public struct RunError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Writes and reads run bodies.
public enum RunCodec {
    /// The canonical body of `run`. Its changes must be `run.origin`'s, with seqs from `run.first`.
    public static func encode(_ run: Run) -> [UInt8] {
        var refs: [String] = []
        var refIndex: [String: Int] = [run.origin: 0]
        func ref(_ origin: String) -> Int {
            if let index = refIndex[origin] { return index }
            refs.append(origin)
            refIndex[origin] = refs.count
            return refs.count
        }
        let estimate = run.changes.reduce(0) { $0 + estimatedBytes($1) }
        // When every dot is the run's own origin's (new entities, local edits), the refs are empty and
        // the changes are written straight after the header.
        let ownDotsOnly = run.changes.allSatisfy { change in
            change.writes.allSatisfy { $0.supersedes.allSatisfy { $0.origin == run.origin } }
                && (change.context?.seqs.keys.allSatisfy { $0 == run.origin } ?? true)
        }
        // Else the changes first (they name the refs), then the header in front of them.
        var changes: [UInt8] = []
        if !ownDotsOnly {
            changes.reserveCapacity(estimate)
            for (i, change) in run.changes.enumerated() {
                if i > 0 { changes.append(UInt8(ascii: ",")) }
                encode(change, ref: ref, into: &changes)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((ownDotsOnly ? estimate : changes.count) + 128 + run.prev.count * 2 + refs.count * 40)
        out.append(contentsOf: #"{"v":2,"origin":"#.utf8)
        JSONValue.writeString(run.origin, into: &out)
        out.append(contentsOf: #","first":"#.utf8)
        JSONValue.writeInt(run.first, into: &out)
        out.append(contentsOf: #","prev":""#.utf8)
        out.append(contentsOf: Hashing.hex(run.prev).utf8)
        out.append(contentsOf: #"","refs":["#.utf8)
        for (i, origin) in refs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(origin, into: &out)
        }
        out.append(contentsOf: #"],"changes":["#.utf8)
        if ownDotsOnly {
            for (i, change) in run.changes.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encode(change, ref: ref, into: &out)
            }
            assert(refs.isEmpty)
        } else {
            out.append(contentsOf: changes)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// Appends one change (the body's CHANGE form).
    static func encode(_ change: Change, ref: (String) -> Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        JSONValue.writeInt(change.hlc.rawValue, into: &out)
        out.append(UInt8(ascii: ","))
        JSONValue.writeString(change.entity.rawValue, into: &out)
        out.append(UInt8(ascii: ","))
        JSONValue.writeString(change.entityID, into: &out)
        out.append(contentsOf: ",{".utf8)
        let writes = change.writes.count < 2 ? change.writes : change.writes.sorted { $0.field.utf8.lexicographicallyPrecedes($1.field.utf8) }
        for (i, write) in writes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(write.field, into: &out)
            out.append(UInt8(ascii: ":"))
            write.value.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
        let superseding = writes.filter { !$0.supersedes.isEmpty }
        if !superseding.isEmpty || change.context != nil {
            out.append(contentsOf: ",{".utf8)
            for (i, write) in superseding.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(write.field, into: &out)
                out.append(UInt8(ascii: ":"))
                writeDots(write.supersedes.sorted(), ref: ref, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        if let context = change.context {
            out.append(UInt8(ascii: ","))
            writeDots(context.seqs.keys.sorted().map { Dot(origin: $0, seq: context.seqs[$0]!) }, ref: ref, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private static func writeDots(_ dots: [Dot], ref: (String) -> Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, dot) in dots.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            JSONValue.writeInt(Int64(ref(dot.origin)), into: &out)
            out.append(UInt8(ascii: ","))
            JSONValue.writeInt(dot.seq, into: &out)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// About the bytes `change` adds to a run body (to close a run before it passes its limit).
    static func estimatedBytes(_ change: Change) -> Int {
        var bytes = 48 + change.entityID.utf8.count
        for write in change.writes {
            bytes += write.field.utf8.count + 4 + write.supersedes.count * 16 + estimatedBytes(write.value)
        }
        return bytes + (change.context?.seqs.count ?? 0) * 16
    }

    static func estimatedBytes(_ value: JSONValue) -> Int {
        switch value {
        case .null, .bool: return 5
        case .int: return 20
        case .string(let s): return s.utf8.count + 2 + s.utf8.count / 8
        case .array(let items): return 2 + items.reduce(0) { $0 + estimatedBytes($1) + 1 }
        case .object(let members): return 2 + members.reduce(0) { $0 + $1.key.utf8.count + 4 + estimatedBytes($1.value) }
        }
    }

    // MARK: Decoding

    /// Parses a run body and checks it against the protocol's shape and `ChangeLimits`.
    /// - Throws: `RunError` naming the problem (and the change's seq when it is in one change).
    public static func decode(_ body: [UInt8]) throws -> Run {
        guard body.count <= ChangeLimits.maxRunBytes else {
            throw RunError("the run is \(body.count) bytes, more than the protocol's \(ChangeLimits.maxRunBytes)")
        }
        return try body.withUnsafeBytes { try decode($0, only: nil) }
    }

    /// The change with seq `seq` of a stored run's body, read without decoding the others.
    public static func change(_ seq: Int64, in body: UnsafeRawBufferPointer) throws -> Change? {
        try decode(body, only: seq).changes.first
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer, only: Int64?) throws -> Run {
        var reader = JSONReader(buffer)
        do {
            return try decode(&reader, only: only)
        } catch let error as JSONReader.Error {
            throw RunError("the run's body is not valid: \(error)")
        }
    }

    private static func decode(_ reader: inout JSONReader, only: Int64?) throws -> Run {
        try reader.beginObject()
        var version: Int64?
        var origin: String?
        var first: Int64?
        var prev: [UInt8]?
        var refs: [String] = []
        var changesStart: Int?
        var sawRefs = false
        var isFirst = true
        while let key = try reader.nextKey(first: isFirst) {
            isFirst = false
            switch key {
            case "v": version = try reader.readInt()
            case "origin": origin = try reader.readString()
            case "first": first = try reader.readInt()
            case "prev":
                let text = try reader.readString()
                guard let bytes = Hashing.bytes(hex: text), bytes.isEmpty || bytes.count == 32 else {
                    throw RunError("prev must be the hex SHA-256 of the previous run, or empty")
                }
                prev = bytes
            case "refs":
                sawRefs = true
                try reader.beginArray()
                var firstRef = true
                while try reader.nextElement(first: firstRef) {
                    firstRef = false
                    refs.append(try reader.readString())
                }
            case "changes":
                // Read after the header, which the changes need (their origin and refs).
                changesStart = reader.index
                _ = try reader.skipValue()
            default:
                throw RunError("the run has an unknown key \(key.debugDescription)")
            }
        }
        try reader.expectEnd()
        guard version == 2 else { throw RunError("the run is not protocol 2 (v must be 2)") }
        guard let origin, ChangeLimits.isValidOrigin(origin) else {
            throw RunError("origin must be 1 to \(ChangeLimits.maxIDLength) characters from A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        guard let first, first >= 1 else { throw RunError("run of \(origin): first must be 1 or more") }
        guard let prev, sawRefs, let changesStart else {
            throw RunError("run of \(origin) from seq \(first): prev, refs and changes are required")
        }
        guard prev.isEmpty == (first == 1) else {
            throw RunError("run of \(origin) from seq \(first): prev is empty exactly when the run starts at seq 1")
        }
        guard refs.count <= ChangeLimits.maxRefs, Set(refs).count == refs.count, !refs.contains(origin),
              refs.allSatisfy(ChangeLimits.isValidOrigin)
        else {
            throw RunError("run of \(origin) from seq \(first): refs must be distinct well-formed origins other than its own")
        }
        let origins = [origin] + refs
        reader.index = changesStart
        try reader.beginArray()
        var changes: [Change] = []
        var isFirstChange = true
        var count: Int64 = 0
        while try reader.nextElement(first: isFirstChange) {
            isFirstChange = false
            guard count < ChangeLimits.maxRunChanges else {
                throw RunError("run of \(origin) from seq \(first): more than \(ChangeLimits.maxRunChanges) changes")
            }
            let seq = first + count
            count += 1
            if let only {
                if seq < only {
                    _ = try reader.skipValue()
                    continue
                }
                if seq > only { break }
            }
            do {
                changes.append(try decodeChange(&reader, origin: origin, seq: seq, origins: origins))
            } catch let error as RunError {
                throw RunError("change \(origin):\(seq): \(error.reason)")
            } catch let error as JSONReader.Error {
                throw RunError("change \(origin):\(seq): \(error)")
            }
        }
        guard count > 0 else { throw RunError("run of \(origin) from seq \(first) has no changes") }
        return Run(origin: origin, first: first, prev: prev, changes: changes)
    }

    private static func decodeChange(_ reader: inout JSONReader, origin: String, seq: Int64, origins: [String]) throws
        -> Change
    {
        try reader.beginArray()
        guard try reader.nextElement(first: true) else { throw RunError("a change is [hlc, entity, id, fields, …]") }
        let hlc = try reader.readInt()
        guard hlc > 0 else { throw RunError("hlc must be positive") }
        guard try reader.nextElement(first: false) else { throw RunError("a change is [hlc, entity, id, fields, …]") }
        let entityName = try reader.readString()
        guard let entity = EntityKind(rawValue: entityName) else {
            throw RunError("unknown entity kind \(entityName.debugDescription) (a newer margin? upgrade this one)")
        }
        guard try reader.nextElement(first: false) else { throw RunError("a change is [hlc, entity, id, fields, …]") }
        let entityID = try reader.readString()
        guard !entityID.isEmpty, entityID.utf8.count <= ChangeLimits.maxIDLength else {
            throw RunError("entity_id must be 1 to \(ChangeLimits.maxIDLength) bytes")
        }
        guard try reader.nextElement(first: false) else { throw RunError("a change is [hlc, entity, id, fields, …]") }
        var writes: [FieldWrite] = []
        try reader.beginObject()
        var firstField = true
        while let field = try reader.nextKey(first: firstField) {
            firstField = false
            guard !field.isEmpty, field.utf8.count <= ChangeLimits.maxFieldLength else {
                throw RunError("field names are 1 to \(ChangeLimits.maxFieldLength) bytes")
            }
            if let last = writes.last, !last.field.utf8.lexicographicallyPrecedes(field.utf8) {
                throw RunError("fields must be in byte order, each once (\(field.debugDescription))")
            }
            guard writes.count < ChangeLimits.maxFields else {
                throw RunError("a change writes at most \(ChangeLimits.maxFields) fields")
            }
            reader.skipSpace()
            let start = reader.index
            let value = try reader.readValue(depth: 1)
            guard reader.index - start <= ChangeLimits.maxValueBytes else {
                throw RunError("the value of \(field) is larger than \(ChangeLimits.maxValueBytes) bytes")
            }
            guard value.nesting <= ChangeLimits.maxValueNesting else {
                throw RunError("the value of \(field) is nested deeper than \(ChangeLimits.maxValueNesting) levels")
            }
            writes.append(FieldWrite(field: field, value: value))
        }
        guard !writes.isEmpty else { throw RunError("a change writes at least one field") }
        var context: VersionVector?
        if try reader.nextElement(first: false) {
            try reader.beginObject()
            var firstField = true
            var previous: String?
            while let field = try reader.nextKey(first: firstField) {
                firstField = false
                if let previous, !previous.utf8.lexicographicallyPrecedes(field.utf8) {
                    throw RunError("supersedes must be in field order, each field once")
                }
                previous = field
                guard let index = writes.firstIndex(where: { $0.field == field }) else {
                    throw RunError("supersedes names \(field.debugDescription), which the change does not write")
                }
                let dots = try readDots(&reader, origins: origins)
                guard !dots.isEmpty, dots.count <= ChangeLimits.maxSupersedes else {
                    throw RunError("a field supersedes 1 to \(ChangeLimits.maxSupersedes) dots")
                }
                guard Set(dots).count == dots.count else { throw RunError("supersedes names a dot twice") }
                if dots.contains(where: { $0.origin == origin && $0.seq >= seq }) {
                    throw RunError("supersedes a later change of its own origin")
                }
                writes[index].supersedes = dots
            }
            if try reader.nextElement(first: false) {
                let dots = try readDots(&reader, origins: origins)
                var vector = VersionVector()
                for dot in dots {
                    guard vector.seqs[dot.origin] == nil else { throw RunError("a delete's context names an origin twice") }
                    vector[dot.origin] = dot.seq
                }
                guard vector[origin] < seq else { throw RunError("a delete's context names a later change of its own origin") }
                context = vector
                guard try !reader.nextElement(first: false) else { throw RunError("a change has at most 6 elements") }
            }
        }
        return Change(origin: origin, seq: seq, hlc: HLC(rawValue: hlc), entity: entity, entityID: entityID,
                      writes: writes, context: context)
    }

    private static func readDots(_ reader: inout JSONReader, origins: [String]) throws -> [Dot] {
        var dots: [Dot] = []
        try reader.beginArray()
        var first = true
        while try reader.nextElement(first: first) {
            first = false
            try reader.beginArray()
            guard try reader.nextElement(first: true) else { throw RunError("a dot is [ref, seq]") }
            let ref = try reader.readInt()
            guard try reader.nextElement(first: false) else { throw RunError("a dot is [ref, seq]") }
            let seq = try reader.readInt()
            guard try !reader.nextElement(first: false) else { throw RunError("a dot is [ref, seq], nothing more") }
            guard ref >= 0, ref < origins.count else { throw RunError("a dot names ref \(ref), which refs does not have") }
            guard seq >= 1 else { throw RunError("a dot's seq is 1 or more") }
            guard dots.count < ChangeLimits.maxRefs * 2 else { throw RunError("too many dots") }
            dots.append(Dot(origin: origins[Int(ref)], seq: seq))
        }
        return dots
    }
}
