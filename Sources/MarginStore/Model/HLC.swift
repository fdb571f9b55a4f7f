import Foundation

/// A hybrid logical clock reading: milliseconds of wall time in the high bits, a counter in the low 16.
///
/// Readings order like integers; two changes with equal readings are ordered by origin id.
public struct HLC: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }

    public init(milliseconds: Int64, counter: Int64 = 0) {
        self.rawValue = milliseconds << 16 | (counter & 0xFFFF)
    }

    public var milliseconds: Int64 { rawValue >> 16 }
    public var counter: Int64 { rawValue & 0xFFFF }

    /// The wall-clock time this reading stands for.
    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// ISO 8601 UTC with milliseconds: `2021-03-17T09:15:00.000Z`. Exact: whole seconds are
    /// formatted from an integer, the milliseconds appended, so no floating-point rounding.
    public var iso8601: String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = milliseconds - seconds * 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(.iso8601)  // "…T09:15:00Z"
        return String(whole.dropLast()) + "." + String(format: "%03lld", millis) + "Z"
    }

    public var description: String { "\(milliseconds).\(counter)" }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
