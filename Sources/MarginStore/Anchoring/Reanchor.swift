import Foundation

/// Moves annotations to where their text went after an article's body was corrected.
///
/// Re-anchoring is derived state: given a target as stored (made on some revision whose text we
/// may still hold) and the article's current body, `locate` computes the current span. It is a pure,
/// deterministic function of its arguments, so every replica computes the same placement and
/// nothing new needs to sync.
///
/// The search runs in stages, cheapest and most certain first:
/// 1. **unchanged** — the bodies are equal, or the quote still sits at its offsets with the same
///    context on both sides;
/// 2. **diff** — the edit script between the old and the new body (Myers, over word tokens) carries
///    the span's ends to their new places; a span whose text was partly edited (a corrected
///    figure inside the quote) is scored by similarity;
/// 3. **exact** — the quote is searched in the new body (modulo whitespace runs and quote/dash
///    styles) and every occurrence is scored by how well its context agrees with the stored
///    prefix and suffix;
/// 4. **fuzzy** — an approximate search (q-gram seeds verified by a bounded edit-distance
///    alignment) finds quotes with a typo fixed inside.
///
/// A candidate is accepted only when its score reaches `minScore` and no other candidate comes
/// close: a passage whose text is gone, or whose context cannot tell two look-alikes apart, is
/// an orphan — never attached to a look-alike elsewhere. When the old body is known, a passage
/// found by search must also lie in text the edit script calls new (a moved paragraph): text
/// the diff maps to some *other* place of the old body is a different passage, however alike.
///
/// Offsets are Unicode code points (scalars), as in `TextTarget`.
public enum Reanchor {
    /// How a placement was found.
    public enum Method: String, Codable, Sendable {
        /// Same offsets, same quote, same context.
        case unchanged
        /// Carried through the edit script between the old and the new body.
        case diff
        /// Found by searching the quote (modulo whitespace and quote styles).
        case exact
        /// Found by approximate search.
        case fuzzy
    }

    /// Where an annotation sits in the current body.
    public struct Placement: Codable, Sendable, Equatable {
        /// First code point of the span in the new body.
        public var start: Int
        /// Code point after the span (exclusive).
        public var end: Int
        /// Confidence in 0...1 that this is the annotated text.
        public var score: Double
        /// How the span was found.
        public var method: Method

        /// Creates a placement.
        public init(start: Int, end: Int, score: Double, method: Method) {
            self.start = start
            self.end = end
            self.score = score
            self.method = method
        }
    }

    /// The result of re-anchoring one target.
    public enum Outcome: Codable, Sendable, Equatable {
        /// The annotation's text is at this span of the new body.
        case anchored(Placement)
        /// The text is gone (or no candidate is good enough): kept, never attached elsewhere. `best` is the best candidate found (for `margin orphans`), if any.
        case orphan(best: Placement?)

        /// The placement when anchored, else nil.
        public var placement: Placement? {
            if case .anchored(let placement) = self { return placement }
            return nil
        }
    }

    /// The score a candidate needs to be accepted.
    ///
    /// Calibrated on the generated wikinews evaluation set (`ReanchorCorpusTests`): a look-alike
    /// of a deleted passage with unrelated context scores at most about 0.6 (the quote's own
    /// weight is capped at 0.6), the right span with one side of its context changed scores
    /// 0.75 or more once the quote is long enough to speak for itself, and a diff-carried span
    /// with a corrected figure inside scores its similarity (about 0.85 for "12 dead" → "14 dead").
    public static let defaultMinScore: Double = 0.7

    /// How much better than the runner-up the best search candidate must score; closer than this,
    /// context cannot tell them apart and the annotation is an orphan.
    static let tieMargin = 0.05

    /// How far above the threshold an approximate (fuzzy) match must score.
    static let fuzzyMargin = 0.1

    /// Re-anchors one target.
    /// - Parameters:
    ///   - target: as stored.
    ///   - oldBody: the text of the revision the target was made on (nil when unknown).
    ///   - newBody: the current body.
    ///   - minScore: the score a placement needs; below it the annotation is an orphan.
    /// - Returns: The placement in `newBody`, or an orphan with the best candidate found.
    public static func locate(
        _ target: TextTarget, oldBody: String?, newBody: String, minScore: Double = defaultMinScore
    ) -> Outcome {
        locate([target], oldBody: oldBody, newBody: newBody, minScore: minScore)[0]
    }

