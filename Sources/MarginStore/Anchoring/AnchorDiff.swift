import Foundation

/// The edit script between two bodies, in code-point offsets, for carrying spans across.
///
/// The diff runs over the word tokens of `ThreeWayMerge.Tokenizer` (Myers, O(ND)), so a span whose
/// ends sit on word boundaries maps to word boundaries; a position inside a hunk is placed
/// proportionally (see `map`). Pure insertions and deletions
/// are slid, where the tokens allow, to sentence and line boundaries — the way people delete a
/// sentence — so that deleting "The cat sat. " before "The dog ran." removes the first "The",
/// not the second.
struct AnchorDiff {
    /// A change: old `oldStart..<oldEnd` became new `newStart..<newEnd` (code points).
    struct Hunk {
        var oldStart: Int
        var oldEnd: Int
        var newStart: Int
        var newEnd: Int
    }

    /// Work allowed for the token diff; past it there is no usable diff.
    static let maxWork = 50_000_000

    let old: [Unicode.Scalar]
    let new: [Unicode.Scalar]
    /// Disjoint, in order, separated by unchanged text.
    let hunks: [Hunk]

    /// Nil when the bodies are too large and different to diff within `maxWork`.
    init?(old: [Unicode.Scalar], new: [Unicode.Scalar]) {
        self.old = old
        self.new = new
        var ids: [[UInt8]: Int32] = [:]
        func tokens(_ scalars: [Unicode.Scalar]) -> (ids: [Int32], offsets: [Int], info: [TokenInfo]) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            var result: [Int32] = []
            var offsets = [0]
            var info: [TokenInfo] = []
            var offset = 0
            for token in ThreeWayMerge.Tokenizer.tokens(of: String(view)) {
                let id: Int32
                if let known = ids[token] {
                    id = known
                } else {
                    id = Int32(ids.count)
                    ids[token] = id
                }
                result.append(id)
                let length = token.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
                info.append(TokenInfo(first: scalars[offset], last: scalars[offset + length - 1]))
                offset += length
                offsets.append(offset)
            }
            return (result, offsets, info)
        }
        let a = tokens(old)
        let b = tokens(new)
        guard var tokenHunks = ThreeWayMerge.MyersDiff.hunks(from: a.ids, to: b.ids, maxWork: Self.maxWork) else {
            return nil
        }
        Self.slide(&tokenHunks, old: a, new: b)
        Self.cleanup(&tokenHunks, old: old, oldOffsets: a.offsets, newOffsets: b.offsets)
        hunks = tokenHunks.map { h in
            Hunk(
                oldStart: a.offsets[h.baseStart], oldEnd: a.offsets[h.baseEnd],
                newStart: b.offsets[h.sideStart], newEnd: b.offsets[h.sideEnd])
        }
    }

    struct TokenInfo {
        var first: Unicode.Scalar
        var last: Unicode.Scalar
    }

    // MARK: Sliding

    /// How good a place `p` (between tokens) is for an insertion or deletion to start or end.
    private static func boundaryScore(_ info: [TokenInfo], _ p: Int) -> Int {
        if p == 0 || p == info.count { return 4 }
        let before = info[p - 1]
        if before.last == "\n" { return 3 }
        if NormalizedText.isSpace(before.last.value) {
            if p >= 2, ".!?\"”’)".unicodeScalars.contains(info[p - 2].last) { return 2 }
            return 1
        }
        return 0
    }

    private static func slide(
        _ hunks: inout [ThreeWayMerge.Hunk],
        old: (ids: [Int32], offsets: [Int], info: [TokenInfo]),
        new: (ids: [Int32], offsets: [Int], info: [TokenInfo])
    ) {
        for i in hunks.indices {
            let h = hunks[i]
            let deletion = h.sideStart == h.sideEnd
            let insertion = h.baseStart == h.baseEnd
            guard deletion != insertion else { continue }
            let tokens = deletion ? old.ids : new.ids
            let info = deletion ? old.info : new.info
            var start = deletion ? h.baseStart : h.sideStart
            var end = deletion ? h.baseEnd : h.sideEnd
            let low: Int
            let high: Int
            if deletion {
                low = i == 0 ? 0 : hunks[i - 1].baseEnd + 1
                high = i == hunks.count - 1 ? tokens.count : hunks[i + 1].baseStart - 1
            } else {
                low = i == 0 ? 0 : hunks[i - 1].sideEnd + 1
                high = i == hunks.count - 1 ? tokens.count : hunks[i + 1].sideStart - 1
            }
            while start - 1 >= low, tokens[start - 1] == tokens[end - 1] {
                start -= 1
                end -= 1
            }
            var bestShift = 0
            var bestScore = boundaryScore(info, start) + boundaryScore(info, end)
            var shift = 0
            while end + shift + 1 <= high, tokens[start + shift] == tokens[end + shift] {
                shift += 1
                let score = boundaryScore(info, start + shift) + boundaryScore(info, end + shift)
                if score > bestScore {
                    bestScore = score
                    bestShift = shift
                }
            }
            let moved = (start + bestShift) - (deletion ? h.baseStart : h.sideStart)
            hunks[i].baseStart += moved
            hunks[i].baseEnd += moved
            hunks[i].sideStart += moved
            hunks[i].sideEnd += moved
        }
    }

    // MARK: Cleanup

    /// Drops coincidental equalities: a short run of unchanged text (a "the", a comma) between two
    /// larger edits is not the same passage surviving but two different texts that happen to share
    /// a word. Left in, it would anchor a deleted passage's "on Saturday" to another sentence's.
    /// The rule is diff-match-patch's semantic cleanup: an equality no longer than the edits on
    /// both sides of it is folded into one replacement, until none is left. Only short equalities
    /// within a line qualify: a kept sentence or paragraph between two edits is real.
    static let maxCoincidence = 24

    private static func cleanup(
        _ hunks: inout [ThreeWayMerge.Hunk], old: [Unicode.Scalar], oldOffsets: [Int], newOffsets: [Int]
    ) {
        func size(_ h: ThreeWayMerge.Hunk) -> Int {
            max(oldOffsets[h.baseEnd] - oldOffsets[h.baseStart], newOffsets[h.sideEnd] - newOffsets[h.sideStart])
        }
        var changed = true
        while changed, hunks.count > 1 {
            changed = false
            var out: [ThreeWayMerge.Hunk] = []
            out.reserveCapacity(hunks.count)
            for h in hunks {
                if let last = out.last {
                    let from = oldOffsets[last.baseEnd]
                    let to = oldOffsets[h.baseStart]
                    let equality = to - from
                    if equality <= maxCoincidence, equality <= size(last), equality <= size(h),
                        !old[from..<to].contains("\n")
                    {
                        var merged = last
                        merged.baseEnd = h.baseEnd
                        merged.sideEnd = h.sideEnd
                        out[out.count - 1] = merged
                        changed = true
                        continue
                    }
                }
                out.append(h)
            }
            hunks = out
        }
    }

    // MARK: Mapping

    /// Index of the last hunk whose old start is before `p` (`inclusive`: at or before), or -1.
    private func lastHunk(oldBefore p: Int, inclusive: Bool) -> Int {
        var low = 0
        var high = hunks.count
        while low < high {
            let mid = (low + high) / 2
            if inclusive ? hunks[mid].oldStart <= p : hunks[mid].oldStart < p {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return low - 1
    }

    /// Carries a span to the new body. Text inserted right at either end stays outside; text that
    /// replaced the span's first or last words is inside. A position strictly inside a hunk is
    /// placed proportionally: inside a deletion that is the deletion's place; inside a replacement
    /// it is only an estimate (an expected position), and `Searcher.carry` never accepts a span
    /// whose end lies there (`insideReplacement`).
    func map(start: Int, end: Int) -> (start: Int, end: Int) {
        let s = mapStart(start)
        let e = mapEnd(end)
        return (s, max(s, e))
    }

    func mapStart(_ p: Int) -> Int {
        let i = lastHunk(oldBefore: p, inclusive: true)
        guard i >= 0 else { return p }
        let h = hunks[i]
        if p < h.oldEnd {
            return p == h.oldStart ? h.newStart : proportional(h, p, end: false)
        }
        return p + (h.newEnd - h.oldEnd)
    }

    func mapEnd(_ p: Int) -> Int {
        let i = lastHunk(oldBefore: p, inclusive: false)
        guard i >= 0 else { return p }
        let h = hunks[i]
        if h.oldStart < h.oldEnd, p <= h.oldEnd {
            return p == h.oldEnd ? h.newEnd : proportional(h, p, end: true)
        }
        return p + (h.newEnd - h.oldEnd)
    }

    /// Old position `p`, strictly inside hunk `h`, at the same distance from the hunk's start
    /// (for a span start) or end (for a span end) on the new side, clamped to it.
    private func proportional(_ h: Hunk, _ p: Int, end: Bool) -> Int {
        let newLength = h.newEnd - h.newStart
        return end
            ? h.newEnd - min(h.oldEnd - p, newLength)
            : h.newStart + min(p - h.oldStart, newLength)
    }

    // MARK: Overlaps

    /// Calls `body` with every hunk whose old (or new) side overlaps `start..<end` on that side,
    /// and the length of the overlap.
    private func forEachOverlap(_ start: Int, _ end: Int, old: Bool, _ body: (Hunk, Int) -> Void) {
        var low = 0
        var high = hunks.count
        while low < high {
            let mid = (low + high) / 2
            if (old ? hunks[mid].oldEnd : hunks[mid].newEnd) <= start { low = mid + 1 } else { high = mid }
        }
        var i = low
        while i < hunks.count, (old ? hunks[i].oldStart : hunks[i].newStart) < end {
            let h = hunks[i]
            let overlap = old ? min(end, h.oldEnd) - max(start, h.oldStart) : min(end, h.newEnd) - max(start, h.newStart)
            if overlap > 0 { body(h, overlap) }
            i += 1
        }
    }

    /// The hunk whose old (or new) side overlaps `start..<end` the most, if any.
    private func hunk(overlapping start: Int, _ end: Int, old: Bool) -> Hunk? {
        var best: (hunk: Hunk, overlap: Int)?
        forEachOverlap(start, end, old: old) { h, overlap in
            if overlap > (best?.overlap ?? 0) { best = (h, overlap) }
        }
        return best?.hunk
    }

    /// The fraction of `start..<end` that hunks cover on the old (or new) side.
    private func changedFraction(_ start: Int, _ end: Int, old: Bool) -> Double {
        guard end > start else { return 0 }
        var changed = 0
        forEachOverlap(start, end, old: old) { _, overlap in changed += overlap }
        return Double(changed) / Double(end - start)
    }

    /// The hunk whose old side overlaps old `start..<end` the most, if any.
    func hunk(containingOld start: Int, end: Int) -> Hunk? { hunk(overlapping: start, end, old: true) }

    /// The hunk whose new side overlaps new `start..<end` the most, if any.
    func hunk(containingNew start: Int, end: Int) -> Hunk? { hunk(overlapping: start, end, old: false) }

    /// The fraction of old `start..<end` that the diff calls deleted (not carried to the new body).
    func deletedFraction(start: Int, end: Int) -> Double { changedFraction(start, end, old: true) }

    /// The fraction of new `start..<end` that the diff calls inserted (not carried over from the
    /// old body).
    func insertedFraction(start: Int, end: Int) -> Double { changedFraction(start, end, old: false) }

    /// True when old position `p` lies strictly inside a hunk that replaced text with other text
    /// (not a pure deletion): a span end there was rewritten, and where it went is a guess.
    func insideReplacement(_ p: Int) -> Bool {
        let i = lastHunk(oldBefore: p, inclusive: false)
        guard i >= 0 else { return false }
        let h = hunks[i]
        return h.oldStart < p && p < h.oldEnd && h.newStart < h.newEnd
    }
}
