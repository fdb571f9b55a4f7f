import Foundation
import Testing
@testable import MarginStore

@Suite struct JSONValueTests {
    @Test func canonicalTextParsesBackToTheSameValue() throws {
        var random = SeededRandom(seed: 7)
        let alphabet: [String] = ["a", "Z", " ", "\"", "\\", "\n", "\t", "\u{01}", "é", "日", "👩‍👩‍👧", "/", "\u{7f}"]
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &random) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &random))
            case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &random))
            case 3: return .string((0..<Int.random(in: 0..<8, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined())
            case 4: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in value(depth + 1) })
            default:
                return .object(Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0..<4, using: &random)).map {
                    ("k\($0)\(alphabet.randomElement(using: &random)!)", value(depth + 1))
                }))
            }
        }
        for _ in 0..<2_000 {
            let v = value(0)
            #expect(try JSONValue.parse(v.canonical) == v)
            // Foundation agrees with the canonical text.
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(v.canonical.utf8)) == v)
        }
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        #expect(try JSONValue.parse(#" { "a" : [ 1 , -2, "\u00e9\ud83d\ude00\/\n" ] } "#)
            == .object(["a": .array([.int(1), .int(-2), .string("é😀/\n")])]))
    }

    @Test(arguments: ["", "nul", "[1,]", "{\"a\"}", "\"abc", "1.5", "[\"\\ud800\"]", "01x", "{} x", "\"a\u{01}\""])
    func malformedTextIsRefused(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
    }
}