    /// Re-anchors many targets made on the same revision, sharing the diff and the search index.
    /// Gives the same outcomes as calling `locate(_:oldBody:newBody:minScore:)` for each.
    /// - Parameters:
    ///   - targets: as stored, all made on `oldBody`.
    ///   - oldBody: the text of the revision the targets were made on (nil when unknown).
    ///   - newBody: the current body.
    ///   - minScore: the score a placement needs; below it the annotation is an orphan.
    /// - Returns: One outcome per target, in order.
    public static func locate(
        _ targets: [TextTarget], oldBody: String?, newBody: String, minScore: Double = defaultMinScore
    ) -> [Outcome] {
        let new = AnchorText(newBody)
        let old = oldBody.map { Array($0.unicodeScalars) }
        var diff: AnchorDiff?
        var identical = false
        if let old {
            if old.elementsEqual(new.scalars) {
                identical = true
            } else {
                diff = AnchorDiff(old: old, new: new.scalars)
            }
        }
        let searcher = Searcher(new: new, diff: diff, minScore: minScore)
        return targets.map { target in
            searcher.locate(target, old: old, identical: identical)
        }
    }
}

// MARK: - The search

/// One body, prepared for search: its scalars and its normalized form.
final class AnchorText {
    let scalars: [Unicode.Scalar]
    let normalized: NormalizedText
    private var gramIndex: [UInt64: [Int]]?

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        normalized = NormalizedText(scalars[...])
    }

    /// Positions (in normalized text) of every q-gram, built on first use.
    func grams() -> [UInt64: [Int]] {
        if let gramIndex { return gramIndex }
        var index: [UInt64: [Int]] = [:]
        let values = normalized.values
        if values.count >= FuzzySearch.q {
            for i in 0...(values.count - FuzzySearch.q) {
                index[FuzzySearch.gram(values, at: i), default: []].append(i)
            }
        }
        gramIndex = index
        return index
    }
}

struct Searcher {
    let new: AnchorText
    let diff: AnchorDiff?
    let minScore: Double

    /// Text around a moved hunk included when carrying a span into its new place.
    static let movePad = 48

    /// Candidates examined per search; more only cost time.
    static let maxCandidates = 64

