import Foundation

/// A live write of a field with what resolving the field needs: its clock, value and base.
struct LiveWrite: Equatable {
    var dot: Dot
    var hlc: HLC
    var value: JSONValue
    var supersedes: [Dot]

    /// Orders writes by (hlc, origin, seq): the last one wins.
    static func precedes(_ a: LiveWrite, _ b: LiveWrite) -> Bool {
        (a.hlc, a.dot.origin, a.dot.seq) < (b.hlc, b.dot.origin, b.dot.seq)
    }
}

/// What a field shows, from its live writes: the merge rules.
enum FieldResolution {
    /// What a field shows, and whether its live writes are in conflict.
    struct Outcome: Equatable {
        var value: JSONValue
        var conflict: Bool
    }

    /// The shown value of a field: the last live write by (hlc, origin); several live writes with
    /// different values are a conflict, except concurrent edits of a note that share one base and
    /// merge cleanly three-way (every replica computes the same text).
    /// - Parameter base: the value of a superseded write, for the note merge (nil while not held).
    static func resolve(_ field: String, _ writes: [LiveWrite], base: (Dot) throws -> JSONValue?) rethrows -> Outcome {
        let writes = writes.count < 2 ? writes : writes.sorted(by: LiveWrite.precedes)
        guard let winner = writes.last else { return Outcome(value: .null, conflict: false) }
        if writes.count == 1 { return Outcome(value: winner.value, conflict: false) }
        if Set(writes.map(\.value)).count <= 1 { return Outcome(value: winner.value, conflict: false) }
        if field == "note", let merged = try mergeNotes(writes, base: base) {
            return Outcome(value: .string(merged), conflict: false)
        }
        return Outcome(value: winner.value, conflict: true)
    }

    /// Three-way merge of concurrent note writes against the common base they all superseded.
    private static func mergeNotes(_ writes: [LiveWrite], base: (Dot) throws -> JSONValue?) rethrows -> String? {
        let bases = Set(writes.map { $0.supersedes.sorted() })
        guard bases.count == 1, let shared = bases.first, shared.count <= 1 else { return nil }
        var baseText = ""
        if let dot = shared.first {
            // The base has not arrived yet (protocol-1 history): a conflict until it does.
            guard let value = try base(dot) else { return nil }
            baseText = value.stringValue ?? ""
        }
        var merged: String? = nil
        for write in writes {
            guard case .string(let text) = write.value else { return nil }
            if let current = merged {
                guard let next = ThreeWayMerge.merge(base: baseText, current, text) else { return nil }
                merged = next
            } else {
                merged = text
            }
        }
        return merged
    }
}
