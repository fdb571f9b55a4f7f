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
///
/// Waiting is done by the kernel, not by polling: a blocking `flock` on a descriptor of its own,
/// on a thread of its own, which the caller waits for up to the timeout. A wait that times out is
/// abandoned; its thread lets go of the lock the moment it gets it.
final class ProcessLock: @unchecked Sendable {
    private let path: String
    private let fd: Int32
    private let mutex = NSLock()
    private var depth = 0
    /// The descriptor that holds the lock while depth > 0: `fd`, or a waiter's.
    private var held: Int32 = -1

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
        if depth == 0 { held = try acquire(timeout: timeout, storePath: storePath) }
        depth += 1
        defer {
            depth -= 1
            if depth == 0 {
                if held == fd { flock(fd, LOCK_UN) } else { close(held) }
                held = -1
            }
        }
        return try body()
    }

    /// Takes the lock; returns the descriptor that holds it.
    private func acquire(timeout: Double, storePath: String) throws -> Int32 {
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        if result == 0 {
            sign(fd)
            return fd
        }
        guard errno == EWOULDBLOCK else {
            throw StoreError.invalidArgument("cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        if timeout >= 2, isatty(STDERR_FILENO) != 0 {
            FileHandle.standardError.write(Data("waiting for \(holder()) to finish writing to the store…\n".utf8))
        }
        let waiter = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard waiter >= 0 else {
            throw StoreError.invalidArgument("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard LockWait(fd: waiter).wait(timeout: timeout) else {
            throw StoreError.locked(path: storePath, holder: holder(), waited: timeout)
        }
        sign(waiter)
        return waiter
    }

    /// Says who holds the lock, for the message another process shows while it waits.
    private func sign(_ descriptor: Int32) {
        let me = "margin process \(getpid()) (\(CommandLine.arguments.dropFirst().prefix(2).joined(separator: " ")))"
        ftruncate(descriptor, 0)
        _ = me.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    private func holder() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        return text.isEmpty ? "another margin process" : text
    }
}

/// One blocking wait for the lock on a descriptor, on a thread of its own. The descriptor is the
/// caller's once `wait` returns true; otherwise the waiting thread closes it (releasing the lock
/// if it got it after the caller gave up).
private final class LockWait: @unchecked Sendable {
    private let fd: Int32
    private let mutex = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var acquired = false
    private var abandoned = false

    init(fd: Int32) { self.fd = fd }

    func wait(timeout: Double) -> Bool {
        let thread = Thread { [self] in
            var result: Int32
            repeat { result = flock(fd, LOCK_EX) } while result != 0 && errno == EINTR
            mutex.lock()
            if result == 0 && !abandoned { acquired = true } else { close(fd) }
            let failed = result != 0 && !abandoned
            if failed { abandoned = true }
            mutex.unlock()
            done.signal()
        }
        thread.name = "margin.store-lock"
        thread.start()
        _ = done.wait(timeout: .now() + max(timeout, 0))
        mutex.lock()
        defer { mutex.unlock() }
        if acquired { return true }
        abandoned = true
        return false
    }
}
