#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Slows down password guessing: every failed authentication from a client makes the failure
/// reply wait, longer with each consecutive failure, as Dovecot's auth penalty does
/// (DESIGN.md §4 "auth failures per IP (growing delay)").
///
/// A failure after `n` consecutive failures (this one included) waits
/// `min(baseDelay × 2^(n-1), maximumDelay)`: 250 ms, 500 ms, 1 s, … 15 s by default. A
/// client with no failure for `forgetAfter` starts again from zero, and so does one that
/// authenticates successfully (so that the users behind one NAT address are not punished
/// for long by a colleague's typo; an attacker who owns one account gains little, since every
/// success costs a full authentication).
///
/// The delay applies to the reply, not to the connection: the protocol layer sleeps (on its
/// own timer, without holding a thread) before it answers the failed attempt.
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

    /// Bits of an IPv6 address that identify a client; see `key(for:)`.
    public static let ipv6PrefixBits = 64
    /// Failures counted beyond this make no difference to the delay; stops the counter growing.
    static let maximumCountedFailures = 64
    /// Consumed or stale items tolerated in the time-ordered list before it is compacted:
    /// compacting in batches keeps the cost per failure constant on average.
    static let orderCompactionSlack = 1024

    private struct Entry {
        var failures: Int
        var lastFailure: Duration
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

    /// How long to wait before sending the reply to a failed authentication from `client`
    /// (an IP address as text); zero if it has no recent failures.
    public func delayBeforeReply(for client: String) -> Duration {
        let time = now()
        guard let entry = entries[Self.key(for: client)], !isExpired(entry.lastFailure, at: time) else { return .zero }
        return delay(afterFailures: entry.failures)
    }

    /// Records a failed authentication from `client` and returns the delay its reply should
    /// now wait (the same as a following `delayBeforeReply(for:)`).
    @discardableResult
    public func recordFailure(client: String) -> Duration {
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
        entries[key] = entry
        order.append((key, time))
        compactOrderIfNeeded()
        return delay(afterFailures: entry.failures)
    }

    /// Records a successful authentication: the client's failures are forgotten.
    public func recordSuccess(client: String) {
        entries[Self.key(for: client)] = nil
    }

    /// Consecutive recent failures of `client` (for logs and metrics).
    public func failureCount(for client: String) -> Int {
        guard let entry = entries[Self.key(for: client)], !isExpired(entry.lastFailure, at: now()) else { return 0 }
        return entry.failures
    }

    /// How many clients are remembered (for metrics and tests).
    public var trackedClientCount: Int { entries.count }

    /// The throttling key of a client address.
    ///
    /// IPv4 addresses count one by one. IPv6 addresses count by their /64 prefix: a /64 is the
    /// smallest block handed to a network (RFC 4291 §2.5.1 reserves the low 64 bits for the
    /// interface identifier, RFC 8981 has hosts rotate them freely), so one attacker can use
    /// 2^64 addresses at no cost and per-address counting would give each guess a fresh
    /// budget. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address.
    /// Brackets and a zone (`%eth0`) are ignored. Anything that is not an IP address (e.g. a
    /// Unix socket path) is used verbatim.
    public nonisolated static func key(for client: String) -> String {
        var text = Substring(client)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        let address = String(text)

        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, address, &v4) == 1 {
            return v4.map(String.init).joined(separator: ".")
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, address, &v6) == 1 {
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xFF && v6[11] == 0xFF {
                return v6[12..<16].map(String.init).joined(separator: ".")
            }
            let prefixBytes = ipv6PrefixBits / 8
            var groups: [String] = []
            for index in stride(from: 0, to: prefixBytes, by: 2) {
                groups.append(String(UInt16(v6[index]) << 8 | UInt16(v6[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":") + "::/\(ipv6PrefixBits)"
        }
        return client
    }

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
