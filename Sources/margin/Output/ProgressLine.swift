import Foundation

/// Progress of long work (imports, fetches) on the one progress line (`Progress`): never with
/// `--json`, redrawn at most ten times a second, cleared when done.
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let enabled: Bool
    private var lastDraw = Date.distantPast

    /// - Parameter enabled: False for `--json` (`Progress` itself shows nothing off a terminal).
    init(enabled: Bool = true) {
        self.enabled = enabled
    }

    /// Shows `text`, unless the last redraw was under 0.1 s ago (`force` draws anyway).
    func update(_ text: String, force: Bool = false) {
        guard enabled else { return }
        let draw: Bool = lock.withLock {
            let now = Date()
            guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return false }
            lastDraw = now
            return true
        }
        if draw { Progress.shared.show(text) }
    }

    /// Clears the line, leaving the terminal as it was.
    func clear() {
        guard enabled else { return }
        Progress.shared.clear()
    }
}
