import MailDNS
import Testing

func aAnswer(_ owner: String, ttl: UInt32, _ address: String = "192.0.2.1", cnameTTL: UInt32? = nil) -> DNSAnswer {
    let question = DNSQuestion(name: name(owner), type: .a)
    var chain: [DNSResourceRecord] = []
    var target = name(owner)
    if let cnameTTL {
        target = name("target.test")
        chain = [DNSResourceRecord(name: name(owner), ttl: cnameTTL, data: .cname(target))]
    }
    return DNSAnswer(question: question, canonicalName: target,
                     records: [DNSResourceRecord(name: target, ttl: ttl, data: .a(ip(address)))], cnameChain: chain)
}

@Suite("DNSCache")
struct DNSCacheTests {
    @Test("a positive answer lives for its TTL, with TTLs counting down")
    func positiveTTL() throws {
        let clock = ManualClock()
        let cache = DNSCache(clock: clock.dnsClock)
        cache.store(aAnswer("a.test", ttl: 300))
        clock.advance(by: 100)
        let hit = try #require(cache.lookup(name("A.TEST"), .a))
        #expect(try hit.get().records.first?.ttl == 200)
        #expect(cache.lookup(name("a.test"), .aaaa) == nil, "keyed by type too")
        clock.advance(by: 199)
        #expect(cache.lookup(name("a.test"), .a) != nil)
        clock.advance(by: 1)
        #expect(cache.lookup(name("a.test"), .a) == nil)
        #expect(cache.statistics.entries == 0, "expired entries are dropped on lookup")
    }

    @Test("the smallest TTL along the CNAME chain wins; TTL 0 is never cached; TTLs are capped")
    func ttlRules() {
        let clock = ManualClock()
        let cache = DNSCache(maxTTL: 1000, clock: clock.dnsClock)
        cache.store(aAnswer("alias.test", ttl: 600, cnameTTL: 30))
        clock.advance(by: 31)
        #expect(cache.lookup(name("alias.test"), .a) == nil)

        cache.store(aAnswer("zero.test", ttl: 0))
        #expect(cache.lookup(name("zero.test"), .a) == nil)

        // RFC 2181 §8: a TTL with the top bit set counts as 0.
        cache.store(aAnswer("huge.test", ttl: 0x8000_0000))
        #expect(cache.lookup(name("huge.test"), .a) == nil)

        cache.store(aAnswer("long.test", ttl: 1_000_000))
        clock.advance(by: 999)
        #expect(cache.lookup(name("long.test"), .a) != nil)
        clock.advance(by: 1)
        #expect(cache.lookup(name("long.test"), .a) == nil, "capped at maxTTL")
    }

    @Test("negative answers: NXDOMAIN and NODATA for their negative TTL, capped; other errors never")
    func negative() {
        let clock = ManualClock()
        let cache = DNSCache(maxNegativeTTL: 100, clock: clock.dnsClock)
        cache.storeNegative(name("gone.test"), .mx, error: .nxdomain, ttl: 60)
        cache.storeNegative(name("empty.test"), .mx, error: .noData, ttl: 500)
        cache.storeNegative(name("broken.test"), .mx, error: .serverFailure, ttl: 500)
        cache.storeNegative(name("slow.test"), .mx, error: .timeout, ttl: 500)
        #expect(cache.lookup(name("gone.test"), .mx) == .failure(.nxdomain))
        #expect(cache.lookup(name("empty.test"), .mx) == .failure(.noData))
        #expect(cache.lookup(name("broken.test"), .mx) == nil)
        #expect(cache.lookup(name("slow.test"), .mx) == nil)
        clock.advance(by: 60)
        #expect(cache.lookup(name("gone.test"), .mx) == nil)
        #expect(cache.lookup(name("empty.test"), .mx) != nil)
        clock.advance(by: 40)
        #expect(cache.lookup(name("empty.test"), .mx) == nil, "capped at maxNegativeTTL")
    }

    @Test("bounded: never more than capacity; least recently used go first; expired before that")
    func eviction() {
        let clock = ManualClock()
        let cache = DNSCache(capacity: 20, clock: clock.dnsClock)
        for i in 0..<20 { cache.store(aAnswer("h\(i).test", ttl: 1000)) }
        // Touch h0 and h1 so they are the most recently used.
        #expect(cache.lookup(name("h0.test"), .a) != nil)
        #expect(cache.lookup(name("h1.test"), .a) != nil)
        cache.store(aAnswer("new.test", ttl: 1000))
        #expect(cache.statistics.entries <= 20)
        #expect(cache.lookup(name("h0.test"), .a) != nil)
        #expect(cache.lookup(name("h1.test"), .a) != nil)
        #expect(cache.lookup(name("new.test"), .a) != nil)
        #expect(cache.lookup(name("h2.test"), .a) == nil, "the least recently used was evicted")

        for i in 0..<1000 { cache.store(aAnswer("flood\(i).test", ttl: 1000)) }
        #expect(cache.statistics.entries <= 20)

        // Expired entries make room before anything live is evicted.
        let small = DNSCache(capacity: 4, clock: clock.dnsClock)
        small.store(aAnswer("short1.test", ttl: 5))
        small.store(aAnswer("short2.test", ttl: 5))
        small.store(aAnswer("keep1.test", ttl: 500))
        small.store(aAnswer("keep2.test", ttl: 500))
        clock.advance(by: 10)
        small.store(aAnswer("keep3.test", ttl: 500))
        for keep in ["keep1.test", "keep2.test", "keep3.test"] { #expect(small.lookup(name(keep), .a) != nil) }
    }

    @Test("capacity 0 disables caching; statistics count hits and misses")
    func disabledAndStatistics() {
        let off = DNSCache(capacity: 0)
        off.store(aAnswer("a.test", ttl: 300))
        #expect(off.lookup(name("a.test"), .a) == nil)
        let cache = DNSCache()
        cache.store(aAnswer("a.test", ttl: 300))
        _ = cache.lookup(name("a.test"), .a)
        _ = cache.lookup(name("b.test"), .a)
        #expect(cache.statistics.hits == 1 && cache.statistics.misses == 1 && cache.statistics.entries == 1)
        cache.removeAll()
        #expect(cache.lookup(name("a.test"), .a) == nil)
    }
}
