import Foundation

/// Three-way merge of two concurrent edits of a text against their common ancestor (diff3 over
/// word tokens), used for annotation notes.
///
/// Every replica must reach the same result whichever edit it sees first, so the merge is
/// deterministic and symmetric: `merge(base: o, a, b) == merge(base: o, b, a)`. To keep it so:
/// - texts are compared by their exact UTF-8 bytes, never with `String ==` (which treats
///   canonically equivalent strings as equal and would let the argument order pick the bytes);
/// - tokenisation uses fixed scalar tables below rather than the standard library's Unicode
///   properties or grapheme breaking, which change between Swift versions;
/// - edits by both sides that touch or overlap conflict, unless both produce the same text there.
///   Two insertions at the same place conflict too: taking both would need an order.
public enum ThreeWayMerge {
    /// Upper bound on the work of one diff (diagonal steps of the Myers search). Past it the
    /// texts are too different to merge usefully and the merge reports a conflict. Notes of
    /// ~10 KB that differ everywhere stay well below it.
    static let maxDiffWork = 20_000_000

    /// Merges two edits of `base`; nil when they overlap (a conflict the user must settle).
    ///
    /// Edits to different words of a line, or to different lines, both apply. Edits that overlap
    /// or touch (no unchanged token between them) conflict, unless both sides made the same change,
    /// which is then taken once. A side equal to `base` yields the other side unchanged.
    /// - Parameters:
    ///   - base: The common ancestor both edits started from.
    ///   - a: One edit of `base`.
    ///   - b: The other edit of `base`.
    /// - Returns: The merged text, or nil on a conflict (or when the texts are too large and
    ///   different to diff within `maxDiffWork`).
    public static func merge(base: String, _ a: String, _ b: String) -> String? {
        if a.utf8.elementsEqual(b.utf8) { return a }
        if a.utf8.elementsEqual(base.utf8) { return b }
        if b.utf8.elementsEqual(base.utf8) { return a }

        var interner = TokenInterner()
        let baseTokens = interner.tokens(of: base)
        let aTokens = interner.tokens(of: a)
        let bTokens = interner.tokens(of: b)
        guard let aHunks = MyersDiff.hunks(from: baseTokens, to: aTokens, maxWork: maxDiffWork),
            let bHunks = MyersDiff.hunks(from: baseTokens, to: bTokens, maxWork: maxDiffWork)
        else { return nil }

        var edits = aHunks.map { Edit(hunk: $0, side: .a) } + bHunks.map { Edit(hunk: $0, side: .b) }
        edits.sort { lhs, rhs in
            (lhs.hunk.baseStart, lhs.hunk.baseEnd, lhs.side.rawValue)
                < (rhs.hunk.baseStart, rhs.hunk.baseEnd, rhs.side.rawValue)
        }

        var merged: [Int32] = []
        var position = 0
        var index = 0
        while index < edits.count {
            // A cluster: edits chained by overlapping or touching base ranges (closed intervals,
            // so an insertion at either end of another edit, or at the same place, joins it).
            var cluster = [edits[index]]
            var clusterEnd = edits[index].hunk.baseEnd
            index += 1
            while index < edits.count, edits[index].hunk.baseStart <= clusterEnd {
                clusterEnd = max(clusterEnd, edits[index].hunk.baseEnd)
                cluster.append(edits[index])
                index += 1
            }
            let clusterStart = cluster[0].hunk.baseStart
            merged += baseTokens[position..<clusterStart]

            let aEdits = cluster.filter { $0.side == .a }.map(\.hunk)
            let bEdits = cluster.filter { $0.side == .b }.map(\.hunk)
            let aRegion = region(clusterStart..<clusterEnd, base: baseTokens, side: aTokens, hunks: aEdits)
            if bEdits.isEmpty {
                merged += aRegion
            } else {
                let bRegion = region(clusterStart..<clusterEnd, base: baseTokens, side: bTokens, hunks: bEdits)
                if aEdits.isEmpty {
                    merged += bRegion
                } else if aRegion == bRegion {
                    merged += aRegion
                } else {
                    return nil
                }
            }
            position = clusterEnd
        }
        merged += baseTokens[position...]
        return interner.text(of: merged)
    }

    /// The tokens one side puts in place of `range` of the base.
    private static func region(_ range: Range<Int>, base: [Int32], side: [Int32], hunks: [Hunk]) -> [Int32] {
        var out: [Int32] = []
        var position = range.lowerBound
        for hunk in hunks {
            out += base[position..<hunk.baseStart]
            out += side[hunk.sideStart..<hunk.sideEnd]
            position = hunk.baseEnd
        }
        out += base[position..<range.upperBound]
        return out
    }

    private enum Side: Int {
        case a = 0
        case b = 1
    }

    private struct Edit {
        var hunk: Hunk
        var side: Side
    }
}

extension ThreeWayMerge {
    /// A change: `base[baseStart..<baseEnd]` becomes `side[sideStart..<sideEnd]`. Either range may be
    /// empty (an insertion or a deletion), not both.
    struct Hunk: Equatable {
        var baseStart: Int
        var baseEnd: Int
        var sideStart: Int
        var sideEnd: Int
    }

