import Foundation

/// Where an annotation sits in its article's current body: derived from its target, the revision
/// it was made on and the current body (see `Reanchor`), recomputed whenever the body changes.
public enum AnchorState: Sendable, Equatable {
    /// The passage is at `placement` in the current body.
    case anchored(Reanchor.Placement)
    /// The passage's text is gone from the current body. Kept, listed by `margin orphans`, never
    /// attached elsewhere; `best` is the closest candidate found, if any.
    case orphan(best: Reanchor.Placement?)

    /// The placement when anchored.
    public var placement: Reanchor.Placement? {
        if case .anchored(let placement) = self { return placement }
        return nil
    }

    /// True for an orphan.
    public var isOrphan: Bool {
        if case .orphan = self { return true }
        return false
    }

    init(_ outcome: Reanchor.Outcome) {
        switch outcome {
        case .anchored(let placement): self = .anchored(placement)
        case .orphan(let best): self = .orphan(best: best)
        }
    }
}