    func locate(_ target: TextTarget, old: [Unicode.Scalar]?, identical: Bool) -> Reanchor.Outcome {
        let exact = Array(target.exact.unicodeScalars)
        let n = new.scalars.count
        let positionsValid = target.start >= 0 && target.end > target.start && target.end <= n
        let quoteHere = positionsValid && new.scalars[target.start..<target.end].elementsEqual(exact)
        guard !exact.isEmpty else { return .orphan(best: nil) }

        // A diff is usable only when the target really describes the old body.
        var usableDiff: AnchorDiff?
        if let old {
            let oldValid = target.start >= 0 && target.end > target.start && target.end <= old.count
                && old[target.start..<target.end].elementsEqual(exact)
            if oldValid {
                if identical {
                    return .anchored(.init(start: target.start, end: target.end, score: 1, method: .unchanged))
                }
                usableDiff = diff
            }
        }

        // Stage 1: the quote still sits at its offsets with the same context on both sides.
        if quoteHere, contextIdentical(target, start: target.start, end: target.end) {
            if let usableDiff {
                let mapped = usableDiff.map(start: target.start, end: target.end)
                if mapped.start == target.start, mapped.end == target.end {
                    return .anchored(.init(start: target.start, end: target.end, score: 1, method: .unchanged))
                }
            } else {
                return .anchored(.init(start: target.start, end: target.end, score: 1, method: .unchanged))
            }
        }

        let quote = NormalizedText(exact[...]).values
        let prefix = NormalizedText(Array(target.prefix.unicodeScalars)[...]).values
        let suffix = NormalizedText(Array(target.suffix.unicodeScalars)[...]).values
        var orphanBest: Reanchor.Placement?

        // Stage 2: through the edit script.
        var expected = min(max(0, target.start), n)
        if let usableDiff {
            expected = usableDiff.map(start: target.start, end: target.end).start
            switch carry(target, exact: exact, quote: quote, prefix: prefix, suffix: suffix,
                         through: usableDiff, oldStart: target.start, oldEnd: target.end, newBase: 0)
            {
            case .accepted(let placement): return .anchored(placement)
            case .rejected(let placement): orphanBest = placement
            case .none: break
            }
        }

        // Stages 3 and 4: search.
        var candidates: [Candidate] = []
        if let usableDiff, let old {
            // With the edit script known, search only finds text that moved: the quote's old
            // place must be (mostly) gone, and a candidate must lie in (mostly) new text. Text
            // the diff keeps came from some other place of the old body: a look-alike. The span
            // is then carried from the old hunk to the new one by their own edit script, so a
            // moved passage that was also cut or corrected lands as precisely as one in place.
            if usableDiff.deletedFraction(start: target.start, end: target.end) >= 0.5,
                let from = usableDiff.hunk(containingOld: target.start, end: target.end)
            {
                var seen = Set<Int>()
                let raw = searchCandidates(quote: quote)
                for candidate in raw {
                    guard usableDiff.insertedFraction(start: candidate.start, end: candidate.end) >= 0.8 else { continue }
                    guard let to = usableDiff.hunk(containingNew: candidate.start, end: candidate.end),
                        seen.insert(to.newStart).inserted
                    else { continue }
                    // Both hunks with some text around them: the edges of a moved paragraph may
                    // sit in text the diff matched elsewhere (a final "." kept in place).
                    let oldLow = max(0, from.oldStart - Self.movePad)
                    let oldHigh = min(old.count, from.oldEnd + Self.movePad)
                    let newLow = max(0, to.newStart - Self.movePad)
                    let newHigh = min(n, to.newEnd + Self.movePad)
                    guard let moved = AnchorDiff(
                        old: Array(old[oldLow..<oldHigh]), new: Array(new.scalars[newLow..<newHigh]))
                    else { continue }
                    if case .accepted(let placement) = carry(
                        target, exact: exact, quote: quote, prefix: prefix, suffix: suffix, through: moved,
                        // A part outside the moved region stayed behind: what moved is the rest.
                        oldStart: max(0, target.start - oldLow),
                        oldEnd: min(oldHigh - oldLow, target.end - oldLow),
                        newBase: newLow)
                    {
                        let similarity = Similarity.ratio(quote, NormalizedText(new.scalars[placement.start..<placement.end]).values)
                        candidates.append(Candidate(
                            start: placement.start, end: placement.end, similarity: similarity, method: .diff))
                    }
                }
                // Every occurrence may tie (identical captions: which one moved, the diff cannot
                // know), except where a carried span already stands for it; only carried spans
                // can be the answer.
                let carried = candidates
                for var r in raw where !carried.contains(where: { $0.start < r.end && r.start < $0.end }) {
                    r.tieOnly = true
                    candidates.append(r)
                }
            }
        } else {
            candidates = searchCandidates(quote: quote)
        }
        var scored: [(placement: Reanchor.Placement, tieOnly: Bool)] = []
        for candidate in candidates {
            let context = contextAgreement(prefix: prefix, suffix: suffix, start: candidate.start, end: candidate.end)
            let score = Self.combine(
                quote: candidate.similarity, prefix: context.prefix, suffix: context.suffix,
                quoteLength: quote.count, moved: usableDiff != nil)
            scored.append((.init(start: candidate.start, end: candidate.end, score: score, method: candidate.method), candidate.tieOnly))
        }
        // Best first; position (distance to the expected place) only orders equals deterministically.
        scored.sort { l, r in
            let lhs = l.placement
            let rhs = r.placement
            if lhs.score != rhs.score { return lhs.score > rhs.score }
            let dl = abs(lhs.start - expected)
            let dr = abs(rhs.start - expected)
            if dl != dr { return dl < dr }
            return (lhs.start, lhs.end) < (rhs.start, rhs.end)
        }
        guard let best = scored.first(where: { !$0.tieOnly })?.placement else {
            return .orphan(best: scored.first?.placement ?? orphanBest)
        }
        if let second = scored.first(where: { $0.placement != best && !overlaps($0.placement, best) }),
            second.placement.score >= best.score - Reanchor.tieMargin
        {
            return .orphan(best: best)  // context cannot tell them apart: never guess
        }
        // An approximate match is a passage partly rewritten or cut (a sentence inserted into it
        // leaves a look-alike tail): it needs a clear margin over the threshold.
        if best.score >= minScore + (best.method == .fuzzy ? Reanchor.fuzzyMargin : 0) {
            return .anchored(best)
        }
        if let orphanBest, orphanBest.score > best.score { return .orphan(best: orphanBest) }
        return .orphan(best: best)
    }

