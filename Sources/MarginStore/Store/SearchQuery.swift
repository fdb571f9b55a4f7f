import Foundation

/// A search as a person types it, translated to FTS5's query language.
///
/// A plain query (words, whatever their punctuation: `U.S.`, `don't`, `anti-semitism`,
/// `2019-01-04`) finds every word, each as the phrase its characters make, so punctuation never
/// reaches FTS5's parser. Query syntax is there when asked for: `"a phrase"`, `AND`, `OR`, `NOT`
/// (upper case), `(` `)`, a trailing `*` for a prefix, and `title:`, `body:` or `note:` before a
/// word, phrase or group. A malformed query is refused with a message about the query.
public struct SearchQuery: Sendable, Equatable {
    /// Which index a query searches.
    public enum Scope: Sendable, Equatable {
        /// Titles, bodies and notes.
        case everything
        /// Titles and bodies (the query names `title:` or `body:`).
        case articles
        /// Notes (the query names `note:`).
        case notes
    }

    /// The FTS5 expression.
    public var expression: String
    public var scope: Scope

    /// Translates `text`.
    /// - Throws: `StoreError.invalidArgument` naming what is wrong with the query.
    public init(_ text: String) throws {
        var tokens = try Self.tokenize(text)
        guard tokens.contains(where: \.isTerm) else {
            throw StoreError.invalidArgument(
                tokens.isEmpty ? "the search query is empty; give a word to find"
                    : "the search query \(Self.quoted(text)) has no word to find")
        }
        try Self.check(tokens, text)
        var fields = Set<String>()
        for case .field(let name) in tokens { fields.insert(name) }
        let article = fields.contains("title") || fields.contains("body")
        if article && fields.contains("note") {
            throw StoreError.invalidArgument(
                "title:/body: search articles and note: searches notes; use one of them per query")
        }
        scope = fields.isEmpty ? .everything : article ? .articles : .notes
        // The note index has one column, named note, so its filter is left out there.
        if scope == .notes { tokens = tokens.filter { if case .field = $0 { return false } else { return true } } }
        expression = tokens.map(\.fts).joined(separator: " ").replacingOccurrences(of: "( ", with: "(")
            .replacingOccurrences(of: " )", with: ")")
    }

    /// Fields a query may name.
    static let fields: Set<String> = ["title", "body", "note"]

    enum Token: Equatable {
        /// A word or phrase: its text (searched as the phrase of its tokens), and a trailing `*`.
        case term(String, prefix: Bool)
        case and, or, not, open, close
        case field(String)

        var isTerm: Bool { if case .term = self { return true } else { return false } }

        var fts: String {
            switch self {
            case .term(let text, let prefix):
                return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" + (prefix ? "*" : "")
            case .and: return "AND"
            case .or: return "OR"
            case .not: return "NOT"
            case .open: return "("
            case .close: return ")"
            case .field(let name): return name + " :"
            }
        }
    }

    static func quoted(_ text: String) -> String { "'" + text + "'" }

    /// Splits a query into terms and operators. Only `"` (straight) opens a phrase: typographic
    /// quotes are text, as apostrophes are.
    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        func isSpace(_ c: Character) -> Bool { c.isWhitespace }
        while i < chars.count {
            let c = chars[i]
            if isSpace(c) {
                i += 1
            } else if c == "\"" {
                var j = i + 1
                var phrase = ""
                var closed = false
                while j < chars.count {
                    if chars[j] == "\"" {
                        if j + 1 < chars.count, chars[j + 1] == "\"" {  // "" inside a phrase is a quote
                            phrase.append("\"")
                            j += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    phrase.append(chars[j])
                    j += 1
                }
                guard closed else {
                    throw StoreError.invalidArgument(
                        "the search query \(quoted(text)) opens a phrase with \" and does not close it")
                }
                i = j + 1
                var prefix = false
                if i < chars.count, chars[i] == "*" {
                    prefix = true
                    i += 1
                }
                // A phrase of punctuation alone ("", "--") finds nothing: left out.
                if phrase.unicodeScalars.contains(where: Self.isWordScalar) { tokens.append(.term(phrase, prefix: prefix)) }
            } else if c == "(" {
                tokens.append(.open)
                i += 1
            } else if c == ")" {
                tokens.append(.close)
                i += 1
            } else {
                var j = i
                var word = ""
                while j < chars.count, !isSpace(chars[j]), !"\"()".contains(chars[j]) {
                    word.append(chars[j])
                    j += 1
                }
                i = j
                // title:word, title:"a phrase", title:(…): a field filter before what follows.
                if let colon = word.firstIndex(of: ":"), fields.contains(word[..<colon].lowercased()) {
                    tokens.append(.field(word[..<colon].lowercased()))
                    word = String(word[word.index(after: colon)...])
                    if word.isEmpty { continue }  // title:"a phrase" or title:(…)
                }
                switch word {
                case "AND": tokens.append(.and)
                case "OR": tokens.append(.or)
                case "NOT": tokens.append(.not)
                default:
                    var prefix = false
                    while word.hasSuffix("*") {
                        word.removeLast()
                        prefix = true
                    }
                    // A word of punctuation alone (a dash between words, say) finds nothing: left out.
                    guard word.unicodeScalars.contains(where: Self.isWordScalar) else { continue }
                    tokens.append(.term(word, prefix: prefix))
                }
            }
        }
        return tokens
    }

    /// Letters and digits make FTS5's tokens (unicode61); everything else separates them.
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        s.properties.isAlphabetic || s.properties.numericType != nil
    }

    /// Operators need terms on both sides, groups must close, a field filter needs a term.
    static func check(_ tokens: [Token], _ text: String) throws {
        var depth = 0
        var expectOperand = true  // at the start, after an operator, a field, or an open
        for (index, token) in tokens.enumerated() {
            switch token {
            case .term:
                expectOperand = false
            case .open:
                depth += 1
                expectOperand = true
            case .close:
                guard depth > 0 else {
                    throw StoreError.invalidArgument("the search query \(quoted(text)) closes a ) it did not open")
                }
                guard !expectOperand else {
                    throw StoreError.invalidArgument("the search query \(quoted(text)) has an empty group ()")
                }
                depth -= 1
            case .field(let name):
                let next = index + 1 < tokens.count ? tokens[index + 1] : nil
                guard next?.isTerm == true || next == .open else {
                    throw StoreError.invalidArgument(
                        "the search query \(quoted(text)) has \(name): without a word after it; "
                            + "write \(name):word or \(name):\"a phrase\"")
                }
                expectOperand = true
            case .and, .or, .not:
                guard !expectOperand else {
                    throw StoreError.invalidArgument(
                        "the search query \(quoted(text)) has \(token.fts) without a word before it; "
                            + "write a \(token.fts) b (or quote it: \"\(token.fts)\")")
                }
                expectOperand = true
            }
        }
        if depth > 0 { throw StoreError.invalidArgument("the search query \(quoted(text)) opens a ( it does not close") }
        if expectOperand, let last = tokens.last {
            throw StoreError.invalidArgument(
                "the search query \(quoted(text)) ends with \(last.fts) and no word after it; "
                    + "write a \(last.fts) b (or quote it: \"\(last.fts)\")")
        }
    }
}
