import Foundation

/// JSON whose bytes depend only on the value encoded, so that identical state gives identical bytes.
///
/// Keys are sorted, slashes are not escaped, and non-ASCII text is written as UTF-8 (never as
/// `\u` escapes). Dates and floating-point numbers are not part of Margin's exported shapes; encode
/// times as strings (`HLC.iso8601`) or integers (`HLC.rawValue`) to keep the output exact.
public enum CanonicalJSON {
    /// Encodes a value as canonical JSON.
    ///
    /// - Parameters:
    ///   - value: The value to encode.
    ///   - prettyPrinted: Indent for people to read; still deterministic. The default is the
    ///     compact form, with no insignificant whitespace.
    /// - Returns: UTF-8 JSON bytes.
    /// - Throws: `EncodingError` when the value cannot be represented in JSON.
    public static func encode<T: Encodable>(_ value: T, prettyPrinted: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = prettyPrinted
            ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