    enum Carried {
        case accepted(Reanchor.Placement)
        case rejected(Reanchor.Placement)
    }

    /// Carries `oldStart..<oldEnd` (offsets in `diff.old`) through `diff`, whose new side starts at
    /// `newBase` of the current body. Accepted when the carried text is the quote (with context to
    /// back a short one), or similar enough (a corrected figure inside, an end cut by a deletion);
    /// nil when the span vanished or one of its ends was rewritten.
    func carry(
        _ target: TextTarget, exact: [Unicode.Scalar], quote: [UInt32], prefix: [UInt32], suffix: [UInt32],
        through diff: AnchorDiff, oldStart: Int, oldEnd: Int, newBase: Int
    ) -> Carried? {
        // An end inside text that was rewritten (not just cut) has no place to go: the passage
        // was partly replaced, and any span would be a guess.
        if diff.insideReplacement(oldStart) || diff.insideReplacement(oldEnd) { return nil }
        var mapped = diff.map(start: oldStart, end: oldEnd)
        mapped.start += newBase
        mapped.end += newBase
        guard mapped.start >= 0, mapped.end <= new.scalars.count else { return nil }
        // A span cut by a deletion keeps no whitespace at its cut end that the quote lacked.
        if !NormalizedText.isSpace(exact[0].value) {
            while mapped.start < mapped.end, NormalizedText.isSpace(new.scalars[mapped.start].value) {
                mapped.start += 1
            }
        }
        if !NormalizedText.isSpace(exact[exact.count - 1].value) {
            while mapped.end > mapped.start, NormalizedText.isSpace(new.scalars[mapped.end - 1].value) {
                mapped.end -= 1
            }
        }
        guard mapped.start < mapped.end else { return nil }
        let text = new.scalars[mapped.start..<mapped.end]
        if text.elementsEqual(exact) {
            let context = contextAgreement(prefix: prefix, suffix: suffix, start: mapped.start, end: mapped.end)
            // A short quote whose context changed on both sides may be a look-alike the edit
            // script slid onto (a deleted "The" next to a kept "The"): search instead.
            guard quote.count >= 20 || context.prefix >= 0.5 || context.suffix >= 0.5 else { return nil }
            let method: Reanchor.Method =
                mapped.start == target.start && mapped.end == target.end
                && contextIdentical(target, start: mapped.start, end: mapped.end) ? .unchanged : .diff
            return .accepted(.init(start: mapped.start, end: mapped.end, score: 1, method: method))
        }
        let similarity = Similarity.ratio(quote, NormalizedText(text).values)
        let placement = Reanchor.Placement(start: mapped.start, end: mapped.end, score: similarity, method: .diff)
        let context = contextAgreement(prefix: prefix, suffix: suffix, start: mapped.start, end: mapped.end)
        // A short quote that only resembles its carried text ("Budd." and "Budd..") says little
        // by itself: its context must agree on both sides.
        if quote.count < 20, context.prefix < 0.5 || context.suffix < 0.5 { return .rejected(placement) }
        // An end that kept the quote's own words but lost the quote's context is a look-alike's end
        // (the same words in an inserted sentence), not the passage cut short there.
        let k = min(8, exact.count, text.count)
        if context.prefix < 0.5, text.prefix(k).elementsEqual(exact.prefix(k)), !prefix.isEmpty {
            return .rejected(placement)
        }
        if context.suffix < 0.5, text.suffix(k).elementsEqual(exact.suffix(k)), !suffix.isEmpty {
            return .rejected(placement)
        }
        return similarity >= minScore ? .accepted(placement) : .rejected(placement)
    }

    private func overlaps(_ a: Reanchor.Placement, _ b: Reanchor.Placement) -> Bool {
        a.start < b.end && b.start < a.end
    }