    // MARK: Tokens

    /// Maps token texts to small integers, compared by exact bytes.
    struct TokenInterner {
        private var ids: [[UInt8]: Int32] = [:]
        private var texts: [[UInt8]] = []

        /// The text split into tokens, as ids.
        mutating func tokens(of text: String) -> [Int32] {
            Tokenizer.tokens(of: text).map { token in
                if let id = ids[token] { return id }
                let id = Int32(texts.count)
                ids[token] = id
                texts.append(token)
                return id
            }
        }

        /// The text of a sequence of token ids.
        func text(of tokens: [Int32]) -> String {
            var bytes: [UInt8] = []
            for token in tokens { bytes += texts[Int(token)] }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Splits text into words and the separators between them, so that edits to different words
    /// of one line merge.
    ///
    /// Classes are fixed scalar tables (see `ThreeWayMerge`): runs of word scalars form one token,
    /// runs of horizontal whitespace one token, and each line break, punctuation mark and CJK
    /// ideograph or kana its own token (CJK has no spaces between words). Runs of emoji scalars
    /// (with their joiners and modifiers) form one token. Combining marks and joiners stay with
    /// the token before them.
    enum Tokenizer {
        enum Kind: Equatable {
            case word, space, emoji
            /// Never grouped with its neighbours.
            case single
            /// Attaches to the previous token.
            case extend
        }

        /// The tokens of `text` as UTF-8 byte arrays; concatenated they give back `text` exactly.
        static func tokens(of text: String) -> [[UInt8]] {
            var tokens: [[UInt8]] = []
            var current: [UInt8] = []
            var currentKind: Kind?
            for scalar in text.unicodeScalars {
                let kind = self.kind(of: scalar)
                let joins: Bool
                switch kind {
                case .extend: joins = currentKind != nil
                case .single: joins = false
                case .word, .space, .emoji: joins = currentKind == kind
                }
                if !joins {
                    if !current.isEmpty { tokens.append(current) }
                    current = []
                    currentKind = kind == .extend ? .single : kind
                }
                current += Array(String(scalar).utf8)
            }
            if !current.isEmpty { tokens.append(current) }
            return tokens
        }

        static func kind(of scalar: Unicode.Scalar) -> Kind {
            let v = scalar.value
            switch v {
            case 0x0A, 0x0D, 0x85, 0x2028, 0x2029:
                return .single  // line breaks: each its own token, so lines merge independently
            case 0x09, 0x0B, 0x0C, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000, 0xFEFF:
                return .space
            case 0x0300...0x036F, 0x1AB0...0x1AFF, 0x1DC0...0x1DFF, 0x20D0...0x20FF, 0xFE00...0xFE0F,
                0xFE20...0xFE2F, 0x3099...0x309A, 0x200C...0x200F, 0xE0020...0xE007F, 0xE0100...0xE01EF:
                return .extend  // combining marks, variation selectors, joiners, emoji tag sequences
            case 0x21...0x2F, 0x3A...0x40, 0x5B...0x5E, 0x60, 0x7B...0x7E, 0xA1...0xBF, 0xD7, 0xF7,
                0x2010...0x2027, 0x2030...0x205E, 0x3001...0x3003, 0x3008...0x3020, 0x30FB,
                0xFF01...0xFF0F, 0xFF1A...0xFF20, 0xFF3B...0xFF40, 0xFF5B...0xFF65:
                return .single  // punctuation and symbols
            case 0x2E80...0x2FDF, 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
                0xF900...0xFAFF, 0xFF66...0xFF9F, 0x20000...0x3FFFF:
                return .single  // CJK ideographs and kana: no spaces between words
            case 0x2190...0x2BFF, 0x1F000...0x1FAFF:
                return .emoji
            default:
                return .word
            }
        }
    }

    // MARK: Diff

    /// Myers' O((N+M)·D) diff in linear space (divide and conquer on the middle snake).
    enum MyersDiff {
        /// The hunks that turn `base` into `side`, in base order, separated by at least one unchanged
        /// token; nil when the diff would take more than `maxWork` steps.
        static func hunks(from base: [Int32], to side: [Int32], maxWork: Int) -> [Hunk]? {
            var search = Search(x: base, y: side, budget: maxWork)
            guard search.compare(0, base.count, 0, side.count) else { return nil }

            var hunks: [Hunk] = []
            var x = 0
            var y = 0
            for match in search.matches + [(x: base.count, y: side.count, length: 0)] {
                if match.x > x || match.y > y {
                    hunks.append(Hunk(baseStart: x, baseEnd: match.x, sideStart: y, sideEnd: match.y))
                }
                x = match.x + match.length
                y = match.y + match.length
            }
            return hunks
        }

        private struct Search {
            let x: [Int32]
            let y: [Int32]
            var budget: Int
            /// Runs of equal tokens, in order; adjacent runs are coalesced.
            var matches: [(x: Int, y: Int, length: Int)] = []

            init(x: [Int32], y: [Int32], budget: Int) {
                self.x = x
                self.y = y
                self.budget = budget
            }

            mutating func addMatch(x: Int, y: Int, length: Int) {
                guard length > 0 else { return }
                if let last = matches.last, last.x + last.length == x, last.y + last.length == y {
                    matches[matches.count - 1].length += length
                } else {
                    matches.append((x, y, length))
                }
            }

            /// Records the matches between `x[xLow..<xHigh]` and `y[yLow..<yHigh]`; false when the
            /// budget ran out.
            mutating func compare(_ xLow: Int, _ xHigh: Int, _ yLow: Int, _ yHigh: Int) -> Bool {
                var (xLow, xHigh, yLow, yHigh) = (xLow, xHigh, yLow, yHigh)
                let prefixStart = (xLow, yLow)
                while xLow < xHigh, yLow < yHigh, x[xLow] == y[yLow] {
                    xLow += 1
                    yLow += 1
                }
                addMatch(x: prefixStart.0, y: prefixStart.1, length: xLow - prefixStart.0)
                var suffix = 0
                while xLow < xHigh, yLow < yHigh, x[xHigh - 1] == y[yHigh - 1] {
                    xHigh -= 1
                    yHigh -= 1
                    suffix += 1
                }
                if xLow < xHigh, yLow < yHigh {
                    // Both sides non-empty and differing at both ends, so D ≥ 2 and the middle snake
                    // splits the problem into two strictly smaller ones.
                    guard let snake = middleSnake(xLow, xHigh, yLow, yHigh) else { return false }
                    guard compare(xLow, snake.startX, yLow, snake.startY) else { return false }
                    addMatch(x: snake.startX, y: snake.startY, length: snake.endX - snake.startX)
                    guard compare(snake.endX, xHigh, snake.endY, yHigh) else { return false }
                }
                addMatch(x: xHigh, y: yHigh, length: suffix)
                return true
            }

            /// The x where a `d`-path on `diagonal` starts its final snake: one edit (down from
            /// `diagonal + 1` or right from `diagonal - 1`) past the furthest (d-1)-paths, staying in
            /// the n×m grid; nil when no such path exists.
            private static func step(d: Int, diagonal k: Int, values: [Int], offset: Int, n: Int, m: Int) -> Int? {
                if d == 0 { return 0 }
                var best: Int?
                if k + 1 <= d - 1, values[offset + k + 1] >= 0, values[offset + k + 1] - k <= m {
                    best = values[offset + k + 1]  // down: an insertion
                }
                if k - 1 >= -(d - 1), values[offset + k - 1] >= 0, values[offset + k - 1] + 1 <= n {
                    best = max(best ?? -1, values[offset + k - 1] + 1)  // right: a deletion
                }
                return best
            }

            /// The middle snake of an optimal path, in absolute coordinates.
            private mutating func middleSnake(
                _ xLow: Int, _ xHigh: Int, _ yLow: Int, _ yHigh: Int
            ) -> (startX: Int, startY: Int, endX: Int, endY: Int)? {
                let n = xHigh - xLow
                let m = yHigh - yLow
                let delta = n - m
                let odd = delta & 1 != 0
                let maxD = (n + m + 1) / 2
                let offset = maxD + 1
                // forward[k]: furthest x reached on diagonal k = x - y, walking from the start.
                // backward[c]: furthest distance from the end reached on reverse diagonal c = delta - k.
                // -1: not reached. Moves that would leave the grid are not taken, so an off-grid
                // point can never outbid a real one.
                var forward = [Int](repeating: -1, count: 2 * offset + 1)
                var backward = [Int](repeating: -1, count: 2 * offset + 1)

                for d in 0...maxD {
                    budget -= 2 * d + 1
                    if budget < 0 { return nil }
                    for k in stride(from: -d, through: d, by: 2) {
                        guard let px = Self.step(d: d, diagonal: k, values: forward, offset: offset, n: n, m: m) else {
                            continue
                        }
                        let py = px - k
                        var (cx, cy) = (px, py)
                        while cx < n, cy < m, x[xLow + cx] == y[yLow + cy] {
                            cx += 1
                            cy += 1
                        }
                        forward[offset + k] = cx
                        let c = delta - k
                        if odd, c >= -(d - 1), c <= d - 1, backward[offset + c] >= 0, cx + backward[offset + c] >= n {
                            return (xLow + px, yLow + py, xLow + cx, yLow + cy)
                        }
                    }
                    for c in stride(from: -d, through: d, by: 2) {
                        guard let px = Self.step(d: d, diagonal: c, values: backward, offset: offset, n: n, m: m) else {
                            continue
                        }
                        let py = px - c
                        var (cx, cy) = (px, py)
                        while cx < n, cy < m, x[xHigh - 1 - cx] == y[yHigh - 1 - cy] {
                            cx += 1
                            cy += 1
                        }
                        backward[offset + c] = cx
                        let k = delta - c
                        if !odd, k >= -d, k <= d, forward[offset + k] >= 0, cx + forward[offset + k] >= n {
                            return (xHigh - cx, yHigh - cy, xHigh - px, yHigh - py)
                        }
                    }
                }
                return nil  // unreachable: the searches meet by d = ceil((n + m) / 2)
            }
        }
    }
}
