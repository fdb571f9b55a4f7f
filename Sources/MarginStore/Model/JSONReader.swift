import Foundation

/// A reader of JSON text over UTF-8 bytes: the one parser for what Margin stores (run bodies,
/// values) and what it receives (sync bodies).
///
/// It reads piece by piece (`beginObject`, `nextKey`, `readString`, …), so a caller decodes its
/// own shapes without an intermediate tree, and it can hand back the exact bytes of a value
/// (`skipValue`), which is how a run's signed bytes are taken out of a page unchanged. Received
/// text is untrusted: strings must be valid UTF-8 and may not hold U+0000, numbers are integers
/// (Margin writes no others), nesting stops at `maxNesting`.
public struct JSONReader {
    /// Why a text is not the JSON expected.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var offset: Int
        public var reason: String
        public init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// The deepest nesting a value may have: 64 levels.
    public static let maxNesting = 64

    public let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public var index: Int

    public init(_ bytes: UnsafeRawBufferPointer, index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    public func fail(_ reason: String) -> Error { Error(offset: index, reason: reason) }

    public var isAtEnd: Bool { index >= bytes.count }

    public mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next byte that is not white space, without reading it.
    public mutating func peek() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    /// Reads `byte` (after white space) or fails naming what was expected.
    public mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws {
        guard peek() == byte else { throw fail("expected \(what())") }
        index += 1
    }

    /// Fails unless only white space is left.
    public mutating func expectEnd() throws {
        skipSpace()
        guard index == bytes.count else { throw fail("trailing text") }
    }

    // MARK: Containers

    /// Reads `{`.
    public mutating func beginObject() throws { try expect(UInt8(ascii: "{"), "an object") }

    /// The next key of an object, or nil at its `}`. `first` is true for the first call after
    /// `beginObject` (no comma before it).
    public mutating func nextKey(first: Bool, allowingNUL: Bool = false) throws -> String? {
        if peek() == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if !first { try expect(UInt8(ascii: ","), ", or }") }
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
        let key = try readString(allowingNUL: allowingNUL)
        try expect(UInt8(ascii: ":"), ":")
        return key
    }

    /// Reads `[`.
    public mutating func beginArray() throws { try expect(UInt8(ascii: "["), "an array") }

    /// True when another element follows (its comma read), false at the array's `]`.
    public mutating func nextElement(first: Bool) throws -> Bool {
        if peek() == UInt8(ascii: "]") {
            index += 1
            return false
        }
        if !first { try expect(UInt8(ascii: ","), ", or ]") }
        return true
    }

    // MARK: Scalars

    /// True (and read) when the next value is `null`.
    public mutating func readNullIfPresent() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    public mutating func readBool() throws -> Bool {
        switch peek() {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw fail("expected true or false")
        }
    }

    private mutating func literal(_ text: StaticString) throws {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("expected \(text)") }
        for i in 0..<count where bytes[index + i] != text.utf8Start[i] { throw fail("expected \(text)") }
        index += count
    }

