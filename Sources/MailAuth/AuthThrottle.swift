import MailCore
import Metrics

/// Slows down password guessing, as Dovecot's auth penalty does (DESIGN.md §4 "auth failures
/// per IP (growing delay)"): every failed login from a client address makes its next attempts
/// wait, longer with each consecutive failure.
///
/// After `n` consecutive failures an attempt waits `min(baseDelay × 2^(n-1), maximumDelay)`:
/// 250 ms, 500 ms, 1 s, … 15 s by default, *before* its password is hashed, so a guesser pays
/// the penalty before it costs us CPU. A client with no failure for `forgetAfter` starts again
/// from zero. A successful login clears the penalty only when every recent failure was for that
/// same login (the user's own typos): logging in to an account one owns does not wipe out the
/// failures one caused guessing at others.
///
/// Memory is bounded by `maximumEntries`: an attacker cycling through addresses evicts the
/// least recently failed entries rather than growing the table.
public actor AuthThrottle {
    /// Tuning, with Dovecot-like defaults.
    public struct Configuration: Sendable {
        /// Default `baseDelay`.
        public static let defaultBaseDelay: Duration = .milliseconds(250)
        /// Default `maximumDelay`: Dovecot's AUTH_PENALTY_MAX_SECS is 15 too. Longer delays
        /// would start to run into clients' own timeouts, which just makes them retry.
        public static let defaultMaximumDelay: Duration = .seconds(15)
        /// Default `forgetAfter`: Dovecot's AUTH_PENALTY_TIMEOUT is 15 minutes too.
        public static let defaultForgetAfter: Duration = .seconds(15 * 60)
        /// Default `maximumEntries`: about 10 MB at most, enough to remember every address of
        /// a sizeable distributed attack.
        public static let defaultMaximumEntries = 100_000

        /// Delay after the first failure; doubled for each further consecutive one.
        public var baseDelay: Duration
        /// Upper bound of the delay.
        public var maximumDelay: Duration
        /// A client's failures are forgotten after this long without a new one.
        public var forgetAfter: Duration
        /// Most clients remembered at once; the least recently failed is forgotten first.
        public var maximumEntries: Int

        public init(
            baseDelay: Duration = defaultBaseDelay,
            maximumDelay: Duration = defaultMaximumDelay,
            forgetAfter: Duration = defaultForgetAfter,
            maximumEntries: Int = defaultMaximumEntries
        ) {
            precondition(maximumEntries > 0, "AuthThrottle needs room for at least one entry")
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
            self.forgetAfter = forgetAfter
            self.maximumEntries = maximumEntries
        }
    }

    /// Failures counted beyond this make no difference to the delay; stops the counter growing.
    static let maximumCountedFailures = 64
    /// Consumed or stale items tolerated in the time-ordered list before it is compacted:
    /// compacting in batches keeps the cost per failure constant on average.
    static let orderCompactionSlack = 1024

    /// Distinct logins remembered per client; beyond it the failures count as "many logins".
    static let maximumLoginsPerEntry = 4

    private struct Entry {
        var failures: Int
        var lastFailure: Duration
        /// The logins that failed, or nil once there were too many to remember.
        var logins: Set<String>? = []

        mutating func add(_ login: String) {
            logins?.insert(login.lowercased())
            if let l = logins, l.count > AuthThrottle.maximumLoginsPerEntry { logins = nil }
        }
    }

    public let configuration: Configuration
    private let now: @Sendable () -> Duration
    private var entries: [String: Entry] = [:]
    /// Failures in time order, for expiry and eviction without scanning the table. Entries
    /// whose time no longer matches `entries` are stale and skipped (lazy deletion).
    private var order: [(key: String, time: Duration)] = []
    private var orderHead = 0

    /// - Parameter now: a monotonic clock reading (time since any fixed origin). Default:
    ///   `ContinuousClock`, which keeps running while the system sleeps, so a suspended laptop
    ///   does not keep old penalties alive. Tests inject a manual clock.
    public init(configuration: Configuration = Configuration(), now: (@Sendable () -> Duration)? = nil) {
        self.configuration = configuration
        if let now {
            self.now = now
        } else {
            let origin = ContinuousClock.now
            self.now = { ContinuousClock.now - origin }
        }
    }

    /// How long an attempt from `client` (an IP address as text) waits before its password is
    /// checked; zero if it has no recent failures.
    public func delayBeforeAttempt(for client: String) -> Duration {
        let time = now()
        guard let entry = entries[Self.key(for: client)], !isExpired(entry.lastFailure, at: time) else { return .zero }
        return delay(afterFailures: entry.failures)
    }

    /// Records a failed login from `client`; returns the delay its next attempt will wait.
    @discardableResult
    public func recordFailure(client: String, login: String) -> Duration {
        Counter(label: "swallow_auth_total", dimensions: [("result", "failure")]).increment()
        let time = now()
        let key = Self.key(for: client)
        purgeExpired(at: time)
        var entry: Entry
        if let existing = entries[key], !isExpired(existing.lastFailure, at: time) {
            entry = existing
            entry.failures = min(entry.failures + 1, Self.maximumCountedFailures)
            entry.lastFailure = time
        } else {
            if entries[key] == nil {
                while entries.count >= configuration.maximumEntries, evictOldest() {}
            }
            entry = Entry(failures: 1, lastFailure: time)
        }
        entry.add(login)
        entries[key] = entry
        order.append((key, time))
        compactOrderIfNeeded()
        return delay(afterFailures: entry.failures)
    }

    /// Records a successful login: the penalty goes only if every recent failure was for `login`.
    public func recordSuccess(client: String, login: String) {
        Counter(label: "swallow_auth_total", dimensions: [("result", "success")]).increment()
        let key = Self.key(for: client)
        guard let entry = entries[key] else { return }
        if entry.logins == [login.lowercased()] { entries[key] = nil }
    }

    /// Consecutive recent failures of `client` (for logs and metrics).
    public func failureCount(for client: String) -> Int {
        guard let entry = entries[Self.key(for: client)], !isExpired(entry.lastFailure, at: now()) else { return 0 }
        return entry.failures
    }

    /// How many clients are remembered (for metrics and tests).
    public var trackedClientCount: Int { entries.count }

    /// The throttling key of a client address: see `ClientKey`.
    public nonisolated static func key(for client: String) -> String { ClientKey.of(client) }

    private func isExpired(_ lastFailure: Duration, at time: Duration) -> Bool {
        time - lastFailure >= configuration.forgetAfter
    }

    private func delay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = configuration.baseDelay
        for _ in 1..<failures {
            if delay >= configuration.maximumDelay { break }
            delay *= 2
        }
        return min(delay, configuration.maximumDelay)
    }

    /// Drops entries whose last failure is older than `forgetAfter`, oldest first.
    private func purgeExpired(at time: Duration) {
        while orderHead < order.count, isExpired(order[orderHead].time, at: time) {
            let (key, recorded) = order[orderHead]
            if entries[key]?.lastFailure == recorded { entries[key] = nil }
            orderHead += 1
        }
    }

    /// Forgets the least recently failed client. `false` if there was nothing to evict.
    private func evictOldest() -> Bool {
        while orderHead < order.count {
            let (key, recorded) = order[orderHead]
            orderHead += 1
            if entries[key]?.lastFailure == recorded {
                entries[key] = nil
                return true
            }
        }
        return false
    }

    /// Keeps `order` proportional to the table: drops consumed items, and rebuilds it when
    /// repeated failures of the same clients have filled it with stale items.
    private func compactOrderIfNeeded() {
        if orderHead > Self.orderCompactionSlack, orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
        if order.count - orderHead > 2 * configuration.maximumEntries + Self.orderCompactionSlack {
            order = entries.map { (key: $0.key, time: $0.value.lastFailure) }.sorted { $0.time < $1.time }
            orderHead = 0
        }
    }
}
