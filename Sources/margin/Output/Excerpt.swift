import Foundation

/// A passage of a body, on one line for reports: the code points `start..<end`, at most `limit`
/// of them (then `…`).
func excerpt(_ body: String, _ start: Int, _ end: Int, limit: Int = 60) -> String {
    let scalars = body.unicodeScalars
    guard start >= 0, start < end,
          let from = scalars.index(scalars.startIndex, offsetBy: start, limitedBy: scalars.endIndex),
          let to = scalars.index(from, offsetBy: end - start, limitedBy: scalars.endIndex)
    else { return "" }
    let shown = scalars.index(from, offsetBy: min(end - start, limit))
    let text = String(scalars[from..<min(shown, to)]).replacingOccurrences(of: "\n", with: " ")
    return end - start > limit ? text + "…" : text
}
