import Foundation
import Synchronization

/// Runs password hash checks (yescrypt, bcrypt: tens of milliseconds of CPU each, on purpose)
/// on a Dispatch queue, at most `maxConcurrent` at once, never on Swift's cooperative pool or an
/// event loop, where a burst of logins would stall every session (DESIGN.md §4 bounded
/// everything).
///
/// At most `maxConcurrent` checks run at once; up to `maxQueued` more wait their turn. Beyond
/// that `verify` answers `nil` at once: the caller reports a temporary failure, and a flood of
/// guesses costs the server a queue slot, not a hash.
public final class PasswordVerifier: Sendable {
    public struct Configuration: Sendable {
        /// Default: one per CPU core.
        public var maxConcurrent: Int
        /// Default 64: a minute's worth of logins at a few dozen a second.
        public var maxQueued: Int

        public init(maxConcurrent: Int = ProcessInfo.processInfo.activeProcessorCount, maxQueued: Int = 64) {
            self.maxConcurrent = max(1, maxConcurrent)
            self.maxQueued = max(0, maxQueued)
        }
    }

    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
    }

    public let configuration: Configuration
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "swallow.password-verifier", attributes: .concurrent)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether `password` is `account`'s (false for no account, after the same work); `nil`
    /// when too many checks are already waiting.
    public func verify(_ password: String, account: Account?) async -> Bool? {
        guard await acquire() else { return nil }
        defer { release() }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: PasswordHash.verify(password, account: account)) }
        }
    }

    /// Checks running or waiting (for metrics and tests).
    public var load: (running: Int, waiting: Int) { state.withLock { ($0.running, $0.waiting.count) } }

    /// Takes a slot, waiting for one if the queue has room; false when it has none. The
    /// decision and the queueing happen under one lock, so the queue never exceeds its bound.
    private func acquire() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let admitted: Bool? = state.withLock { s in
                if s.running < configuration.maxConcurrent {
                    s.running += 1
                    return true
                }
                guard s.waiting.count < configuration.maxQueued else { return false }
                s.waiting.append(continuation)
                return nil
            }
            if let admitted { continuation.resume(returning: admitted) }
        }
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { s in
            if s.waiting.isEmpty {
                s.running -= 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
