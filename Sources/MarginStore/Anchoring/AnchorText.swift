import Foundation

/// Text normalized for comparison, with the way back to original code-point offsets.
///
/// Runs of whitespace become one space; typographic quotes become straight ones; dashes become
/// hyphen-minus. Case and everything else stay. Tables are fixed (no locale, no Unicode
/// properties that change between Swift versions) so every replica compares alike.
struct NormalizedText {
    /// Normalized scalar values.
    var values: [UInt32] = []
    /// Per normalized value: the first original offset it stands for.
    var starts: [Int] = []
    /// Per normalized value: the original offset after the last scalar it stands for.
    var ends: [Int] = []
    /// Per original scalar: the index of the normalized value that stands for it.
    var indexOf: [Int] = []

    init(_ scalars: ArraySlice<Unicode.Scalar>) {
        values.reserveCapacity(scalars.count)
        indexOf.reserveCapacity(scalars.count)
        var offset = 0
        for scalar in scalars {
            let value = Self.fold(scalar.value)
            if value == 0x20, values.last == 0x20, ends.last == offset, Self.isSpace(scalar.value) {
                ends[ends.count - 1] = offset + 1
            } else {
                values.append(value)
                starts.append(offset)
                ends.append(offset + 1)
            }
            indexOf.append(values.count - 1)
            offset += 1
        }
    }

    /// The normalized index where original offset `offset` begins (a start), or ends (`end`:
    /// the index after the value holding `offset - 1`).
    func index(ofOriginal offset: Int, end: Bool = false) -> Int {
        if end {
            return offset <= 0 ? 0 : indexOf[min(offset, indexOf.count) - 1] + 1
        }
        return offset >= indexOf.count ? values.count : indexOf[max(0, offset)]
    }

    /// The original span of normalized `start..<end`.
    func originalSpan(_ start: Int, _ end: Int) -> (start: Int, end: Int) {
        guard start < end else {
            let at = start < starts.count ? starts[start] : (ends.last ?? 0)
            return (at, at)
        }
        return (starts[start], ends[end - 1])
    }

    static func isSpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    static func fold(_ v: UInt32) -> UInt32 {
        if isSpace(v) { return 0x20 }
        switch v {
        case 0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x02BC: return 0x27  // ‘ ’ ‚ ‛ ′ ʼ → '
        case 0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x00AB, 0x00BB: return 0x22  // “ ” „ ‟ ″ « » → "
        case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212: return 0x2D  // dashes, minus → -
        default: return v
        }
    }
}

/// Similarity measures over normalized values.
enum Similarity {
    /// Work allowed for one comparison; past it the texts count as unrelated.
    static let maxWork = 2_000_000

    /// Edit cost between `a` and `b` (per hunk of the Myers diff, the longer side), or nil when
    /// the comparison would take more than `maxWork`.
    static func cost(_ a: ArraySlice<UInt32>, _ b: ArraySlice<UInt32>) -> Int? {
        if a.elementsEqual(b) { return 0 }
        let x = a.map { Int32(bitPattern: $0) }
        let y = b.map { Int32(bitPattern: $0) }
        guard let hunks = ThreeWayMerge.MyersDiff.hunks(from: x, to: y, maxWork: maxWork) else { return nil }
        return hunks.reduce(0) { $0 + max($1.baseEnd - $1.baseStart, $1.sideEnd - $1.sideStart) }
    }

    /// 1 − cost / longer length: 1 for equal texts, 0 for unrelated ones.
    static func ratio<A: Collection<UInt32>, B: Collection<UInt32>>(_ a: A, _ b: B) -> Double {
        let longer = max(a.count, b.count)
        guard longer > 0 else { return 1 }
        guard let cost = cost(ArraySlice(a), ArraySlice(b)) else { return 0 }
        return max(0, 1 - Double(cost) / Double(longer))
    }

    /// How well a window of the new text agrees with the stored context, in 0...1.
    ///
    /// Unrelated English windows of 32 code points still share about 40% (spaces, common letters),
    /// so the ratio is rescaled: 0.4 or less counts as no agreement.
    static func contextAgreement(_ stored: [UInt32], _ window: ArraySlice<UInt32>) -> Double {
        let r = ratio(stored, window)
        return min(1, max(0, (r - 0.4) / 0.6))
    }
}

/// Exact and approximate search of a normalized quote.
enum FuzzySearch {
    /// Length of the seeds of the approximate search.
    static let q = 4
    /// Longest quote (normalized code points) searched approximately; longer ones rely on the diff
    /// and exact search, keeping the work bounded.
    static let maxQuote = 1_000
    /// Diagonals verified per search.
    static let maxDiagonals = 8

    static func gram(_ values: [UInt32], at i: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for k in 0..<q {
            h = (h ^ UInt64(values[i + k])) &* 0x100_0000_01B3
        }
        return h
    }

