import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (flock) on `<store>.lock`, held around every write transaction.
///
/// SQLite 3.40 (the system library here) has a documented WAL bug, fixed in 3.51.3, that needs
/// two connections writing or checkpointing at the same moment. Within a process, GRDB's
/// DatabasePool has exactly one writer connection; this lock extends that to every process that
/// opens the store, so two `margin` processes take turns instead of racing. Checkpoints happen
/// inside commits (auto-checkpoint) or on close of the last connection, so they are covered too.
final class ProcessLock: @unchecked Sendable {
    private let path: String
    private let fd: Int32
    private let mutex = NSLock()
    private var depth = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw StoreError.invalidArgument("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Runs `body` holding the lock, waiting up to `timeout` seconds for another process to let go.
    func withLock<T>(timeout: Double, storePath: String, _ body: () throws -> T) throws -> T {
        mutex.lock()
        defer { mutex.unlock() }
        if depth == 0 { try acquire(timeout: timeout, storePath: storePath) }
        depth += 1
        defer {
            depth -= 1
            if depth == 0 { flock(fd, LOCK_UN) }
        }
        return try body()
    }

    private func acquire(timeout: Double, storePath: String) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var announced = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                throw StoreError.invalidArgument("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            if Date() >= deadline {
                throw StoreError.locked(path: storePath, holder: holder(), waited: timeout)
            }
            if !announced, timeout >= 2, isatty(STDERR_FILENO) != 0 {
                FileHandle.standardError.write(Data("waiting for \(holder()) to finish writing to the store…\n".utf8))
                announced = true
            }
            usleep(20_000)
        }
        // Say who holds it, for the message another process shows while it waits.
        let me = "margin process \(getpid()) (\(CommandLine.arguments.dropFirst().prefix(2).joined(separator: " ")))"
        ftruncate(fd, 0)
        _ = me.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    private func holder() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        return text.isEmpty ? "another margin process" : text
    }
}