    /// The score of a search candidate: its quote similarity, weighted by context agreement.
    ///
    /// The quote speaks for itself in proportion to its length (capped at 0.6, so that a
    /// look-alike with unrelated context never reaches the default threshold); the rest must come
    /// from the prefix and suffix. A short quote thus needs both sides of its context, a long
    /// one at least one. When the diff says the candidate is new text and the quote's old place
    /// is gone (a moved paragraph), the quote may weigh up to 0.9.
    static func combine(quote: Double, prefix: Double, suffix: Double, quoteLength: Int, moved: Bool) -> Double {
        let weight = moved ? min(0.9, Double(quoteLength) / 40) : min(0.6, Double(quoteLength) / 60)
        return quote * (weight + (1 - weight) * (prefix + suffix) / 2)
    }

    /// True when the stored prefix and suffix are exactly the text around `start..<end`.
    private func contextIdentical(_ target: TextTarget, start: Int, end: Int) -> Bool {
        let prefix = Array(target.prefix.unicodeScalars)
        let suffix = Array(target.suffix.unicodeScalars)
        let scalars = new.scalars
        guard start - prefix.count >= 0, end + suffix.count <= scalars.count else { return false }
        // A prefix shorter than the context length must start the body (likewise the suffix).
        if prefix.count < TextAnchor.contextLength, start - prefix.count != 0 { return false }
        if suffix.count < TextAnchor.contextLength, end + suffix.count != scalars.count { return false }
        return scalars[(start - prefix.count)..<start].elementsEqual(prefix)
            && scalars[end..<(end + suffix.count)].elementsEqual(suffix)
    }

    /// How well the text around `start..<end` (original offsets) agrees with the stored context,
    /// each side in 0...1.
    func contextAgreement(prefix: [UInt32], suffix: [UInt32], start: Int, end: Int) -> (prefix: Double, suffix: Double) {
        let norm = new.normalized
        let a = norm.index(ofOriginal: start)
        let b = norm.index(ofOriginal: end, end: true)
        let values = norm.values
        func side(_ stored: [UInt32], _ window: ArraySlice<UInt32>, atEdge: Bool) -> Double {
            if stored.isEmpty { return atEdge ? 1 : 0 }
            return Similarity.contextAgreement(stored, window)
        }
        let before = values[max(0, a - prefix.count)..<a]
        let after = values[b..<min(values.count, b + suffix.count)]
        return (side(prefix, before, atEdge: a == 0), side(suffix, after, atEdge: b == values.count))
    }

    struct Candidate {
        var start: Int
        var end: Int
        var similarity: Double
        var method: Reanchor.Method
        /// Only shows that a look-alike exists (a tie makes an orphan); never the answer itself.
        var tieOnly = false
    }

    /// Exact (normalized) occurrences of the quote, else approximate ones; in original offsets.
    func searchCandidates(quote: [UInt32]) -> [Candidate] {
        let norm = new.normalized
        var result: [Candidate] = []
        for position in FuzzySearch.occurrences(of: quote, in: norm.values, limit: Self.maxCandidates) {
            let span = norm.originalSpan(position, position + quote.count)
            result.append(Candidate(start: span.start, end: span.end, similarity: 1, method: .exact))
        }
        if result.isEmpty {
            for match in FuzzySearch.approximate(quote, in: new, limit: Self.maxCandidates) {
                var span = norm.originalSpan(match.start, match.end)
                // Approximate matches keep the quote's word boundaries: no stray whitespace at
                // the ends, and a start pulled back to the beginning of its word.
                let scalars = new.scalars
                if !NormalizedText.isSpace(quote[0]) {
                    while span.start < span.end, NormalizedText.isSpace(scalars[span.start].value) { span.start += 1 }
                    var back = span.start
                    while back > 0, span.start - back < 3, !NormalizedText.isSpace(scalars[back - 1].value) { back -= 1 }
                    if back == 0 || NormalizedText.isSpace(scalars[back - 1].value) { span.start = back }
                }
                if !NormalizedText.isSpace(quote[quote.count - 1]) {
                    while span.end > span.start, NormalizedText.isSpace(scalars[span.end - 1].value) { span.end -= 1 }
                }
                guard span.start < span.end else { continue }
                result.append(Candidate(start: span.start, end: span.end, similarity: match.similarity, method: .fuzzy))
            }
        }
        return result
    }
}
