import ArgumentParser
import Foundation
import MarginStore

/// A runtime error: one line on stderr, a documented exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32

    var description: String { message }

    /// The CLI's reading of a runtime error, or nil for ArgumentParser's own (help, validation).
    static func wrap(_ error: any Error) -> CLIError? {
        switch error {
        case let error as CLIError:
            return error
        case let error as StoreError:
            if case .locked = error { return CLIError(message: "margin: \(error)", code: ExitStatus.locked) }
            return CLIError(message: "margin: \(error)", code: ExitStatus.failure)
        case let error as ImportError:
            return CLIError(message: "margin: \(error.message)", code: ExitStatus.dataError)
        case is ValidationError, is ExitCode, is CleanExit:
            return nil
        default:
            let type = String(reflecting: Swift.type(of: error))
            if type.hasPrefix("ArgumentParser.") { return nil }
            return CLIError(message: "margin: \(error)", code: ExitStatus.failure)
        }
    }
}
