import Foundation

/// Errors a person can act on: each description is one line naming the problem and what to do.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notInitialized(path: String)
    case alreadyInitialized(path: String, name: String)
    case notAMarginStore(path: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case locked(path: String, holder: String, waited: Double)
    case unknownID(String)
    case ambiguousID(String, candidates: [String])
    case invalidID(String)
    case notFound(kind: String, id: String)
    case deleted(kind: String, id: String)
    case quoteNotFound(quote: String, article: String)
    case ambiguousQuote(quote: String, occurrences: [String])
    case positionOutOfRange(start: Int, end: Int, length: Int)
    case invalidArgument(String)
    case gap(origin: String, expected: Int64, got: Int64)
    case clockSkew(origin: String, aheadBy: Double, limit: Double)
    case invalidChange(String)
    /// A run whose signature, key or chain does not hold: forged, altered, truncated or reordered.
    case forgedRun(origin: String, seq: Int64, reason: String)
    /// A held dot that arrived with other bytes: two writers of one origin.
    case equivocation(origin: String, seq: Int64, ownOrigin: Bool)
    /// A change that names a dot its receiver does not hold.
    case notCausal(origin: String, seq: Int64, names: String)

    public var description: String {
        switch self {
        case .notInitialized(let path):
            return "no Margin store at \(path); create one with `margin init --name NAME` (or pass --store PATH)"
        case .alreadyInitialized(let path, let name):
            return "\(path) is already a Margin store (replica \(name)); nothing to do"
        case .notAMarginStore(let path):
            return "\(path) is not a Margin store (it is not an SQLite database made by margin); "
                + "pass --store with the right path"
        case .newerSchema(let path, let found, let supported):
            return "\(path) uses store schema \(found) but this margin understands up to \(supported); "
                + "upgrade margin"
        case .locked(let path, let holder, let waited):
            return "the store \(path) is busy: \(holder) is writing to it; waited \(String(format: "%g", waited)) s; "
                + "try again later (MARGIN_LOCK_TIMEOUT=SECONDS waits longer)"
        case .unknownID(let id):
            return "no article, annotation or conflict has an id starting with '\(id)'; "
                + "see `margin list` and `margin annotations`"
        case .ambiguousID(let id, let candidates):
            return "the id prefix '\(id)' is ambiguous; it matches \(candidates.joined(separator: ", ")); "
                + "give more characters"
        case .invalidID(let id):
            return "'\(id)' is not an id: ids are hexadecimal (with dashes for annotations)"
        case .notFound(let kind, let id):
            return "no \(kind) has the id \(id)"
        case .deleted(let kind, let id):
            return "the \(kind) \(id) was deleted"
        case .quoteNotFound(let quote, let article):
            return "the quote \"\(quote)\" does not occur in article \(article); check the text with `margin show \(article.prefix(8))`"
        case .ambiguousQuote(let quote, let occurrences):
            return "the quote \"\(quote)\" occurs \(occurrences.count) times (\(occurrences.joined(separator: "; "))); "
                + "add --prefix/--suffix or use --start/--end"
        case .positionOutOfRange(let start, let end, let length):
            return "positions \(start)..<\(end) are outside the article body (0..<\(length) code points); "
                + "give 0 <= start < end <= \(length)"
        case .invalidArgument(let message):
            return message
        case .gap(let origin, let expected, let got):
            return "refused: changes from origin \(origin) would leave a gap (expected seq \(expected), got \(got)); "
                + "resend from the receiver's version vector"
        case .clockSkew(let origin, let aheadBy, let limit):
            return "refused: changes from origin \(origin) are stamped \(Self.duration(aheadBy)) ahead of this clock "
                + "(limit \(Self.duration(limit))); fix the clock on that replica, then sync again"
        case .invalidChange(let message):
            return "refused: \(message)"
        case .forgedRun(let origin, let seq, let reason):
            return "refused: the run of origin \(origin) from seq \(seq) is not what its author signed (\(reason)); "
                + "nothing of the batch was written; whoever sent or relayed it altered it"
        case .equivocation(let origin, let seq, let ownOrigin):
            if ownOrigin {
                return "refused: the remote holds another change \(origin):\(seq) made as this replica: this store "
                    + "file was copied and both copies wrote as one replica; keep using one copy, and on the other "
                    + "machine make a fresh replica (`margin init --store NEW.sqlite --name NAME`, then `margin pull`)"
            }
            return "refused: another change \(origin):\(seq) is already held: two stores write as replica \(origin) "
                + "(was a store file copied?); the held one stays, and that replica should be set up afresh with "
                + "`margin init` on a new store"
        case .notCausal(let origin, let seq, let names):
            return "refused: change \(origin):\(seq) names \(names), which the receiver does not hold; "
                + "a sender sends a change only after what it names"
        }
    }

    public static func duration(_ seconds: Double) -> String {
        if seconds >= 86_400 { return String(format: "%.1f days", seconds / 86_400) }
        if seconds >= 3_600 { return String(format: "%.1f hours", seconds / 3_600) }
        if seconds >= 60 { return String(format: "%.1f minutes", seconds / 60) }
        return String(format: "%.0f s", seconds)
    }
}