    /// Reads an integer (no fraction, no exponent) that fits in 64 bits.
    public mutating func readInt() throws -> Int64 {
        skipSpace()
        guard index < bytes.count else { throw fail("expected an integer") }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
            guard !o1, !o2 else { throw fail("integer out of range") }
            magnitude = plus
            index += 1
        }
        guard index > start else { throw fail("expected an integer") }
        if index - start > 1, bytes[start] == 0x30 { throw fail("leading zero in a number") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw fail("only integers are allowed")
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw fail("integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw fail("integer out of range") }
        return Int64(magnitude)
    }

    /// Reads a number that is an integer in JSON Schema's sense: `12`, and also `12.0` or `1.2e1`
    /// (a fraction of zeros, an exponent that leaves no fraction), within Int64. For envelopes
    /// (sync bodies), where any JSON writer's form of an integer is welcome; signed run bodies
    /// keep the canonical form (`readInt`).
    public mutating func readIntegral() throws -> Int64 {
        skipSpace()
        let start = index
        var end = index
        while end < bytes.count, "+-0123456789.eE".utf8.contains(bytes[end]) { end += 1 }
        let token = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        if !token.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return try readInt() }
        // Exact: the digits as a decimal with its point moved by the exponent.
        let parts = token.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false) }
        guard parts.count <= 2, let mantissa = parts.first, !mantissa.isEmpty else { throw fail("expected an integer") }
        let exponent = parts.count == 2 ? Int(parts[1]) : 0
        guard let exponent, abs(exponent) < 40 else { throw fail("integer out of range") }
        var negative = false
        var body = Substring(mantissa)
        if body.first == "-" { negative = true; body = body.dropFirst() }
        let pieces = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = pieces[0]
        let fraction = pieces.count == 2 ? pieces[1] : ""
        guard !whole.isEmpty, whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber),
              fraction.allSatisfy({ $0.isASCII && $0.isNumber }), pieces.count == 1 || !fraction.isEmpty
        else { throw fail("expected an integer") }
        var digits = Array(whole + fraction)
        var point = whole.count + exponent
        if point < 0 { point = 0 }
        while digits.count < point { digits.append("0") }
        guard digits[point...].allSatisfy({ $0 == "0" }) else { throw fail("only integers are allowed") }
        let integral = String(digits[..<point]).drop { $0 == "0" }
        guard integral.count <= 19, let magnitude = UInt64(integral.isEmpty ? "0" : String(integral)),
              magnitude <= UInt64(Int64.max)
        else { throw fail("integer out of range") }
        index = end
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }

    /// Skips a JSON number of any form (RFC 8259: `-? int frac? exp?`); what a skipped value
    /// holds is checked by whoever reads it.
    mutating func skipNumber() throws {
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - from
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let whole = index
        guard digits() > 0 else { throw fail("expected a number") }
        if index - whole > 1, bytes[whole] == 0x30 { throw fail("leading zero in a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw fail("expected digits after a decimal point") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("expected digits in an exponent") }
        }
    }

    /// Reads a string: escapes decoded, UTF-8 validated, U+0000 refused (unless `allowingNUL`: a
    /// skipped value is only validated as JSON; its reader applies the protocol's rules).
    public mutating func readString(allowingNUL: Bool = false) throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        let start = index
        var ascii = true
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("control character in a string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        guard index < bytes.count else { throw fail("unterminated string") }
        if bytes[index] == UInt8(ascii: "\"") {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
            index += 1
            if ascii { return String(decoding: slice, as: UTF8.self) }
            guard let text = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            return text
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                guard let text = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
                return text
            }
            guard byte >= 0x20 else { throw fail("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw fail("unterminated escape") }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw fail("lone surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw fail("lone surrogate")
                }
                guard scalar != 0 || allowingNUL else { throw fail("U+0000 in a string") }
                out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
            default:
                throw fail("unknown escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    // MARK: Values

    /// Reads any value into a `JSONValue`.
    public mutating func readValue(depth: Int = 0) throws -> JSONValue {
        guard depth < Self.maxNesting else { throw fail("nested deeper than \(Self.maxNesting) levels") }
        switch peek() {
        case nil: throw fail("unexpected end")
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try readBool())
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "["):
            index += 1
            var items: [JSONValue] = []
            var first = true
            while try nextElement(first: first) {
                first = false
                items.append(try readValue(depth: depth + 1))
            }
            return .array(items)
        case UInt8(ascii: "{"):
            index += 1
            var object: [String: JSONValue] = [:]
            var first = true
            while let key = try nextKey(first: first) {
                first = false
                guard object[key] == nil else { throw fail("the key \(key.debugDescription) appears twice") }
                object[key] = try readValue(depth: depth + 1)
            }
            return .object(object)
        case UInt8(ascii: "-"), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            return .int(try readInt())
        default:
            throw fail("unexpected character")
        }
    }

    /// Reads past one value, checking it as `readValue` does, and returns its bytes' range.
    public mutating func skipValue(depth: Int = 0) throws -> Range<Int> {
        skipSpace()
        let start = index
        guard depth < Self.maxNesting else { throw fail("nested deeper than \(Self.maxNesting) levels") }
        switch peek() {
        case nil: throw fail("unexpected end")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try readBool()
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "["):
            index += 1
            var first = true
            while try nextElement(first: first) {
                first = false
                _ = try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "{"):
            index += 1
            var first = true
            while try nextKey(first: first, allowingNUL: true) != nil {
                first = false
                _ = try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "-"), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            try skipNumber()
        default:
            throw fail("unexpected character")
        }
        return start..<index
    }

    /// Skips a string without building it; escapes and UTF-8 are checked only when present.
    private mutating func skipString() throws {
        let save = index
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else {
                // Not plain ASCII: read it properly, which validates it.
                index = save
                _ = try readString(allowingNUL: true)
                return
            }
            index += 1
        }
        throw fail("unterminated string")
    }
}

extension JSONValue {
    /// The deepest nesting a value may have (and `parse` reads): 64 levels.
    public static let maxNesting = JSONReader.maxNesting

    /// Levels of nesting: 1 for a scalar or an empty array or object, one more per container.
    public var nesting: Int {
        switch self {
        case .array(let items): return 1 + (items.map(\.nesting).max() ?? 0)
        case .object(let members): return 1 + (members.values.map(\.nesting).max() ?? 0)
        default: return 1
        }
    }

    /// Parses JSON text (integers only, nesting up to 64 levels, no U+0000 in strings).
    /// - Throws: `JSONReader.Error` naming the offset of the problem.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }

    /// Parses JSON bytes.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var reader = JSONReader(bytes)
        let value = try reader.readValue()
        try reader.expectEnd()
        return value
    }

    /// The old name of the parser's error, kept for callers.
    public typealias ParseError = JSONReader.Error
}
