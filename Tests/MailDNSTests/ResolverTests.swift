import MailDNS
import Testing

func rr(_ owner: String, _ data: DNSRecordData, ttl: UInt32 = 300) -> DNSResourceRecord {
    DNSResourceRecord(name: name(owner), ttl: ttl, data: data)
}

func resolver(_ zone: ZoneTransport, clock: ManualClock = ManualClock(),
              _ configure: (inout ResolverConfiguration) -> Void = { _ in }) -> DNSResolver {
    var configuration = ResolverConfiguration()
    configure(&configuration)
    return DNSResolver(configuration: configuration, transport: zone, cacheClock: clock.dnsClock)
}

/// Runs `body` and returns the DNSError it throws, or nil.
func dnsError<T>(_ body: () async throws(DNSError) -> T) async -> DNSError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

@Suite("Resolver logic (in-memory zone)")
struct ResolverTests {
    static let zone = ZoneTransport([
        rr("multi.test", .mx(preference: 20, exchange: name("MX2.Multi.test"))),
        rr("multi.test", .mx(preference: 10, exchange: name("mx1.multi.test"))),
        rr("multi.test", .mx(preference: 20, exchange: name("mx3.multi.test"))),
        rr("multi.test", .mx(preference: 10, exchange: name("mx1.multi.test"))),
        rr("null.test", .mx(preference: 0, exchange: .root)),
        rr("mixed.test", .mx(preference: 0, exchange: .root)),
        rr("mixed.test", .mx(preference: 10, exchange: name("real.mixed.test"))),
        rr("amx.test", .a(ip("127.0.0.3"))),
        rr("v6only.test", .aaaa(ip("::1"))),
        rr("nothing.test", .txt([Array("exists".utf8)])),
        rr("dual.test", .a(ip("192.0.2.1"))),
        rr("dual.test", .a(ip("192.0.2.2"))),
        rr("dual.test", .aaaa(ip("2001:db8::1"))),
        rr("dual.test", .aaaa(ip("2001:db8::2"))),
        rr("dual.test", .aaaa(ip("2001:db8::3"))),
        rr("alias.test", .cname(name("middle.test"))),
        rr("middle.test", .cname(name("multi.test"))),
        rr("aliasnomx.test", .cname(name("amx.test"))),
        rr("loop1.test", .cname(name("loop2.test"))),
        rr("loop2.test", .cname(name("loop1.test"))),
        rr("spf.test", .txt([Array("v=spf1 ".utf8), Array("-all".utf8)])),
        rr("spf.test", .txt([Array("other".utf8)])),
        rr("_25._tcp.mx.test", .tlsa(TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1,
                                                 certificateAssociationData: [1, 2, 3]))),
        rr("1.0.0.127.in-addr.arpa", .ptr(name("LocalHost"))),
        rr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", .ptr(name("localhost"))),
    ] + (0...9).map { rr("c\($0).test", .cname(name("c\($0 + 1).test"))) } + [rr("c10.test", .a(ip("192.0.2.10")))])

    @Test("MX hosts sorted by preference, stable, deduplicated, lowercased")
    func mxSorted() async throws {
        let result = try await resolver(Self.zone).mx("multi.test")
        #expect(result == .hosts([MXHost(preference: 10, host: "mx1.multi.test"), MXHost(preference: 20, host: "mx2.multi.test"),
                                  MXHost(preference: 20, host: "mx3.multi.test")]))
    }

    @Test("null MX (RFC 7505) means no mail; a '.' next to real hosts is dropped")
    func nullMX() async throws {
        let r = resolver(Self.zone)
        #expect(try await r.mx("null.test") == .nullMX)
        #expect(try await r.mx("mixed.test") == .hosts([MXHost(preference: 10, host: "real.mixed.test")]))
        #expect(MXResult.nullMXEnhancedStatusCode == "5.1.10")
    }

    @Test("no MX: the domain's own address is the implicit MX (RFC 5321 §5.1)")
    func implicitMX() async throws {
        let r = resolver(Self.zone)
        #expect(try await r.mx("AMX.test.") == .noMX(implicitHosts: ["amx.test"]))
        #expect(try await r.mx("v6only.test") == .noMX(implicitHosts: ["v6only.test"]))
        // A CNAME to a host without MX: the MX lookup follows it, finds NODATA, falls back.
        #expect(try await r.mx("aliasnomx.test") == .noMX(implicitHosts: ["aliasnomx.test"]))
    }

    @Test("NXDOMAIN and no-MX-no-address are permanent errors")
    func permanent() async {
        let r = resolver(Self.zone)
        let missing = await dnsError { () async throws(DNSError) in try await r.mx("missing.test") }
        #expect(missing == .nxdomain)
        #expect(missing?.isPermanent == true && missing?.enhancedStatusCode == "5.1.2")
        let nothing = await dnsError { () async throws(DNSError) in try await r.mx("nothing.test") }
        #expect(nothing == .noData)
        #expect(await dnsError { () async throws(DNSError) in try await r.addresses("missing.test") } == .nxdomain)
        #expect(await dnsError { () async throws(DNSError) in try await r.addresses("nothing.test") } == .noData)
        #expect(await dnsError { () async throws(DNSError) in try await r.txt("amx.test") } == .noData)
    }

    @Test("invalid names never reach the network")
    func invalidNames() async {
        let zone = ZoneTransport([])
        let r = resolver(zone)
        for bad in ["", ".", "a..b", String(repeating: "x", count: 64) + ".test", "sp ace.test", "ctl\r\n.test"] {
            let error = await dnsError { () async throws(DNSError) in try await r.mx(bad) }
            guard case .invalidName = error else { Issue.record("\(bad.debugDescription): \(String(describing: error))"); continue }
            #expect(error?.isPermanent == true)
        }
        #expect(zone.queries.isEmpty)
    }

    @Test("CNAME chains are followed to the final name's records")
    func cnameChain() async throws {
        let r = resolver(Self.zone)
        let answer = try await r.lookup(name("alias.test"), .mx)
        #expect(answer.canonicalName == name("multi.test"))
        #expect(answer.cnameChain.count == 2)
        #expect(answer.records.count == 4)
        guard case .hosts(let hosts) = try await r.mx("alias.test") else { Issue.record("no hosts"); return }
        #expect(hosts.first?.host == "mx1.multi.test")
        // Asking for the CNAME itself returns it unfollowed.
        #expect(try await r.lookup(name("alias.test"), .cname).records.map(\.data) == [.cname(name("middle.test"))])
    }

    @Test("a server that stops at a CNAME: the target is asked for separately")
    func cnameRequery() async throws {
        let zone = ZoneTransport(Self.zone.records, chaseCNAMEs: false)
        let r = resolver(zone)
        let answer = try await r.lookup(name("alias.test"), .mx)
        #expect(answer.canonicalName == name("multi.test"))
        #expect(zone.queries.map(\.name) == [name("alias.test"), name("middle.test"), name("multi.test")])
    }

    @Test("CNAME loops and chains longer than the limit are errors, bounded")
    func cnameLimits() async throws {
        for chase in [true, false] {
            let zone = ZoneTransport(Self.zone.records, chaseCNAMEs: chase)
            let r = resolver(zone)
            let loop = await dnsError { () async throws(DNSError) in try await r.addresses("loop1.test") }
            guard case .malformed = loop else { Issue.record("loop: \(String(describing: loop))"); continue }
            #expect(loop?.isTemporary == true)
            // c0 -> c1 -> ... -> c10: ten CNAMEs, over the default limit of 8.
            let long = await dnsError { () async throws(DNSError) in try await r.lookup(name("c0.test"), .a) }
            guard case .malformed = long else { Issue.record("long: \(String(describing: long))"); continue }
            #expect(zone.queries.count <= 2 * 2 * 10 + 2)
        }
        let lenient = resolver(Self.zone) { $0.maxCNAMEChain = 10 }
        #expect(try await lenient.lookup(name("c0.test"), .a).records.map(\.data) == [.a(ip("192.0.2.10"))])
    }

    @Test("addresses: both families, ordered as configured")
    func addressOrder() async throws {
        let v4First = try await resolver(Self.zone).addresses("dual.test").map(\.description)
        #expect(v4First == ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2", "2001:db8::3"])
        let v6First = try await resolver(Self.zone) { $0.addressOrder = .ipv6First }.addresses("dual.test").map(\.description)
        #expect(v6First == ["2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1", "192.0.2.2"])
        let mixed = try await resolver(Self.zone) { $0.addressOrder = .interleaved }.addresses("dual.test").map(\.description)
        #expect(mixed == ["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "2001:db8::3"])
        #expect(try await resolver(Self.zone).addresses("127.0.0.9") == [ip("127.0.0.9")], "IP literals need no lookup")
        #expect(try await resolver(Self.zone).addresses("v6only.test") == [ip("::1")])
    }

    @Test("addresses: one family failing temporarily still returns the other; both failing is temporary")
    func partialFailure() async throws {
        let zone = ZoneTransport(Self.zone.records,
                                 failures: [DNSQuestion(name: name("dual.test"), type: .aaaa): .timeout,
                                            DNSQuestion(name: name("amx.test"), type: .aaaa): .serverFailure])
        let r = resolver(zone)
        #expect(try await r.addresses("dual.test").count == 2)
        // amx.test: A exists, AAAA fails: the A is enough.
        #expect(try await r.addresses("amx.test") == [ip("127.0.0.3")])
        let v6fail = ZoneTransport(Self.zone.records,
                                   failures: [DNSQuestion(name: name("v6only.test"), type: .aaaa): .timeout])
        // v6only.test has no A (NODATA) and its AAAA timed out: the address may exist, so temporary.
        let error = await dnsError { () async throws(DNSError) in try await resolver(v6fail).addresses("v6only.test") }
        #expect(error == .timeout)
        // And an MX lookup whose implicit-MX address check fails temporarily is temporary too.
        let mxError = await dnsError { () async throws(DNSError) in try await resolver(v6fail).mx("v6only.test") }
        #expect(mxError == .timeout)
    }

    @Test("TXT joins character-strings; TLSA carries the AD bit; PTR for both families")
    func otherTypes() async throws {
        let r = resolver(Self.zone)
        let txt = try await r.txt("spf.test")
        #expect(txt.map(\.text) == ["v=spf1 -all", "other"])
        #expect(txt.first?.strings.count == 2)
        let tlsa = try await r.tlsa("_25._tcp.mx.test")
        #expect(tlsa.records.count == 1 && !tlsa.authenticated)
        let secure = try await resolver(ZoneTransport(Self.zone.records, authenticated: true)).tlsa("_25._tcp.mx.test")
        #expect(secure.authenticated)
        #expect(try await r.reverse(ip("127.0.0.1")) == ["localhost"])
        #expect(try await r.reverse(ip("::1")) == ["localhost"])
    }

    @Test("answers are cached for their TTL; negative answers only with an SOA")
    func caching() async throws {
        let clock = ManualClock()
        let zone = ZoneTransport(Self.zone.records + [rr("short.test", .a(ip("192.0.2.99")), ttl: 5)])
        let r = resolver(zone, clock: clock)
        _ = try await r.mx("multi.test")
        _ = try await r.mx("MULTI.test")
        #expect(zone.queries.count == 1)
        _ = try await r.addresses("short.test")
        let afterFirst = zone.queries.count
        _ = try await r.addresses("short.test")
        #expect(zone.queries.count == afterFirst + 1, "only the AAAA NODATA (no SOA, so uncached) is asked again")
        clock.advance(by: 6)
        _ = try await r.addresses("short.test")
        #expect(zone.queries.count == afterFirst + 3, "both asked again once the A expired")

        // dnsmasq-style negative answers without an SOA are not cached (RFC 2308 §5)...
        _ = await dnsError { () async throws(DNSError) in try await r.mx("missing.test") }
        _ = await dnsError { () async throws(DNSError) in try await r.mx("missing.test") }
        #expect(zone.queries.filter { $0.name == name("missing.test") }.count == 2)
        // ...with one they are, for min(SOA TTL, MINIMUM) = 60 s here.
        let soaZone = ZoneTransport(Self.zone.records, soaTTL: 600)
        let cached = resolver(soaZone, clock: clock)
        for _ in 0..<3 { _ = await dnsError { () async throws(DNSError) in try await cached.mx("missing.test") } }
        #expect(soaZone.queries.count == 1)
        #expect(await dnsError { () async throws(DNSError) in try await cached.mx("missing.test") } == .nxdomain)
        clock.advance(by: 60)
        _ = await dnsError { () async throws(DNSError) in try await cached.mx("missing.test") }
        #expect(soaZone.queries.count == 2)
    }

    @Test("temporary failures propagate and are not cached")
    func temporaryFailures() async {
        for failure in [DNSError.timeout, .serverFailure, .refused, .network("x"), .malformed("y"), .truncatedWithoutTCP] {
            let zone = ZoneTransport([], failures: [DNSQuestion(name: name("x.test"), type: .mx): failure])
            let r = resolver(zone)
            #expect(await dnsError { () async throws(DNSError) in try await r.mx("x.test") } == failure)
            #expect(await dnsError { () async throws(DNSError) in try await r.mx("x.test") } == failure)
            #expect(zone.queries.count == 2)
            #expect(failure.isTemporary && failure.enhancedStatusCode == "4.4.3")
        }
    }

    @Test("records outside the CNAME chain are ignored (RFC 5452 §6)")
    func unrelatedRecordsIgnored() async throws {
        struct Poisoning: DNSTransport {
            func query(_ question: DNSQuestion) async throws(DNSError) -> DNSMessage {
                DNSMessage(header: DNSHeader(id: 1, isResponse: true), questions: [question], answers: [
                    rr("victim.test", .a(ip("203.0.113.66"))),
                    rr(question.name.description, .a(ip("192.0.2.7"))),
                ], additionals: [rr("bank.test", .a(ip("203.0.113.66")))])
            }
        }
        let r = DNSResolver(configuration: ResolverConfiguration(), transport: Poisoning())
        #expect(try await r.addresses("mine.test") == [ip("192.0.2.7")])
        #expect(r.cache.lookup(name("victim.test"), .a) == nil)
        #expect(r.cache.lookup(name("bank.test"), .a) == nil)
    }
}
