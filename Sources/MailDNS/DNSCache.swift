import Synchronization

/// A monotonic time source for the cache: time since an arbitrary origin. Tests inject a manual
/// one so TTL expiry needs no sleeping (DESIGN.md §5.4).
public struct DNSClock: Sendable {
    public let now: @Sendable () -> Duration

    public init(now: @escaping @Sendable () -> Duration) {
        self.now = now
    }

    /// The system's monotonic clock (keeps counting during sleep, so TTLs do too).
    public static let continuous: DNSClock = {
        let origin = ContinuousClock.now
        return DNSClock { origin.duration(to: ContinuousClock.now) }
    }()
}

/// Counters for the admin page and metrics.
public struct DNSCacheStatistics: Sendable, Hashable {
    public var hits: Int
    public var misses: Int
    public var entries: Int
    public var evictions: Int
}

/// A bounded cache of lookup outcomes keyed by (name, type), case-insensitively.
///
/// Positive answers live for the smallest TTL along their CNAME chain and RRset (RFC 1035 §3.2.1,
/// RFC 2181 §5.2), capped at `maxTTL`. NXDOMAIN and NODATA live for min(SOA TTL, SOA MINIMUM)
/// (RFC 2308 §5), capped at `maxNegativeTTL`, and are not cached at all without an SOA
/// (RFC 2308 §5: "SHOULD NOT be cached"). A TTL of 0 means use once, never cache. When full,
/// expired entries go first, then the least recently used tenth: eviction is amortised
/// O(log n) per insertion and the cache never exceeds `capacity` entries.
public final class DNSCache: Sendable {
    struct Key: Hashable {
        var name: DNSName
        var type: DNSRecordType
    }

    struct Entry {
        var outcome: Result<DNSAnswer, DNSError>
        var stored: Duration
        var expires: Duration
        var lastUsed: UInt64
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var tick: UInt64 = 0
        var hits = 0
        var misses = 0
        var evictions = 0
    }

    public let capacity: Int
    public let maxTTL: UInt32
    public let maxNegativeTTL: UInt32
    let clock: DNSClock
    private let state = Mutex(State())

    public init(capacity: Int = 10_000, maxTTL: UInt32 = 86_400, maxNegativeTTL: UInt32 = 3_600,
                clock: DNSClock = .continuous) {
        self.capacity = max(0, capacity)
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
        self.clock = clock
    }

    /// The cached outcome, with every TTL lowered by the time spent in the cache; nil on a miss
    /// or when the entry has expired.
    public func lookup(_ name: DNSName, _ type: DNSRecordType) -> Result<DNSAnswer, DNSError>? {
        let now = clock.now()
        let key = Key(name: name, type: type)
        return state.withLock { state -> Result<DNSAnswer, DNSError>? in
            guard var entry = state.entries[key] else {
                state.misses += 1
                return nil
            }
            guard now < entry.expires else {
                state.entries[key] = nil
                state.misses += 1
                return nil
            }
            state.tick += 1
            entry.lastUsed = state.tick
            state.entries[key] = entry
            state.hits += 1
            guard case .success(var answer) = entry.outcome else { return entry.outcome }
            let elapsed = UInt32(clamping: (now - entry.stored).components.seconds)
            answer.records = answer.records.map { var r = $0; r.ttl = r.ttl > elapsed ? r.ttl - elapsed : 0; return r }
            answer.cnameChain = answer.cnameChain.map { var r = $0; r.ttl = r.ttl > elapsed ? r.ttl - elapsed : 0; return r }
            return .success(answer)
        }
    }

    /// Stores a positive answer for its TTL.
    public func store(_ answer: DNSAnswer) {
        store(key: Key(name: answer.question.name, type: answer.question.type), outcome: .success(answer),
              ttl: min(answer.ttl, maxTTL))
    }

    /// Stores NXDOMAIN or NODATA for `ttl` seconds (the RFC 2308 §5 negative TTL the resolver
    /// computed from the SOA); other errors are not cached.
    public func storeNegative(_ name: DNSName, _ type: DNSRecordType, error: DNSError, ttl: UInt32) {
        guard error == .nxdomain || error == .noData else { return }
        store(key: Key(name: name, type: type), outcome: .failure(error), ttl: min(ttl, maxNegativeTTL))
    }

    public func removeAll() {
        state.withLock { $0.entries.removeAll() }
    }

    public var statistics: DNSCacheStatistics {
        state.withLock { DNSCacheStatistics(hits: $0.hits, misses: $0.misses, entries: $0.entries.count, evictions: $0.evictions) }
    }

    private func store(key: Key, outcome: Result<DNSAnswer, DNSError>, ttl: UInt32) {
        guard ttl > 0, capacity > 0 else { return }
        let now = clock.now()
        state.withLock { state in
            if state.entries[key] == nil, state.entries.count >= capacity {
                evict(&state, now: now)
            }
            state.tick += 1
            state.entries[key] = Entry(outcome: outcome, stored: now, expires: now + .seconds(Int64(ttl)),
                                       lastUsed: state.tick)
        }
    }

    private func evict(_ state: inout State, now: Duration) {
        let before = state.entries.count
        state.entries = state.entries.filter { now < $0.value.expires }
        if state.entries.count >= capacity {
            let victims = max(1, capacity / 10)
            let oldest = state.entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(victims)
            for (key, _) in oldest { state.entries[key] = nil }
        }
        state.evictions += before - state.entries.count
    }
}