    /// Start offsets of every occurrence of `needle` (at most `limit`).
    static func occurrences(of needle: [UInt32], in haystack: [UInt32], limit: Int) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var result: [Int] = []
        let first = needle[0]
        for i in 0...(haystack.count - needle.count) where haystack[i] == first {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) {
                result.append(i)
                if result.count >= limit { break }
            }
        }
        return result
    }

    struct Match: Equatable {
        var start: Int
        var end: Int
        var similarity: Double
    }

    /// Approximate occurrences of `quote` in the normalized text: q-gram seeds vote for diagonals,
    /// the best diagonals are verified by a semi-global edit-distance alignment. Matches below 0.5
    /// similarity are dropped.
    static func approximate(_ quote: [UInt32], in text: AnchorText, limit: Int) -> [Match] {
        let m = quote.count
        let values = text.normalized.values
        guard m >= q, m <= maxQuote, !values.isEmpty else { return [] }
        let index = text.grams()
        let seeds = m - q + 1
        let step = max(1, seeds / 64)
        var votes: [Int: Int] = [:]
        var j = 0
        while j < seeds {
            if let positions = index[gram(quote, at: j)], positions.count <= 4_096 {
                for p in positions { votes[p - j, default: 0] += 1 }
            }
            j += step
        }
        let minVotes = seeds / step >= 4 ? 2 : 1
        let ranked = votes.filter { $0.value >= minVotes }.sorted { lhs, rhs in
            lhs.value != rhs.value ? lhs.value > rhs.value : lhs.key < rhs.key
        }
        let slack = max(2, m * 3 / 10)
        var chosen: [Int] = []
        for (diagonal, _) in ranked {
            if chosen.count >= maxDiagonals { break }
            if chosen.contains(where: { abs($0 - diagonal) <= slack }) { continue }
            chosen.append(diagonal)
        }
        var matches: [Match] = []
        for diagonal in chosen {
            let low = max(0, diagonal - slack)
            let high = min(values.count, diagonal + m + slack)
            guard low < high else { continue }
            var (start, end, distance) = align(quote, values[low..<high])
            // The edit-distance alignment spans the quote's length even where its ends no longer
            // match (a cut sentence's place taken by the next one's words); keep only the part
            // that local alignment supports, and score that part against the whole quote.
            let window = values[(low + start)..<(low + end)]
            let local = trim(quote, window)
            if local.end - local.start < end - start, local.end > local.start {
                end = start + local.end
                start += local.start
                distance = Similarity.cost(quote[...], values[(low + start)..<(low + end)]) ?? m
            }
            let similarity = 1 - Double(distance) / Double(max(m, end - start))
            guard similarity >= 0.5 else { continue }
            let match = Match(start: low + start, end: low + end, similarity: similarity)
            if !matches.contains(where: { $0.start == match.start && $0.end == match.end }) {
                matches.append(match)
                if matches.count >= limit { break }
            }
        }
        return matches
    }

    /// The part of `text` that a local alignment (Smith–Waterman: match +1, mismatch or gap −1)
    /// with `pattern` covers: unmatched text at either end is left out. Ties keep the longer span.
    static func trim(_ pattern: [UInt32], _ text: ArraySlice<UInt32>) -> (start: Int, end: Int) {
        let t = Array(text)
        let w = t.count
        guard w > 0, !pattern.isEmpty else { return (0, w) }
        var previous = [Int](repeating: 0, count: w + 1)
        var previousStart = Array(0...w)
        var current = [Int](repeating: 0, count: w + 1)
        var currentStart = [Int](repeating: 0, count: w + 1)
        var best = 0
        var bestSpan = (start: 0, end: w)
        for i in 1...pattern.count {
            current[0] = 0
            currentStart[0] = 0
            let p = pattern[i - 1]
            for j in 1...w {
                var score = previous[j - 1] + (p == t[j - 1] ? 1 : -1)
                var start = previousStart[j - 1]
                if previous[j] - 1 > score {
                    score = previous[j] - 1
                    start = previousStart[j]
                }
                if current[j - 1] - 1 > score {
                    score = current[j - 1] - 1
                    start = currentStart[j - 1]
                }
                if score <= 0 {
                    score = 0
                    start = j
                }
                current[j] = score
                currentStart[j] = start
                if score > best || (score == best && score > 0 && j - start > bestSpan.end - bestSpan.start) {
                    best = score
                    bestSpan = (start, j)
                }
            }
            swap(&previous, &current)
            swap(&previousStart, &currentStart)
        }
        return best > 0 ? bestSpan : (0, w)
    }

    /// Semi-global alignment: the span of `text` closest to `pattern` in edit distance. Ties go to
    /// the span whose length is closest to the pattern's, then to the leftmost.
    static func align(_ pattern: [UInt32], _ text: ArraySlice<UInt32>) -> (start: Int, end: Int, distance: Int) {
        let t = Array(text)
        let w = t.count
        var previous = [Int](repeating: 0, count: w + 1)
        var previousStart = Array(0...w)
        var current = [Int](repeating: 0, count: w + 1)
        var currentStart = [Int](repeating: 0, count: w + 1)
        for i in 1...pattern.count {
            current[0] = i
            currentStart[0] = 0
            let p = pattern[i - 1]
            for j in 1...max(1, w) where w > 0 {
                var best = previous[j - 1] + (p == t[j - 1] ? 0 : 1)
                var start = previousStart[j - 1]
                if previous[j] + 1 < best {
                    best = previous[j] + 1
                    start = previousStart[j]
                }
                if current[j - 1] + 1 < best {
                    best = current[j - 1] + 1
                    start = currentStart[j - 1]
                }
                current[j] = best
                currentStart[j] = start
            }
            swap(&previous, &current)
            swap(&previousStart, &currentStart)
        }
        var bestEnd = 0
        for j in 0...w {
            let d = previous[j]
            let bestD = previous[bestEnd]
            if d < bestD {
                bestEnd = j
            } else if d == bestD {
                let lengthGap = abs((j - previousStart[j]) - pattern.count)
                let bestGap = abs((bestEnd - previousStart[bestEnd]) - pattern.count)
                if lengthGap < bestGap { bestEnd = j }
            }
        }
        return (previousStart[bestEnd], bestEnd, previous[bestEnd])
    }
}
