import Foundation
import Testing

@testable import MarginStore

@Suite("Three-way merge")
struct ThreeWayMergeTests {
    // MARK: Clean merges

    @Test func editsOnDifferentLinesMerge() {
        let base = "First line of the note.\nSecond line here.\nThird line."
        let a = "First line of the note, edited.\nSecond line here.\nThird line."
        let b = "First line of the note.\nSecond line here.\nThird line, also edited."
        #expect(
            ThreeWayMerge.merge(base: base, a, b)
                == "First line of the note, edited.\nSecond line here.\nThird line, also edited."
        )
    }

    @Test func editsToDifferentWordsOfOneLineMerge() {
        let base = "the quick brown fox jumps over the lazy dog"
        let a = "the slow brown fox jumps over the lazy dog"
        let b = "the quick brown fox jumps over the sleepy dog"
        #expect(ThreeWayMerge.merge(base: base, a, b) == "the slow brown fox jumps over the sleepy dog")
    }

    @Test func editsToNeighbouringWordsMergeWhenASpaceSeparatesThem() {
        let base = "the quick brown fox"
        #expect(ThreeWayMerge.merge(base: base, "the slow brown fox", "the quick red fox") == "the slow red fox")
    }

    @Test func appendedLineMergesWithEditOfFirstWord() {
        let base = "Check the figures.\nAsk the author."
        let a = "Check the figures.\nAsk the author.\nCompare with the 2019 report."
        let b = "Recheck the figures.\nAsk the author."
        #expect(
            ThreeWayMerge.merge(base: base, a, b)
                == "Recheck the figures.\nAsk the author.\nCompare with the 2019 report."
        )
    }

    @Test func deletionMergesWithEditElsewhere() {
        let base = "one two three four five"
        #expect(ThreeWayMerge.merge(base: base, "one three four five", "one two three four 5") == "one three four 5")
    }

    @Test func mergeFromEmptyBaseWhenOnlyOneSideWrote() {
        #expect(ThreeWayMerge.merge(base: "", "a new note", "") == "a new note")
    }

    // MARK: Conflicts

    @Test func sameWordChangedDifferentlyConflicts() {
        let base = "the quick brown fox"
        #expect(ThreeWayMerge.merge(base: base, "the slow brown fox", "the fast brown fox") == nil)
    }

    @Test func insertionsAtTheSamePlaceConflict() {
        let base = "alpha beta"
        #expect(ThreeWayMerge.merge(base: base, "alpha gamma beta", "alpha delta beta") == nil)
        #expect(ThreeWayMerge.merge(base: base, "alpha beta gamma", "alpha beta delta") == nil)
        #expect(ThreeWayMerge.merge(base: "", "one note", "another note") == nil)
    }

    @Test func touchingEditsConflict() {
        // b inserts right where a's change ends, with no unchanged token between them.
        let base = "the quick brown fox"
        #expect(ThreeWayMerge.merge(base: base, "the slow brown fox", "the quick, brown fox") == nil)
        #expect(ThreeWayMerge.merge(base: base, "the brown fox", "the quick brown fox jumps") != nil)
    }

    @Test func deletionConflictsWithEditInsideIt() {
        let base = "keep this. drop this whole sentence. keep that."
        let a = "keep this. keep that."
        let b = "keep this. drop this entire sentence. keep that."
        #expect(ThreeWayMerge.merge(base: base, a, b) == nil)
    }

    // MARK: Identical and trivial cases

    @Test func identicalChangesAreTakenOnce() {
        let base = "meet at noon on friday"
        let a = "meet at 1pm on friday, bring notes"
        let b = "meet at 1pm on saturday"
        // Both changed "noon" to "1pm"; the rest differs but does not overlap.
        #expect(ThreeWayMerge.merge(base: base, a, "meet at 1pm on friday") == a)
        #expect(ThreeWayMerge.merge(base: base, "meet at 1pm on friday", b) == b)
        #expect(
            ThreeWayMerge.merge(base: base, "meet at noon on friday!", "meet at 1pm on friday!")
                == "meet at 1pm on friday!")
    }

    @Test func identicalInsertionsAtTheSamePlaceAreTakenOnce() {
        #expect(ThreeWayMerge.merge(base: "a c", "a b c", "a b c d") == "a b c d")
    }

    @Test func equalSidesOrAnUnchangedSideGiveTheOtherSide() {
        #expect(ThreeWayMerge.merge(base: "x", "y", "y") == "y")
        #expect(ThreeWayMerge.merge(base: "x", "x", "y") == "y")
        #expect(ThreeWayMerge.merge(base: "x", "y", "x") == "y")
        #expect(ThreeWayMerge.merge(base: "x", "x", "x") == "x")
        #expect(ThreeWayMerge.merge(base: "x", "", "x") == "")
    }

    @Test func canonicallyEquivalentButDifferentBytesAreNotEqual() throws {
        // Swift's String == calls these equal; the merge must not, or argument order would pick the bytes.
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        let ab = ThreeWayMerge.merge(base: "bar", composed, decomposed)
        let ba = ThreeWayMerge.merge(base: "bar", decomposed, composed)
        #expect(ab == nil)
        #expect(ba == nil)
        let merged = try #require(ThreeWayMerge.merge(base: "x cafe y", "x caf\u{E9} y", "x cafe z"))
        #expect(Array(merged.utf8) == Array("x caf\u{E9} z".utf8))
    }

    // MARK: Scripts

    @Test func cjkEditsMergeCharacterByCharacter() {
        let base = "今天天气很好，我们去公园。"
        let a = "今天天气不错，我们去公园。"
        let b = "今天天气很好，我们去海边。"
        #expect(ThreeWayMerge.merge(base: base, a, b) == "今天天气不错，我们去海边。")
        #expect(ThreeWayMerge.merge(base: base, a, "今天天气很棒，我们去公园。") == nil)
    }

    @Test func japaneseWithKanaMerges() {
        let base = "きょうは雨です。あしたは晴れです。"
        let a = "きょうは雪です。あしたは晴れです。"
        let b = "きょうは雨です。あしたは曇りです。"
        #expect(ThreeWayMerge.merge(base: base, a, b) == "きょうは雪です。あしたは曇りです。")
    }

    @Test func emojiSequencesStayWhole() {
        let base = "Great work 👍 see you 👨‍👩‍👧 soon"
        let a = "Great work 👍🏽 see you 👨‍👩‍👧 soon"
        let b = "Great job 👍 see you 👨‍👩‍👦 soon"
        #expect(ThreeWayMerge.merge(base: base, a, b) == "Great job 👍🏽 see you 👨‍👩‍👦 soon")
        // Two different skin tones on the same emoji: one token changed two ways.
        #expect(ThreeWayMerge.merge(base: base, a, "Great work 👍🏿 see you 👨‍👩‍👧 soon") == nil)
    }

    @Test func accentedWordsWithCombiningMarksAreOneToken() {
        let base = "re\u{301}sume\u{301} draft"
        #expect(
            ThreeWayMerge.merge(base: base, "re\u{301}sume\u{301} final", "CV re\u{301}sume\u{301} draft")
                == "CV re\u{301}sume\u{301} final"
        )
    }

    // MARK: Tokens and diff

    @Test func tokensConcatenateBackToTheText() {
        let texts = [
            "", "plain words, and punctuation!", "line\r\nbreaks\n\n  indent\ttab",
            "今天天气很好", "👨‍👩‍👧 family 🇫🇷 flag 1️⃣ keycap", "e\u{301}\u{302} stacked", "\u{301}leading mark",
        ]
        for text in texts {
            let bytes = ThreeWayMerge.Tokenizer.tokens(of: text).flatMap { $0 }
            #expect(bytes == Array(text.utf8))
        }
    }

    @Test func tokenizerSplitsWordsFromSeparators() {
        let tokens = ThreeWayMerge.Tokenizer.tokens(of: "Hello,  world\nbye").map {
            String(decoding: $0, as: UTF8.self)
        }
        #expect(tokens == ["Hello", ",", "  ", "world", "\n", "bye"])
    }

    @Test func diffReconstructsTheSideWithAMinimalEditCount() {
        var random = SeededRandom(seed: 0xD1FF)
        for _ in 0..<500 {
            let x = (0..<Int.random(in: 0...25, using: &random)).map { _ in Int32.random(in: 0...3, using: &random) }
            let y = (0..<Int.random(in: 0...25, using: &random)).map { _ in Int32.random(in: 0...3, using: &random) }
            guard let hunks = ThreeWayMerge.MyersDiff.hunks(from: x, to: y, maxWork: .max) else {
                Issue.record("diff gave up on \(x) → \(y)")
                continue
            }
            var rebuilt: [Int32] = []
            var position = 0
            for hunk in hunks {
                #expect(hunk.baseStart >= position)
                rebuilt += x[position..<hunk.baseStart] + y[hunk.sideStart..<hunk.sideEnd]
                position = hunk.baseEnd
            }
            rebuilt += x[position...]
            #expect(rebuilt == y, "\(x) → \(y)")
            let edits = hunks.reduce(0) { $0 + ($1.baseEnd - $1.baseStart) + ($1.sideEnd - $1.sideStart) }
            #expect(edits == x.count + y.count - 2 * longestCommonSubsequence(x, y), "\(x) → \(y)")
        }
    }

    @Test func diffGivesUpPastItsWorkBudget() {
        let x = (0..<2000).map { Int32($0) }
        let y = (0..<2000).map { Int32($0 + 5000) }
        #expect(ThreeWayMerge.MyersDiff.hunks(from: x, to: y, maxWork: 10_000) == nil)
        #expect(
            ThreeWayMerge.MyersDiff.hunks(from: x, to: y, maxWork: .max) == [
                ThreeWayMerge.Hunk(baseStart: 0, baseEnd: 2000, sideStart: 0, sideEnd: 2000)
            ])
    }

    @Test func longNotesMergeQuickly() {
        let paragraph = (0..<400).map { "word\($0 % 37)" }.joined(separator: " ")
        let base = (0..<5).map { "\($0): \(paragraph)" }.joined(separator: "\n")
        var aLines = base.components(separatedBy: "\n")
        var bLines = aLines
        aLines[0] = "rewritten first paragraph"
        bLines[4] = bLines[4].replacingOccurrences(of: "word3 ", with: "WORD3 ")
        let merged = ThreeWayMerge.merge(base: base, aLines.joined(separator: "\n"), bLines.joined(separator: "\n"))
        var expected = bLines
        expected[0] = aLines[0]
        #expect(merged == expected.joined(separator: "\n"))
    }

    // MARK: Properties

    @Test func mergeIsSymmetricAndKeepsBothSidesInsertions() {
        var merges = 0
        var conflicts = 0
        for seed in UInt64(1)...600 {
            var random = SeededRandom(seed: seed)
            let base = RandomNote.make(using: &random)
            var a = base
            var b = base
            if Int.random(in: 0..<4, using: &random) == 0 {
                // Both sides make one identical edit, then go their own ways.
                let shared = RandomNote.edit(base, tag: "xs", using: &random)
                a = shared
                b = shared
            }
            a = RandomNote.edits(a, tag: "xa", using: &random)
            b = RandomNote.edits(b, tag: "xb", using: &random)
            let (baseText, aText, bText) = (base.text, a.text, b.text)

            let ab = ThreeWayMerge.merge(base: baseText, aText, bText)
            let ba = ThreeWayMerge.merge(base: baseText, bText, aText)
            #expect(
                ab.map { Array($0.utf8) } == ba.map { Array($0.utf8) },
                "seed \(seed): \(String(describing: ab)) vs \(String(describing: ba))"
            )
            guard let merged = ab else {
                conflicts += 1
                continue
            }
            merges += 1
            let mergedWords = Set(RandomNote.words(of: merged))
            // A shared insertion counts only while both sides still have it: one side may delete it.
            let aWords = RandomNote.words(of: aText)
            let bWords = RandomNote.words(of: bText)
            let inserted =
                aWords.filter { $0.hasPrefix("xa") } + bWords.filter { $0.hasPrefix("xb") }
                + aWords.filter { $0.hasPrefix("xs") && bWords.contains($0) }
            for word in inserted {
                #expect(mergedWords.contains(word), "seed \(seed): \(word) lost from \(merged)")
            }
            if aText == baseText { #expect(merged == bText, "seed \(seed)") }
            if bText == baseText { #expect(merged == aText, "seed \(seed)") }
        }
        // The generator must exercise both outcomes to mean anything.
        #expect(merges > 100)
        #expect(conflicts > 100)
    }

    private func longestCommonSubsequence(_ x: [Int32], _ y: [Int32]) -> Int {
        var table = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                table[i][j] = x[i] == y[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        return table[0][0]
    }
}

/// A note as words with the separator after each, for random edits.
private struct RandomNote {
    var words: [String]
    var separators: [String]

    var text: String {
        zip(words, separators).map { $0 + $1 }.joined()
    }

    static let vocabulary = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away"]

    static func make(using random: inout SeededRandom) -> RandomNote {
        let count = Int.random(in: 3...30, using: &random)
        let words = (0..<count).map { _ in vocabulary.randomElement(using: &random)! }
        let separators = (0..<count).map { index in
            index == count - 1 ? "" : [" ", " ", " ", " ", "\n", ", ", ". "].randomElement(using: &random)!
        }
        return RandomNote(words: words, separators: separators)
    }

    /// One to three random edits; new words are `tag` + a number, so they can be found later.
    static func edits(_ note: RandomNote, tag: String, using random: inout SeededRandom) -> RandomNote {
        var note = note
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            note = edit(note, tag: tag, using: &random)
        }
        return note
    }

    static func edit(_ note: RandomNote, tag: String, using random: inout SeededRandom) -> RandomNote {
        var note = note
        let fresh = "\(tag)\(random.next() % 10_000)"
        guard !note.words.isEmpty else {
            return RandomNote(words: [fresh], separators: [""])
        }
        let index = Int.random(in: 0..<note.words.count, using: &random)
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            note.words[index] = fresh
        case 1:
            note.words.remove(at: index)
            let separator = note.separators.remove(at: index)
            if index == note.separators.count, index > 0 { note.separators[index - 1] = separator }
        default:
            note.words.insert(fresh, at: index + 1)
            note.separators.insert(" ", at: index)
        }
        return note
    }

    static func words(of text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "." }).map(String.init)
    }
}

