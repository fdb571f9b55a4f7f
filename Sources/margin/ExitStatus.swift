import ArgumentParser
import Foundation
import MarginStore

/// Exit codes, stable for scripts (README, "Exit codes").
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    /// A sync or pull went through, and conflicts are pending (like diff's "found differences").
    static let conflictsPending: Int32 = 2
    /// `margin verify`: the replica and the remote hold different states.
    static let differs: Int32 = 3
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    /// Another process held the store past the wait (`MARGIN_LOCK_TIMEOUT`).
    static let locked: Int32 = 73
    /// A remote was unreachable, timed out or busy: retry later.
    static let temporary: Int32 = 75
    static let auth: Int32 = 77

    /// The worse of two outcomes, for commands over several remotes: the one that needs a person
    /// most. Failure and usage/data errors, then auth, then a locked store, then an unreachable
    /// remote, then pending conflicts, then differing states, then success.
    static func worst(_ a: Int32, _ b: Int32) -> Int32 {
        func rank(_ code: Int32) -> Int {
            switch code {
            case success: return 0
            case differs: return 1
            case conflictsPending: return 2
            case temporary: return 3
            case locked: return 4
            case auth: return 5
            default: return 6  // failure, usage, data
            }
        }
        return rank(b) > rank(a) ? b : a
    }
}
